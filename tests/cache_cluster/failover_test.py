"""Failover of a cache shard's primary under write load, with WAIT.

Usage:
  /usr/bin/python3 failover_test.py BINARY_DIR [--trials 20]        # troupe
  /usr/bin/python3 failover_test.py --redis --trials 3 --max-p50-ms 10000

Each trial i:
1. A writer thread writes key writer:{t<i>}:<seq> = <seq> (seq = 1, 2, ...)
   through a plain redis.Redis connection (socket timeout 0.5 s) to the
   primary of that slot, each SET followed by WAIT 1 200. A write is
   *acknowledged* when SET answered OK and WAIT answered >= 1. On any error
   (refused, reset, timeout, MOVED, CLUSTERDOWN, TRYAGAIN, READONLY, ...)
   the writer asks CLUSTER SLOTS of the live nodes for the slot's primary,
   reconnects, and sleeps 5 ms before the next attempt.
2. After ~1 s of acknowledged writes the primary's node gets SIGKILL.
   t_kill is taken just before the signal, and only operations *started*
   after the process was reaped count as "after the cut", so a reply that
   was on its way from the dying primary is never taken for a recovery.
   Measured from t_kill: "serving again" = the first SET OK after the cut,
   "replicated" = the first WAIT >= 1 after the cut (real Redis has no
   replica left for that shard until the killed node rejoins: "never").
3. The writer goes on for --after-ms (1 s) after serving again, then stops.
   Every acknowledged key is read back from the slot's current primary;
   lost = acknowledged but missing or wrong.
4. The killed node is restarted (same arguments and data), the cluster must
   become healthy again (every slot with a live primary and replica), and
   the acknowledged keys are read once more: a rejoining node must not
   bring old data back over them.

At the end every trial's acknowledged keys are read once more. Then
"failover trials=T p50_ms=... p90_ms=... max_ms=... lost_total=..." and
exit 1 if p50 > --max-p50-ms (1000), lost_total > 0, or any trial did not
serve again (within 30 s) or did not get healthy again.
"""
import argparse
import os
import sys
import threading
import time

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clusters  # noqa: E402

SOCKET_TIMEOUT = 0.5
RETRY_SLEEP = 0.005
TRIAL_LIMIT = 30.0


class Op:
    """One write attempt: when it started, and when SET / WAIT succeeded."""
    __slots__ = ("start", "set_ok", "wait_ok")

    def __init__(self, start):
        self.start = start
        self.set_ok = None   # monotonic time SET answered OK
        self.wait_ok = None  # monotonic time WAIT answered >= 1


class Writer(threading.Thread):
    def __init__(self, cluster, trial, deadline):
        super().__init__(daemon=True)
        self.cluster = cluster
        self.prefix = f"writer:{{t{trial}}}"
        self.slot = cluster.key_slot(self.prefix + ":0")
        self.deadline = deadline
        self.stop_flag = threading.Event()
        self.ops = []       # appended by this thread only; read by the main one
        self.acked = {}     # key -> value, acknowledged writes
        self.errors = {}    # error kind -> count
        self.target = None  # (host, port) written to now

    def discover(self):
        """The slot's primary per CLUSTER SLOTS of the first live node that answers."""
        for node in self.cluster.nodes:
            if not node.alive():
                continue
            try:
                ranges = clusters.cluster_slots_of(node.host, node.resp_port, timeout=0.3)
            except (redis.RedisError, OSError):
                continue
            for start, end, nodes in ranges:
                if start <= self.slot <= end and nodes:
                    return nodes[0]
        return None

    def note_error(self, e):
        kind = type(e).__name__
        if isinstance(e, redis.ResponseError):
            kind = str(e).split(" ", 1)[0]
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def run(self):
        conn = None
        seq = 0
        while not self.stop_flag.is_set() and time.monotonic() < self.deadline:
            if conn is None:
                self.target = self.discover()
                if self.target is None:
                    self.errors["no-primary"] = self.errors.get("no-primary", 0) + 1
                    time.sleep(RETRY_SLEEP)
                    continue
                conn = clusters.client(*self.target, timeout=SOCKET_TIMEOUT)
            seq += 1
            key, value = f"{self.prefix}:{seq}", str(seq)
            op = Op(time.monotonic())
            self.ops.append(op)
            try:
                if conn.set(key, value) is not True:
                    raise redis.ResponseError("SET did not answer OK")
                op.set_ok = time.monotonic()
                replicas = conn.execute_command("WAIT", 1, 200)
                if int(replicas) >= 1:
                    op.wait_ok = time.monotonic()
                    self.acked[key] = value
            except (redis.RedisError, OSError) as e:
                self.note_error(e)
                conn.close()
                conn = None
                time.sleep(RETRY_SLEEP)
        if conn is not None:
            conn.close()


def first_after(ops, cut, field, begin=0, end=None):
    """(index, time) of the first op of ops[begin:end] started at/after `cut`
    whose `field` is set; (None, None) if none."""
    for i in range(begin, len(ops) if end is None else end):
        op = ops[i]
        if op.start >= cut and getattr(op, field) is not None:
            return i, getattr(op, field)
    return None, None


def read_back(cluster, slot, acked, timeout=10.0):
    """Keys of `acked` missing or wrong on the slot's current primary (None if
    no primary could be asked within `timeout`)."""
    keys = list(acked)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        addr = cluster.primary_addr_for_slot(slot)
        if addr is None:
            time.sleep(0.1)
            continue
        try:
            with clusters.client(*addr, timeout=2.0) as c:
                bad = []
                for i in range(0, len(keys), 200):
                    chunk = keys[i:i + 200]
                    for k, v in zip(chunk, c.mget(chunk)):
                        if v != acked[k]:
                            bad.append(k)
                return bad
        except (redis.RedisError, OSError):
            time.sleep(0.1)
    return None


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * p // 100))  # ceil
    return sorted_values[int(rank) - 1]


def after(seconds):
    return "never" if seconds is None else f"after {seconds * 1000:.0f} ms"


def run_trial(cluster, trial, args):
    """Returns a dict with serving, replicated (seconds or None), acked, lost, ok."""
    started = time.monotonic()
    writer = Writer(cluster, trial, started + TRIAL_LIMIT)
    result = {"serving": None, "replicated": None, "acked": 0, "lost": set(), "ok": False,
              "writer": writer}
    writer.start()
    try:
        # 1. ~1 s of acknowledged writes before the cut.
        if not clusters.wait_until(lambda: writer.acked, 10, step=0.01):
            print(f"FAIL trial {trial}: no acknowledged write within 10 s "
                  f"(errors {writer.errors}, target {writer.target})")
            return result
        time.sleep(args.before_ms / 1000)
        victim = cluster.primary_for_key(writer.prefix + ":0")
        if (victim.host, victim.resp_port) != writer.target:
            print(f"   (note: writer targets {writer.target}, CLUSTER SLOTS names "
                  f"{victim.host}:{victim.resp_port})")

        # 2. The cut. A kill of the Raft leader's node also waits for an
        # election and the new controller's takeover grace; noted per trial.
        result["leader"] = bool(getattr(victim, "is_leader", lambda: False)())
        t_kill = time.monotonic()
        victim.kill9()
        t_dead = time.monotonic()
        result["victim"] = victim

        # Serving again: the first SET OK of an op started after the reap.
        idx, t_serving = None, None
        scanned = 0
        while time.monotonic() < writer.deadline and writer.is_alive():
            n = len(writer.ops)
            idx, t_serving = first_after(writer.ops, t_dead, "set_ok", scanned, n)
            if idx is not None:
                break
            # Ops finish in order, one at a time: all but the last of the n
            # seen are final, so the next scan starts at that last one.
            scanned = max(scanned, n - 1)
            time.sleep(0.005)
        if t_serving is not None:
            result["serving"] = t_serving - t_kill
            end = min(writer.deadline, t_serving + args.after_ms / 1000)
            time.sleep(max(0.0, end - time.monotonic()))
    finally:
        writer.stop_flag.set()
        writer.join(5)
    if writer.is_alive():
        print(f"FAIL trial {trial}: the writer thread did not stop")
        return result
    _, t_repl = first_after(writer.ops, t_dead, "wait_ok")
    result["replicated"] = None if t_repl is None else t_repl - t_kill
    result["acked"] = len(writer.acked)

    # 3. Read back after the failover.
    bad = read_back(cluster, writer.slot, writer.acked)
    if bad is None:
        print(f"FAIL trial {trial}: could not read back (no primary answered)")
        bad = list(writer.acked)
    lost = result["lost"]
    lost.update(bad)
    print(f"trial {trial}: serving again {after(result['serving'])} (first SET ok), "
          f"replicated {after(result['replicated'])} (first WAIT>=1), "
          f"acked={result['acked']} lost={len(lost)}"
          + (" (killed the Raft leader's node)" if result.get("leader") else ""), flush=True)
    if writer.errors:
        errs = " ".join(f"{k}={v}" for k, v in sorted(writer.errors.items()))
        print(f"   (writer errors: {errs}; {len(writer.ops)} attempts; killed "
              f"{victim.host}:{victim.resp_port} pid {victim.pid})", flush=True)
    if result["serving"] is None:
        print(f"FAIL trial {trial}: never served again within {TRIAL_LIMIT:.0f} s")
        print(cluster.describe())

    # 4. The killed node comes back; everything healthy; nothing overwritten.
    victim.restart()
    if not cluster.wait_healthy(args.healthy_timeout):
        print(f"FAIL trial {trial}: not healthy {args.healthy_timeout:.0f} s after the "
              f"restart: {cluster.health_problem}")
        print(cluster.describe())
        print(f"--- log tail of the restarted {victim.host}:{victim.resp_port}")
        print(victim.log_tail(20))
        return result
    bad = read_back(cluster, writer.slot, writer.acked)
    again = set(writer.acked) if bad is None else set(bad)
    if again - lost:
        print(f"FAIL trial {trial}: {len(again - lost)} acknowledged keys gone after the "
              f"killed node rejoined, e.g. {sorted(again - lost)[:3]}")
    lost |= again
    result["ok"] = result["serving"] is not None
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("binary_dir", nargs="?", help="troupe build dir (or troupe-node)")
    ap.add_argument("--redis", action="store_true", help="run against a real Redis Cluster")
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--max-p50-ms", type=float, default=1000.0)
    ap.add_argument("--before-ms", type=float, default=1000.0,
                    help="acknowledged writes before the kill")
    ap.add_argument("--after-ms", type=float, default=1000.0,
                    help="writes after serving again")
    ap.add_argument("--healthy-timeout", type=float, default=60.0)
    ap.add_argument("--first", type=int, default=None,
                    help="last octet of the first 127.0.0.x address")
    args = ap.parse_args()
    if not args.redis and not args.binary_dir:
        ap.error("BINARY_DIR is required unless --redis")
    if not 1 <= args.trials <= 1000:
        ap.error("--trials must be 1..1000")

    try:
        if args.redis:
            cluster = clusters.RedisCluster(first=args.first or 110)
        else:
            cluster = clusters.TroupeCluster(args.binary_dir, first=args.first or 80)
    except Exception as e:
        print(f"FAIL start the cluster: {type(e).__name__}: {e}")
        return 1

    results = []
    failed = False
    try:
        for trial in range(1, args.trials + 1):
            r = run_trial(cluster, trial, args)
            results.append(r)
            if not r["ok"]:
                failed = True
                break  # the cluster is in an unknown state: stop here
        # Every trial's acknowledged keys, once more, at the end.
        if not failed:
            late = 0
            total = 0
            for r in results:
                w = r["writer"]
                total += len(w.acked)
                bad = read_back(cluster, w.slot, w.acked)
                bad = set(w.acked) if bad is None else set(bad)
                late += len(bad)
                if bad:
                    print(f"   (trial {results.index(r) + 1}: {len(bad)} of {len(w.acked)} "
                          f"keys of slot {w.slot} gone at the end)")
                r["lost"] |= bad
            print(f"{'FAIL' if late else 'ok'} all {total} acknowledged keys of "
                  f"{len(results)} trials read back at the end ({late} missing)")
    except Exception as e:
        print(f"FAIL the test itself: {type(e).__name__}: {e}")
        failed = True
    finally:
        cluster.stop()

    serving = sorted(r["serving"] * 1000 for r in results if r["serving"] is not None)
    never = sum(1 for r in results if r["serving"] is None)
    lost_total = sum(len(r["lost"]) for r in results)
    p50, p90 = percentile(serving, 50), percentile(serving, 90)
    mx = serving[-1] if serving else float("nan")
    print(f"failover trials={len(results)} p50_ms={p50:.0f} p90_ms={p90:.0f} "
          f"max_ms={mx:.0f} lost_total={lost_total}"
          + (f" never_served={never}" if never else ""))
    if not serving or p50 > args.max_p50_ms:
        print(f"FAIL p50 {p50:.0f} ms is above {args.max_p50_ms:.0f} ms")
        failed = True
    if lost_total:
        print(f"FAIL {lost_total} acknowledged writes lost")
        failed = True
    if never or len(results) < args.trials:
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
