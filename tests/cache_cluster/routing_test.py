"""Routing in a 3-shard cache cluster, as Redis Cluster clients see it.

Usage:
  /usr/bin/python3 routing_test.py BINARY_DIR        # troupe (what ctest runs)
  /usr/bin/python3 routing_test.py --redis           # a real Redis Cluster, to check this test

BINARY_DIR is the build dir (troupe-node in it or in actors/, troupectl in
cli/), or the troupe-node binary itself. One "ok ..." or "FAIL ..." line
per check; exit status 1 when any check fails.

Checks:
- redis-py's redis.cluster.RedisCluster, given one startup node: SET of 300
  keys; their slots (CLUSTER KEYSLOT, which must agree with redis-py's own
  CRC16) fall on all 3 primaries of CLUSTER SLOTS; GET reads all back;
  MGET of the hash-tagged keys {t}a {t}b.
- Through a plain redis.Redis connection: MGET and MSET of keys in two slots
  fail with "CROSSSLOT Keys in request don't hash to the same slot".
- A plain connection to one primary, GET of a key another primary owns:
  troupe serves it (proxy mode, the default): the value. Real Redis answers
  "MOVED <slot> <host>:<port>" naming the owner from CLUSTER SLOTS.
  --misrouted value|moved|either picks what passes (defaults: value for
  troupe, either for --redis); the line says which one came.
- redis-cli -c: SET through one node, GET through another node.
- On every node: CLUSTER INFO has cluster_state:ok and
  cluster_slots_assigned:16384; CLUSTER KEYSLOT foo is 12182; CLUSTER
  SHARDS and CLUSTER NODES parse and agree with CLUSTER SLOTS (NODES: each
  line has at least 8 fields, every master line carries slot ranges).
- redis-benchmark -n 2000 -c 10 -q with no -t (the whole default suite)
  against each primary in turn (troupe's proxy mode serves every key):
  exit 0 and no "ERR"/"error" line. With --redis it runs with --cluster
  against one node instead, since a plain Redis node would answer MOVED.
"""
import argparse
import os
import re
import subprocess
import sys
import time

import redis
from redis.cluster import ClusterNode
from redis.cluster import RedisCluster as RedisClusterClient

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clusters  # noqa: E402

CROSSSLOT = "CROSSSLOT Keys in request don't hash to the same slot"
NKEYS = 300


class Checks:
    def __init__(self):
        self.failed = 0

    def ok(self, what):
        print(f"ok {what}", flush=True)

    def fail(self, what, detail=""):
        self.failed += 1
        print(f"FAIL {what}" + (f": {detail}" if detail else ""), flush=True)

    def expect(self, cond, what, detail=""):
        if cond:
            self.ok(what)
        else:
            self.fail(what, detail)
        return cond

    def run(self, what, fn):
        """fn() returns None (pass) or a failure detail; an exception fails too."""
        try:
            detail = fn()
        except Exception as e:  # a check's crash is that check's failure
            detail = f"{type(e).__name__}: {e}"
        self.expect(detail is None, what, detail or "")


def parse_kv_lines(text):
    out = {}
    for line in text.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k.strip()] = v.strip()
    return out


def flat_pairs(reply):
    """A RESP2 flattened map [k1, v1, k2, v2, ...] (or a dict) -> dict."""
    if isinstance(reply, dict):
        return dict(reply)
    if not isinstance(reply, list) or len(reply) % 2:
        raise ValueError(f"not a flat map: {reply!r}")
    return {str(reply[i]): reply[i + 1] for i in range(0, len(reply), 2)}


def check_shards(reply, slot_ranges):
    """CLUSTER SHARDS: one entry per shard, slots as [start, end, ...] pairs,
    nodes as maps with id, port, ip/endpoint, role, health; the master's
    address owns the shard's slots in CLUSTER SLOTS."""
    owner = {}
    for start, end, nodes in slot_ranges:
        owner[(start, end)] = nodes[0]
    total = 0
    masters = 0
    for shard in reply:
        s = flat_pairs(shard)
        slots = [int(x) for x in s["slots"]]
        if len(slots) % 2:
            return f"odd slots list {slots}"
        nodes = [flat_pairs(n) for n in s["nodes"]]
        for n in nodes:
            for field in ("id", "port", "role", "health"):
                if field not in n:
                    return f"node without {field}: {n}"
            if "ip" not in n and "endpoint" not in n:
                return f"node without ip/endpoint: {n}"
        roles = [str(n["role"]) for n in nodes]
        if slots:
            if roles.count("master") != 1:
                return f"shard with slots {slots} has roles {roles}"
            if roles.count("replica") < 1:
                return f"shard with slots {slots} has no replica: {roles}"
            m = next(n for n in nodes if n["role"] == "master")
            addr = (str(m.get("ip") or m.get("endpoint")), int(m["port"]))
            for i in range(0, len(slots), 2):
                start, end = slots[i], slots[i + 1]
                total += end - start + 1
                # CLUSTER SLOTS may split one shard's range, so compare per slot
                for (a, b), o in owner.items():
                    if a <= start <= b and o != addr:
                        return f"SHARDS says {start}-{end} on {addr}, SLOTS says {o}"
            masters += 1
    if total != clusters.SLOTS:
        return f"shards cover {total} slots"
    if masters != len(slot_ranges):
        return f"{masters} shards with slots, want {len(slot_ranges)} (one per SLOTS range)"
    return None


SLOT_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")


def check_nodes(text, slot_ranges):
    """CLUSTER NODES: lines of <id> <ip:port@cport[,host]> <flags> <master>
    <ping-sent> <pong-recv> <config-epoch> <link-state> <slot>...; masters
    carry their slot ranges; replicas name a known master; some line is
    myself (a troupe node holding a primary and a replica may print two)."""
    lines = [l for l in text.splitlines() if l.strip()]
    ids = {}
    masters = {}
    myself = 0
    total = 0
    for line in lines:
        f = line.split()
        if len(f) < 8:
            return f"line with {len(f)} fields: {line!r}"
        node_id, addr, flags, master = f[0], f[1], f[2].split(","), f[3]
        if not re.match(r"^[0-9a-zA-Z_.:-]+:\d+@\d+", addr):
            return f"bad address field {addr!r}"
        ids[node_id] = (flags, master)
        myself += "myself" in flags
        if "master" in flags and "fail" not in flags and "fail?" not in flags:
            ranges = []
            for s in f[8:]:
                if s.startswith("["):
                    continue  # a migrating/importing marker
                m = SLOT_RANGE.match(s)
                if not m:
                    return f"bad slot range {s!r} in {line!r}"
                a = int(m.group(1))
                b = int(m.group(2) or a)
                ranges.append((a, b))
                total += b - a + 1
            if not ranges:
                return f"master line without slots: {line!r}"
            masters[node_id] = ranges
    for node_id, (flags, master) in ids.items():
        if "slave" in flags and master not in ids:
            return f"replica {node_id} names unknown master {master}"
    if myself < 1:
        return "no line flagged myself"
    if len(masters) != len(slot_ranges):
        return f"{len(masters)} masters with slots, want {len(slot_ranges)} (one per SLOTS range)"
    if total != clusters.SLOTS:
        return f"masters cover {total} slots"
    if len(ids) < 2 * len(slot_ranges):
        return (f"only {len(ids)} lines, want a primary and a replica for each of "
                f"{len(slot_ranges)} shards")
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("binary_dir", nargs="?", help="troupe build dir (or troupe-node)")
    ap.add_argument("--redis", action="store_true", help="run against a real Redis Cluster")
    ap.add_argument("--first", type=int, default=None,
                    help="last octet of the first 127.0.0.x address")
    ap.add_argument("--misrouted", choices=["value", "moved", "either"], default=None,
                    help="what a plain GET to a non-owner must return")
    ap.add_argument("--benchmark-n", type=int, default=2000)
    args = ap.parse_args()
    if not args.redis and not args.binary_dir:
        ap.error("BINARY_DIR is required unless --redis")
    misrouted = args.misrouted or ("either" if args.redis else "value")

    checks = Checks()
    try:
        if args.redis:
            cluster = clusters.RedisCluster(first=args.first or 100)
        else:
            cluster = clusters.TroupeCluster(args.binary_dir, first=args.first or 70)
    except Exception as e:
        checks.fail("start the cluster", f"{type(e).__name__}: {e}")
        return 1
    try:
        run_checks(checks, cluster, args, misrouted)
    except Exception as e:
        checks.fail("the test itself", f"{type(e).__name__}: {e}")
        print(cluster.describe())
    finally:
        if checks.failed:
            for n in cluster.nodes:
                print(f"--- log tail of {n.host}:{n.resp_port} (pid {n.pid})")
                print(n.log_tail(20))
        cluster.stop()
    print(f"{'FAIL' if checks.failed else 'ok'} routing: {checks.failed} failed checks")
    return 1 if checks.failed else 0


def run_checks(checks, cluster, args, misrouted):
    ranges = cluster.cluster_slots()
    primaries = cluster.primaries(ranges)
    checks.expect(len(primaries) == 3, "CLUSTER SLOTS names 3 primaries",
                  f"{primaries}")

    def owner_of(slot):
        for start, end, nodes in ranges:
            if start <= slot <= end:
                return nodes[0]
        return None

    host0, port0 = primaries[0]
    plain0 = clusters.client(host0, port0, timeout=5)

    # --- redis-py's cluster client
    h, p = cluster.startup_nodes()[0]
    rc = RedisClusterClient(startup_nodes=[ClusterNode(h, p)], decode_responses=True,
                            socket_timeout=5)
    keys = [f"route:{i}" for i in range(NKEYS)]
    values = {k: f"value-{i}" for i, k in enumerate(keys)}

    def set_all():
        bad = [k for k in keys if rc.set(k, values[k]) is not True]
        return f"{len(bad)} SETs not OK, first {bad[:3]}" if bad else None
    checks.run(f"RedisCluster client: SET {NKEYS} keys", set_all)

    def scan_all():
        # scan_iter asks every primary node; a node may be primary of
        # several shards (troupe: two per node), and SCAN must walk them all.
        found = set(rc.scan_iter(match="route:*", count=50))
        missing = set(keys) - found
        return f"{len(missing)} of {NKEYS} keys not found, e.g. {sorted(missing)[:3]}" \
            if missing else None
    checks.run(f"RedisCluster client: scan_iter finds all {NKEYS} keys", scan_all)

    def keys_and_dbsize():
        total_keys, total_db = 0, 0
        for h2, p2 in primaries:
            with clusters.client(h2, p2, timeout=5) as c:
                total_keys += len(c.keys("route:*"))
                total_db += c.dbsize()
        if total_keys != NKEYS:
            return f"KEYS route:* over the primaries found {total_keys}, want {NKEYS}"
        return None if total_db >= NKEYS else f"DBSIZE sums to {total_db}, want >= {NKEYS}"
    checks.run("KEYS and DBSIZE per node add up over the primaries", keys_and_dbsize)

    pipe = plain0.pipeline(transaction=False)
    for k in keys:
        pipe.execute_command("CLUSTER", "KEYSLOT", k)
    slots = dict(zip(keys, (int(s) for s in pipe.execute())))

    def slots_agree():
        bad = [k for k in keys if slots[k] != rc.keyslot(k)]
        return f"CLUSTER KEYSLOT differs from CRC16 for {bad[:3]}" if bad else None
    checks.run(f"CLUSTER KEYSLOT agrees with redis-py's CRC16 for {NKEYS} keys", slots_agree)

    def span():
        owners = {}
        for k in keys:
            owners.setdefault(owner_of(slots[k]), 0)
            owners[owner_of(slots[k])] += 1
        if set(owners) != set(primaries):
            return f"keys fall on {owners}, primaries are {primaries}"
        return None
    checks.run(f"the {NKEYS} keys' slots span all 3 primaries", span)

    def get_all():
        bad = [k for k in keys if rc.get(k) != values[k]]
        return f"{len(bad)} wrong, first {bad[:3]}" if bad else None
    checks.run(f"RedisCluster client: GET reads back all {NKEYS} values", get_all)

    def mget_tagged():
        rc.set("{t}a", "A")
        rc.set("{t}b", "B")
        got = rc.mget("{t}a", "{t}b")
        return None if got == ["A", "B"] else f"got {got}"
    checks.run("RedisCluster client: MGET {t}a {t}b", mget_tagged)

    # --- plain connections
    slot_foo, slot_bar = 12182, 5061
    assert rc.keyslot("foo") == slot_foo and rc.keyslot("bar") == slot_bar

    def crossslot(*cmd):
        def check():
            try:
                r = plain0.execute_command(*cmd)
            except redis.ResponseError as e:
                msg = str(e)
                return None if msg.startswith(CROSSSLOT) else f"error {msg!r}"
            return f"no error, got {r!r}"
        return check
    checks.run("plain connection: MGET foo bar (two slots) -> CROSSSLOT",
               crossslot("MGET", "foo", "bar"))
    checks.run("plain connection: MSET foo 1 bar 2 (two slots) -> CROSSSLOT",
               crossslot("MSET", "foo", "1", "bar", "2"))

    def misrouted_get():
        other = next(k for k in keys if owner_of(slots[k]) != (host0, port0))
        owner = owner_of(slots[other])
        try:
            got = plain0.get(other)
        except redis.ResponseError as e:
            msg = str(e)
            want = f"MOVED {slots[other]} {owner[0]}:{owner[1]}"
            if msg != want:
                return f"error {msg!r}, want {want!r} or the value"
            print(f"   (GET {other} on {host0}:{port0} answered {msg!r})")
            return None if misrouted in ("moved", "either") else f"{msg!r}, want the value"
        if got != values[other]:
            return f"got {got!r}, want {values[other]!r}"
        print(f"   (GET {other} on {host0}:{port0}, owned by {owner[0]}:{owner[1]}: "
              f"served, proxy mode)")
        return None if misrouted in ("value", "either") else "served, want MOVED"
    checks.run(f"plain connection: GET of a key another primary owns (want {misrouted})",
               misrouted_get)

    def pipelined_proxy():
        # 300 SETs then 300 GETs in one pipeline through one node: most keys
        # live on other nodes, so most replies come back out of that node's
        # forwards, and must still come in the order of the commands.
        pipe = plain0.pipeline(transaction=False)
        pkeys = [f"pipe:{i}" for i in range(300)]
        for i, k in enumerate(pkeys):
            pipe.set(k, f"v{i}")
        for k in pkeys:
            pipe.get(k)
        got = pipe.execute(raise_on_error=False)
        want = [True] * 300 + [f"v{i}" for i in range(300)]
        bad = [(i, g, w) for i, (g, w) in enumerate(zip(got, want)) if g != w]
        return None if not bad else f"{len(bad)} replies out of place, e.g. {bad[:3]}"
    if misrouted == "value":
        checks.run("plain connection: a pipeline of 600 commands over every shard "
                   "answers in order (proxy mode)", pipelined_proxy)

    def redis_cli_c():
        # The key lives on the third primary, so that both the SET (through
        # the first) and the GET (through the second) are redirected.
        (ha, pa), (hb, pb) = primaries[0], primaries[1]
        base = next(k for k in keys if owner_of(slots[k]) == primaries[2])
        key = "cli:{%s}" % base
        r = subprocess.run(["redis-cli", "-c", "-h", ha, "-p", str(pa), "set", key, "v-cli"],
                           capture_output=True, text=True, timeout=15)
        if r.returncode != 0 or r.stdout.strip() != "OK":
            return f"set: rc={r.returncode} out={r.stdout!r} err={r.stderr!r}"
        r = subprocess.run(["redis-cli", "-c", "-h", hb, "-p", str(pb), "get", key],
                           capture_output=True, text=True, timeout=15)
        if r.returncode != 0 or r.stdout.strip() != "v-cli":
            return f"get: rc={r.returncode} out={r.stdout!r} err={r.stderr!r}"
        return None
    checks.run("redis-cli -c: SET through one node, GET through another", redis_cli_c)

    # --- CLUSTER subcommands on every node
    for n in cluster.nodes:
        addr = f"{n.host}:{n.resp_port}"
        c = clusters.client(n.host, n.resp_port, timeout=5)

        def info():
            kv = parse_kv_lines(c.execute_command("CLUSTER", "INFO"))
            if kv.get("cluster_state") != "ok":
                return f"cluster_state={kv.get('cluster_state')}"
            if kv.get("cluster_slots_assigned") != str(clusters.SLOTS):
                return f"cluster_slots_assigned={kv.get('cluster_slots_assigned')}"
            return None
        checks.run(f"{addr} CLUSTER INFO: cluster_state:ok, cluster_slots_assigned:16384", info)

        def keyslot():
            got = c.execute_command("CLUSTER", "KEYSLOT", "foo")
            return None if got == 12182 else f"got {got!r}"
        checks.run(f"{addr} CLUSTER KEYSLOT foo = 12182", keyslot)

        def slots_same():
            mine = clusters.parse_cluster_slots(c.execute_command("CLUSTER", "SLOTS"))
            return None if mine == ranges else f"{mine} differs from {ranges}"
        checks.run(f"{addr} CLUSTER SLOTS agrees with the first node's", slots_same)

        checks.run(f"{addr} CLUSTER SHARDS parses",
                   lambda: check_shards(c.execute_command("CLUSTER", "SHARDS"), ranges))
        checks.run(f"{addr} CLUSTER NODES parses",
                   lambda: check_nodes(c.execute_command("CLUSTER", "NODES"), ranges))
        c.close()

    # --- redis-benchmark's default suite
    def bench(cmd):
        def check():
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
            out = r.stdout + r.stderr
            lines = [l for l in re.split(r"[\r\n]+", out) if l.strip()]
            errs = [l for l in lines if "ERR" in l or "error" in l.lower()]
            if r.returncode != 0 or errs:
                return f"rc={r.returncode}; " + " | ".join((errs or lines)[-5:])
            tests = [l for l in lines if "requests per second" in l]
            print(f"   ({len(tests)} tests, e.g. {tests[0].strip() if tests else '?'})")
            return None
        return check
    n = str(args.benchmark_n)
    if args.redis:
        h, p = primaries[0]
        cmd = ["redis-benchmark", "--cluster", "-h", h, "-p", str(p), "-n", n, "-c", "10", "-q"]
        checks.run(f"redis-benchmark --cluster -h {h} -p {p} -n {n} -c 10 -q (default suite)",
                   bench(cmd))
    else:
        for h, p in cluster.startup_nodes():
            t0 = time.monotonic()
            cmd = ["redis-benchmark", "-h", h, "-p", str(p), "-n", n, "-c", "10", "-q"]
            checks.run(f"redis-benchmark -h {h} -p {p} -n {n} -c 10 -q (default suite)",
                       bench(cmd))
            print(f"   ({time.monotonic() - t0:.1f} s)")
    rc.close()
    plain0.close()


if __name__ == "__main__":
    sys.exit(main())
