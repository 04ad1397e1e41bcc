#!/usr/bin/env python3
"""Breach-detection lag while single-event requests are being made durable.

  bench/held_lag.py BINARY [--deadlines D] [--runs R]

While a request is being made durable the daemon holds its engine (no advance, no timer), so
that live equals replay of the log; this measures what that adds to breach detection. For each
fsync policy, the daemon of bench/live_bench.py measures its breach-detection lag (D deadlines
falling due over 3 s) once with nothing else going on and once while wrk posts single events on
64 connections. Under fsync: always the hold lasts one group commit; under interval only the
write. Prints the p50 / p99 of each, medians of R runs.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import live_bench  # noqa: E402


def lag_shop_breaches(connection):
    """Breaches of the lag measurement's shops only: wrk's own traffic breaches too."""
    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    total = 0.0
    for line in text.splitlines():
        if (line.startswith("replywatch_sla_breaches_total{") and 'sla="reply_2s"' in line and
                'shop="lagshop' in line):
            total += float(line.rsplit(" ", 1)[1])
    return total


live_bench.breaches_total = lag_shop_breaches


class PolicyDaemon(live_bench.Daemon):
    """live_bench's daemon with an fsync policy (passed through Popen's arguments)."""

    def __init__(self, binary, fsync):
        original = subprocess.Popen

        def popen(args, **kwargs):
            return original(list(args) + ["--fsync", fsync], **kwargs)

        subprocess.Popen = popen
        try:
            super().__init__(binary)
        finally:
            subprocess.Popen = original


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--deadlines", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    for fsync in ("always", "interval"):
        quiet, loaded = [], []
        daemon = PolicyDaemon(args.binary, fsync)
        try:
            for run in range(args.runs):
                quiet.append(live_bench.breach_lag(daemon, 2 * run, args.deadlines))
                host, port = daemon.ingest
                load = subprocess.Popen(
                    ["wrk", "-t1", "-c64", "-d12s", "-s", os.path.join(here, "wrk", "events.lua"),
                     f"http://{host}:{port}/v1/events"],
                    env=dict(os.environ, BATCH="1", PLATFORM="bench"),
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(1)
                loaded.append(live_bench.breach_lag(daemon, 2 * run + 1, args.deadlines))
                load.wait()
        finally:
            daemon.stop()
        q50 = statistics.median(p for p, _ in quiet)
        q99 = statistics.median(p for _, p in quiet)
        l50 = statistics.median(p for p, _ in loaded)
        l99 = statistics.median(p for _, p in loaded)
        print(f"fsync {fsync}: breach-detection lag p50 / p99, idle {q50} / {q99} ms; "
              f"under 64-connection single-event ingest {l50} / {l99} ms")


if __name__ == "__main__":
    main()
