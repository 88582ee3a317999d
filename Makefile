# troupe: the two commands a newcomer needs are `make run` and `make test`.
# Both install missing Debian packages first (deploy/install-deps.sh).

BUILD     ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS      ?= $(shell nproc)
NODE      := $(BUILD)/actors/troupe-node
CTL       := $(BUILD)/cli/troupectl

# ccache and precompiled headers need these to share cached objects.
export CCACHE_SLOPPINESS := pch_defines,time_macros,include_file_mtime,include_file_ctime
# Paths relative to the checkout, so every clone and worktree shares one cache.
export CCACHE_BASEDIR ?= $(CURDIR)
# With -g, ccache also hashes the working directory unless told not to;
# without this, another clone or build dir never hits the cache.
export CCACHE_NOHASHDIR ?= 1

.PHONY: all deps configure build test unit sim integration run bench bench-named bench-raft bench-edge \
        bench-deps fuzz fuzz-smoke sanitize clean bench-cache bench-cache-cluster bench-failover scenarios cache-failover

all: build

deps:
	@deploy/install-deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

configure: deps $(BUILD)/CMakeCache.txt

build: configure
	cmake --build $(BUILD) -j$(JOBS)

# Every test: unit tests, then integration tests with real processes.
test: build
	@# ctest splits test names at ';' (a CMake list), and the halves match no
	@# doctest case, so such a test would pass without running.
	@! grep -rn --include='*.cpp' -E 'TEST_CASE\("[^"]*;' tests/ \
	  || { echo "a TEST_CASE name above has ';': ctest would not run it"; exit 1; }
	cd $(BUILD) && ctest --output-on-failure --timeout 300
	@grep -h "schedules passed" $(BUILD)/Testing/Temporary/LastTest.log || true
	$(MAKE) fuzz-smoke

# A short libFuzzer run of the RESP parser (issue 4), part of `make test`:
# it compiles two files with clang, so it needs no separate fuzz build.
FUZZ_SMOKE_SECONDS ?= 20
fuzz-smoke:
	@mkdir -p $(BUILD)/fuzz-smoke
	clang++-14 -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=undefined -Wall -Wextra -Werror -I. \
	  tests/fuzz/resp_fuzz.cpp net/resp.cpp -o $(BUILD)/fuzz-smoke/resp_fuzz
	cd $(BUILD)/fuzz-smoke && { ./resp_fuzz -max_total_time=$(FUZZ_SMOKE_SECONDS) \
	  -rss_limit_mb=1024 > resp_fuzz.log 2>&1 || { tail -40 resp_fuzz.log; exit 1; }; } \
	  && tail -1 resp_fuzz.log

unit: build
	$(BUILD)/tests/troupe_unit_tests

# The seeded Raft simulation with 20x the schedules of `make test` (about a
# minute per 20k on this machine). SIM_SCHEDULES=N for more; a failure
# prints its seed, and TROUPE_RAFT_SIM_SEED=S replays it.
SIM_SCHEDULES ?= 100000
sim: build
	TROUPE_RAFT_SIM_SCHEDULES=$(SIM_SCHEDULES) $(BUILD)/tests/troupe_unit_tests -tc='raft sim*'

integration: build
	$(BUILD)/tests/troupe_integration_tests

# Every failure-injection scenario (tests/scenarios/, docs/scenarios.md),
# each in its own network namespace, then a pass/fail table. Needs root
# (unshare, iptables, mount). SCENARIOS="a b" runs just those.
SCENARIOS ?=
scenarios: build
	$(BUILD)/tests/troupe-scenarios $(SCENARIOS)
	[ -n "$(SCENARIOS)" ] || $(MAKE) cache-failover

# The cache cluster's failover target (issue 4): kill -9 the node of a
# shard's primary 20 times under a writer that waits for a replica (WAIT
# 1 200); p50 until writes succeed again at most 1 s, 0 acknowledged writes
# lost (tests/cache_cluster/failover_test.py, docs/cache-cluster.md).
cache-failover: build
	/usr/bin/python3 tests/cache_cluster/failover_test.py $(BUILD) --trials 20

# One node with every built role, storage in ./data, mutual TLS with
# development certificates made once into ./tls (docs/security.md).
run: build
	@[ -f tls/n1.pem ] || deploy/tls/make-certs.sh -d tls dev n1 >/dev/null
	@echo "troupe-node: cluster 127.0.0.1:7400 (mutual TLS), admin http://127.0.0.1:7480 (/livez, /readyz, /metrics); Ctrl-C stops it"
	@echo "dashboard: open http://127.0.0.1:7480/ in a browser"
	@echo "try: . deploy/tls/dev-env.sh; $(CTL) status; $(CTL) send probe/n1 Ping '{\"payload\":\"hi\"}'"
	$(NODE) --node-id n1 --role all --listen 127.0.0.1:7400 --data-dir ./data \
	  --tls-ca tls/ca.pem --tls-cert tls/n1.pem --tls-key tls/n1.key

# Every benchmark: named send vs bare CAF (docs/bench-named-send.md), then
# troupe's consensus KV vs etcd 3.4 (docs/bench-raft.md, about 6 minutes).
bench: bench-named bench-raft bench-cache bench-edge bench-failover

bench-named: build
	bench/run.sh $(BUILD)

bench-raft: build bench-deps
	bench/raft/run.sh $(BUILD)

# troupe's edge vs nginx proxy_cache, cache hits of 1 KiB and 100 KiB
# (docs/bench-edge.md, about 2 minutes). EDGE_BENCH_FLAGS="--runs 5".
bench-edge: build bench-deps
	timeout --foreground --kill-after=10s 20m bench/edge/bench_edge.py \
	  --node $(NODE) $(EDGE_BENCH_FLAGS)
# The cache role vs redis-server 7.0 with redis-benchmark, memory per key,
# and the eviction policy's hit ratio vs LRU (docs/bench-cache.md).
bench-cache: build bench-deps
	bench/cache/run.sh $(BUILD)

# The 3-node cache cluster against a 3-master Redis Cluster, client-routed
# and through troupe's proxy mode (docs/bench-cache.md, "Cluster").
bench-cache-cluster: build bench-deps
	/usr/bin/python3 bench/cache/cluster_bench.py $(BUILD)

# Singleton failover after kill -9, 20 trials, with etcd's leader failover
# as the peer in the same run (docs/bench-failover.md, about 5 minutes).
bench-failover: build bench-deps
	timeout --foreground --kill-after=10s 20m /usr/bin/python3 bench/failover/run.py \
	  $(BUILD) --trials 20

# The peers the benchmarks measure against (etcd); `make test` never needs them.
bench-deps:
	@deploy/install-deps.sh --bench

# libFuzzer targets (clang); see tests/fuzz/.
fuzz: deps
	cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTROUPE_FUZZ=ON \
	  -DCMAKE_CXX_COMPILER=clang++-14
	cmake --build build-fuzz -j$(JOBS) --target fuzz_targets

# The unit tests under ASan and UBSan.
sanitize: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTROUPE_SANITIZE=ON
	cmake --build build-asan -j$(JOBS) --target troupe_unit_tests
	UBSAN_OPTIONS=suppressions=$(CURDIR)/tests/ubsan.supp:print_stacktrace=1:halt_on_error=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  build-asan/tests/troupe_unit_tests

clean:
	rm -rf $(BUILD) build-asan build-fuzz
