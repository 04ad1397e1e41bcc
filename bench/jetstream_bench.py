#!/usr/bin/env python3
"""Figures of replywatch on NATS JetStream (docs/scale-out.md), printed as `name value` lines.

  bench/jetstream_bench.py BINARY [--runs R] [--batch N] [--batches B] [--latency-events L]
                                  [--backlog M] [--skip ingest,latency,catchup,cluster]
  bench/jetstream_bench.py --cluster-only [--cluster-messages N]

Starts a three-node NATS cluster on loopback (tests/e2e/nats_cluster.py; stream replicas 3,
16 partitions) and measures:
  ingest   batched NDJSON ingest (B posts of N events each over one keep-alive connection, every
           id new) into an ingest-only daemon (`log.kind: jetstream`, `consume: none`) and into a
           local-mode daemon (`fsync: always`, the default) in the same run, runs alternating
           jetstream, local, jetstream, ...; medians of R runs and their ratio
  latency  L single-event posts, one at a time, to the ingest-only daemon; a consume-only daemon
           (all partitions) is scraped every ~2 ms; an event's latency is the first scrape that
           counts it (replywatch_events_received_total) minus the instant its 2xx arrived here.
           One shop, so one partition and the events are applied in the order acknowledged.
           p50 / p99 (an upper bound by the scrape interval)
  cluster  the NATS cluster alone, the ceiling under the ingest figure: a minimal NATS client here
           publishes N events' worth of 120-byte messages to a stream of its own (replicas 3,
           16 subjects) with up to 1 000 unacknowledged, and counts PubAcks per second
  catchup  a consume-only daemon is stopped (SIGTERM) after its first events, M events are
           published through the ingest-only daemon, and the daemon is started again: the time
           from its start to the first scrape that counts all M, and to /-/ready 200; against
           `replywatch replay` of the same M events from an NDJSON file in the same run (the
           engine's own rate on them)
The machine is what it is: run it when nothing else does, and read the ratios. The clock read here
is this process's own: benchmarks measure the machine, not event time.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
from nats_cluster import NatsCluster  # noqa: E402

RULES = """platform: bench
timezone: UTC
slas:
  - name: reply_24h
    kind: reply_time
    deadline: 24h
"""
PARTITIONS = 16


def now_ms():
    return int(time.time() * 1000)


ROLE_KEYS = True  # --without-role-keys: a daemon that has the `log` mapping but not ingest/consume


def log_config(servers, consume, ingest):
    text = ("log:\n  kind: jetstream\n  servers: [%s]\n  partitions: %d\n  replicas: 3\n"
            "  publish_timeout: 30s\n" % (", ".join(servers), PARTITIONS))
    if ROLE_KEYS:
        text += f"ingest: {'true' if ingest else 'false'}\nconsume: {consume}\n"
    return text


class Daemon:
    def __init__(self, binary, work, name, rules, config_text, ingesting=True):
        self.binary, self.rules, self.name, self.ingesting = binary, rules, name, ingesting
        self.data = os.path.join(work, f"data-{name}")
        self.config = os.path.join(work, f"config-{name}.yaml")
        self.log_path = os.path.join(work, f"{name}.log")
        with open(self.config, "w") as f:
            f.write(config_text + "max_body_bytes: 67108864\nmax_events_per_request: 100000\n")
        self.process = None

    def start(self, timeout=120):
        started = time.monotonic()
        offset = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                [self.binary, "run", "--rules", self.rules, "--data", self.data, "--config",
                 self.config, "--ingest-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"],
                stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL)
        self.ingest = self.admin = None
        while time.monotonic() - started < timeout:
            with open(self.log_path) as f:
                f.seek(offset)
                text = f.read()
            admin = re.search(r"admin listening on [0-9.]+:(\d+)", text)
            ingest = re.search(r"ingest listening on [0-9.]+:(\d+)", text)
            if admin and (ingest or not self.ingesting):
                self.admin = int(admin.group(1))
                self.ingest = int(ingest.group(1)) if ingest else None
                return started
            if self.process.poll() is not None:
                break
            time.sleep(0.01)
        sys.exit(f"daemon {self.name} did not start:\n{self.tail()}")

    def tail(self):
        with open(self.log_path, errors="replace") as f:
            return "".join(f.readlines()[-20:])

    def get(self, path):
        conn = http.client.HTTPConnection("127.0.0.1", self.admin, timeout=30)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read().decode(errors="replace")
        finally:
            conn.close()

    def received(self):
        """replywatch_events_received_total summed over its series."""
        _, text = self.get("/metrics")
        total = 0.0
        for line in text.splitlines():
            if line.startswith("replywatch_events_received_total"):
                total += float(line.rsplit(" ", 1)[1])
        return int(total)

    def ready(self):
        try:
            return self.get("/-/ready")[0] == 200
        except (OSError, http.client.HTTPException):
            return False

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready():
                return
            time.sleep(0.02)
        sys.exit(f"daemon {self.name} not ready:\n{self.tail()}")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=120)


def post(connection, body, retries=5):
    """A 503 (the cluster did not acknowledge in time: a loaded machine) is retried as a sender
    would; the events stored the first time are duplicates the second."""
    for attempt in range(retries + 1):
        connection.request("POST", "/v1/events", body=body,
                           headers={"Content-Type": "application/x-ndjson"})
        response = connection.getresponse()
        text = response.read()
        if response.status == 200:
            return text
        if response.status != 503 or attempt == retries:
            sys.exit(f"POST answered {response.status}: {text[:300]!r}")
        print(f"# 503, retrying: {text[:100]!r}", flush=True)
        time.sleep(1)
    return text


def event(ident, shop, kind, conversation, ts):
    return (f'{{"id":"{ident}","platform":"bench","shop":"{shop}","type":"{kind}",'
            f'"conversation":"{conversation}","ts":{ts}}}')


def bodies_for(tag, batch, batches, ts, shops=200):
    bodies = []
    for b in range(batches):
        lines = []
        for i in range(batch // 2):
            conversation = f"{tag}b{b}c{i}"
            shop = f"shop{i % shops}"
            lines.append(event(f"{tag}-{b}-{i}-q", shop, "buyer_message", conversation, ts))
            lines.append(event(f"{tag}-{b}-{i}-a", shop, "agent_message", conversation, ts + 1))
        bodies.append(("\n".join(lines) + "\n").encode())
    return bodies


def ingest_rate(daemon, bodies, events):
    connection = http.client.HTTPConnection("127.0.0.1", daemon.ingest, timeout=300)
    started = time.monotonic()
    for body in bodies:
        post(connection, body)
    elapsed = time.monotonic() - started
    connection.close()
    return events / elapsed


def measure_ingest(args, jetstream, local):
    rates = {"jetstream": [], "local": []}
    for run in range(args.runs):
        for name, daemon in (("jetstream", jetstream), ("local", local)):
            bodies = bodies_for(f"i{name[0]}{run}", args.batch, args.batches, now_ms())
            rate = ingest_rate(daemon, bodies, args.batch * args.batches)
            rates[name].append(rate)
            print(f"# run {run} {name}: {rate:.0f} ev/s", flush=True)
    js, lo = statistics.median(rates["jetstream"]), statistics.median(rates["local"])
    print(f"jetstream_ingest_events_per_s {js:.0f}")
    print(f"local_ingest_events_per_s {lo:.0f}")
    print(f"jetstream_to_local_ratio {js / lo:.2f}")


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def wait_settled(consumer, timeout=900):
    """The consumer's count once it has applied everything published so far (the ingest
    figure's events too): ready, and the count steady for half a second."""
    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        count = consumer.received()
        if count == last and consumer.ready():
            return count
        last = count
        time.sleep(0.5)
    sys.exit(f"the consumer did not settle within {timeout} s:\n{consumer.tail()}")


def measure_latency(args, ingest, consumer):
    base = wait_settled(consumer)
    acked = []
    applied = {}
    done = threading.Event()

    def poll():
        while not done.is_set():
            count = consumer.received() - base
            seen = time.monotonic()
            for k in range(len(applied) + 1, count + 1):
                applied[k] = seen
            time.sleep(0.002)

    poller = threading.Thread(target=poll)
    poller.start()
    connection = http.client.HTTPConnection("127.0.0.1", ingest.ingest, timeout=30)
    ts = now_ms()
    for k in range(args.latency_events):
        body = event(f"lat-{ts}-{k}", "latency-shop", "buyer_message", f"lat{ts}-{k}",
                     ts + k) + "\n"
        post(connection, body.encode())
        acked.append(time.monotonic())
        time.sleep(0.01)
    connection.close()
    deadline = time.monotonic() + 30
    while len(applied) < len(acked) and time.monotonic() < deadline:
        time.sleep(0.01)
    done.set()
    poller.join()
    latencies = [(applied[k + 1] - acked[k]) * 1000 for k in range(len(acked))
                 if k + 1 in applied]
    if len(latencies) < len(acked):
        print(f"# {len(acked) - len(latencies)} events not seen applied within 30 s")
    print(f"e2e_latency_ms_p50 {percentile(latencies, 50):.1f}")
    print(f"e2e_latency_ms_p99 {percentile(latencies, 99):.1f}")
    print(f"e2e_latency_ms_max {max(latencies):.1f}")


def measure_catchup(args, work, ingest, consumer):
    consumer.wait_ready()
    time.sleep(2.5)  # a snapshot of what it has applied
    before = consumer.received()
    consumer.stop()
    backlog_started = time.monotonic()
    batch = 10_000
    ts = now_ms() - 600_000
    connection = http.client.HTTPConnection("127.0.0.1", ingest.ingest, timeout=300)
    ndjson = os.path.join(work, "backlog.ndjson")
    with open(ndjson, "wb") as f:
        for b in range(args.backlog // batch):
            body = bodies_for(f"c{b}", batch, 1, ts + b)[0]
            f.write(body)
            post(connection, body)
    connection.close()
    published = time.monotonic() - backlog_started
    print(f"# backlog of {args.backlog} events published in {published:.1f} s "
          f"({args.backlog / published:.0f} ev/s)", flush=True)
    started = consumer.start()
    first_ready = None
    counted_at = None
    deadline = started + 1800
    while time.monotonic() < deadline and (counted_at is None or first_ready is None):
        try:
            if counted_at is None and consumer.received() >= before + args.backlog:
                counted_at = time.monotonic()
            if first_ready is None and consumer.ready():
                first_ready = time.monotonic()
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.05)
    if counted_at is None:
        sys.exit(f"the restarted consumer did not count the backlog:\n{consumer.tail()}")
    print(f"catchup_{args.backlog}_events_s {counted_at - started:.2f}")
    if first_ready is not None:
        print(f"catchup_{args.backlog}_events_ready_s {first_ready - started:.2f}")
    replay_started = time.monotonic()
    subprocess.run([args.binary, "replay", "--rules", consumer.rules, ndjson],
                   stdout=subprocess.DEVNULL, check=True)
    replay_s = time.monotonic() - replay_started
    print(f"replay_{args.backlog}_events_s {replay_s:.2f}")
    print(f"catchup_to_replay_ratio {(counted_at - started) / replay_s:.2f}")


class NatsPublisher:
    """Just enough of the NATS client protocol to create a stream and publish with PubAcks."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.reader = self.sock.makefile("rb")
        self.reader.readline()  # INFO
        self.sock.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true}\r\n'
                          b"PING\r\n")
        if not self.reader.readline().startswith(b"PONG"):
            sys.exit("NATS did not answer PING")
        self.sock.sendall(b"SUB _INBOX.> 1\r\n")

    def next_message(self):
        while True:
            line = self.reader.readline()
            if not line:
                sys.exit("NATS closed the connection")
            if line.startswith(b"PING"):
                self.sock.sendall(b"PONG\r\n")
            elif line.startswith((b"MSG", b"HMSG")):
                size = int(line.split()[-1])
                return self.reader.read(size + 2)[:-2]

    def request(self, subject, payload):
        body = json.dumps(payload).encode()
        self.sock.sendall(b"PUB %s _INBOX.r %d\r\n%s\r\n" % (subject.encode(), len(body), body))
        return json.loads(self.next_message())


def measure_cluster(cluster, messages, window=1000):
    client = NatsPublisher(cluster.nodes[0].client_port)
    created = client.request("$JS.API.STREAM.CREATE.RAWBENCH",
                             {"name": "RAWBENCH", "subjects": ["rawbench.*"], "num_replicas": 3,
                              "storage": "file"})
    if "error" in created:
        sys.exit(f"stream not created: {created['error']}")
    payload = (b'{"id":"r-0000000-q","platform":"bench","shop":"shop17","type":"buyer_message",'
               b'"conversation":"c0000000","ts":1764460000000}')
    acknowledged = [0]

    def count_acks():
        while acknowledged[0] < messages:
            if b'"error"' in client.next_message():
                sys.exit("a publish was refused")
            acknowledged[0] += 1

    reader = threading.Thread(target=count_acks)
    started = time.monotonic()
    reader.start()
    sent = 0
    while sent < messages:
        while sent - acknowledged[0] >= window:
            time.sleep(0.0005)
        chunk = []
        for _ in range(min(100, messages - sent, window - (sent - acknowledged[0]))):
            chunk.append(b"PUB rawbench.%d _INBOX.a %d\r\n%s\r\n" % (sent % PARTITIONS,
                                                                    len(payload), payload))
            sent += 1
        client.sock.sendall(b"".join(chunk))
    reader.join()
    rate = messages / (time.monotonic() - started)
    client.sock.close()
    print(f"cluster_publish_acks_per_s {rate:.0f}")
    state = (cluster.stream("RAWBENCH") or {}).get("state") or {}
    if state.get("messages"):
        print(f"cluster_stream_bytes_per_{len(payload)}_byte_message "
              f"{state['bytes'] / state['messages']:.1f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("binary", nargs="?")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--latency-events", type=int, default=500)
    parser.add_argument("--backlog", type=int, default=1_000_000)
    parser.add_argument("--skip", default="",
                        help="comma-separated: ingest,latency,catchup,cluster")
    parser.add_argument("--cluster-only", action="store_true",
                        help="only the NATS cluster's own figure (no replywatch needed)")
    parser.add_argument("--cluster-messages", type=int, default=100_000)
    parser.add_argument("--without-role-keys", action="store_true",
                        help="a build with the `log` mapping but without the ingest/consume keys "
                             "(the ingest side alone): only the ingest figure")
    args = parser.parse_args()
    if args.without_role_keys:
        global ROLE_KEYS
        ROLE_KEYS = False
        args.skip += ",latency,catchup"
    skip = set(filter(None, args.skip.split(",")))
    with open("/proc/loadavg") as f:
        print(f"# load average before: {f.read().strip()}; {os.cpu_count()} cpus")
    work = tempfile.mkdtemp(prefix="replywatch-jsbench-")
    daemons = []
    try:
        rules = os.path.join(work, "rules")
        os.makedirs(rules)
        with open(os.path.join(rules, "bench.yaml"), "w") as f:
            f.write(RULES)
        with NatsCluster(work_dir=os.path.join(work, "nats"), max_file="16GB") as cluster:
            if "cluster" not in skip:
                measure_cluster(cluster, args.cluster_messages)
            if args.cluster_only:
                return 0
            if not args.binary:
                sys.exit("the replywatch binary is needed (or --cluster-only)")
            ingest = Daemon(args.binary, work, "ingest", rules,
                            log_config(cluster.servers, "none", True))
            consuming = "latency" not in skip or "catchup" not in skip
            # Snapshots every second, so that its restart resumes from the stream sequences it
            # had reached, not from the stream's start.
            consumer = Daemon(args.binary, work, "consumer", rules,
                              log_config(cluster.servers, "all", False) +
                              "snapshot_interval: 1s\n", ingesting=False)
            local = Daemon(args.binary, work, "local", rules, "")
            daemons = [ingest, consumer, local] if consuming else [ingest, local]
            for d in daemons:
                d.start()
            for d in daemons:
                d.wait_ready()
            if "ingest" not in skip:
                measure_ingest(args, ingest, local)
            local.stop()
            if "latency" not in skip:
                measure_latency(args, ingest, consumer)
            if "catchup" not in skip:
                measure_catchup(args, work, ingest, consumer)
            stream = cluster.stream("REPLYWATCH") or {}
            state = stream.get("state") or {}
            if state.get("messages"):
                print(f"stream_messages {state['messages']}")
                print(f"stream_bytes_per_message {state['bytes'] / state['messages']:.1f}")
            for d in daemons:
                d.stop()
    finally:
        for d in daemons:
            try:
                d.stop()
            except Exception:  # noqa: BLE001 - best effort at exit
                pass
        shutil.rmtree(work, ignore_errors=True)
    with open("/proc/loadavg") as f:
        print(f"# load average after: {f.read().strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
