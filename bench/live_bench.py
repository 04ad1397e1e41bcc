#!/usr/bin/env python3
"""Figures of the live daemon (`replywatch run`), printed as `name value` lines for bench/run.sh.

  bench/live_bench.py BINARY [--runs R] [--batch N] [--batches B] [--shops S] [--deadlines D]

Starts the daemon on loopback with a rule file of its own (5 SLAs, one with a 2 s deadline) in a
fresh data directory, then measures:
  ingest   batched NDJSON posts of N events each, B posts per run over one keep-alive connection
  lag      D buyer messages whose 2 s deadlines fall due over 3 s: for the k-th deadline, the
           first instant the daemon's breach counter reached k, minus the deadline and the
           allowed lateness (p50/p99)
  metrics  S shops x 5 SLAs: GET /metrics (plain and gzip), its bytes, and the longest answer of
           single-event POSTs sent back to back during the scrapes, against GET /-/healthy
  rss      the daemon's resident memory growth per open round over M buyer messages in distinct
           conversations of a platform with one SLA (one round each, each id remembered)
Every figure is the median of R runs; the /metrics times and stalls also as their worst run
(`_max`). The clock read here is this process's own monotonic and
wall clock: benchmarks measure the machine, not event time.
"""
import argparse
import gzip
import http.client
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

RULES = """platform: bench
timezone: UTC
sessions:
  idle_timeout: 30m
slas:
  - name: reply_2s
    kind: reply_time
    deadline: 2s
  - name: first_reply_3m
    kind: reply_time
    rounds: first
    deadline: 3m
    warn_before: 60s
    objective: 0.9
  - name: human_5m
    kind: reply_time
    replies: human
    deadline: 5m
  - name: average_40s
    kind: average_response
    max_average: 40s
    unanswered_cost: 600s
  - name: agent_online
    kind: agent_presence
    grace: 30s
"""
# One SLA in one reply view: each buyer message opens exactly one round.
ONE_ROUND_RULES = """platform: oneround
timezone: UTC
slas:
  - name: reply_24h
    kind: reply_time
    deadline: 24h
"""
LATENESS_MS = 2000


def now_ms():
    return int(time.time() * 1000)


class Daemon:
    def __init__(self, binary):
        self.dir = tempfile.mkdtemp(prefix="replywatch-bench.")
        rules = os.path.join(self.dir, "rules")
        os.mkdir(rules)
        with open(os.path.join(rules, "bench.yaml"), "w") as f:
            f.write(RULES)
        with open(os.path.join(rules, "oneround.yaml"), "w") as f:
            f.write(ONE_ROUND_RULES)
        self.log_path = os.path.join(self.dir, "daemon.log")
        self.log = open(self.log_path, "w")
        # The /metrics figure posts more shops than the default max_shops admits; builds from
        # before that cap (BEFORE=) do not know the flag.
        help_text = subprocess.run([binary, "run", "--help"], capture_output=True,
                                   text=True).stdout
        no_shop_cap = ["--max-shops", "0"] if "--max-shops" in help_text else []
        self.process = subprocess.Popen(
            [binary, "run", "--rules", rules, "--data", os.path.join(self.dir, "data"),
             "--ingest-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
             "--max-body-bytes", str(64 << 20)] + no_shop_cap,
            stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 30
        text = ""
        while time.monotonic() < deadline:
            text = open(self.log_path).read()
            if "; ready" in text:
                break
            time.sleep(0.05)
        self.ingest = self._address(text, "ingest")
        self.admin = self._address(text, "admin")

    @staticmethod
    def _address(text, name):
        found = re.search(name + r" listening on ([0-9.]+):([0-9]+)", text)
        if not found:
            sys.exit("the daemon did not start:\n" + text)
        return found.group(1), int(found.group(2))

    def connect(self, which):
        host, port = self.ingest if which == "ingest" else self.admin
        return http.client.HTTPConnection(host, port, timeout=120)

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def post(connection, body, ndjson=True):
    connection.request("POST", "/v1/events", body=body, headers={
        "Content-Type": "application/x-ndjson" if ndjson else "application/json"})
    response = connection.getresponse()
    text = response.read()
    if response.status != 200:
        sys.exit(f"POST answered {response.status}: {text[:300]!r}")
    return text


def event(ident, shop, kind, conversation, ts, extra=""):
    return (f'{{"id":"{ident}","platform":"bench","shop":"{shop}","type":"{kind}",'
            f'"conversation":"{conversation}",{extra}"ts":{ts}}}')


def ingest_rate(daemon, run, batch, batches):
    """Events/s of `batches` NDJSON posts of `batch` events, bodies built beforehand."""
    ts = now_ms()
    bodies = []
    for b in range(batches):
        lines = []
        for i in range(batch // 2):
            conversation = f"r{run}b{b}c{i}"
            shop = f"shop{i % 200}"
            lines.append(event(f"r{run}-{b}-{i}-q", shop, "buyer_message", conversation, ts))
            lines.append(event(f"r{run}-{b}-{i}-a", shop, "agent_message", conversation, ts + 1))
        bodies.append(("\n".join(lines) + "\n").encode())
    connection = daemon.connect("ingest")
    started = time.monotonic()
    for body in bodies:
        post(connection, body)
    elapsed = time.monotonic() - started
    connection.close()
    return batch * batches / elapsed


def breaches_total(connection):
    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith("replywatch_sla_breaches_total{") and 'sla="reply_2s"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def breach_lag(daemon, run, count):
    """p50 and p99 in ms of (counted - due - lateness) over `count` deadlines due over 3 s."""
    admin = daemon.connect("admin")
    before = breaches_total(admin)
    start = now_ms() + 1000
    dues = []
    lines = []
    for i in range(count):
        ts = start + i * 3000 // count
        dues.append(ts + 2000)
        lines.append(event(f"lag{run}-{i}", f"lagshop{i % 10}", "buyer_message",
                           f"lag{run}-{i}", ts))
    post(daemon.connect("ingest"), ("\n".join(lines) + "\n").encode())
    counted = []  # (wall ms, breaches so far)
    end = dues[-1] + LATENESS_MS + 5000
    while now_ms() < end:
        seen = breaches_total(admin) - before
        counted.append((now_ms(), seen))
        if seen >= count:
            break
        time.sleep(0.002)
    lags = []
    k = 0
    for wall, seen in counted:
        while k < count and k < seen:
            lags.append(wall - dues[k] - LATENESS_MS)
            k += 1
    if len(lags) < count:
        sys.exit(f"only {len(lags)} of {count} breaches were counted")
    lags.sort()
    return lags[len(lags) // 2], lags[min(len(lags) - 1, (len(lags) * 99) // 100)]


def fill_shops(daemon, shops):
    ts = now_ms()
    lines = []
    for s in range(shops):
        shop = f"mshop{s}"
        # An answered round, an open one and an agent online: every family has a sample.
        lines.append(event(f"m{s}-1", shop, "buyer_message", f"mc{s}-1", ts - 60000))
        lines.append(event(f"m{s}-2", shop, "agent_message", f"mc{s}-1", ts - 59000))
        lines.append(event(f"m{s}-3", shop, "buyer_message", f"mc{s}-2", ts))
        lines.append(f'{{"id":"m{s}-4","platform":"bench","shop":"{shop}","type":"agent_status",'
                     f'"agent":"a{s}","status":"online","ts":{ts}}}')
    post(daemon.connect("ingest"), ("\n".join(lines) + "\n").encode())


def timed_get(connection, path, headers=None):
    started = time.monotonic()
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    body = response.read()
    return time.monotonic() - started, body, response.getheader("Content-Encoding")


def metrics_figures(daemon, run):
    """Scrape ms (plain, gzip), bytes, gzip'd bytes, and the longest single POST during scrapes."""
    admin = daemon.connect("admin")
    healthy = statistics.median(timed_get(admin, "/-/healthy")[0] for _ in range(20))
    stop = threading.Event()
    longest = [0.0]

    def poster():
        connection = daemon.connect("ingest")
        i = 0
        while not stop.is_set():
            body = event(f"stall{run}-{i}", "stallshop", "buyer_message", f"st{run}-{i}", now_ms())
            started = time.monotonic()
            post(connection, body.encode())
            longest[0] = max(longest[0], time.monotonic() - started)
            i += 1

    plain = []
    zipped = []
    body_bytes = 0
    gzip_bytes = 0
    server_gzip = False
    # The baseline: the same posts for as long with no scrape (a POST waits for its fdatasync,
    # whose own jitter is not the scrape's doing).
    thread = threading.Thread(target=poster)
    thread.start()
    time.sleep(1.0)
    stop.set()
    thread.join()
    quiet_longest = longest[0]
    stop.clear()
    longest[0] = 0.0
    run += 1000  # new ids for the posts during the scrapes
    thread = threading.Thread(target=poster)
    thread.start()
    time.sleep(0.2)
    for _ in range(3):
        seconds, body, _ = timed_get(admin, "/metrics")
        plain.append(seconds)
        body_bytes = len(body)
        seconds, body, encoding = timed_get(admin, "/metrics", {"Accept-Encoding": "gzip"})
        zipped.append(seconds)
        server_gzip = encoding == "gzip"
        gzip_bytes = len(body) if server_gzip else len(gzip.compress(body, 6))
    stop.set()
    thread.join()
    return {
        "healthy_ms": healthy * 1000,
        "scrape_ms": statistics.median(plain) * 1000,
        "scrape_gzip_ms": statistics.median(zipped) * 1000,
        "bytes": body_bytes,
        "gzip_bytes": gzip_bytes,
        "server_gzip": 1 if server_gzip else 0,
        "stall_ms": longest[0] * 1000,
        "stall_without_scrapes_ms": quiet_longest * 1000,
    }


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def rss_per_round(daemon, rounds, batch):
    """Bytes of RSS growth per open round over `rounds` unanswered buyer messages."""
    connection = daemon.connect("ingest")
    post(connection, event("warmup", "w", "buyer_message", "w", now_ms()).replace(
        '"bench"', '"oneround"').encode())
    before = rss_kib(daemon.process.pid)
    ts = now_ms()
    for start in range(0, rounds, batch):
        lines = [f'{{"id":"msg-{i:012}","platform":"oneround","shop":"shop{i % 100}",'
                 f'"type":"buyer_message","conversation":"tb_{i:09}","ts":{ts}}}'
                 for i in range(start, min(rounds, start + batch))]
        post(connection, ("\n".join(lines) + "\n").encode())
    time.sleep(3)  # past the allowed lateness, so every event has left the reorder buffer
    return (rss_kib(daemon.process.pid) - before) * 1024 / rounds


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=10000)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--shops", type=int, default=2000)
    parser.add_argument("--deadlines", type=int, default=10000)
    parser.add_argument("--rss-rounds", type=int, default=1000000)
    args = parser.parse_args()

    daemon = Daemon(args.binary)
    try:
        # First, while the daemon has few shops and a scrape is cheap to poll.
        lags = [breach_lag(daemon, r, args.deadlines) for r in range(args.runs)]
        print(f"lag_p50_ms {statistics.median(l[0] for l in lags):.1f}")
        print(f"lag_p99_ms {statistics.median(l[1] for l in lags):.1f}")
        rates = [ingest_rate(daemon, r, args.batch, args.batches) for r in range(args.runs)]
        print(f"ingest_events_per_s {statistics.median(rates):.0f}")
        fill_shops(daemon, args.shops)
        runs = [metrics_figures(daemon, r) for r in range(args.runs)]
        for key in runs[0]:
            print(f"metrics_{key} {statistics.median(r[key] for r in runs):.1f}")
        # The stall's goal holds in every run, not only in the median one.
        for key in ("scrape_ms", "stall_ms", "stall_without_scrapes_ms"):
            print(f"metrics_{key}_max {max(r[key] for r in runs):.1f}")
    finally:
        daemon.stop()
    # On a daemon of its own, so that nothing else grows meanwhile.
    if args.rss_rounds > 0:
        daemon = Daemon(args.binary)
        try:
            print(f"rss_bytes_per_round {rss_per_round(daemon, args.rss_rounds, args.batch):.1f}")
        finally:
            daemon.stop()


if __name__ == "__main__":
    main()
