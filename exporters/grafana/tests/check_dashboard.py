#!/usr/bin/env python3
"""Checks the Grafana dashboard without Grafana: valid JSON, the fields Grafana needs, the
variables (datasource, platform, shop), only metric names of the project's /metrics, and every
query parsed by promtool (each becomes a recording rule of a scratch rule file, since promtool
parses PromQL only inside rules)."""

import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DASHBOARD = os.path.join(HERE, "..", "replywatch-dashboard.json")
PROVISIONING = os.path.join(HERE, "..", "provisioning", "dashboards", "replywatch.yml")

# The families of the daemon's /metrics (the series a query may name).
KNOWN = {
    "replywatch_events_received_total", "replywatch_http_requests_refused_total",
    "replywatch_events_rejected_total", "replywatch_events_duplicate_total",
    "replywatch_events_late_total", "replywatch_sla_rounds_total", "replywatch_sla_breaches_total",
    "replywatch_sla_warnings_total", "replywatch_understaffed_seconds_total",
    "replywatch_response_seconds_bucket", "replywatch_response_seconds_count",
    "replywatch_response_seconds_sum", "replywatch_rounds_open", "replywatch_rounds_at_risk",
    "replywatch_oldest_open_round_start_timestamp_seconds", "replywatch_sla_window_rounds",
    "replywatch_sla_compliance_ratio", "replywatch_sla_objective_ratio",
    "replywatch_sla_error_budget_remaining_rounds", "replywatch_average_response_seconds",
    "replywatch_sla_violating", "replywatch_agents_online", "replywatch_service_open",
    "replywatch_rules_last_reload_successful",
    "replywatch_rules_last_reload_success_timestamp_seconds", "replywatch_build_info",
    "replywatch_alertmanager_notifications_total",
    "replywatch_alertmanager_notifications_failed_total",
    "replywatch_alertmanager_notifications_dropped_total",
}

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL " + message)


def concrete(expr):
    """The query as Grafana sends it, with the variables filled in."""
    return (expr.replace("$__rate_interval", "1m").replace("$__range", "1h")
            .replace("$platform", ".*").replace("$shop", ".*"))


def main():
    with open(DASHBOARD) as f:
        dashboard = json.load(f)
    check(dashboard.get("uid") == "replywatch-overview", "a stable uid")
    check(bool(dashboard.get("title")), "a title")
    check(isinstance(dashboard.get("schemaVersion"), int), "a schemaVersion")
    variables = {v["name"]: v for v in dashboard.get("templating", {}).get("list", [])}
    check(variables.get("datasource", {}).get("type") == "datasource"
          and variables["datasource"].get("query") == "prometheus",
          "a templated Prometheus datasource")
    for name in ("platform", "shop"):
        check(variables.get(name, {}).get("type") == "query", f"a {name} variable")

    exprs = []
    ids = set()
    for panel in dashboard.get("panels", []):
        title = panel.get("title", "?")
        for key in ("id", "type", "title", "gridPos", "targets", "datasource"):
            check(key in panel, f"panel {title!r} has {key}")
        check(panel.get("datasource", {}).get("uid") == "${datasource}",
              f"panel {title!r} uses the datasource variable")
        check(panel.get("id") not in ids, f"panel {title!r} has a unique id")
        ids.add(panel.get("id"))
        for target in panel.get("targets", []):
            expr = target.get("expr", "")
            check(bool(expr) and bool(target.get("refId")), f"panel {title!r}: expr and refId")
            for name in re.findall(r"\b(replywatch_[a-z_]+)\b", expr):
                check(name in KNOWN, f"panel {title!r}: {name} is a metric of the daemon")
            if "replywatch_" not in expr:
                check(False, f"panel {title!r}: a query on replywatch's metrics")
            exprs.append((title, expr))
    check(len(exprs) >= 12, "every topic of the dashboard has a query")

    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as rules:
        rules.write("groups:\n  - name: dashboard\n    rules:\n")
        for n, (_, expr) in enumerate(exprs):
            rules.write(f"      - record: dashboard:query{n}\n        expr: {json.dumps(concrete(expr))}\n")
    try:
        result = subprocess.run(["promtool", "check", "rules", rules.name],
                                capture_output=True, text=True)
        check(result.returncode == 0, "promtool parses every query:\n" + result.stdout + result.stderr)
    finally:
        os.unlink(rules.name)

    with open(PROVISIONING) as f:
        provisioning = f.read()
    check(re.search(r"^apiVersion: 1$", provisioning, re.M) is not None, "provisioning apiVersion 1")
    check(re.search(r"^\s+type: file$", provisioning, re.M) is not None, "a file provider")
    check(re.search(r"^\s+path: /\S+", provisioning, re.M) is not None, "a dashboards path")

    print(f"{len(exprs)} queries in {len(ids)} panels checked; {len(failures)} problem(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
