#!/usr/bin/env python3
"""A rule reload that changes one SLA, on a real daemon serving a data directory of N events.

    python3 bench/reload_bench.py build/replywatch build/bench/restore_bench \
        [--events 10000000] [--tail 1000000] [--dir DIR] [--reuse]

restore_bench writes the directory (its log, a snapshot N - T events in, and the rules); the
daemon starts on it (the restart time is printed too). Then bench.yaml's `reply_3m` deadline
changes from 3m to 4m and the daemon gets SIGHUP: `avg` is unchanged and keeps its state,
`reply_3m` is derived again from the whole log while the old rules serve. A thread asks
`GET /-/healthy` back to back meanwhile; the figures are the reload's wall time (from the signal
to the daemon's "reloaded" line) and the probes' latency during it. It also checks that the
unchanged SLA's counters are the same before and after.
"""

import argparse
import http.client
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time


def address(text, name):
    found = re.search(name + r" listening on ([0-9.]+):([0-9]+)", text)
    return (found.group(1), int(found.group(2))) if found else None


def wait_for(log_path, pattern, start_at, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(log_path) as f:
            f.seek(start_at)
            text = f.read()
        if re.search(pattern, text):
            return text
        time.sleep(0.01)
    sys.exit(f"timed out waiting for /{pattern}/ in {log_path}")


def counters(admin, sla):
    connection = http.client.HTTPConnection(*admin, timeout=60)
    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    found = {}
    for line in text.splitlines():
        if line.startswith("#") or f'sla="{sla}"' not in line:
            continue
        name = line.split("{", 1)[0]
        if name.endswith("_rounds_total") or name.endswith("_breaches_total"):
            found[line.rsplit(" ", 1)[0]] = float(line.rsplit(" ", 1)[1])
    return found


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary")
    parser.add_argument("restore_bench")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--tail", type=int, default=1_000_000)
    parser.add_argument("--dir", default="/tmp/replywatch-reload-bench")
    parser.add_argument("--reuse", action="store_true", help="keep a directory left by a run")
    args = parser.parse_args()

    if not (args.reuse and os.path.isdir(os.path.join(args.dir, "log"))):
        subprocess.run([args.restore_bench, "--events", str(args.events), "--tail",
                        str(args.tail), "--dir", args.dir, "--keep", "--no-baseline",
                        "--end-before-now"], check=True, stdout=subprocess.DEVNULL)
    rules = os.path.join(args.dir, "rules", "bench.yaml")
    with open(rules) as f:
        original = f.read()
    log_path = os.path.join(args.dir, "daemon.log")
    log = open(log_path, "w")
    started = time.monotonic()
    daemon = subprocess.Popen(
        [args.binary, "run", "--rules", os.path.dirname(rules), "--data", args.dir,
         "--ingest-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--max-shops",
         "1000"], stdout=subprocess.DEVNULL, stderr=log)
    try:
        text = wait_for(log_path, r"; ready", 0, 600)
        restart = time.monotonic() - started
        admin = address(text, "admin")
        before = counters(admin, "avg")

        latencies = []
        stop = threading.Event()

        def probe():
            connection = http.client.HTTPConnection(*admin, timeout=60)
            while not stop.is_set():
                t = time.monotonic()
                connection.request("GET", "/-/healthy")
                connection.getresponse().read()
                latencies.append(time.monotonic() - t)

        with open(rules, "w") as f:
            f.write(original.replace("deadline: 3m", "deadline: 4m"))
        offset = os.path.getsize(log_path)
        prober = threading.Thread(target=probe)
        prober.start()
        signalled = time.monotonic()
        daemon.send_signal(signal.SIGHUP)
        line = wait_for(log_path, r"reloaded .*", offset, 1800)
        reload_seconds = time.monotonic() - signalled
        stop.set()
        prober.join()
        after = counters(admin, "avg")
    finally:
        with open(rules, "w") as f:
            f.write(original)
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=120)
        log.close()

    print(f"daemon restart on {args.events} events (snapshot + {args.tail}): {restart:.2f} s")
    print(f"reload of one changed SLA: {reload_seconds:.2f} s")
    print("  " + re.search(r"reloaded .*", line).group(0))
    ms = [x * 1000 for x in latencies]
    print(f"GET /-/healthy during it: {len(ms)} probes, p50 {statistics.median(ms):.2f} ms, "
          f"p99 {percentile(ms, 0.99):.2f} ms, max {max(ms):.2f} ms")
    same = before == after and before
    print(f"unchanged SLA avg: {len(before)} counter series, "
          f"{'identical' if same else 'DIFFERENT'} before and after")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
