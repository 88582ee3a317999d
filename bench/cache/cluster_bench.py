"""The 3-node cache cluster against a 3-master Redis Cluster (issue 4,
docs/bench-cache.md, "Cluster"), in one run on one machine:

- Redis: 3 primaries + 3 replicas of Debian's redis-server 7.0
  (`redis-cli --cluster create --cluster-replicas 1`), driven by
  `redis-benchmark --cluster` (the client routes by CLUSTER NODES).
- troupe, client-routed: 3 troupe-node processes (consensus,cache) after
  `troupectl cache create --shards 3 --replicas 1`, the same
  `redis-benchmark --cluster` command.
- troupe, proxy mode: the same cluster, plain `redis-benchmark` (no
  --cluster) against one node, which forwards the keys of the other nodes'
  shards through the runtime.

For -P 1 and -P 16, SET and GET with 64-byte values, -c 50, RUNS runs each
alternating the targets: medians of ops/s, p50 and p99, and the ratios
against Redis Cluster.

  /usr/bin/python3 bench/cache/cluster_bench.py BUILD_DIR   (make bench-cache-cluster)
  RUNS=5 N=200000 /usr/bin/python3 bench/cache/cluster_bench.py build
"""
import csv
import io
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "cache_cluster"))
import clusters  # noqa: E402

RUNS = int(os.environ.get("RUNS", "3"))
N = int(os.environ.get("N", "100000"))


def bench(host, port, pipeline, cluster_flag):
    cmd = ["redis-benchmark", "-h", host, "-p", str(port), "-c", "50", "-n", str(N),
           "-P", str(pipeline), "-d", "64", "-t", "set,get", "--csv"]
    if cluster_flag:
        cmd.append("--cluster")
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {r.returncode}: {r.stderr[-500:]}")
    out = {}
    rows = list(csv.reader(io.StringIO(r.stdout)))
    for row in rows:
        # --cluster prints its node list before the CSV; keep data rows only.
        if len(row) < 7 or row[0] == "test":
            continue
        # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
        out[row[0]] = (float(row[1]), float(row[4]), float(row[6]))
    return " ".join(cmd), out


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    load = open("/proc/loadavg").read().split()[:3]
    print(f"{os.cpu_count()} cores, load {' '.join(load)}; RUNS={RUNS} N={N}", flush=True)
    redis_c = clusters.RedisCluster(first=140)
    troupe_c = None
    try:
        troupe_c = clusters.TroupeCluster(build, first=150, extra=["--log-level", "warn"])
        r_host, r_port = redis_c.startup_nodes()[0]
        t_host, t_port = troupe_c.startup_nodes()[0]
        targets = [("redis --cluster", r_host, r_port, True),
                   ("troupe --cluster", t_host, t_port, True),
                   ("troupe proxy", t_host, t_port, False)]
        results = {}
        commands = {}
        for pipeline in (1, 16):
            for run in range(RUNS):
                order = targets[run % 3:] + targets[:run % 3]
                for name, host, port, flag in order:
                    cmd, out = bench(host, port, pipeline, flag)
                    commands[name] = cmd.replace(f"-P {pipeline}", "-P {1,16}")
                    for test, fig in out.items():
                        results.setdefault((test, pipeline, name), []).append(fig)
        for name, cmd in commands.items():
            print(f"{name}: {cmd}")
        print(f"medians of {RUNS} runs (ops/s; latency ms); ratios against redis --cluster")
        print(f"{'test':<4} {'P':>2} | {'target':<16} {'ops/s':>9} {'p50':>6} {'p99':>7} | "
              f"{'ops ratio':>9} {'p99 ratio':>9}")
        for test in ("SET", "GET"):
            for pipeline in (1, 16):
                base = None
                for name, *_ in targets:
                    xs = results.get((test, pipeline, name), [])
                    if not xs:
                        continue
                    m = tuple(statistics.median(x[i] for x in xs) for i in range(3))
                    if base is None:
                        base = m
                    ratio = m[0] / base[0] if base[0] else 0
                    p99r = m[2] / base[2] if base[2] else 0
                    print(f"{test:<4} {pipeline:>2} | {name:<16} {m[0]:>9.0f} {m[1]:>6.3f} "
                          f"{m[2]:>7.3f} | {ratio:>8.2f}x {p99r:>8.2f}x", flush=True)
    finally:
        if troupe_c:
            troupe_c.stop()
        redis_c.stop()


if __name__ == "__main__":
    main()
