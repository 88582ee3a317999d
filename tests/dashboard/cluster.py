"""A troupe cluster of real troupe-node processes for the dashboard tests.

n1 runs every role (the dashboard and a consensus member); n2 and n3 join
it as consensus members. Each node gets a temporary data dir, free ports on
its own 127.0.0.x address, and region/zone labels. Nodes are stopped by PID.
Run with /usr/bin/python3 (Debian's python3-websockets lives there).
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request


def free_port(host):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Node:
    def __init__(self, binary, node_id, host, role, seeds, labels, extra):
        self.id = node_id
        self.host = host
        self.dir = tempfile.mkdtemp(prefix="troupe-dash-")
        self.cluster_port = free_port(host)
        self.admin_port = free_port(host)
        self.log_path = os.path.join(self.dir, "node.log")
        args = [binary, "--node-id", node_id, "--role", role,
                "--listen", f"{host}:{self.cluster_port}",
                "--admin-listen", f"{host}:{self.admin_port}",
                "--data-dir", os.path.join(self.dir, "data"),
                "--labels", labels, "--insecure"] + extra
        if seeds:
            args += ["--seeds", ",".join(seeds)]
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)

    @property
    def cluster_address(self):
        return f"{self.host}:{self.cluster_port}"

    @property
    def admin(self):
        return f"http://{self.host}:{self.admin_port}"

    def get(self, path, timeout=2.0):
        with urllib.request.urlopen(self.admin + path, timeout=timeout) as r:
            return r.status, r.read().decode()

    def ready(self):
        try:
            return self.get("/readyz")[0] == 200
        except OSError:
            return False

    def kill9(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill9()
        self.log.close()

    def log_tail(self, n=40):
        with open(self.log_path, "rb") as f:
            return b"".join(f.readlines()[-n:]).decode(errors="replace")


def wait_until(pred, timeout, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


class Cluster:
    """Three nodes; `extra` flags go to n1 (the dashboard node)."""

    LABELS = ["region=eu,zone=a", "region=eu,zone=b", "region=us,zone=a"]

    def __init__(self, binary, base_host="127.0.0", first=60, extra=None):
        self.nodes = []
        try:
            n1 = Node(binary, "n1", f"{base_host}.{first}", "all", [], self.LABELS[0],
                      extra or [])
            self.nodes.append(n1)
            if not wait_until(n1.ready, 20):
                raise RuntimeError("n1 did not become ready:\n" + n1.log_tail())
            for i in (2, 3):
                node = Node(binary, f"n{i}", f"{base_host}.{first + i - 1}", "consensus",
                            [n1.cluster_address], self.LABELS[i - 1], [])
                self.nodes.append(node)
            if not wait_until(lambda: self.members_up() == 3, 20):
                raise RuntimeError("the cluster did not reach 3 members:\n" + n1.log_tail())
        except BaseException:
            self.stop()
            raise

    def members_up(self):
        try:
            status, body = self.nodes[0].get("/api/cluster")
            nodes = json.loads(body)["nodes"]
            return sum(1 for n in nodes.values() if n["status"] == "up")
        except (OSError, ValueError, KeyError):
            return 0

    @property
    def dashboard(self):
        return self.nodes[0]

    def stop(self):
        for n in reversed(self.nodes):
            n.stop()
        for n in self.nodes:
            shutil.rmtree(n.dir, ignore_errors=True)
