#!/usr/bin/env python3
"""Singleton failover benchmark (issue 7, docs/bench-failover.md).

Starts three troupe-node processes as the README does (n1 bootstraps, n2
and n3 seed it) on 127.0.5.x, places the singleton `singleton/bench` (type
probe), and then, TRIALS times:
  1. finds its host with a send by name;
  2. kill -9's the host;
  3. sends Ping to `singleton/bench` by name through a surviving node every
     POLL_MS until one succeeds from another host: that time is the trial's
     kill-to-success time;
  4. restarts the killed node from its data dir (it rejoins under a new
     incarnation) and waits until all three members are up again.
Prints every trial, then p50/p90/max, and the leader's troupe_failover_seconds
histogram (first sign of trouble -> committed re-placement).

Then the same with the peer, etcd 3.4 (three members on 127.0.6.x): kill -9
the Raft leader, and PUT through a surviving member's JSON gateway every
POLL_MS until one succeeds. It prints the ratio of the two p50s.

  bench/failover/run.py BUILD_DIR [--trials N] [--poll-ms MS] [--no-peer]

Only processes this script started are signalled, by PID. Every loop is
bounded in count and time.
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request


def free_port(host):
    import socket
    s = socket.socket()
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Node:
    def __init__(self, build, node_id, host, seeds, root, extra):
        self.build, self.id, self.host = build, node_id, host
        self.port, self.admin = free_port(host), free_port(host)
        self.data = os.path.join(root, node_id)
        self.log = open(os.path.join(root, node_id + ".log"), "ab")
        self.seeds, self.extra, self.proc = seeds, extra, None

    def address(self):
        return f"{self.host}:{self.port}"

    def start(self):
        args = [os.path.join(self.build, "actors", "troupe-node"), "--node-id", self.id,
                "--role", "all", "--listen", self.address(),
                "--admin-listen", f"{self.host}:{self.admin}", "--data-dir", self.data]
        if self.seeds:
            args += ["--seeds", ",".join(self.seeds)]
        self.proc = subprocess.Popen(args + self.extra, stdout=self.log, stderr=self.log)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def ready(self):
        try:
            with urllib.request.urlopen(f"http://{self.host}:{self.admin}/readyz", timeout=1) as r:
                return r.status == 200
        except Exception:
            return False

    def metrics(self):
        try:
            with urllib.request.urlopen(f"http://{self.host}:{self.admin}/metrics", timeout=2) as r:
                return r.read().decode()
        except Exception:
            return ""


def ctl(build, node, args, timeout=5, extra=()):
    cmd = [os.path.join(build, "cli", "troupectl"), *extra, "--endpoint", node.address(), *args]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        return r.returncode, r.stdout, r.stderr
    except subprocess.TimeoutExpired:
        return -1, "", "timeout"


def wait(pred, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def etcd_trials(trials, poll_ms, root):
    """kill -9 the etcd leader; time until a PUT through another member works."""
    import base64
    etcd = shutil.which("etcd")
    if not etcd:
        print("etcd not installed (apt-get install etcd-server): no peer run")
        return []
    hosts = [f"127.0.6.{i}" for i in (2, 3, 4)]
    names = ["e1", "e2", "e3"]
    cl = ",".join(f"{n}=http://{h}:2380" for n, h in zip(names, hosts))
    procs = {}

    def start(i):
        log = open(os.path.join(root, names[i] + ".log"), "ab")
        procs[i] = subprocess.Popen(
            [etcd, "--name", names[i], "--data-dir", os.path.join(root, names[i]),
             "--listen-client-urls", f"http://{hosts[i]}:2379",
             "--advertise-client-urls", f"http://{hosts[i]}:2379",
             "--listen-peer-urls", f"http://{hosts[i]}:2380",
             "--initial-advertise-peer-urls", f"http://{hosts[i]}:2380",
             "--initial-cluster", cl, "--initial-cluster-state", "new"],
            stdout=log, stderr=log)

    def post(i, path, body, timeout=0.5):
        req = urllib.request.Request(f"http://{hosts[i]}:2379{path}",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read().decode())
        except Exception:
            return None

    def b64(x):
        return base64.b64encode(x.encode()).decode()

    def put(i, seq):
        r = post(i, "/v3/kv/put", {"key": b64(f"bench/{seq}"), "value": b64("x")})
        return r is not None and "header" in r

    def leader():
        for i in procs:
            if procs[i].poll() is not None:
                continue
            r = post(i, "/v3/maintenance/status", {}, timeout=1)
            if r and r.get("leader") and r.get("header", {}).get("member_id"):
                if r["leader"] == r["header"]["member_id"]:
                    return i
        return None

    times = []
    try:
        for i in range(3):
            start(i)
        if not wait(lambda: leader() is not None and all(put(i, 0) for i in range(3)), 30):
            print(f"etcd never became healthy; logs in {root}")
            return []
        seq = 1
        for t in range(trials):
            lead = None
            wait(lambda: leader() is not None, 15)
            lead = leader()
            if lead is None:
                print(f"etcd trial {t + 1}: no leader")
                return times
            via = next(i for i in range(3) if i != lead)
            procs[lead].send_signal(signal.SIGKILL)
            procs[lead].wait(10)
            killed = time.monotonic()
            ok = False
            while time.monotonic() < killed + 30:
                seq += 1
                if put(via, seq):
                    ok = True
                    break
                time.sleep(poll_ms / 1000)
            took = time.monotonic() - killed
            if not ok:
                print(f"etcd trial {t + 1}: no successful PUT within 30 s")
                return times
            times.append(took)
            print(f"etcd trial {t + 1:2d}: killed leader {names[lead]}, PUT through "
                  f"{names[via]} succeeded after {took * 1000:.0f} ms", flush=True)
            start(lead)
            if not wait(lambda: put(lead, 0), 30):
                print(f"etcd trial {t + 1}: {names[lead]} did not come back")
                return times
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait(10)
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--poll-ms", type=int, default=20)
    ap.add_argument("--no-peer", action="store_true", help="skip the etcd run")
    a = ap.parse_args()
    help_text = subprocess.run([os.path.join(a.build, "actors", "troupe-node"), "--help"],
                               capture_output=True, text=True).stdout
    node_extra = ["--insecure"] if "--insecure" in help_text else []
    # e.g. TROUPE_BENCH_NODE_ARGS="--log-level debug" for evidence
    node_extra += os.environ.get("TROUPE_BENCH_NODE_ARGS", "").split()
    ctl_help = subprocess.run([os.path.join(a.build, "cli", "troupectl"), "--help"],
                              capture_output=True, text=True).stdout
    ctl_extra = ["--insecure"] if "--insecure" in ctl_help else []
    root = tempfile.mkdtemp(prefix="troupe-failover-")
    nodes = []
    try:
        for i in range(1, 4):
            seeds = [nodes[0].address()] if nodes else []
            n = Node(a.build, f"n{i}", f"127.0.5.{i + 1}", seeds, root, node_extra)
            n.start()
            nodes.append(n)
            if not wait(n.ready, 30):
                sys.exit(f"{n.id} did not become ready; log in {root}")
        by_id = {n.id: n for n in nodes}

        def up_count():
            rc, out, _ = ctl(a.build, nodes[0] if nodes[0].proc.poll() is None else nodes[1],
                             ["placements", "-o", "json"], extra=ctl_extra)
            if rc != 0:
                return -1
            return sum(m.get("status") == "MEMBER_STATUS_UP" for m in json.loads(out).get("members", []))

        if not wait(lambda: up_count() == 3, 30):
            sys.exit("the three members never showed up")
        rc, _, err = ctl(a.build, nodes[0], ["place", "singleton/bench", "--type", "probe"],
                         extra=ctl_extra)
        if rc != 0:
            sys.exit("place failed: " + err)

        def host_via(n):
            rc, out, _ = ctl(a.build, n, ["--timeout-ms", "500", "send", "singleton/bench", "Ping",
                                         '{"payload":"bench"}'], timeout=3, extra=ctl_extra)
            return json.loads(out).get("node_id", "") if rc == 0 else ""

        times = []
        for t in range(a.trials):
            host = ""
            wait(lambda: bool(host_via(nodes[0] if nodes[0].proc.poll() is None else nodes[1])), 15)
            for n in nodes:
                if n.proc.poll() is None:
                    host = host_via(n)
                    if host:
                        break
            if not host:
                sys.exit(f"trial {t + 1}: the singleton is not reachable")
            victim = by_id[host]
            via = next(n for n in nodes if n is not victim)
            victim.kill()
            killed = time.monotonic()
            moved = ""
            deadline = killed + 30
            while time.monotonic() < deadline:
                moved = host_via(via)
                if moved and moved != host:
                    break
                time.sleep(a.poll_ms / 1000)
            took = time.monotonic() - killed
            if not moved or moved == host:
                sys.exit(f"trial {t + 1}: no successful send within 30 s")
            times.append(took)
            print(f"trial {t + 1:2d}: killed {host}, singleton/bench answered from {moved} "
                  f"after {took * 1000:.0f} ms", flush=True)
            victim.start()
            if not wait(victim.ready, 30) or not wait(lambda: up_count() == 3, 30):
                sys.exit(f"trial {t + 1}: {host} did not rejoin; log in {root}")
        times.sort()
        p50 = statistics.median(times)
        p90 = times[min(len(times) - 1, int(len(times) * 0.9))]
        print(f"failover trials={len(times)} p50_ms={p50 * 1000:.0f} p90_ms={p90 * 1000:.0f} "
              f"max_ms={times[-1] * 1000:.0f} target p50<=1000ms "
              f"{'MET' if p50 <= 1.0 else 'MISSED'}")
        for n in nodes:
            text = n.metrics()
            lines = [l for l in text.splitlines() if l.startswith("troupe_failover_seconds")]
            if any(l.startswith("troupe_failover_seconds_count") and not l.endswith(" 0")
                   for l in lines):
                print(f"troupe_failover_seconds on {n.id} (the controllers that moved it):")
                print("\n".join("  " + l for l in lines))
        if not a.no_peer:
            for n in nodes:
                n.kill()
            peer = sorted(etcd_trials(a.trials, a.poll_ms, root))
            if peer:
                peer_p50 = statistics.median(peer)
                peer_p90 = peer[min(len(peer) - 1, int(len(peer) * 0.9))]
                print(f"etcd leader failover trials={len(peer)} p50_ms={peer_p50 * 1000:.0f} "
                      f"p90_ms={peer_p90 * 1000:.0f} max_ms={peer[-1] * 1000:.0f}")
                print(f"ratio troupe/etcd p50={p50 / peer_p50:.2f} (below 1: troupe is back sooner)")
    finally:
        if os.environ.get("HOLD"):  # seconds to keep the nodes for a look
            print(f"holding {os.environ['HOLD']} s: " + ", ".join(
                f"{n.id} {n.address()} admin {n.host}:{n.admin}" for n in nodes), flush=True)
            time.sleep(float(os.environ["HOLD"]))
        for n in nodes:
            n.kill()
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
