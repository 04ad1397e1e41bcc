#!/usr/bin/env python3
"""Scale-out on NATS JetStream, end to end: three nats-server nodes and three daemons.

--mode scale-out (default): a three-node NATS cluster (tests/e2e/nats_cluster.py), the stream
with 3 replicas and 4 partitions; daemons A and B ingest and consume every partition (replicas),
daemon C only consumes partitions 0-1. Four senders post small batches (one conversation each, a
buyer message and usually its answer, all an hour in the past so that every round is decided as
soon as it is applied, whatever the watermark) to A or B in turn, as a load balancer would, and
re-send every batch that was not acknowledged (503, connection lost) to the other one. Events
are stamped with the time they are first sent (a reply 0.5-4 s after its buyer message, sent
with it), and the daemons allow 10 s of lateness: a request that JetStream stored in part before
a 503 (it has no atomic multi-message publish) gets its rest from the re-send well within that,
so nothing is late and every replica decides what replay decides. Meanwhile:
the NATS server that leads the stream is SIGKILLed (ingest must go on: batches are acknowledged
while it is down), then daemon B is SIGKILLed and restarted (it must catch up). At the end:
  - every acknowledged event is in the stream once (its message count is the distinct events);
  - A's and B's rounds and breaches per shop equal `replywatch replay` of the acknowledged
    events, and C's equal replay of the events of its partitions (and it has no other shop): so
    every event was applied exactly once by every daemon that consumes its partition;
  - accepted + duplicates over the answers equals the distinct events, and re-sending every
    batch to A and to B is answered as all duplicates.

--mode below-quorum: the same cluster and one daemon ingesting and consuming everything. Two of
the three NATS servers are SIGKILLed while the senders post: ingest must answer 503 (not 2xx, not
hang), nothing acknowledged before, during or after is lost, and once the two are restarted
ingest recovers by itself (the senders' re-sends are acknowledged) and the figures equal replay.

Prints what it saw; exit status 0 on success.
"""

import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nats_cluster import NatsCluster  # noqa: E402

RULES = """platform: testchat
timezone: UTC
slas:
  - name: reply_2s
    kind: reply_time
    rounds: every
    deadline: 2s
    window: 24h
    resolution: 1m
"""
SLA = "reply_2s"
PARTITIONS = 4
SHOPS = [f"s{i}" for i in range(12)]
STREAM = "REPLYWATCH"


def partition_of(platform, shop, partitions=PARTITIONS):
    """fnv1a64(platform + "\\n" + shop) mod partitions, as the daemon computes it."""
    h = 0xcbf29ce484222325
    for byte in (platform + "\n" + shop).encode():
        h ^= byte
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h % partitions


def config_text(servers, consume, ingest, extra=""):
    return ("log:\n  kind: jetstream\n  servers: [%s]\n  stream: %s\n  partitions: %d\n"
            "  replicas: 3\n" % (", ".join(servers), STREAM, PARTITIONS) +
            f"ingest: {'true' if ingest else 'false'}\nconsume: {consume}\n"
            "snapshot_every_events: 200\nsnapshot_interval: 1s\nsnapshots_kept: 2\n" + extra)


class Daemon:
    """One `replywatch run` with its own data directory and config file."""

    def __init__(self, name, binary, rules, work, config, ingesting, lateness):
        self.name, self.binary, self.rules, self.lateness = name, binary, rules, lateness
        self.ingesting = ingesting
        self.data = os.path.join(work, f"data-{name}")
        self.config = os.path.join(work, f"config-{name}.yaml")
        with open(self.config, "w") as f:
            f.write(config)
        self.proc = None
        self.ingest = self.admin = None
        self.log = []

    def start(self, timeout=30):
        for attempt in range(50):
            try:
                return self._start_once(timeout)
            except RuntimeError as failure:
                # A SIGKILLed daemon's snapshot child may hold the data directory's lock for a
                # moment after its parent died.
                if "cannot lock the data directory" not in str(failure) or attempt == 49:
                    raise
                time.sleep(0.05)

    def _start_once(self, timeout):
        self.proc = subprocess.Popen(
            [self.binary, "run", "--rules", self.rules, "--data", self.data, "--config",
             self.config, "--ingest-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
             "--allowed-lateness", self.lateness],
            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        self.ingest = self.admin = None
        first_line = len(self.log)
        threading.Thread(target=self._drain, args=(self.proc,), daemon=True).start()
        deadline = time.time() + timeout
        while time.time() < deadline and self.proc.poll() is None:
            text = "".join(self.log[first_line:])
            admin = re.search(r"admin listening on [0-9.]+:(\d+)", text)
            ingest = re.search(r"ingest listening on [0-9.]+:(\d+)", text)
            if admin and (ingest or not self.ingesting):
                # The ingest port last: senders take a daemon whose ingest port is known.
                self.admin = int(admin.group(1))
                if ingest:
                    self.ingest = int(ingest.group(1))
                return
            time.sleep(0.01)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        time.sleep(0.05)  # the drain thread's last lines
        raise RuntimeError(f"daemon {self.name} did not start:\n" +
                           "".join(self.log[first_line:][-20:]))

    def wait_ready(self, timeout=30):
        if not wait_for(self.ready, timeout, 0.05):
            raise RuntimeError(f"daemon {self.name} not ready within {timeout} s:\n" +
                               self.tail(20))

    def _drain(self, proc):
        for line in proc.stderr:
            self.log.append(line)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def get(self, path, timeout=10):
        conn = http.client.HTTPConnection("127.0.0.1", self.admin, timeout=timeout)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read().decode(errors="replace")
        finally:
            conn.close()

    def ready(self):
        try:
            return self.get("/-/ready", timeout=2)[0] == 200
        except (OSError, http.client.HTTPException):
            return False

    def figures(self):
        """{shop: (rounds, breaches)} of the SLA, from /metrics."""
        _, text = self.get("/metrics")
        rounds, breaches = {}, {}
        pattern = re.compile(r'^(replywatch_sla_(?:rounds|breaches)_total)\{([^}]*)\} (\S+)$')
        for line in text.splitlines():
            m = pattern.match(line)
            if not m:
                continue
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
            if labels.get("sla") != SLA:
                continue
            target = rounds if m.group(1).endswith("rounds_total") else breaches
            target[labels["shop"]] = int(float(m.group(3)))
        return {shop: (rounds.get(shop, 0), breaches.get(shop, 0))
                for shop in set(rounds) | set(breaches) if rounds.get(shop, 0) or
                breaches.get(shop, 0)}

    def tail(self, lines=30):
        return "".join(self.log[-lines:])


def post(port, batch, timeout=15):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/v1/events", json.dumps(batch), {"Content-Type": "application/json"})
        response = conn.getresponse()
        body = response.read()
        try:
            return response.status, json.loads(body or b"{}")
        except ValueError:
            return response.status, {}
    finally:
        conn.close()


class Shared:
    def __init__(self, targets):
        self.lock = threading.Lock()
        self.targets = targets  # ingesting daemons, in turn
        self.acknowledged = []  # (time answered, batch)
        self.accepted = self.duplicates = 0
        self.statuses = {}  # status (or "lost") -> count
        self.first_503 = None
        self.stop_at = None

    def count(self, key):
        with self.lock:
            self.statuses[key] = self.statuses.get(key, 0) + 1


def stamp(batch):
    """Dates a batch when it is first sent: the buyer message now, its reply `ts` ms after."""
    if batch and not batch[0].get("_stamped"):
        now = int(time.time() * 1000)
        for event in batch:
            event["ts"] += now
        batch[0]["_stamped"] = True


def unstamped(batch):
    return [{k: v for k, v in e.items() if k != "_stamped"} for e in batch]


def sender(shared, index, batches):
    pending = list(batches)
    turn = index
    while pending and time.time() < shared.stop_at:
        targets = [d.ingest for d in shared.targets if d.alive() and d.ingest]
        if not targets:
            time.sleep(0.01)
            continue
        port = targets[turn % len(targets)]
        turn += 1
        stamp(pending[0])
        batch = unstamped(pending[0])
        try:
            status, answer = post(port, batch)
        except (OSError, http.client.HTTPException):
            shared.count("lost")
            continue  # not acknowledged: to the next daemon
        if status != 200:
            shared.count(status)
            if status == 503:
                with shared.lock:
                    shared.first_503 = shared.first_503 or time.time()
                time.sleep(0.02)
            continue
        shared.count(200)
        with shared.lock:
            shared.acknowledged.append((time.time(), batch))
            shared.accepted += answer.get("accepted", 0)
            shared.duplicates += answer.get("duplicates", 0)
        pending.pop(0)
        time.sleep(0.005)
    return pending


def make_batches(sender_index, count, rng):
    """Batches of one conversation each; `ts` is relative until the batch is first sent."""
    batches = []
    for i in range(count):
        conversation = f"w{sender_index}-{i}"
        shop = rng.choice(SHOPS)
        ts = 0
        batch = [{"id": f"{conversation}-b", "platform": "testchat", "shop": shop,
                  "type": "buyer_message", "conversation": conversation, "ts": ts}]
        if rng.random() < 0.8:  # answered within the 2 s deadline or after it
            batch.append({"id": f"{conversation}-a", "platform": "testchat", "shop": shop,
                          "type": "agent_message", "conversation": conversation,
                          "ts": ts + rng.choice([500, 1500, 2500, 4000])})
        batches.append(batch)
    return batches


def replay(binary, rules, work, events, name, until):
    """{shop: (rounds, breaches)} and accepted events of `replay` over `events` (time order)."""
    path = os.path.join(work, f"{name}.ndjson")
    with open(path, "w") as f:
        for event in sorted(events, key=lambda e: e["ts"]):
            f.write(json.dumps(event) + "\n")
    figures = {}
    accepted = 0
    for shop in sorted({e["shop"] for e in events}):
        shop_path = os.path.join(work, f"{name}-{shop}.ndjson")
        with open(shop_path, "w") as f:
            for event in sorted((e for e in events if e["shop"] == shop), key=lambda e: e["ts"]):
                f.write(json.dumps(event) + "\n")
        out = subprocess.run([binary, "replay", "--format", "json", "--rules", rules, "--until",
                              str(until), "--allowed-lateness", "0s", shop_path],
                             capture_output=True, text=True, check=True).stdout
        report = json.loads(out)
        for sla in report["slas"]:
            if sla["sla"] == SLA and (sla["rounds"] or sla["breaches"]):
                figures[shop] = (sla["rounds"], sla["breaches"])
        accepted += report["events"]["accepted"]
    return figures, accepted


def wait_for(predicate, timeout, step=0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def run_senders(shared, all_batches, limit_s):
    shared.stop_at = time.time() + limit_s
    leftovers = [None] * len(all_batches)

    def run(index):
        leftovers[index] = sender(shared, index, all_batches[index])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(all_batches))]
    for t in threads:
        t.start()
    return threads, leftovers


def acked_between(shared, start, end):
    with shared.lock:
        return sum(1 for t, _ in shared.acknowledged if start <= t <= end)


def scale_out(args, cluster, work, rules):
    failures = []
    rng = random.Random(args.seed)
    half = "[0-1]"
    half_set = {0, 1}
    a = Daemon("A", args.binary, rules, work, config_text(cluster.servers, "all", True), True,
               args.lateness)
    b = Daemon("B", args.binary, rules, work, config_text(cluster.servers, "all", True), True,
               args.lateness)
    c = Daemon("C", args.binary, rules, work, config_text(cluster.servers, half, False), False,
               args.lateness)
    daemons = [a, b, c]
    try:
        for d in daemons:
            d.start()
        for d in daemons:
            d.wait_ready()
        all_batches = [make_batches(s, args.batches, rng) for s in range(args.senders)]
        events = [e for batches in all_batches for batch in batches for e in batch]
        shared = Shared([a, b])
        started = time.time()
        threads, leftovers = run_senders(shared, all_batches, args.limit)

        # 1. The NATS server leading the stream (or node 0) dies; ingest goes on.
        wait_for(lambda: len(shared.acknowledged) >= 20, 20, 0.05)
        stream = cluster.stream(STREAM) or {}
        leader = ((stream.get("cluster") or {}).get("leader")) or "n0"
        killed = int(leader[1:])
        cluster.kill(killed)
        nats_down = time.time()
        print(f"{nats_down - started:.1f} s: SIGKILL nats {leader} (the stream's leader)")
        wait_for(lambda: acked_between(shared, nats_down + 0.5, time.time()) >= 20, 20, 0.05)
        during_nats_down = acked_between(shared, nats_down, time.time())
        with shared.lock:
            times = sorted(t for t, _ in shared.acknowledged if t >= nats_down - 1)
        pause = max((b - a for a, b in zip(times, times[1:])), default=0)
        print(f"{time.time() - started:.1f} s: {during_nats_down} batches acknowledged since; "
              f"the longest pause between two acknowledgements around the kill: {pause:.2f} s")

        # 2. Daemon B dies and comes back: it must catch up with what it missed.
        b.kill()
        b_down = time.time()
        print(f"{b_down - started:.1f} s: SIGKILL daemon B")
        wait_for(lambda: acked_between(shared, b_down, time.time()) >= 20, 10, 0.05)
        b.start()
        print(f"{time.time() - started:.1f} s: daemon B restarted")

        for t in threads:
            t.join()
        sent_for = time.time() - started
        if any(leftovers):
            failures.append(f"{sum(len(x) for x in leftovers)} batches never acknowledged "
                            f"within {args.limit} s")
        if during_nats_down == 0:
            failures.append("no batch acknowledged while a NATS server was down")
        cluster.restart(killed)

        # Past every deadline (2 s after a buyer message): all rounds are decided there.
        until = max((e["ts"] for _, batch in shared.acknowledged for e in batch), default=0) + 3000
        acknowledged = [e for _, batch in shared.acknowledged for e in batch]
        distinct = {(e["platform"], e["shop"], e["id"]): e for e in acknowledged}
        full, full_accepted = replay(args.binary, rules, work, list(distinct.values()), "all",
                                     until)
        half_events = [e for e in distinct.values()
                       if partition_of(e["platform"], e["shop"]) in half_set]
        halved, _ = replay(args.binary, rules, work, half_events, "half", until)
        if not halved or halved == full:
            failures.append("the half consumer's partitions hold no shop, or every shop")

        # Every consumer catches up (its /-/ready) and reaches replay's figures.
        expected = {a.name: full, b.name: full, c.name: halved}
        seen = {}
        for d in daemons:
            def matches(d=d):
                seen[d.name] = d.figures()
                return seen[d.name] == expected[d.name]
            wait_for(matches, args.catch_up)
            caught_up = d.ready()
            print(f"daemon {d.name}: ready {caught_up}, {len(seen[d.name])} shops, "
                  f"{'equal to' if seen[d.name] == expected[d.name] else 'DIFFERENT from'} "
                  f"replay")
            if seen[d.name] != expected[d.name]:
                failures.append(f"daemon {d.name}'s figures {seen[d.name]} != replay "
                                f"{expected[d.name]}")
            if not caught_up:
                failures.append(f"daemon {d.name}'s /-/ready is not 200 after catching up")

        stream = cluster.stream(STREAM) or {}
        messages = (stream.get("state") or {}).get("messages")
        replicas = (stream.get("config") or {}).get("num_replicas")
        print(f"{len(events)} events in {sum(len(x) for x in all_batches)} batches sent in "
              f"{sent_for:.1f} s; answers {shared.statuses}; accepted {shared.accepted}, "
              f"duplicates {shared.duplicates}; stream {STREAM}: {messages} messages, "
              f"{replicas} replicas; replay accepted {full_accepted}")
        if messages != len(distinct):
            failures.append(f"the stream holds {messages} messages, not the {len(distinct)} "
                            "distinct acknowledged events")
        if replicas != 3:
            failures.append(f"the stream has {replicas} replicas, not 3")
        if full_accepted != len(events) or len(distinct) != len(events) or \
                shared.accepted + shared.duplicates != len(events):
            failures.append(f"accepted {shared.accepted} + duplicates {shared.duplicates} "
                            f"(replay {full_accepted}) != {len(events)} events")
        # Every acknowledged event once more, to each ingesting daemon, in requests of 500.
        again = {}
        for d in (a, b):
            acc = dup = 0
            for start in range(0, len(events), 500):
                status, answer = post(d.ingest, unstamped(events[start:start + 500]), timeout=60)
                if status != 200:
                    failures.append(f"re-send to {d.name} answered {status}")
                    break
                acc += answer.get("accepted", 0)
                dup += answer.get("duplicates", 0)
            again[d.name] = (acc, dup)
            if acc != 0 or dup != len(events):
                failures.append(f"re-sent to {d.name}: accepted {acc}, duplicates {dup} "
                                f"(want 0, {len(events)})")
        print(f"re-sent every batch (accepted, duplicates): {again}")
        if wait_for(lambda: all(d.figures() == expected[d.name] for d in daemons), 5) is False:
            failures.append("figures changed after the re-sends")
    finally:
        for d in daemons:
            d.stop()
        if failures:
            for d in daemons:
                print(f"--- daemon {d.name} ---\n{d.tail()}")
    return failures


def below_quorum(args, cluster, work, rules):
    failures = []
    rng = random.Random(args.seed)
    a = Daemon("A", args.binary, rules, work, config_text(cluster.servers, "all", True), True,
               args.lateness)
    try:
        a.start()
        a.wait_ready()
        all_batches = [make_batches(s, args.batches, rng) for s in range(args.senders)]
        events = [e for batches in all_batches for batch in batches for e in batch]
        shared = Shared([a])
        started = time.time()
        threads, leftovers = run_senders(shared, all_batches, args.limit)
        wait_for(lambda: len(shared.acknowledged) >= 20, 20, 0.05)
        killed = [0, 1]
        for i in killed:
            cluster.kill(i)
        down = time.time()
        print(f"{down - started:.1f} s: SIGKILL nats n0 and n1 (below quorum)")
        got_503 = wait_for(lambda: shared.first_503 is not None, 30, 0.05)
        if got_503:
            print(f"first 503 {shared.first_503 - down:.1f} s after the kills")
        else:
            failures.append("no 503 within 30 s below quorum")
        # Hold the cluster below quorum for a while, then restart both.
        time.sleep(3)
        restarted = time.time()
        acked_below = acked_between(shared, down + 5, restarted)
        for i in killed:
            cluster.restart(i)
        print(f"{restarted - started:.1f} s: n0 and n1 restarted; {acked_below} batches were "
              f"acknowledged more than 5 s into the outage")
        recovered = wait_for(lambda: acked_between(shared, restarted, time.time()) > 0, 40,
                             0.05)
        if recovered:
            first = min(t for t, _ in shared.acknowledged if t >= restarted)
            print(f"ingest recovered {first - restarted:.1f} s after the restart")
        else:
            failures.append("ingest did not recover within 40 s of the restart")
        for t in threads:
            t.join()
        if any(leftovers):
            failures.append(f"{sum(len(x) for x in leftovers)} batches never acknowledged")
        # Past every deadline (2 s after a buyer message): all rounds are decided there.
        until = max((e["ts"] for _, batch in shared.acknowledged for e in batch), default=0) + 3000
        acknowledged = [e for _, batch in shared.acknowledged for e in batch]
        distinct = {(e["platform"], e["shop"], e["id"]): e for e in acknowledged}
        full, full_accepted = replay(args.binary, rules, work, list(distinct.values()), "all",
                                     until)
        seen = {}

        def matches():
            seen["A"] = a.figures()
            return seen["A"] == full
        wait_for(matches, args.catch_up)
        print(f"{len(events)} events; answers {shared.statuses}; accepted {shared.accepted}, "
              f"duplicates {shared.duplicates}; daemon "
              f"{'equal to' if seen['A'] == full else 'DIFFERENT from'} replay")
        if seen["A"] != full:
            failures.append(f"daemon figures {seen['A']} != replay {full}")
        if not a.ready():
            failures.append("/-/ready is not 200 after recovery")
        if full_accepted != len(events) or shared.accepted + shared.duplicates != len(events):
            failures.append(f"accepted {shared.accepted} + duplicates {shared.duplicates} "
                            f"(replay {full_accepted}) != {len(events)} events")
        stream = cluster.stream(STREAM) or {}
        messages = (stream.get("state") or {}).get("messages")
        if messages != len(distinct):
            failures.append(f"the stream holds {messages} messages, not {len(distinct)}")
    finally:
        a.stop()
        if failures:
            print(f"--- daemon A ---\n{a.tail()}")
    return failures


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--mode", choices=("scale-out", "below-quorum"), default="scale-out")
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--batches", type=int, default=200, help="per sender")
    parser.add_argument("--limit", type=float, default=45, help="seconds for the senders")
    parser.add_argument("--lateness", type=float, default=None,
                        help="the daemons' allowed lateness in seconds (default: 10 for "
                             "scale-out, 20 for below-quorum: above the longest publish pause)")
    parser.add_argument("--catch-up", type=float, default=None,
                        help="seconds a daemon may take to reach replay's figures at the end")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()
    if args.lateness is None:
        args.lateness = 10 if args.mode == "scale-out" else 20
    if args.catch_up is None:
        args.catch_up = args.lateness + 15
    args.lateness = f"{int(args.lateness * 1000)}ms"
    print(f"mode {args.mode}, seed {args.seed}")
    work = tempfile.mkdtemp(prefix="replywatch-js-")
    started = time.time()
    try:
        rules = os.path.join(work, "rules")
        os.makedirs(rules)
        with open(os.path.join(rules, "testchat.yaml"), "w") as f:
            f.write(RULES)
        with NatsCluster(work_dir=os.path.join(work, "nats")) as cluster:
            try:
                if args.mode == "scale-out":
                    failures = scale_out(args, cluster, work, rules)
                else:
                    failures = below_quorum(args, cluster, work, rules)
            except Exception as error:  # report what the cluster saw too
                failures = [f"{type(error).__name__}: {error}"]
            if failures:
                print(cluster.log_tails(10))
        print(f"{time.time() - started:.1f} s in all")
        for failure in failures:
            print("FAIL: " + failure)
        return 1 if failures else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
