#!/usr/bin/env bash
# Installs what troupe needs to build and test on Debian bookworm, and
# nothing when everything is already there. Every dependency is a Debian
# package (no downloads from elsewhere).
#
#   deploy/install-deps.sh           build and test (make test)
#   deploy/install-deps.sh --bench   also the peers the benchmarks run
#                                    against (make bench, make bench-raft)
set -euo pipefail

packages=(
  g++ make cmake ccache pkg-config
  libcaf-dev            # CAF 0.17.6: core, io, openssl
  protobuf-compiler libprotobuf-dev
  liblmdb-dev
  libspdlog-dev libfmt-dev
  doctest-dev
  libcli11-dev
  nlohmann-json3-dev
  libssl-dev
  libhttp-parser-dev
  libasio-dev           # standalone asio: the edge's data plane
  curl
  clang-14              # make test's short libFuzzer run of the RESP parser
  libasio-dev           # the cache role's RESP I/O threads (asio, standalone)
  redis-tools           # redis-cli, redis-benchmark: cache integration tests
  python3-redis         # redis-py for the cache integration tests
  iptables              # failure-injection scenarios (tests/scenarios/)
  python3-websockets    # the dashboard's WebSocket tests (tests/dashboard/)
  chromium              # the dashboard's browser test, headless
)

# Only the benchmarks need these, so `make test` never installs them.
# etcd-server: etcd 3.4, the consensus benchmark's peer (bench/raft/,
# docs/bench-raft.md); etcd-client: etcdctl, to look at that cluster by
# hand. The package also enables an etcd service on 127.0.0.1:2379 where
# systemd runs; the benchmark starts its own members on 127.0.4.x instead.
# wrk and nginx: the edge benchmark's load generator and peer (bench/edge/,
# docs/bench-edge.md); nginx runs as the benchmark's own process, its
# package service is never used.
bench_packages=(etcd-server etcd-client redis-server wrk nginx)
if [ "${1:-}" = "--bench" ]; then
  packages+=("${bench_packages[@]}")
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
updated=0
apt_update() {
  [ $updated -eq 1 ] || "${sudo_cmd[@]}" apt-get update -qq
  updated=1
}

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  apt_update
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The browser test drives chromium with playwright-core from npm (the only
# npm package troupe uses; pinned in tests/browser/package-lock.json).
# Machines that already have Node.js (e.g. from another apt source) keep it.
if ! command -v npm >/dev/null 2>&1; then
  echo "install-deps: installing nodejs npm"
  apt_update
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends nodejs npm
fi
root_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ ! -f "$root_dir/tests/browser/node_modules/playwright-core/package.json" ]; then
  echo "install-deps: installing playwright-core into tests/browser (npm ci)"
  (cd "$root_dir/tests/browser" && npm ci --no-audit --no-fund --loglevel=error)
fi

# promtool (tests check /metrics with `promtool check metrics`) ships in
# Debian's prometheus package, whose installation would also start a
# Prometheus server. Take only the binary out of the package instead.
if ! command -v promtool >/dev/null 2>&1; then
  echo "install-deps: unpacking promtool from Debian's prometheus package"
  apt_update
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -qq prometheus)
  dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/root"
  "${sudo_cmd[@]}" install -m 0755 "$tmp/root/usr/bin/promtool" /usr/local/bin/promtool
  rm -rf "$tmp"
fi
