#!/bin/sh
# Runs the named-send benchmark (docs/bench-named-send.md) with its defaults.
# Builds nothing: `make bench` builds first, then calls this.
#
#   bench/run.sh BUILD_DIR [named_send_bench flags, e.g. --runs 3]
#
# The benchmark forks its own server process (PR_SET_PDEATHSIG, so the server
# dies with it) and bounds every measurement to 60 s; the outer timeout is a
# last resort if the client itself wedges.
set -eu

if [ $# -lt 1 ]; then
  echo "usage: bench/run.sh BUILD_DIR [named_send_bench flags]" >&2
  exit 2
fi
build_dir=$1
shift
bin="$build_dir/bench/named_send_bench"
if [ ! -x "$bin" ]; then
  echo "bench/run.sh: $bin not found; build it first:" \
       "cmake --build $build_dir --target named_send_bench" >&2
  exit 1
fi
exec timeout --foreground --kill-after=10s 30m "$bin" "$@"
