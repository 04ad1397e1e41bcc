#!/usr/bin/env python3
"""End to end: the real daemon, Prometheus and Alertmanager, and a webhook receiver.

One buyer message under a rule with a 20 s deadline and a 15 s warning reaches the receiver as
ReplyRoundAtRisk (Prometheus rules) before the deadline and ReplyDeadlineBreached after it; the
daemon's own pages arrive as ReplyConversationAtRisk (with the conversation) about a second
after the warning point, ReplyConversationOverdue after the deadline, and resolved once a reply
is posted. A round answered before its warning point pages nobody. Then every query of the
Grafana dashboard must return data from this Prometheus.

Prometheus scrapes the daemon's admin listener through TLS (a self-signed certificate made
here by openssl) and Basic authentication (a bcrypt hash made here by htpasswd), as the web
config (--web-config-file) sets them.

Everything listens on free loopback ports and is stopped at the end. Prints the measured
latencies from the warning instant to the receiver for both paths.
"""

import argparse
import base64
import http.server
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

DEADLINE_S = 20
WARN_BEFORE_S = 5
LATENESS_MS = 200
SCRAPE_PASSWORD = "scrape-Secret-1"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver(http.server.BaseHTTPRequestHandler):
    """Alertmanager's webhook target: records every alert of every notification."""

    received = []  # (wall seconds, status, labels)
    lock = threading.Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        now = time.time()
        payload = json.loads(body)
        with Receiver.lock:
            for alert in payload.get("alerts", []):
                Receiver.received.append((now, alert["status"], alert["labels"]))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def find(name, status="firing", **labels):
    with Receiver.lock:
        for when, got_status, got in Receiver.received:
            if got.get("alertname") == name and got_status == status and all(
                got.get(k) == v for k, v in labels.items()
            ):
                return when
    return None


def wait_for(what, until, poll=0.05):
    while time.time() < until:
        value = what()
        if value:
            return value
        time.sleep(poll)
    return None


def http_json(url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    if data:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, json.loads(response.read() or b"null")


def event(id_, type_, conversation, ts_ms, **extra):
    body = dict(id=id_, platform="e2e", shop="s1", type=type_, ts=ts_ms, **extra)
    if conversation is not None:
        body["conversation"] = conversation
    return body


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--rules-file", required=True, help="the project's Prometheus rules")
    parser.add_argument("--dashboard", help="Grafana dashboard JSON whose queries must return data")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="replywatch-e2e-")
    processes = []
    failures = []

    def check(condition, message):
        print(("ok   " if condition else "FAIL ") + message, flush=True)
        if not condition:
            failures.append(message)

    try:
        receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=receiver.serve_forever, daemon=True).start()
        receiver_port = receiver.server_address[1]
        am_port, prom_port = free_port(), free_port()

        # Alertmanager: everything to the webhook, no waiting, resolved notifications too.
        with open(os.path.join(work, "alertmanager.yml"), "w") as f:
            f.write(f"""route:
  receiver: webhook
  group_by: [alertname, platform, shop]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: webhook
    webhook_configs:
      - url: http://127.0.0.1:{receiver_port}/
        send_resolved: true
""")
        processes.append(subprocess.Popen(
            ["prometheus-alertmanager", f"--config.file={work}/alertmanager.yml",
             f"--storage.path={work}/am", f"--web.listen-address=127.0.0.1:{am_port}",
             "--cluster.listen-address="],
            stdout=subprocess.DEVNULL, stderr=open(f"{work}/am.log", "w")))

        # The admin listener's web config: TLS and one user, as an operator would set them.
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
             "-keyout", f"{work}/admin.key", "-out", f"{work}/admin.crt"],
            check=True, capture_output=True)
        hashed = subprocess.run(["htpasswd", "-nbB", "prometheus", SCRAPE_PASSWORD], check=True,
                                capture_output=True, text=True).stdout.strip().split(":", 1)[1]
        with open(f"{work}/web.yml", "w") as f:
            f.write(f"""tls_server_config:
  cert_file: admin.crt
  key_file: admin.key
basic_auth_users:
  prometheus: {hashed}
""")
        with open(f"{work}/scrape.password", "w") as f:
            f.write(SCRAPE_PASSWORD)

        # The daemon: one rule with a 20 s deadline and a warning 5 s before it.
        os.makedirs(f"{work}/rules")
        with open(f"{work}/rules/e2e.yaml", "w") as f:
            f.write(f"""platform: e2e
timezone: UTC
slas:
  - name: reply_20s
    kind: reply_time
    deadline: {DEADLINE_S}s
    warn_before: {WARN_BEFORE_S}s
    objective: 0.9
    notify: page
  - name: average_20s
    kind: average_response
    max_average: 20s
    unanswered_cost: 60s
  - name: agent_online
    kind: agent_presence
""")
        with open(f"{work}/replywatch.yaml", "w") as f:
            f.write(f"""rules: {work}/rules
data: {work}/data
ingest_listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
allowed_lateness: {LATENESS_MS}ms
web_config_file: {work}/web.yml
alertmanager:
  urls: [http://127.0.0.1:{am_port}]
""")
        daemon_log = open(f"{work}/daemon.log", "w+")
        processes.append(subprocess.Popen([args.binary, "run", "--config", f"{work}/replywatch.yaml"],
                                          stdout=subprocess.DEVNULL, stderr=daemon_log))

        def ports():
            daemon_log.seek(0)
            text = daemon_log.read()
            found = dict(re.findall(r"(ingest|admin) listening on 127\.0\.0\.1:(\d+)", text))
            return found if len(found) == 2 and "ready" in text else None

        found = wait_for(ports, time.time() + 10)
        if not found:
            daemon_log.seek(0)
            raise RuntimeError("daemon did not start:\n" + daemon_log.read())
        ingest, admin = int(found["ingest"]), int(found["admin"])

        with open(f"{work}/prometheus.yml", "w") as f:
            f.write(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [{os.path.abspath(args.rules_file)}]
alerting:
  alertmanagers:
    - static_configs: [{{targets: ["127.0.0.1:{am_port}"]}}]
scrape_configs:
  - job_name: replywatch
    scheme: https
    tls_config: {{ca_file: {work}/admin.crt}}
    basic_auth: {{username: prometheus, password_file: {work}/scrape.password}}
    static_configs: [{{targets: ["127.0.0.1:{admin}"]}}]
""")
        processes.append(subprocess.Popen(
            ["prometheus", f"--config.file={work}/prometheus.yml",
             f"--storage.tsdb.path={work}/tsdb", f"--web.listen-address=127.0.0.1:{prom_port}"],
            stdout=subprocess.DEVNULL, stderr=open(f"{work}/prometheus.log", "w")))

        def prometheus_scrapes():
            try:
                _, body = http_json(f"http://127.0.0.1:{prom_port}/api/v1/query?query=up")
                return any(r["value"][1] == "1" for r in body["data"]["result"])
            except OSError:
                return False

        check(wait_for(prometheus_scrapes, time.time() + 15, 0.2) is not None,
              "prometheus scrapes the daemon through TLS and Basic auth")
        check(wait_for(lambda: http_ready(am_port), time.time() + 10, 0.2) is not None,
              "alertmanager is up")

        # The scenario. `late` waits past its deadline; `quick` is answered before its warning.
        t0 = int(time.time() * 1000)
        status, answer = http_json(f"http://127.0.0.1:{ingest}/v1/events", [
            event("b1", "buyer_message", "late", t0),
            event("b2", "buyer_message", "quick", t0),
            event("s1", "agent_status", None, t0, agent="a1", status="online"),
        ])
        check(status == 200 and answer["accepted"] == 3, f"events accepted: {answer}")
        time.sleep(2)
        status, _ = http_json(f"http://127.0.0.1:{ingest}/v1/events",
                              [event("a1", "agent_message", "quick", int(time.time() * 1000),
                                     agent="a1")])
        check(status == 200, "the quick round is answered before its warning point")

        warning = (t0 + (DEADLINE_S - WARN_BEFORE_S) * 1000) / 1000.0
        deadline = (t0 + DEADLINE_S * 1000) / 1000.0
        direct_at_risk = wait_for(
            lambda: find("ReplyConversationAtRisk", conversation="late", severity="page",
                         platform="e2e", shop="s1", sla="reply_20s"), deadline + 5)
        rules_at_risk = wait_for(
            lambda: find("ReplyRoundAtRisk", severity="page", platform="e2e", shop="s1"),
            deadline + 5)
        check(direct_at_risk is not None and direct_at_risk < warning + 1.5,
              "ReplyConversationAtRisk{conversation=late} within about a second of the warning")
        check(rules_at_risk is not None and rules_at_risk < deadline,
              "ReplyRoundAtRisk{severity=page} before the deadline")
        direct_overdue = wait_for(
            lambda: find("ReplyConversationOverdue", conversation="late"), deadline + 6)
        rules_breached = wait_for(
            lambda: find("ReplyDeadlineBreached", severity="page", platform="e2e", shop="s1"),
            deadline + 10)
        check(direct_overdue is not None and direct_overdue >= deadline,
              "ReplyConversationOverdue after the deadline")
        check(rules_breached is not None and rules_breached >= deadline,
              "ReplyDeadlineBreached after the deadline")

        answered = time.time()
        http_json(f"http://127.0.0.1:{ingest}/v1/events",
                  [event("a2", "agent_message", "late", int(answered * 1000), agent="a1")])
        resolved = wait_for(lambda: find("ReplyConversationAtRisk", status="resolved",
                                         conversation="late"), answered + 8)
        resolved_overdue = wait_for(lambda: find("ReplyConversationOverdue", status="resolved",
                                                 conversation="late"), answered + 8)
        check(resolved is not None and resolved_overdue is not None,
              "both conversation alerts resolved once the reply is posted")
        with Receiver.lock:
            quick = [labels for _, _, labels in Receiver.received
                     if labels.get("conversation") == "quick"]
        check(not quick, "the round answered before its warning paged nobody")

        for name, at in (("direct ReplyConversationAtRisk", direct_at_risk),
                         ("rules ReplyRoundAtRisk", rules_at_risk)):
            if at is not None:
                print(f"latency {name}: {at - warning:.3f} s after the warning instant "
                      f"(allowed lateness {LATENESS_MS} ms)")
        for name, at in (("direct ReplyConversationOverdue", direct_overdue),
                         ("rules ReplyDeadlineBreached", rules_breached)):
            if at is not None:
                print(f"latency {name}: {at - deadline:.3f} s after the deadline")
        if resolved is not None:
            print(f"latency resolved: {resolved - answered:.3f} s after the reply was posted")

        if args.dashboard:
            check_dashboard(args.dashboard, prom_port, check)

        tls = ssl.create_default_context(cafile=f"{work}/admin.crt")
        credentials = base64.b64encode(f"prometheus:{SCRAPE_PASSWORD}".encode()).decode()
        request = urllib.request.Request(f"https://127.0.0.1:{admin}/metrics",
                                         headers={"Authorization": f"Basic {credentials}"})
        metrics = urllib.request.urlopen(request, context=tls).read()
        failures_seen = re.search(
            rb'replywatch_admin_login_failures_total\{reason="invalid"\} (\S+)', metrics)
        check(failures_seen is not None and float(failures_seen.group(1)) == 0,
              "no failed logins: Prometheus's credentials were right every time")
        sent = re.search(rb'replywatch_alertmanager_notifications_total\{url="[^"]+"\} (\S+)',
                         metrics)
        check(sent is not None and float(sent.group(1)) >= 4,
              "the daemon counts the alerts Alertmanager accepted")
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        if failures:
            for log in ("daemon.log", "am.log", "prometheus.log"):
                path = os.path.join(work, log)
                if os.path.exists(path):
                    print(f"--- {log} (last lines)")
                    print("".join(open(path).readlines()[-15:]))
            print("received:", json.dumps([(round(w, 3), s, l) for w, s, l in Receiver.received]))
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    return 0


def http_ready(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def check_dashboard(path, prom_port, check):
    dashboard = json.load(open(path))
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"].replace("$platform", "e2e").replace("$shop", "s1")
            expr = expr.replace("$__rate_interval", "1m").replace("$__range", "5m")
            query = urllib.parse.urlencode({"query": expr})
            _, body = http_json(f"http://127.0.0.1:{prom_port}/api/v1/query?{query}")
            result = body["data"]["result"]
            reason = panel.get("description", "")
            allowed = "may be empty" in reason.lower()
            check(bool(result) or allowed,
                  f"dashboard panel {panel['title']!r} returns data"
                  + (" (allowed empty)" if not result and allowed else ""))


if __name__ == "__main__":
    sys.exit(main())
