#!/usr/bin/env python3
"""Reproductions of the adversarial review's process-level findings, with figures.

  bench/hardening_repro.py BINARY junk     # 16 MiB NDJSON of "1\\n": answer size, RSS, /-/healthy
  bench/hardening_repro.py BINARY unsigned # 100 unsigned 16 MiB bodies with a secret: RSS, time
  bench/hardening_repro.py BINARY shops N  # N distinct shops: /metrics size and time, RSS

BINARY is a `replywatch` executable; each run uses a fresh temporary rules and data directory.
"""
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

RULES = """platform: testchat
timezone: UTC
slas:
  - name: reply_2m
    kind: reply_time
    deadline: 2m
    warn_before: 30s
    objective: 0.9
    window: 1h
    resolution: 1m
"""


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class Daemon:
    def __init__(self, binary, extra=()):
        self.dir = tempfile.mkdtemp(prefix="rw-repro-")
        os.makedirs(f"{self.dir}/rules")
        with open(f"{self.dir}/rules/testchat.yaml", "w") as f:
            f.write(RULES)
        self.log = open(f"{self.dir}/log", "w+")
        self.proc = subprocess.Popen(
            [binary, "run", "--rules", f"{self.dir}/rules", "--data", f"{self.dir}/data",
             "--ingest-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", *extra],
            stderr=self.log)
        deadline = time.time() + 30
        while time.time() < deadline:
            text = open(f"{self.dir}/log").read()
            if "; ready" in text:
                self.ingest = int(re.search(r"ingest listening on [0-9.]+:(\d+)", text)[1])
                self.admin = int(re.search(r"admin listening on [0-9.]+:(\d+)", text)[1])
                return
            time.sleep(0.05)
        raise SystemExit("daemon did not start:\n" + open(f"{self.dir}/log").read())

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class PeakRss(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0, True

    def run(self):
        while self.running:
            try:
                self.peak = max(self.peak, rss_kib(self.pid))
            except OSError:
                return
            time.sleep(0.02)


class HealthProbe(threading.Thread):
    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.worst, self.running = port, 0.0, True

    def run(self):
        while self.running:
            start = time.monotonic()
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                c.request("GET", "/-/healthy")
                c.getresponse().read()
                c.close()
            except OSError:
                pass
            self.worst = max(self.worst, time.monotonic() - start)
            time.sleep(0.05)


def junk(binary):
    d = Daemon(binary)
    try:
        body = b"1\n" * (8 * 1024 * 1024 - 1)
        rss, probe = PeakRss(d.proc.pid), HealthProbe(d.admin)
        rss.start()
        probe.start()
        time.sleep(0.3)
        start = time.monotonic()
        c = http.client.HTTPConnection("127.0.0.1", d.ingest, timeout=120)
        c.request("POST", "/v1/events", body, {"Content-Type": "application/x-ndjson"})
        r = c.getresponse()
        answer = r.read()
        elapsed = time.monotonic() - start
        time.sleep(0.5)
        probe.running = rss.running = False
        probe.join()
        print(json.dumps({"finding": 1, "status": r.status, "answer_bytes": len(answer),
                          "request_seconds": round(elapsed, 2),
                          "peak_rss_mib": round(rss.peak / 1024, 1),
                          "rss_after_mib": round(rss_kib(d.proc.pid) / 1024, 1),
                          "worst_healthy_seconds": round(probe.worst, 3)}))
    finally:
        d.stop()


def unsigned(binary, connections=100):
    secret = tempfile.NamedTemporaryFile("w", delete=False)
    secret.write("s3cret\n")
    secret.close()
    d = Daemon(binary, ["--ingest-secret-file", secret.name])
    try:
        size = 16 * 1024 * 1024 - 1
        rss = PeakRss(d.proc.pid)
        rss.start()
        start = time.monotonic()
        chunk = b"x" * (1024 * 1024)
        statuses = []

        def one():
            s = socket.create_connection(("127.0.0.1", d.ingest))
            s.sendall((f"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       f"Content-Length: {size}\r\n\r\n").encode())
            s.settimeout(60)
            sent = 0
            try:
                while sent < size:
                    n = min(len(chunk), size - sent)
                    s.sendall(chunk[:n])
                    sent += n
            except OSError:
                pass
            try:
                statuses.append(s.recv(64).split(b" ")[1].decode())
            except (OSError, IndexError):
                statuses.append("reset")
            s.close()

        threads = [threading.Thread(target=one) for _ in range(connections)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - start
        rss.running = False
        print(json.dumps({"finding": 2, "connections": connections,
                          "seconds": round(elapsed, 2), "peak_rss_mib": round(rss.peak / 1024, 1),
                          "statuses": sorted(set(statuses))}))
    finally:
        d.stop()
        os.unlink(secret.name)


def shops(binary, count):
    d = Daemon(binary)
    try:
        now = int(time.time() * 1000) - 60_000
        accepted = rejected = 0
        for start in range(0, count, 1000):
            lines = "".join(
                json.dumps({"id": f"e{i}", "platform": "testchat", "shop": f"shop{i}",
                            "type": "buyer_message", "conversation": "c", "ts": now}) + "\n"
                for i in range(start, min(count, start + 1000)))
            c = http.client.HTTPConnection("127.0.0.1", d.ingest, timeout=120)
            c.request("POST", "/v1/events", lines, {"Content-Type": "application/x-ndjson"})
            answer = json.loads(c.getresponse().read())
            accepted += answer["accepted"]
            rejected += answer.get("rejected_total", len(answer["rejected"]))
        begin = time.monotonic()
        c = http.client.HTTPConnection("127.0.0.1", d.admin, timeout=600)
        c.request("GET", "/metrics")
        metrics = c.getresponse().read()
        scrape = time.monotonic() - begin
        c = http.client.HTTPConnection("127.0.0.1", d.admin, timeout=600)
        c.request("GET", "/v1/at-risk?limit=1000")
        at_risk = c.getresponse().read()
        print(json.dumps({"finding": 5, "shops_sent": count, "accepted": accepted,
                          "rejected": rejected, "metrics_bytes": len(metrics),
                          "scrape_seconds": round(scrape, 2), "at_risk_bytes": len(at_risk),
                          "rss_mib": round(rss_kib(d.proc.pid) / 1024, 1)}))
    finally:
        d.stop()


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    binary, what = sys.argv[1], sys.argv[2]
    if what == "junk":
        junk(binary)
    elif what == "unsigned":
        unsigned(binary, int(sys.argv[3]) if len(sys.argv) > 3 else 100)
    elif what == "shops":
        shops(binary, int(sys.argv[3]) if len(sys.argv) > 3 else 10000)
    else:
        raise SystemExit(__doc__)
