#!/usr/bin/env python3
"""The console in a real browser: headless Chromium driven by Selenium (Debian's chromium,
chromium-driver and python3-selenium), against the real daemon on free loopback ports.

A round posted a moment ago shows with its countdown falling, turns "at risk" at its warning
point and disappears when a reply is posted; filters narrow the queue and live in the URL; the
shops table shows what /metrics says; when the daemon stops the page says the connection is
lost, and it recovers when the daemon comes back on the same port and data directory.

Prints the page's weight (bytes transferred for the first load, from the browser's resource
timing) and the latency from a round's warning instant to the page showing it at risk.

With --screenshot FILE it then loads the sample day (docs/sample-day.ndjson, moved by whole days
so that it ended less than a day ago) into a fresh daemon and saves a picture of the console.
"""

import argparse
import datetime
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

DEADLINE_S = 10
WARN_BEFORE_S = 5
RULES = {
    "testchat.yaml": f"""platform: testchat
timezone: UTC
slas:
  - name: reply_{DEADLINE_S}s
    kind: reply_time
    deadline: {DEADLINE_S}s
    warn_before: {WARN_BEFORE_S}s
    objective: 0.5
    window: 1h
    resolution: 1m
  - name: online
    kind: agent_presence
""",
    "otherchat.yaml": """platform: otherchat
timezone: UTC
slas:
  - name: reply_5m
    kind: reply_time
    deadline: 5m
""",
}
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def now_ms():
    return int(time.time() * 1000)


def event(id_, platform, shop, type_, conversation, ts, **extra):
    body = dict(id=id_, platform=platform, shop=shop, type=type_, ts=ts, **extra)
    if conversation is not None:
        body["conversation"] = conversation
    return body


def post(port, events, content_type="application/json"):
    data = json.dumps(events).encode() if content_type == "application/json" else events
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/events", data=data,
                                     method="POST", headers={"Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


class Daemon:
    def __init__(self, binary, work, rules, ingest, admin, prefix=(), extra=()):
        self.log_path = os.path.join(work, f"daemon-{admin}-{time.time():.0f}.log")
        self.log = open(self.log_path, "w+")
        self.process = subprocess.Popen(
            [*prefix, binary, "run", "--rules", rules, "--data", os.path.join(work, "data"),
             "--ingest-listen", f"127.0.0.1:{ingest}", "--admin-listen", f"127.0.0.1:{admin}",
             "--allowed-lateness", "100ms", *extra],
            stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.time() + 20
        while time.time() < deadline:
            self.log.seek(0)
            text = self.log.read()
            if "; ready" in text:
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.log.seek(0)
        raise RuntimeError("the daemon did not start:\n" + self.log.read())

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


def browser(work, width, height):
    options = Options()
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='profile-', dir=work)}")
    options.add_argument(f"--window-size={width},{height}")
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def wait_for(what, timeout, poll=0.02):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = what()
        if value:
            return value
        time.sleep(poll)
    return None


ROWS_JS = """return [...document.querySelectorAll('#queue tbody tr')].map(tr => ({
  conversation: tr.dataset.conversation, state: tr.dataset.state, left: tr.cells[0].textContent,
  shop: tr.cells[3].textContent, platform: tr.cells[2].textContent, warn: tr.dataset.warnAt,
  since: tr.dataset.atRiskSince, server: tr.dataset.serverAtRiskAt}));"""

WEIGHT_JS = """const entries = [performance.getEntriesByType('navigation')[0],
  ...performance.getEntriesByType('resource').filter(e => !e.name.includes('/v1/console/events'))];
return entries.map(e => ({name: e.name, transfer: e.transferSize, body: e.encodedBodySize}));"""


def seconds_of(text):
    match = re.fullmatch(r"\+?(?:(\d+)m )?(\d+)s", text)
    return None if not match else int(match.group(1) or 0) * 60 + int(match.group(2))


def run_scenario(args, work, check):
    rules = os.path.join(work, "rules")
    os.makedirs(rules)
    for name, text in RULES.items():
        with open(os.path.join(rules, name), "w") as f:
            f.write(text)
    ingest, admin = free_port(), free_port()
    daemon = Daemon(args.binary, work, rules, ingest, admin)
    driver = browser(work, 1280, 900)
    try:
        t = now_ms()
        answer = post(ingest, [
            event("s1", "testchat", "shop-a", "agent_status", None, t - 30000, agent="a1",
                  status="online"),
            event("b-met", "testchat", "shop-a", "buyer_message", "met", t - 30000),
            event("r-met", "testchat", "shop-a", "agent_message", "met", t - 28000, agent="a1"),
            event("b-late", "testchat", "shop-a", "buyer_message", "late", t - 29000),
            event("r-late", "testchat", "shop-a", "agent_message", "late", t - 15000, agent="a1"),
            event("b-x", "otherchat", "shop-x", "buyer_message", "c-x", t),
            event("b-b", "testchat", "shop-b", "buyer_message", "c-b", t),
        ])
        check(answer["accepted"] == 7, f"setup events accepted: {answer}")
        t0 = now_ms()
        post(ingest, [event("b-now", "testchat", "shop-a", "buyer_message", "c-now", t0)])
        warn_at = t0 + (DEADLINE_S - WARN_BEFORE_S) * 1000

        driver.get(f"http://127.0.0.1:{admin}/")
        rows = wait_for(lambda: [r for r in driver.execute_script(ROWS_JS)
                                 if r["conversation"] == "c-now"], 5)
        check(bool(rows), "the round posted a moment ago is in the queue")
        first = rows[0] if rows else {"left": "", "state": ""}
        check(first["state"] == "waiting", f"it is waiting at first ({first['state']})")
        time.sleep(1.2)
        later = [r for r in driver.execute_script(ROWS_JS) if r["conversation"] == "c-now"]
        a, b = seconds_of(first["left"]), seconds_of(later[0]["left"]) if later else None
        check(a is not None and b is not None and b < a,
              f"its countdown falls ({first['left']} -> {later[0]['left'] if later else '?'})")
        status = driver.find_element(By.ID, "status").text
        check(status == "live", f"the page says it is live ({status!r})")

        at_risk = wait_for(lambda: [r for r in driver.execute_script(ROWS_JS)
                                    if r["conversation"] == "c-now" and r["state"] == "at-risk"],
                           WARN_BEFORE_S + 5, 0.01)
        seen = now_ms()
        check(bool(at_risk), "it turns at risk at its warning point")
        if at_risk:
            row = at_risk[0]
            shown = int(row["since"])
            check(shown >= warn_at - 50, "not before the warning point")
            print(f"latency page shows at risk: {(shown - warn_at) / 1000:.3f} s after the "
                  f"warning instant (selenium saw it {(seen - warn_at) / 1000:.3f} s after)")
            server = wait_for(lambda: [r for r in driver.execute_script(ROWS_JS)
                                       if r["conversation"] == "c-now" and r["server"]], 3)
            if server:
                print(f"latency daemon's push says at risk: "
                      f"{(int(server[0]['server']) - warn_at) / 1000:.3f} s after the warning "
                      f"instant (allowed lateness 100 ms)")
            check(bool(server), "the daemon's next message confirms it is at risk")

        replied = now_ms()
        post(ingest, [event("r-now", "testchat", "shop-a", "agent_message", "c-now", replied,
                            agent="a1")])
        gone = wait_for(lambda: not [r for r in driver.execute_script(ROWS_JS)
                                     if r["conversation"] == "c-now"], 3)
        check(bool(gone), "it disappears once a reply is posted")
        if gone:
            print(f"latency reply to row gone: {(now_ms() - replied) / 1000:.3f} s")

        weight = driver.execute_script(WEIGHT_JS)
        total = sum(e["transfer"] for e in weight)
        print("page weight, first load: " + ", ".join(
            f"{e['name'].rsplit('/', 1)[-1] or '/'} {e['transfer']} B" for e in weight) +
            f"; {total} B transferred in all")
        check(0 < total < 100_000, f"the first load is small ({total} B)")

        # Filters narrow the queue and live in the URL.
        Select(driver.find_element(By.ID, "filter-shop")).select_by_value("shop-b")
        narrowed = wait_for(lambda: (lambda rows: rows and all(r["shop"] == "shop-b"
                                                               for r in rows) and rows)(
            driver.execute_script(ROWS_JS)), 5)
        check(bool(narrowed), "the shop filter narrows the queue to shop-b")
        check("shop=shop-b" in driver.current_url, f"the filter is in the URL "
                                                     f"({driver.current_url})")
        driver.get(f"http://127.0.0.1:{admin}/?platform=otherchat")
        bookmarked = wait_for(lambda: (lambda rows: rows and all(
            r["platform"] == "otherchat" for r in rows) and rows)(driver.execute_script(ROWS_JS)),
            5)
        check(bool(bookmarked) and bookmarked[0]["conversation"] == "c-x",
              "a bookmarked platform filter shows only that platform")
        check(Select(driver.find_element(By.ID, "filter-platform")).first_selected_option
              .get_attribute("value") == "otherchat", "the platform select shows the filter")

        # The shops table shows /metrics' figures.
        driver.get(f"http://127.0.0.1:{admin}/")
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "article.shop td[data-metric]"), 5)
        time.sleep(0.3)
        cells = driver.execute_script("""return [...document.querySelectorAll(
            'article.shop [data-metric]')].map(td => ({
              platform: td.closest('article').dataset.platform,
              shop: td.closest('article').dataset.shop,
              sla: td.closest('tr') ? td.closest('tr').dataset.sla : null,
              metric: td.dataset.metric, value: Number(td.dataset.value)}));""")
        metrics = scrape(admin)
        names = {"compliance_ratio": "replywatch_sla_compliance_ratio",
                 "error_budget_remaining_rounds": "replywatch_sla_error_budget_remaining_rounds",
                 "average_response_seconds": "replywatch_average_response_seconds",
                 "open_rounds": "replywatch_rounds_open",
                 "violating": "replywatch_sla_violating"}
        compared, mismatches = 0, []
        for c in cells:
            if c["metric"] == "agents_online":
                key = f'replywatch_agents_online{{platform="{c["platform"]}",shop="{c["shop"]}"}}'
            elif c["metric"] in names:
                key = (f'{names[c["metric"]]}{{platform="{c["platform"]}",shop="{c["shop"]}",'
                       f'sla="{c["sla"]}"}}')
            else:
                continue
            compared += 1
            if key not in metrics or abs(metrics[key] - c["value"]) > 1e-9:
                mismatches.append((key, c["value"], metrics.get(key)))
        check(compared >= 10 and not mismatches,
              f"the shops table matches /metrics ({compared} figures; mismatches {mismatches})")
        compliance = [c for c in cells if c["shop"] == "shop-a" and
                      c["metric"] == "compliance_ratio"]
        check(compliance and abs(compliance[0]["value"] - 2 / 3) < 1e-9,
              "shop-a's compliance is 2 of 3 rounds met")
        marked = sorted(card.get_attribute("data-shop") for card in
                        driver.find_elements(By.CSS_SELECTOR, "article.shop.violating"))
        expected = sorted({re.search(r'shop="([^"]+)"', key).group(1) for key, value in
                           metrics.items()
                           if key.startswith("replywatch_sla_violating{") and value == 1})
        check(marked == expected and "shop-b" in marked,
              f"violating shops are marked as /metrics says ({marked}; shop-b's round breached)")

        # The connection drops and comes back.
        daemon.stop()
        lost = wait_for(lambda: "connection lost" in driver.find_element(By.ID, "status").text, 8)
        check(bool(lost), "the page shows the lost connection when the daemon stops")
        daemon = Daemon(args.binary, work, rules, ingest, admin)
        back = wait_for(lambda: driver.find_element(By.ID, "status").text == "live", 15)
        check(bool(back), "the page recovers when the daemon is back")
        restored = wait_for(lambda: [r for r in driver.execute_script(ROWS_JS)
                                     if r["conversation"] == "c-b"], 5)
        check(bool(restored), "the queue is back after the restart")
        check(driver.execute_script("return document.body.classList.contains('offline')") is False,
              "the page is no longer greyed out")
        logs = driver.get_log("browser") if hasattr(driver, "get_log") else []
        csp = [entry for entry in logs if "Content Security Policy" in entry.get("message", "")]
        check(not csp, f"no Content-Security-Policy violations ({csp})")
    finally:
        driver.quit()
        daemon.stop()


def take_screenshot(args, work, out):
    """The sample day, moved by whole days so that it ended less than a day ago (local times of
    day, hence service hours, stay as recorded), posted in one request and seen now."""
    records = [json.loads(line) for line in open(args.sample_day, encoding="utf-8")]
    parse = lambda ts: datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)
    last = max(parse(r["ts"]) for r in records)
    now = datetime.datetime.now(datetime.timezone.utc)
    days = datetime.timedelta(days=(now - last).days)
    lines = []
    for record in records:
        moved = parse(record["ts"]) + days
        record["ts"] = moved.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moved.microsecond // 1000:03d}Z"
        lines.append(json.dumps(record) + "\n")
    ingest, admin = free_port(), free_port()
    sample_dir = os.path.join(work, "sample")
    os.makedirs(sample_dir)
    # The day's first events are up to two days old: the dedup retention must reach them.
    daemon = Daemon(args.binary, sample_dir, args.rules, ingest, admin,
                    extra=("--dedup-retention", "72h"))
    driver = browser(work, 1440, 2000)
    try:
        answer = post(ingest, "".join(lines).encode(), "application/x-ndjson")
        print(f"sample day moved by {days.days} days: {len(lines)} lines, accepted "
              f"{answer['accepted']}, duplicates {answer['duplicates']}, "
              f"rejected {len(answer['rejected'])}")
        driver.get(f"http://127.0.0.1:{admin}/")
        wait_for(lambda: len(driver.find_elements(By.CSS_SELECTOR, "#queue tbody tr")) > 0 and
                 driver.find_elements(By.CSS_SELECTOR, "article.shop"), 10)
        time.sleep(1.0)
        driver.save_screenshot(out)
        print(f"screenshot: {out}")
        return answer["accepted"] == len(lines) - 3 and os.path.getsize(out) > 10_000
    finally:
        driver.quit()
        daemon.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--rules", help="bundled rules (for --screenshot)")
    parser.add_argument("--sample-day", help="docs/sample-day.ndjson (for --screenshot)")
    parser.add_argument("--screenshot", help="where to save the console with the sample day")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="replywatch-console-")
    failures = []

    def check(condition, message):
        print(("ok   " if condition else "FAIL ") + message, flush=True)
        if not condition:
            failures.append(message)

    try:
        run_scenario(args, work, check)
        if args.screenshot:
            check(take_screenshot(args, work, args.screenshot), "the screenshot was taken")
    finally:
        if failures:
            for name in sorted(os.listdir(work)):
                if name.endswith(".log"):
                    print(f"--- {name} (last lines)")
                    print("".join(open(os.path.join(work, name)).readlines()[-15:]))
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
