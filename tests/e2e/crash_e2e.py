#!/usr/bin/env python3
"""Crash test of the event log: concurrent senders, SIGKILL at random moments, restarts.

Four senders post small batches (a buyer message and usually the agent's answer, one
conversation per batch, all in the past so every round is decided at once) while the daemon is
killed with SIGKILL at random moments, at least --kills times, and restarted on the same data
directory. Snapshots are taken every few events, so some kills land while a snapshot is being
written (its temporary file exists); every third kill follows a rule reload (SIGHUP after the
second SLA's deadline was edited) within a few milliseconds, so it lands during the reload's
rebuild or just after it. The first SLA never changes: reloads carry its state. A sender re-sends every batch that was not acknowledged (connection lost, 503) until
it is. At the end:
  - the daemon's rounds and breaches of both SLAs equal `replywatch replay` (under the final rule
    files) of exactly the acknowledged events (NDJSON in time order) and `replay --journal` of
    its data directory: the unchanged SLA was carried across every reload, the edited one was
    derived again from the log, which retention keeps whole here (24 h windows);
  - every event was taken exactly once: the answers' accepted counts plus the duplicates of
    re-sent batches (durable, but the answer lost to a kill) equal the distinct events, and both
    replays accepted exactly the distinct events;
  - re-sending every acknowledged batch is answered as all duplicates.
Prints what it saw. Exit status 0 on success.
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

RULES = """platform: testchat
timezone: UTC
slas:
  - name: reply_2s
    kind: reply_time
    rounds: every
    deadline: 2s
    window: 24h
    resolution: 1m
  - name: edited
    kind: reply_time
    rounds: every
    deadline: {deadline}
    window: 24h
    resolution: 1m
"""
SLAS = ("reply_2s", "edited")
# The edited SLA's deadline at each reload, in turn.
DEADLINES = ("3s", "1s")
CONFIG = "snapshot_every_events: 15\nsnapshot_interval: 1s\nsnapshots_kept: 2\n"


def series(sla):
    return '{platform="testchat",shop="s1",sla="%s"}' % sla


class Daemon:
    def __init__(self, binary, rules, data, config):
        self.binary, self.rules, self.data, self.config = binary, rules, data, config
        self.proc = None
        self.ingest = self.admin = None
        self.log = []

    def start(self):
        # A killed daemon's snapshot child dies with it (PR_SET_PDEATHSIG) but may still hold
        # the data directory's lock for a moment: a start refused for the lock is tried again.
        for attempt in range(50):
            try:
                return self._start_once()
            except RuntimeError as failure:
                if "cannot lock the data directory" not in str(failure) or attempt == 49:
                    raise
                time.sleep(0.05)

    def _start_once(self):
        self.proc = subprocess.Popen(
            [self.binary, "run", "--rules", self.rules, "--data", self.data,
             "--config", self.config, "--ingest-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
             "--allowed-lateness", "100ms"],
            stderr=subprocess.PIPE, text=True)
        ingest = admin = None
        deadline = time.time() + 30
        for line in self.proc.stderr:
            self.log.append(line)
            m = re.search(r"ingest listening on [0-9.]+:(\d+)", line)
            if m:
                ingest = int(m.group(1))
            m = re.search(r"admin listening on [0-9.]+:(\d+)", line)
            if m:
                admin = int(m.group(1))
            if "; ready" in line:
                break
            if time.time() > deadline:
                raise RuntimeError("daemon not ready:\n" + "".join(self.log[-20:]))
        if ingest is None or admin is None:
            raise RuntimeError("daemon did not start:\n" + "".join(self.log[-20:]))
        # Keep draining stderr so the daemon never blocks on a full pipe.
        threading.Thread(target=self._drain, args=(self.proc,), daemon=True).start()
        self.ingest, self.admin = ingest, admin

    def _drain(self, proc):
        for line in proc.stderr:
            self.log.append(line)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def snapshot_in_progress(self):
        directory = os.path.join(self.data, "snapshots")
        try:
            return any(".rws.tmp." in name for name in os.listdir(directory))
        except OSError:
            return False

    def reloads_finished(self):
        return sum("reloaded " in line for line in list(self.log))

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=10)

    def metrics(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.admin, timeout=10)
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
        conn.close()
        samples = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                samples[name] = float(value)
        return samples


class Shared:
    def __init__(self):
        self.lock = threading.Lock()
        self.port = None  # None while the daemon is down
        self.acknowledged = []  # batches (lists of event dicts), in the order answered
        self.accepted = 0
        self.duplicates = 0
        self.refusals = 0
        self.lost_connections = 0


def post(port, batch):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        body = json.dumps(batch)
        conn.request("POST", "/v1/events", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def sender(shared, batches, stop_at):
    pending = list(batches)
    while pending and time.time() < stop_at:
        with shared.lock:
            port = shared.port
        if port is None:
            time.sleep(0.005)
            continue
        batch = pending[0]
        try:
            status, answer = post(port, batch)
        except (OSError, http.client.HTTPException):
            with shared.lock:
                shared.lost_connections += 1
            continue  # not acknowledged: send again
        if status != 200:
            with shared.lock:
                shared.refusals += 1
            continue
        with shared.lock:
            shared.acknowledged.append(batch)
            shared.accepted += answer["accepted"]
            shared.duplicates += answer["duplicates"]
        pending.pop(0)
    return pending


def make_batches(sender_index, count, base_ms, rng):
    batches = []
    for i in range(count):
        conversation = f"w{sender_index}-{i}"
        ts = base_ms + rng.randrange(0, 600_000)
        batch = [{"id": f"{conversation}-b", "platform": "testchat", "shop": "s1",
                  "type": "buyer_message", "conversation": conversation, "ts": ts}]
        kind = rng.random()
        if kind < 0.8:  # answered: within the 2 s deadline or after it
            delay = rng.choice([500, 1500, 2500, 4000])
            batch.append({"id": f"{conversation}-a", "platform": "testchat", "shop": "s1",
                          "type": "agent_message", "conversation": conversation,
                          "ts": ts + delay})
        batches.append(batch)
    return batches


def replay(binary, rules, until, files=None, journal=None):
    command = [binary, "replay", "--format", "json", "--rules", rules, "--until", str(until),
               "--allowed-lateness", "100ms"]
    command += ["--journal", journal] if journal else files
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    report = json.loads(out)
    figures = {}
    for sla in report["slas"]:
        figures[sla["sla"]] = (sla["rounds"], sla["breaches"])
    return figures, report["events"]["accepted"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--batches", type=int, default=150, help="per sender")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print(f"seed {args.seed}")
    work = tempfile.mkdtemp(prefix="replywatch-crash-")
    try:
        rules = os.path.join(work, "rules")
        os.makedirs(rules)
        rule_file = os.path.join(rules, "testchat.yaml")
        with open(rule_file, "w") as f:
            f.write(RULES.format(deadline="2s"))
        config = os.path.join(work, "config.yaml")
        with open(config, "w") as f:
            f.write(CONFIG)
        data = os.path.join(work, "data")
        daemon = Daemon(args.binary, rules, data, config)
        daemon.start()
        shared = Shared()
        shared.port = daemon.ingest
        base_ms = int(time.time() * 1000) - 3_600_000
        all_batches = [make_batches(s, args.batches, base_ms, rng) for s in range(args.senders)]
        stop_at = time.time() + 120
        leftovers = [None] * args.senders

        def run(index):
            leftovers[index] = sender(shared, all_batches[index], stop_at)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(args.senders)]
        for t in threads:
            t.start()
        kills = 0
        during_snapshot = 0
        after_reload_request = 0
        during_reload = 0
        reloads = 0

        def reload_then_kill():
            nonlocal reloads, after_reload_request, during_reload
            with open(rule_file, "w") as f:
                f.write(RULES.format(deadline=DEADLINES[reloads % len(DEADLINES)]))
            reloads += 1
            finished = daemon.reloads_finished()
            daemon.proc.send_signal(signal.SIGHUP)
            # On a quiet machine a small reload ends within a few ms: until one kill has landed
            # inside a reload, kill at once after the signal.
            if during_reload > 0:
                time.sleep(rng.uniform(0.0, 0.02))
            after_reload_request += 1
            if daemon.reloads_finished() == finished:
                during_reload += 1

        def kill_and_restart():
            nonlocal kills, during_snapshot
            if kills % 3 == 2:
                reload_then_kill()
            else:
                # Wait for a snapshot being written (one a second while events come in), so
                # that several kills land in one.
                wait_until = time.time() + (1.5 if during_snapshot < 3 else 0.3)
                while not daemon.snapshot_in_progress() and time.time() < wait_until:
                    time.sleep(0.001)
            with shared.lock:
                shared.port = None
            if daemon.snapshot_in_progress():
                during_snapshot += 1
            daemon.kill()
            kills += 1
            daemon.start()
            with shared.lock:
                shared.port = daemon.ingest

        started = time.time()
        while kills < args.kills or any(t.is_alive() for t in threads):
            if not any(t.is_alive() for t in threads):
                break
            time.sleep(rng.uniform(0.02, 0.4))
            if kills < args.kills:
                kill_and_restart()
        for t in threads:
            t.join()
        if any(leftovers):
            print("FAIL: batches never acknowledged before the time limit")
            return 1
        # Kills still owed when the senders finished early: kill and restart anyway.
        while kills < args.kills:
            kill_and_restart()
        elapsed = time.time() - started
        events = sum(len(b) for batches in all_batches for b in batches)
        until = int(time.time() * 1000)
        samples = daemon.metrics()
        figures = {sla: (int(samples.get("replywatch_sla_rounds_total" + series(sla), 0)),
                         int(samples.get("replywatch_sla_breaches_total" + series(sla), 0)))
                   for sla in SLAS}
        ndjson = os.path.join(work, "acknowledged.ndjson")
        # In time order, as an archive of the webhooks would be: replay runs on event time.
        acknowledged = sorted((e for batch in shared.acknowledged for e in batch),
                              key=lambda e: e["ts"])
        with open(ndjson, "w") as f:
            for event in acknowledged:
                f.write(json.dumps(event) + "\n")
        replayed = replay(args.binary, rules, until, files=[ndjson])
        from_log = replay(args.binary, rules, until, journal=data)
        print(f"{kills} SIGKILLs in {elapsed:.1f} s; {events} events in "
              f"{sum(len(b) for b in all_batches)} batches; {shared.refusals} answers 503, "
              f"{shared.lost_connections} requests lost to a kill; accepted {shared.accepted}, "
              f"duplicates {shared.duplicates} (acknowledged re-sends)")
        print(f"{during_snapshot} kills while a snapshot was being written; {after_reload_request} "
              f"kills within 20 ms of a reload request, {during_reload} of them before it "
              f"finished")
        print(f"daemon: {figures}; replay of the acknowledged events: {replayed[0]} accepted "
              f"{replayed[1]}; replay --journal: {from_log[0]} accepted {from_log[1]}")
        failures = []
        if figures != replayed[0]:
            failures.append("the daemon's figures differ from replay of the acknowledged events")
        if figures != from_log[0]:
            failures.append("the daemon's figures differ from replay --journal of its log")
        if during_snapshot == 0:
            failures.append("no kill landed while a snapshot was being written")
        if during_reload == 0:
            failures.append("no kill landed while a reload was under way")
        # A batch made durable whose answer a kill cut off is answered as duplicates when re-sent.
        if replayed[1] != events or from_log[1] != events or \
                shared.accepted + shared.duplicates != events:
            failures.append(f"accepted {shared.accepted} + duplicates {shared.duplicates} "
                            f"(replay {replayed[1]}, log {from_log[1]}) != {events} events")
        # Every acknowledged batch once more: all duplicates.
        again_accepted = again_duplicates = 0
        for batch in (b for batches in all_batches for b in batches):
            status, answer = post(daemon.ingest, batch)
            if status != 200:
                failures.append(f"re-send answered {status}")
                break
            again_accepted += answer["accepted"]
            again_duplicates += answer["duplicates"]
        print(f"re-sent every batch: accepted {again_accepted}, duplicates {again_duplicates}")
        if again_accepted != 0 or again_duplicates != events:
            failures.append("re-sent acknowledged events were not all duplicates")
        daemon.stop()
        for failure in failures:
            print("FAIL: " + failure)
        if failures:
            print("".join(daemon.log[-30:]))
        return 1 if failures else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
