"""Two launchers of a 3-shard Redis-Cluster-protocol cache, with one interface.

- `TroupeCluster(binary_dir)`: three troupe-node processes (roles consensus
  and cache), each on its own 127.0.0.x address, joined by --seeds, then
  `troupectl cache create --shards 3 --replicas 1`. This is what the tests
  exist for.
- `RedisCluster()`: three redis-server 7.0 primaries and three replicas
  (six processes, one 127.0.0.x address each) made with
  `redis-cli --cluster create --cluster-replicas 1`. It is only there to
  check the tests themselves against the real thing (`--redis`).

Both give:

- `.nodes`: objects with `.host`, `.resp_port`, `.pid`, `.alive()`,
  `.kill9()`, `.restart()` (same arguments and data dir / cluster config
  file) and `.log_tail()`;
- `.startup_nodes()`: [(host, port), ...] of every node's RESP address;
- `.cluster_slots()`: CLUSTER SLOTS of the first live node that answers,
  as [(start, end, [(host, port), ...]), ...], primary first;
- `.primary_for_key(key)`: the node object that CLUSTER SLOTS names as the
  primary of CLUSTER KEYSLOT key;
- `.wait_healthy(timeout)`: True once every live node's CLUSTER SLOTS
  covers all 16384 slots, each range with a live primary and, while every
  node is up, a live replica (`.health_problem` says what was missing);
- `.stop()` (also on leaving a `with` block): SIGTERM, then SIGKILL, by PID,
  and the temporary directories removed.

Every process is started by this module and stopped by its PID. Each child
also gets PR_SET_PDEATHSIG=SIGKILL, so that a test killed by ctest's timeout
does not leave servers behind (the signal follows the thread that started
the child: start and restart nodes from the main thread).
Run with /usr/bin/python3 (Debian's python3-redis lives there).
"""
import ctypes
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import redis

SLOTS = 16384
PR_SET_PDEATHSIG = 1

try:
    _libc = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:  # not glibc: no death signal, stop() still cleans up
    _libc = None


def _die_with_parent():
    if _libc is not None:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def wait_until(pred, timeout, step=0.1):
    """Poll pred() until it is true or `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return bool(pred())


def hold_ports(host, count):
    """Bind `count` distinct free ports on host at once; return the sockets.

    They are all held while they are picked, so that they differ (the
    mistake fixed in c05c286), and closed by the caller just before use."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind((host, 0))
            socks.append(s)
        return socks
    except BaseException:
        for s in socks:
            s.close()
        raise


def client(host, port, timeout=1.0):
    """A plain (non-cluster) redis-py connection, str replies."""
    return redis.Redis(host=host, port=port, socket_timeout=timeout,
                       socket_connect_timeout=timeout, decode_responses=True,
                       retry_on_timeout=False)


def parse_cluster_slots(reply):
    """Raw CLUSTER SLOTS -> [(start, end, [(host, port), ...])], primary first.

    Each range is [start, end, node, node...]; each node is
    [host, port, id, ...] (Redis 7 adds a fourth element, a map of
    hostnames; it is ignored here)."""
    out = []
    for entry in reply:
        start, end = int(entry[0]), int(entry[1])
        nodes = [(str(n[0]), int(n[1])) for n in entry[2:]]
        out.append((start, end, nodes))
    return sorted(out)


def cluster_slots_of(host, port, timeout=1.0):
    with client(host, port, timeout) as c:
        return parse_cluster_slots(c.execute_command("CLUSTER", "SLOTS"))


def _pairs(flat):
    """A RESP2 map (flat [k, v, k, v...]) as a dict with str keys."""
    out = {}
    for i in range(0, len(flat) - 1, 2):
        k = flat[i].decode() if isinstance(flat[i], bytes) else flat[i]
        out[k] = flat[i + 1]
    return out


def slots_with_replicas(host, port, timeout=1.0):
    """CLUSTER SLOTS ranges, each with the replicas CLUSTER SHARDS lists.

    troupe leaves replicas out of CLUSTER SLOTS (a troupe node is primary
    of some shards and replica of others, and redis-py would class it by
    its first appearance there); CLUSTER SHARDS names them.
    """
    ranges = cluster_slots_of(host, port, timeout)
    with client(host, port, timeout) as c:
        shards = c.execute_command("CLUSTER", "SHARDS")
    replicas = {}
    for sh in shards:
        d = _pairs(sh)
        slots = d.get("slots") or []
        reps = []
        for n in d.get("nodes") or []:
            nd = _pairs(n)
            role = nd.get("role")
            role = role.decode() if isinstance(role, bytes) else role
            health = nd.get("health")
            health = health.decode() if isinstance(health, bytes) else health
            # troupe: a replica in a full sync is "loading" on its primary's
            # node; only a streaming one protects the shard.
            if role == "replica" and health != "loading":
                ip = nd.get("ip")
                ip = ip.decode() if isinstance(ip, bytes) else ip
                reps.append((ip, int(nd.get("port"))))
        for i in range(0, len(slots) - 1, 2):
            replicas[(int(slots[i]), int(slots[i + 1]))] = reps
    out = []
    for start, end, nodes in ranges:
        extra = [r for r in replicas.get((start, end), []) if r not in nodes]
        out.append((start, end, list(nodes) + extra))
    return out


def ping(host, port, timeout=0.5):
    try:
        with client(host, port, timeout) as c:
            return c.ping()
    except (redis.RedisError, OSError):
        return False


class _Process:
    """One server process we started; restartable with the same arguments."""

    def __init__(self, args, log_path, cwd=None):
        self.args = args
        self.log_path = log_path
        self.cwd = cwd
        self.proc = None
        self._start()

    def _start(self):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=self.cwd,
                                         preexec_fn=_die_with_parent)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def restart(self):
        if self.alive():
            raise RuntimeError(f"pid {self.pid} is still running")
        self._start()

    def stop(self):
        if not self.alive():
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.kill9()

    def log_tail(self, n=40):
        try:
            with open(self.log_path, "rb") as f:
                return b"".join(f.readlines()[-n:]).decode(errors="replace")
        except OSError as e:
            return f"(no log: {e})"


class _ClusterBase:
    """What both launchers share; a subclass fills self.nodes and self.dirs."""

    name = "?"

    def __init__(self):
        self.nodes = []
        self.dirs = []
        self.health_problem = "not checked yet"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def startup_nodes(self):
        return [(n.host, n.resp_port) for n in self.nodes]

    def live_nodes(self):
        return [n for n in self.nodes if n.alive()]

    def node_at(self, host, port):
        for n in self.nodes:
            if n.host == host and n.resp_port == port:
                return n
        return None

    def cluster_slots(self):
        """CLUSTER SLOTS from the first live node that answers (None if none)."""
        for n in self.live_nodes():
            try:
                return cluster_slots_of(n.host, n.resp_port)
            except (redis.RedisError, OSError):
                continue
        return None

    def key_slot(self, key):
        for n in self.live_nodes():
            try:
                with client(n.host, n.resp_port) as c:
                    return int(c.execute_command("CLUSTER", "KEYSLOT", key))
            except (redis.RedisError, OSError):
                continue
        raise RuntimeError("no live node answered CLUSTER KEYSLOT")

    def primary_addr_for_slot(self, slot):
        ranges = self.cluster_slots() or []
        for start, end, nodes in ranges:
            if start <= slot <= end and nodes:
                return nodes[0]
        return None

    def primary_for_key(self, key):
        addr = self.primary_addr_for_slot(self.key_slot(key))
        if addr is None:
            raise RuntimeError(f"no primary for key {key!r}")
        node = self.node_at(*addr)
        if node is None:
            raise RuntimeError(f"CLUSTER SLOTS names {addr}, which is not one of ours")
        return node

    def primaries(self, ranges=None):
        """The distinct primary addresses in CLUSTER SLOTS."""
        ranges = ranges if ranges is not None else (self.cluster_slots() or [])
        return sorted({nodes[0] for _, _, nodes in ranges if nodes})

    def _check_slots(self, ranges, everyone_up):
        """The reason `ranges` are not healthy, or None."""
        covered = 0
        expect = 0
        for start, end, nodes in ranges:
            if start != expect:
                return f"slots {expect}..{start - 1} are not covered"
            expect = end + 1
            covered += end - start + 1
            if not nodes:
                return f"slots {start}-{end} have no primary"
            primary = self.node_at(*nodes[0])
            if primary is None or not primary.alive() or not ping(*nodes[0]):
                return f"slots {start}-{end}: primary {nodes[0]} is not live"
            if everyone_up:
                live = [a for a in nodes[1:] if self.node_at(*a) and self.node_at(*a).alive()]
                if not live:
                    return f"slots {start}-{end}: no live replica"
        if covered != SLOTS:
            return f"{covered} of {SLOTS} slots covered"
        return None

    def _extra_health(self):
        """Subclass hook: a reason the cluster is not healthy yet, or None."""
        return None

    def healthy(self):
        live = self.live_nodes()
        if not live:
            self.health_problem = "no live node"
            return False
        everyone_up = len(live) == len(self.nodes)
        for n in live:
            try:
                ranges = slots_with_replicas(n.host, n.resp_port)
            except (redis.RedisError, OSError) as e:
                self.health_problem = f"{n.host}:{n.resp_port} CLUSTER SLOTS/SHARDS: {e}"
                return False
            problem = self._check_slots(ranges, everyone_up)
            if problem:
                self.health_problem = f"{n.host}:{n.resp_port}: {problem}"
                return False
        problem = self._extra_health()
        if problem:
            self.health_problem = problem
            return False
        self.health_problem = None
        return True

    def wait_healthy(self, timeout):
        return wait_until(self.healthy, timeout, step=0.1)

    def describe(self):
        """CLUSTER SLOTS and the processes, for failure messages."""
        lines = [f"{self.name} cluster:"]
        for n in self.nodes:
            lines.append(f"  {n.host}:{n.resp_port} pid={n.pid} alive={n.alive()}")
        for start, end, nodes in self.cluster_slots() or []:
            lines.append(f"  slots {start}-{end}: " + " ".join(f"{h}:{p}" for h, p in nodes))
        return "\n".join(lines)

    def stop(self):
        for n in reversed(self.nodes):
            try:
                n.stop()
            except Exception:  # keep stopping the others
                pass
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)
        self.dirs = []


# ---------------------------------------------------------------- Redis


class RedisNode(_Process):
    def __init__(self, host, port, workdir, redis_server="redis-server"):
        self.host = host
        self.resp_port = port
        self.dir = workdir
        self.config_file = os.path.join(workdir, "nodes.conf")
        args = [redis_server,
                "--port", str(port), "--bind", host,
                "--cluster-enabled", "yes",
                "--cluster-node-timeout", "500",
                "--cluster-config-file", self.config_file,
                "--save", "", "--appendonly", "no",
                "--dir", workdir,
                # Gossip would otherwise carry 127.0.0.1 (the kernel's source
                # address for 127.0.0.0/8): say and use our own address.
                "--cluster-announce-ip", host,
                "--bind-source-addr", host,
                "--protected-mode", "no",
                "--daemonize", "no",
                "--logfile", ""]
        super().__init__(args, os.path.join(workdir, "redis.log"), cwd=workdir)


def _free_redis_port(host, rng, attempts=200):
    """A port P on host with P and P + 10000 (the cluster bus) both free."""
    for _ in range(attempts):
        port = rng.randrange(20000, 30000)
        socks = []
        try:
            for p in (port, port + 10000):
                s = socket.socket()
                socks.append(s)
                s.bind((host, p))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError(f"no free port pair on {host}")


class RedisCluster(_ClusterBase):
    """n primaries + n replicas of Debian's redis-server, one 127.0.0.x each
    (hosts first .. first + 2n - 1)."""

    name = "redis"

    def __init__(self, n=3, base_host="127.0.0", first=100, redis_server="redis-server",
                 redis_cli="redis-cli", timeout=30):
        super().__init__()
        self.redis_cli = redis_cli
        rng = random.Random()
        try:
            for i in range(2 * n):
                host = f"{base_host}.{first + i}"
                d = tempfile.mkdtemp(prefix="troupe-rediscluster-")
                self.dirs.append(d)
                self.nodes.append(RedisNode(host, _free_redis_port(host, rng), d, redis_server))
            for node in self.nodes:
                if not wait_until(lambda: ping(node.host, node.resp_port), 10):
                    raise RuntimeError(f"redis {node.host}:{node.resp_port} did not start:\n"
                                       + node.log_tail())
            create = ([redis_cli, "--cluster", "create"]
                      + [f"{h}:{p}" for h, p in self.startup_nodes()]
                      + ["--cluster-replicas", "1", "--cluster-yes"])
            r = subprocess.run(create, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, timeout=timeout)
            if r.returncode != 0:
                raise RuntimeError("redis-cli --cluster create failed:\n"
                                   + r.stdout.decode(errors="replace"))
            if not self.wait_healthy(timeout):
                raise RuntimeError("redis cluster not healthy: " + str(self.health_problem))
        except BaseException:
            self.stop()
            raise

    def _extra_health(self):
        # Beyond CLUSTER SLOTS: every live node agrees the cluster is ok, and
        # every live replica's link to its primary is up (else WAIT gets 0).
        everyone_up = all(n.alive() for n in self.nodes)
        for n in self.live_nodes():
            try:
                with client(n.host, n.resp_port) as c:
                    info = c.execute_command("CLUSTER", "INFO")
                    if "cluster_state:ok" not in info:
                        return f"{n.host}:{n.resp_port} cluster_state is not ok"
                    repl = c.info("replication")
            except (redis.RedisError, OSError) as e:
                return f"{n.host}:{n.resp_port}: {e}"
            if repl.get("role") == "slave" and repl.get("master_link_status") != "up":
                return f"{n.host}:{n.resp_port}: replica link is {repl.get('master_link_status')}"
            if everyone_up and repl.get("role") == "master":
                online = [v for k, v in repl.items()
                          if k.startswith("slave") and isinstance(v, dict)
                          and v.get("state") == "online"]
                if not online:
                    return f"{n.host}:{n.resp_port}: primary without an online replica"
        return None


# ---------------------------------------------------------------- troupe


def find_troupe_binaries(binary_dir):
    """(troupe-node, troupectl) under a build dir (troupe-node may be in
    BUILD/ or BUILD/actors/; troupectl in BUILD/cli/). A path to troupe-node
    itself is accepted too (as ctest's $<TARGET_FILE:troupe-node>)."""
    if os.path.isfile(binary_dir):
        node = os.path.abspath(binary_dir)
        d = os.path.dirname(node)
        build = os.path.dirname(d) if os.path.basename(d) == "actors" else d
    else:
        build = os.path.abspath(binary_dir)
        node = os.path.join(build, "troupe-node")
        if not os.path.isfile(node):
            node = os.path.join(build, "actors", "troupe-node")
    ctl = os.path.join(build, "cli", "troupectl")
    for path in (node, ctl):
        if not os.access(path, os.X_OK):
            raise FileNotFoundError(f"{path} is missing or not executable")
    return node, ctl


class TroupeNode(_Process):
    def __init__(self, binary, node_id, host, workdir, seeds=(), extra=()):
        self.id = node_id
        self.host = host
        self.dir = workdir
        socks = hold_ports(host, 3)
        self.cluster_port, self.admin_port, self.resp_port = (
            s.getsockname()[1] for s in socks)
        for s in socks:
            s.close()
        extra = list(extra)
        roles = [] if "--role" in extra else ["--role", "consensus,cache"]
        args = [binary, "--node-id", node_id] + roles + [
                "--listen", self.cluster_address,
                "--admin-listen", f"{host}:{self.admin_port}",
                "--resp-listen", f"{host}:{self.resp_port}",
                "--data-dir", os.path.join(workdir, "data"),
                "--insecure"] + list(extra)
        if seeds:
            args += ["--seeds", ",".join(seeds)]
        super().__init__(args, os.path.join(workdir, "node.log"))

    @property
    def cluster_address(self):
        return f"{self.host}:{self.cluster_port}"

    def ready(self):
        try:
            url = f"http://{self.host}:{self.admin_port}/readyz"
            with urllib.request.urlopen(url, timeout=1.0) as r:
                return r.status == 200
        except OSError:
            return False


    def is_leader(self):
        """Whether this node's Raft member leads (its /metrics says so)."""
        try:
            url = f"http://{self.host}:{self.admin_port}/metrics"
            with urllib.request.urlopen(url, timeout=1.0) as r:
                for line in r.read().decode().splitlines():
                    if line.startswith("raft_is_leader") or line.startswith("troupe_raft_is_leader"):
                        return line.split()[-1] in ("1", "1.0")
        except OSError:
            pass
        return False


class TroupeCluster(_ClusterBase):
    """n troupe-node processes (consensus,cache) on first .. first + n - 1,
    then `troupectl cache create --shards n --replicas 1`."""

    name = "troupe"

    def __init__(self, binary_dir, n=3, base_host="127.0.0", first=70, extra=(),
                 timeout=60):
        super().__init__()
        self.binary, self.troupectl = find_troupe_binaries(binary_dir)
        self.extra = tuple(extra)
        try:
            seeds = []
            for i in range(n):
                d = tempfile.mkdtemp(prefix="troupe-cachecluster-")
                self.dirs.append(d)
                node = TroupeNode(self.binary, f"n{i + 1}", f"{base_host}.{first + i}", d,
                                  seeds, extra)
                self.nodes.append(node)
                if i == 0:  # n1 bootstraps alone; the others join it
                    self._wait_ready(node, timeout)
                    seeds = [node.cluster_address]
            for node in self.nodes[1:]:
                self._wait_ready(node, timeout)
            self.create_cache(2 * n, timeout)
            if not self.wait_healthy(timeout):
                raise RuntimeError("troupe cache cluster not healthy: "
                                   + str(self.health_problem) + "\n" + self.nodes[0].log_tail())
        except BaseException:
            self.stop()
            raise

    def add_node(self, timeout=60, extra=()):
        """Starts one more node (n<k+1>, next address) that joins n1."""
        i = len(self.nodes)
        base = self.nodes[0].host.rsplit(".", 1)
        host = f"{base[0]}.{int(base[1]) + i}"
        d = tempfile.mkdtemp(prefix="troupe-cachecluster-")
        self.dirs.append(d)
        node = TroupeNode(self.binary, f"n{i + 1}", host, d, [self.nodes[0].cluster_address],
                          tuple(self.extra) + tuple(extra))
        self.nodes.append(node)
        self._wait_ready(node, timeout)
        return node

    @staticmethod
    def _wait_ready(node, timeout):
        if not wait_until(lambda: node.ready() or not node.alive(), timeout) or not node.alive():
            raise RuntimeError(f"{node.id} did not become ready:\n" + node.log_tail())

    def troupectl_args(self, *args):
        return [self.troupectl, "--endpoint", self.nodes[0].cluster_address, "--insecure",
                *args]

    def layout(self):
        """(shard, primary, replica) for every shard, from the controller."""
        r = subprocess.run(self.troupectl_args("cache", "shards", "-o", "json"),
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           stdin=subprocess.DEVNULL, timeout=10)
        if r.returncode != 0:
            return None
        try:
            return sorted((s["shard"], s["primary"], s["replica"]) for s in json.loads(r.stdout))
        except (ValueError, KeyError):
            return None

    def wait_healthy(self, timeout):
        """Healthy, and settled: troupe rebalances after a node returns (a
        replica moves, then a primary is handed over), and while a moved
        replica syncs its shard has no in-step copy. So the layout must stay
        the same, and healthy, for 1.5 s before this returns."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not wait_until(self.healthy, max(0.1, deadline - time.monotonic()), step=0.1):
                return False
            before = self.layout()
            steady_until = time.monotonic() + 1.5
            steady = before is not None
            while steady and time.monotonic() < steady_until:
                time.sleep(0.1)
                steady = self.healthy()
            if steady and self.layout() == before:
                return True
        return False

    def create_cache(self, shards, timeout):
        """`troupectl cache create`: returns once the placements are committed."""
        cmd = self.troupectl_args("cache", "create", "--shards", str(shards),
                                  "--replicas", "1")
        # Two per node, troupectl's default: the Raft leader's node weighs
        # one primary more, so with one per node it would serve none.
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {r.returncode}:\n"
                               + r.stdout.decode(errors="replace"))

    def _extra_health(self):
        for n in self.live_nodes():
            if not n.ready():
                return f"{n.id} /readyz is not 200"
        return None
