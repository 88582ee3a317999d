#!/usr/bin/env bash
# The cache benchmark (issue 4, docs/bench-cache.md): redis-benchmark
# against troupe's cache role and Debian's redis-server in the same run, on
# the same machine, with the same flags: -c 50, -P 1 and -P 16, SET and GET,
# 64-byte values. Each configuration runs RUNS times, alternating the two
# servers; the medians are printed with the ratio troupe/redis. Then memory
# per key: 1M SETs of 64-byte values through redis-cli --pipe, the growth of
# each server's RSS divided by the keys held. Then the eviction policy's hit
# ratio against LRU (cache_hit_ratio_bench).
#
#   bench/cache/run.sh BUILD_DIR        (make bench-cache)
#   RUNS=5 N=200000 KEYS=1000000 THREADS=1 bench/cache/run.sh build
set -euo pipefail
BUILD=${1:-build}
RUNS=${RUNS:-3}
N=${N:-200000}
KEYS=${KEYS:-1000000}
THREADS=${THREADS:-1}          # redis-benchmark --threads
HOST=127.0.0.31
RPORT=16390
TPORT=16391
NODE="$BUILD/actors/troupe-node"
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

redis-server --port $RPORT --bind $HOST --save '' --appendonly no >"$tmp/redis.log" 2>&1 &
RPID=$!; pids+=($RPID)
"$NODE" --node-id cachebench --role cache --listen $HOST:17400 --admin-listen $HOST:17480 \
  --resp-listen $HOST:$TPORT --data-dir "$tmp/data" --log-level warn \
  --cache-max-memory 4gb --insecure >"$tmp/troupe.log" 2>&1 &
TPID=$!; pids+=($TPID)
for port in $RPORT $TPORT; do
  for _ in $(seq 1 100); do
    redis-cli -h $HOST -p $port PING >/dev/null 2>&1 && break
    sleep 0.1
  done
done
echo "redis-server $(redis-server --version | awk '{print $3}') pid $RPID; troupe-node pid $TPID ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"

results="$tmp/results.csv"
: >"$results"
for pipeline in 1 16; do
  for run in $(seq 1 "$RUNS"); do
    for target in redis troupe; do
      port=$RPORT; [ $target = troupe ] && port=$TPORT
      redis-benchmark -h $HOST -p $port -c 50 -n "$N" -P $pipeline -d 64 -t set,get \
        --threads "$THREADS" --csv 2>/dev/null | tail -n +2 |
        sed "s/^/$target,$pipeline,$run,/" >>"$results"
    done
  done
done

echo
echo "redis-benchmark -h $HOST -p PORT -c 50 -n $N -P {1,16} -d 64 -t set,get --threads $THREADS --csv"
echo "medians of $RUNS runs each (ops/s; latency ms)"
/usr/bin/python3 - "$results" <<'PY'
import csv, statistics, sys
rows = {}
for r in csv.reader(open(sys.argv[1])):
    target, p, run, test = r[0], r[1], r[2], r[3]
    rps, p50, p99 = float(r[4]), float(r[7]), float(r[9])
    rows.setdefault((test, p, target), []).append((rps, p50, p99))
print(f"{'test':<5} {'P':>2} | {'redis ops/s':>11} {'p50':>6} {'p99':>6} | {'troupe ops/s':>12} {'p50':>6} {'p99':>6} | {'ops ratio':>9} {'p99 ratio':>9}")
for test in ("SET", "GET"):
    for p in ("1", "16"):
        m = {}
        for t in ("redis", "troupe"):
            xs = rows.get((test, p, t), [])
            m[t] = tuple(statistics.median(x[i] for x in xs) for i in range(3)) if xs else (0, 0, 0)
        r, t = m["redis"], m["troupe"]
        ratio = t[0] / r[0] if r[0] else 0
        p99r = t[2] / r[2] if r[2] else 0
        print(f"{test:<5} {p:>2} | {r[0]:>11.0f} {r[1]:>6.3f} {r[2]:>6.3f} | {t[0]:>12.0f} {t[1]:>6.3f} {t[2]:>6.3f} | {ratio:>8.2f}x {p99r:>8.2f}x")
PY

# -- memory per key --------------------------------------------------------------
rss_kb() { awk '/^VmRSS/ {print $2}' /proc/$1/status; }
/usr/bin/python3 - "$KEYS" >"$tmp/load.resp" <<'PY'
import sys
n = int(sys.argv[1]); v = "v" * 64
out = sys.stdout
for i in range(n):
    k = "key:%012d" % i
    out.write("*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$64\r\n%s\r\n" % (len(k), k, v))
PY
echo
echo "memory: $KEYS keys 'key:%012d' with 64-byte values (redis-cli --pipe)"
for target in redis troupe; do
  port=$RPORT; pid=$RPID
  [ $target = troupe ] && port=$TPORT && pid=$TPID
  redis-cli -h $HOST -p $port FLUSHALL >/dev/null
  sleep 1
  before=$(rss_kb $pid)
  redis-cli -h $HOST -p $port --pipe <"$tmp/load.resp" >/dev/null
  after=$(rss_kb $pid)
  keys=$(redis-cli -h $HOST -p $port DBSIZE)
  used=$(redis-cli -h $HOST -p $port INFO memory | awk -F: '/^used_memory:/ {print $2}' | tr -d '\r')
  echo "$target: keys=$keys rss_growth=$(( (after - before) * 1024 / keys )) bytes/key used_memory=$(( used / keys )) bytes/key"
done

echo
"$BUILD/bench/cache_hit_ratio_bench"
