#!/usr/bin/env python3
"""A NATS JetStream cluster on loopback for tests and benchmarks (three nodes by default).

Each node is a `nats-server` process (Debian's nats-server, 2.9.x) with JetStream on, its own
store directory under a temporary directory, a client port, a cluster port with routes to every
node, and a monitoring port; all ports are free loopback ports picked at start and kept across
restarts (the other nodes' routes point at them). Readiness is the monitoring endpoints of
2.9.10: /healthz answers 200 {"status":"ok"} once the node's JetStream is current with a meta
leader (503 "JetStream is not current with the meta leader" below quorum), and /jsz's
meta_cluster names the leader.

    with NatsCluster() as cluster:          # started, and ready (a meta leader, every node healthy)
        cluster.urls                        # "nats://127.0.0.1:P0,nats://127.0.0.1:P1,..."
        cluster.kill(0)                     # SIGKILL; its store stays
        cluster.restart(0)                  # same ports, same store
        cluster.wait_ready()                # every running node healthy, one agreed meta leader
        cluster.stream("REPLYWATCH")        # the stream's state and cluster as /jsz reports it
    # stopped (SIGTERM, then SIGKILL) and the temporary directory removed

`python3 nats_cluster.py` runs a cluster until interrupted and prints its URLs (for trying the
daemon by hand and for the benchmarks); `--self-test` starts one, kills and restarts a node, takes
two nodes away and checks that health reports the lost quorum, and stops.
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def free_ports(count):
    """Distinct free loopback TCP ports (all bound at once so none is handed out twice)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class NatsNode:
    def __init__(self, index, directory, client_port, cluster_port, http_port):
        self.index = index
        self.name = f"n{index}"
        self.directory = directory
        self.client_port, self.cluster_port, self.http_port = client_port, cluster_port, http_port
        self.config = os.path.join(directory, "nats.conf")
        self.log_file = os.path.join(directory, "nats.log")
        self.proc = None

    @property
    def url(self):
        return f"nats://127.0.0.1:{self.client_port}"

    def write_config(self, cluster_name, route_ports, max_memory, max_file):
        routes = ", ".join(f"nats-route://127.0.0.1:{p}" for p in route_ports)
        store = os.path.join(self.directory, "store")
        with open(self.config, "w") as f:
            f.write(f"server_name: {self.name}\n"
                    f"listen: 127.0.0.1:{self.client_port}\n"
                    f"http: 127.0.0.1:{self.http_port}\n"
                    f"jetstream {{\n  store_dir: \"{store}\"\n"
                    f"  max_memory_store: {max_memory}\n  max_file_store: {max_file}\n}}\n"
                    f"cluster {{\n  name: {cluster_name}\n"
                    f"  listen: 127.0.0.1:{self.cluster_port}\n  routes: [{routes}]\n}}\n")

    def start(self):
        log = open(self.log_file, "a")
        try:
            self.proc = subprocess.Popen(["nats-server", "-c", self.config], stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        finally:
            log.close()

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def signal_and_wait(self, signum, timeout):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def monitor(self, path, timeout=2.0):
        """(status, parsed JSON body) from the monitoring port, or (None, None) if unreachable."""
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=timeout)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
            try:
                return response.status, json.loads(body or b"{}")
            except ValueError:
                return response.status, None
        except (OSError, http.client.HTTPException):
            return None, None
        finally:
            conn.close()

    def healthy(self):
        status, _ = self.monitor("/healthz")
        return status == 200

    def meta_leader(self):
        status, jsz = self.monitor("/jsz")
        if status != 200 or not jsz:
            return None
        return (jsz.get("meta_cluster") or {}).get("leader") or None

    def log_tail(self, lines=20):
        try:
            with open(self.log_file, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""


class NatsCluster:
    def __init__(self, size=3, work_dir=None, cluster_name="replywatch-test",
                 max_memory="256MB", max_file="8GB"):
        self._own_dir = work_dir is None
        self.work_dir = work_dir or tempfile.mkdtemp(prefix="replywatch-nats-")
        ports = free_ports(3 * size)
        self.nodes = []
        for i in range(size):
            directory = os.path.join(self.work_dir, f"n{i}")
            os.makedirs(directory, exist_ok=True)
            self.nodes.append(NatsNode(i, directory, ports[3 * i], ports[3 * i + 1],
                                       ports[3 * i + 2]))
        route_ports = [node.cluster_port for node in self.nodes]
        for node in self.nodes:
            node.write_config(cluster_name, route_ports, max_memory, max_file)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, wait=True, timeout=30.0):
        for node in self.nodes:
            node.start()
        if wait:
            self.wait_ready(timeout)
        return self

    def kill(self, index):
        """SIGKILL one node (its store stays for a restart)."""
        self.nodes[index].signal_and_wait(signal.SIGKILL, 5)

    def restart(self, index, wait=False, timeout=30.0):
        node = self.nodes[index]
        if node.running:
            node.signal_and_wait(signal.SIGKILL, 5)
        node.start()
        if wait:
            self.wait_ready(timeout)

    def stop(self):
        for node in self.nodes:
            node.signal_and_wait(signal.SIGTERM, 5)

    def cleanup(self):
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, *exc):
        self.cleanup()
        return False

    # -- what the tests read -----------------------------------------------------------------

    @property
    def servers(self):
        return [node.url for node in self.nodes]

    @property
    def urls(self):
        return ",".join(self.servers)

    def running_nodes(self):
        return [node for node in self.nodes if node.running]

    def meta_leader(self):
        """The meta leader every running node agrees on, or None. Right after a SIGKILL the
        survivors still name the dead leader for a moment: a leader that is not running is
        none."""
        running = self.running_nodes()
        leaders = {node.meta_leader() for node in running}
        if len(leaders) == 1:
            leader = leaders.pop()
            if leader in {node.name for node in running}:
                return leader
        return None

    def ready(self):
        nodes = self.running_nodes()
        return bool(nodes) and all(node.healthy() for node in nodes) and \
            self.meta_leader() is not None

    def wait_ready(self, timeout=30.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for node in self.nodes:
                if node.proc is not None and node.proc.poll() is not None:
                    raise RuntimeError(f"nats-server {node.name} exited with "
                                       f"{node.proc.returncode}:\n{node.log_tail()}")
            if self.ready():
                return self.meta_leader()
            time.sleep(0.1)
        raise RuntimeError("NATS cluster not ready within %.0f s:\n%s" % (timeout, self.log_tails()))

    def wait_unhealthy(self, timeout=30.0):
        """Until every running node's /healthz reports trouble (e.g. below quorum)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not any(node.healthy() for node in self.running_nodes()):
                return
            time.sleep(0.1)
        raise RuntimeError("NATS nodes still report healthy")

    def stream(self, name, node=None):
        """The stream as /jsz reports it (state: messages, first_seq, last_seq, ...; cluster:
        leader, replicas), asked of `node` or the first running node; None if unknown."""
        candidates = [self.nodes[node]] if node is not None else self.running_nodes()
        for candidate in candidates:
            status, jsz = candidate.monitor("/jsz?accounts=true&streams=true&config=true")
            if status != 200 or not jsz:
                continue
            for account in jsz.get("account_details") or []:
                for stream in account.get("stream_detail") or []:
                    if stream.get("name") == name:
                        return stream
        return None

    def log_tails(self, lines=20):
        return "\n".join(f"--- {node.name} ({node.url}) ---\n{node.log_tail(lines)}"
                         for node in self.nodes)


def self_test():
    started = time.time()
    with NatsCluster() as cluster:
        print(f"ready in {time.time() - started:.1f} s, meta leader {cluster.meta_leader()}: "
              f"{cluster.urls}")
        leader_index = int(cluster.meta_leader()[1:])
        cluster.kill(leader_index)
        t = time.time()
        cluster.wait_ready()
        print(f"leader {cluster.nodes[leader_index].name} killed: new meta leader "
              f"{cluster.meta_leader()} in {time.time() - t:.1f} s")
        cluster.restart(leader_index)
        t = time.time()
        cluster.wait_ready()
        print(f"restarted: all three healthy in {time.time() - t:.1f} s")
        survivor = (leader_index + 1) % 3
        for i in range(3):
            if i != survivor:
                cluster.kill(i)
        t = time.time()
        cluster.wait_unhealthy()
        print(f"two killed: the survivor reports unhealthy after {time.time() - t:.1f} s")
        for i in range(3):
            if i != survivor:
                cluster.restart(i)
        t = time.time()
        cluster.wait_ready()
        print(f"both restarted: healthy again in {time.time() - t:.1f} s")
    print("ok")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=3)
    parser.add_argument("--dir", help="work directory (kept); default a temporary one (removed)")
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    if args.self_test:
        return self_test()
    cluster = NatsCluster(size=args.size, work_dir=args.dir)
    try:
        cluster.start()
        # Until SIGINT or SIGTERM, then clean up.
        print(cluster.urls, flush=True)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        cluster.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
