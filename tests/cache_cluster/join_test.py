"""A node joins a 3-node cache cluster while clients read and write.

Usage: /usr/bin/python3 join_test.py BINARY_DIR

In troupe the unit that moves is the shard (docs/cache-cluster.md, "Where
primaries go, and rebalancing"): a node that joins first gets replicas (a
full sync each), then primaries are handed over to it once those stream.
So "slots migrate without losing keys" means: the joining node ends up
serving slots, and no write acknowledged with WAIT 1 is lost or read wrong
on the way.

1. 3 nodes, `troupectl cache create` (6 shards), then 4 writers, each on its
   own slot, doing SET writer:{j<i>}:<seq> <seq> then WAIT 1 200 against
   the slot's primary (the failover test's writer).
2. A reader with redis-py's RedisCluster (it follows MOVED and refreshes
   its slot map) GETs acknowledged keys all along; a GET of an
   acknowledged key that answers anything but its value is an error.
3. n4 starts and joins. The test waits until CLUSTER SLOTS names n4 as the
   primary of some slots and every replica streams again (at most 60 s),
   then writes 1 s more.
4. Every acknowledged key is read back from its slot's current primary.

Exit 1 if n4 never serves a slot, a key is lost, or the reader saw a wrong
value.
"""
import logging
import os
import random
import sys
import threading
import time

import redis
from redis.cluster import ClusterNode, RedisCluster

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clusters  # noqa: E402
import failover_test  # noqa: E402


class Reader(threading.Thread):
    def __init__(self, cluster, writers, deadline):
        super().__init__(daemon=True)
        self.cluster, self.writers, self.deadline = cluster, writers, deadline
        self.stop_flag = threading.Event()
        self.reads = 0
        self.wrong = []
        self.errors = {}

    def run(self):
        rc = None
        rng = random.Random(7)
        while not self.stop_flag.is_set() and time.monotonic() < self.deadline:
            try:
                if rc is None:
                    rc = RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in
                                                     self.cluster.startup_nodes()],
                                      decode_responses=True, socket_timeout=1.0)
                w = rng.choice(self.writers)
                keys = list(w.acked.items())
                if not keys:
                    time.sleep(0.01)
                    continue
                k, v = keys[rng.randrange(len(keys))]
                got = rc.get(k)
                self.reads += 1
                if got != v:
                    self.wrong.append((k, v, got))
            except (redis.RedisError, OSError) as e:
                kind = type(e).__name__
                self.errors[kind] = self.errors.get(kind, 0) + 1
                rc = None
                time.sleep(0.05)
            time.sleep(0.002)


def main():
    # redis-py logs every MOVED it follows with a traceback; following them
    # is the point here, so keep the output to the test's own lines.
    logging.getLogger("redis").setLevel(logging.CRITICAL)
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    try:
        cluster = clusters.TroupeCluster(sys.argv[1], first=170)
    except Exception as e:
        print(f"FAIL start the cluster: {type(e).__name__}: {e}")
        return 1
    failed = False
    try:
        deadline = time.monotonic() + 120
        writers = [failover_test.Writer(cluster, f"j{i}", deadline) for i in range(4)]
        for w in writers:
            w.prefix = w.prefix.replace("{tj", "{j")
            w.slot = cluster.key_slot(w.prefix + ":0")
            w.start()
        reader = Reader(cluster, writers, deadline)
        reader.start()
        if not clusters.wait_until(lambda: all(w.acked for w in writers), 15, step=0.05):
            print(f"FAIL the writers got no acknowledged write: {[w.errors for w in writers]}")
            return 1
        time.sleep(1.0)
        before = sum(len(w.acked) for w in writers)
        n4 = cluster.add_node()
        addr = (n4.host, n4.resp_port)
        t0 = time.monotonic()
        serves = clusters.wait_until(
            lambda: addr in cluster.primaries() and cluster.healthy(), 60, step=0.2)
        took = time.monotonic() - t0
        if serves:
            slots = sum(e - s + 1 for s, e, nodes in (cluster.cluster_slots() or [])
                        if nodes and nodes[0] == addr)
            print(f"ok n4 joined and serves {slots} slots as a primary after {took:.1f} s")
        else:
            failed = True
            print(f"FAIL n4 serves no slot 60 s after it joined: {cluster.health_problem}")
            print(cluster.describe())
        time.sleep(1.0)
        for w in writers:
            w.stop_flag.set()
        reader.stop_flag.set()
        for t in writers + [reader]:
            t.join(5)
        total = sum(len(w.acked) for w in writers)
        print(f"   ({before} acknowledged writes before the join, {total} in all; writer "
              f"errors {[w.errors for w in writers]})")
        lost = 0
        for w in writers:
            bad = failover_test.read_back(cluster, w.slot, w.acked)
            lost += len(w.acked) if bad is None else len(bad)
        print(f"{'FAIL' if lost else 'ok'} all {total} acknowledged keys read back "
              f"({lost} missing or wrong)")
        failed |= lost > 0
        print(f"{'FAIL' if reader.wrong or not reader.reads else 'ok'} the RedisCluster "
              f"reader read {reader.reads} acknowledged keys during the join, "
              f"{len(reader.wrong)} wrong{': ' + str(reader.wrong[:3]) if reader.wrong else ''} "
              f"(errors {reader.errors})")
        failed |= bool(reader.wrong) or not reader.reads
    finally:
        cluster.stop()
    print("join: " + ("FAIL" if failed else "ok"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
