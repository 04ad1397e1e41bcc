#!/usr/bin/env python3
"""Batched ingest through JetStream against local mode, in the same run (a quick figure for the
publish path; bench/jetstream_bench.py is the full benchmark).

  bench/jetstream_publish_quick.py BINARY [--batch N] [--batches B] [--runs R]

Starts one `nats-server -js` (a single server, file storage, on a free loopback port) and, in
turn, the daemon with log.kind local (fsync: always) and with log.kind jetstream, each on a fresh
data directory, and posts B NDJSON batches of N events over one keep-alive connection; prints
events/s per mode (median of R runs) and the ratio. Wall clock of this process only.
"""
import argparse
import http.client
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

RULES = """platform: bench
timezone: UTC
slas:
  - name: reply_1h
    kind: reply_time
    deadline: 1h
    window: 2h
    resolution: 1m
"""


def wait_for(path, pattern, process, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with open(path) as f:
            found = re.findall(pattern, f.read())
        if found:
            return found
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"{path}: no {pattern!r}:\n" + open(path).read())


def start_nats(work):
    log = os.path.join(work, "nats.log")
    process = subprocess.Popen(["nats-server", "-js", "-a", "127.0.0.1", "-p", "-1", "-sd",
                                os.path.join(work, "nats")], stdout=open(log, "w"),
                               stderr=subprocess.STDOUT)
    port = wait_for(log, r"Listening for client connections on [0-9.]+:(\d+)", process)[0]
    wait_for(log, r"Server is ready", process)
    return process, port


def start_daemon(binary, work, log_config):
    os.makedirs(os.path.join(work, "rules"), exist_ok=True)
    with open(os.path.join(work, "rules", "bench.yaml"), "w") as f:
        f.write(RULES)
    config = os.path.join(work, "config.yaml")
    with open(config, "w") as f:
        f.write(f"rules: {work}/rules\ndata: {work}/data\ningest_listen: 127.0.0.1:0\n"
                f"admin_listen: 127.0.0.1:0\nmax_shops: 0\n{log_config}")
    log = os.path.join(work, "daemon.log")
    process = subprocess.Popen([binary, "run", "--config", config], stdout=open(log, "w"),
                               stderr=subprocess.STDOUT)
    port = wait_for(log, r"ingest listening on 127\.0\.0\.1:(\d+)", process)[0]
    wait_for(log, r"; ready", process)
    return process, int(port)


def run_mode(binary, work, log_config, batch, batches, tag):
    daemon, port = start_daemon(binary, work, log_config)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        now = int(time.time() * 1000) - 1000
        bodies = []
        for b in range(batches):
            lines = [f'{{"id":"{tag}-{b}-{i}","platform":"bench","shop":"s{i % 100}",'
                     f'"type":"buyer_message","conversation":"c{i}","ts":{now}}}'
                     for i in range(batch)]
            bodies.append(("\n".join(lines) + "\n").encode())
        started = time.monotonic()
        for body in bodies:
            connection.request("POST", "/v1/events", body,
                               {"Content-Type": "application/x-ndjson"})
            response = connection.getresponse()
            text = response.read()
            if response.status != 200:
                raise RuntimeError(f"{response.status} {text[:200]!r}")
        return batch * batches / (time.monotonic() - started)
    finally:
        daemon.terminate()
        daemon.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="rw-js-quick-")
    nats, nats_port = start_nats(work)
    figures = {"local": [], "jetstream": []}
    try:
        for run in range(args.runs):
            for mode in ("local", "jetstream"):
                directory = os.path.join(work, f"{mode}-{run}")
                log_config = ("" if mode == "local" else
                              f"log:\n  kind: jetstream\n  servers: [nats://127.0.0.1:{nats_port}]\n"
                              f"  stream: QUICK{run}\n  subject_prefix: quick{run}\n")
                figures[mode].append(run_mode(args.binary, directory, log_config, args.batch,
                                              args.batches, f"{mode}{run}"))
    finally:
        nats.terminate()
        nats.wait()
        shutil.rmtree(work, ignore_errors=True)
    local = statistics.median(figures["local"])
    jetstream = statistics.median(figures["jetstream"])
    print(f"batch {args.batch} events x {args.batches} posts, median of {args.runs} runs")
    print(f"local_events_per_second {local:.0f}  (runs: {[round(x) for x in figures['local']]})")
    print(f"jetstream_events_per_second {jetstream:.0f}  "
          f"(runs: {[round(x) for x in figures['jetstream']]})")
    print(f"jetstream_over_local {jetstream / local:.3f}")


if __name__ == "__main__":
    sys.exit(main())
