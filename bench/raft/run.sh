#!/bin/sh
# Runs issue 3's consensus benchmarks (docs/bench-raft.md): troupe against
# etcd 3.4, three members each on loopback, in one run:
#   1. throughput: durable puts/s, p50, p99 at 1, 16 and 64 clients, REPS
#      repetitions, systems taking turns; medians and troupe/etcd ratios
#   2. idle: both clusters idle for IDLE_S seconds; elections must be 0
#   3. failover: SIGKILL the leader TRIALS times per system; p50/p99 of the
#      time to the first successful put
# Builds nothing: `make bench-raft` builds first, then calls this.
#
#   bench/raft/run.sh BUILD_DIR
#   env: REPS (5), MEASURE_MS (5000), TRIALS (20), IDLE_S (60),
#        SYSTEMS (etcd,troupe; troupe is dropped with a warning if this
#        build's troupe-node has no consensus role), DATA_ROOT (/tmp)
#
# troupe_kv_bench starts every cluster process itself, as its children: they
# die with it (PR_SET_PDEATHSIG), are killed by PID on SIGINT/SIGTERM, and
# are stopped by PID at the end of each step. This script only ever starts
# troupe_kv_bench and one short troupe-node role check, and kills them by
# PID on exit. Traffic stays on 127.0.3.x (troupe) and 127.0.4.x (etcd).
set -eu

if [ $# -lt 1 ]; then
  echo "usage: bench/raft/run.sh BUILD_DIR" >&2
  exit 2
fi
build_dir=$1
bin="$build_dir/bench/troupe_kv_bench"
node="$build_dir/actors/troupe-node"
reps=${REPS:-5}
measure_ms=${MEASURE_MS:-5000}
trials=${TRIALS:-20}
idle_s=${IDLE_S:-60}
systems=${SYSTEMS:-etcd,troupe}
data_root=${DATA_ROOT:-/tmp}

if [ ! -x "$bin" ]; then
  echo "bench/raft/run.sh: $bin not found; build it first:" \
       "cmake --build $build_dir --target troupe_kv_bench troupe-node" >&2
  exit 1
fi
if ! command -v etcd >/dev/null 2>&1; then
  echo "bench/raft/run.sh: etcd not found; install it with" \
       "deploy/install-deps.sh --bench (Debian etcd-server)" >&2
  exit 1
fi

child=""
tee_pid=""
keep_workdir=0
# Every data dir and log of this run lives under $workdir: removed at the
# end, kept when a step failed (its member logs say why).
workdir=$(mktemp -d "$data_root/troupe-raft-run-XXXXXX")
cleanup() {
  for pid in $child $tee_pid; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$keep_workdir" -eq 1 ]; then
    echo "bench/raft/run.sh: data dirs and logs kept in $workdir" >&2
  else
    rm -rf "$workdir"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs "$@" in the background so that a signal to this script reaches it
# through the trap (by PID), and waits for it. Sets $rc.
run_child() {
  "$@" &
  child=$!
  rc=0
  wait "$child" || rc=$?
  child=""
}

# Does this build's troupe-node run --role consensus? An unbuilt role makes
# it exit 2 at once; a built one keeps running until the timeout stops it.
case ",$systems," in
  *,troupe,*)
    run_child timeout 3 "$node" --node-id rolecheck --role consensus \
      --listen 127.0.3.9:17490 --admin-listen 127.0.3.9:17491 \
      --data-dir "$workdir/rolecheck" --log-level error --insecure
    if [ "$rc" -ne 124 ]; then
      echo "bench/raft/run.sh: WARNING: $node does not run --role consensus" \
           "(exit $rc); measuring etcd only" >&2
      systems=$(echo ",$systems," | sed 's/,troupe,/,/; s/^,//; s/,$//')
    fi
    ;;
esac
[ -n "$systems" ] || { echo "bench/raft/run.sh: no system left to measure" >&2; exit 1; }

log="$workdir/bench.log"
fifo="$workdir/out"
mkfifo "$fifo"
status=0
# Each step is bounded by troupe_kv_bench's own limits; the outer timeout
# is a last resort if it wedges. Output goes through a FIFO to tee, so that
# both stay background children of this shell that the trap can kill by PID.
step() {
  echo "== troupe_kv_bench $*" | tee -a "$log"
  tee -a "$log" <"$fifo" &
  tee_pid=$!
  run_child timeout --kill-after=10s 30m "$bin" --systems "$systems" \
    --data-root "$workdir" "$@" >"$fifo" 2>&1
  wait "$tee_pid" || true
  tee_pid=""
  if [ "$rc" -ne 0 ]; then
    echo "== step failed with exit code $rc: $*" | tee -a "$log"
    [ "$status" -ge "$rc" ] || status=$rc
    keep_workdir=1
  fi
}

step throughput --clients 1,16,64 --reps "$reps" --measure-ms "$measure_ms"
step idle --seconds "$idle_s"
step failover --trials "$trials"

echo
echo "== results (systems: $systems; medians and ratios as printed above)"
grep -E '^(summary|clients=|idle system=|failover system=|== step failed|# .* DID NOT START)' \
  "$log" || true
exit "$status"
