// Every default value of troupe-node and troupectl, in one place.
// deploy/troupe.toml is the commented sample configuration that mirrors them.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

namespace troupe::defaults {

using namespace std::chrono_literals;

constexpr std::string_view version = "0.1.0";

// -- ports (every listening socket defaults to the host of --listen) ---------
constexpr uint16_t cluster_port = 7400;
constexpr uint16_t admin_port = 7480;
constexpr uint16_t resp_port = 6379;
constexpr uint16_t edge_http_port = 8080;
constexpr std::string_view listen_host = "127.0.0.1";

constexpr std::string_view data_dir = "./data";
constexpr std::string_view log_level = "info";
constexpr std::string_view log_format = "text";

// -- BASP failure detection ----------------------------------------------------
// CAF 0.17 ships with heartbeats off, so a hung peer is never noticed.
// A connection is dropped after `connection_timeout` without traffic, checked
// every `heartbeat_interval`; detection takes timeout + one interval. The
// interval must stay above the slowest expected handshake (CAF starts a client
// handshake with last_seen = epoch) and the timeout above the longest burst a
// peer may need to drain (caf-0.17-notes §4).
constexpr auto heartbeat_interval = 500ms;
constexpr auto connection_timeout = 5s;
// Messages an actor handles before yielding its thread. CAF's default is
// unbounded, which lets a mailbox burst starve the BASP broker's socket reads
// and trip the connection timeout.
constexpr uint32_t scheduler_max_throughput = 1000;

// -- membership (seed-based, until the Raft-backed directory) -----------------
constexpr auto seed_connect_timeout = 2s;
constexpr auto seed_retry_min = 250ms;
constexpr auto seed_retry_max = 5s;

// -- naming and messaging ------------------------------------------------------
constexpr auto request_timeout = 5s;       // default for named requests
constexpr auto resolve_timeout = 2s;       // asking peers who hosts a name
constexpr uint64_t mailbox_capacity = 10000; // per named actor
constexpr size_t max_pending_resolves = 1024;  // per requesting node
constexpr size_t max_name_length = 256;

// -- supervision ------------------------------------------------------------------
// OTP's defaults are 1 restart in 5 s; troupe allows 3 in 5 s per supervisor
// so one flapping dependency does not take a whole role down at once.
constexpr uint32_t max_restarts = 3;
constexpr auto restart_period = 5s;

// -- consensus (Raft) ---------------------------------------------------------------
// The core counts time in ticks of raft_tick. A follower campaigns after a
// random [T, 2T) without a leader; T = 150 ms puts the expected detection
// near 225 ms, inside issue 3's failover target (p50 <= 300 ms from SIGKILL
// to the next write), while a 30 ms heartbeat leaves five heartbeats per
// timeout, so a loaded 2-core machine that delays one or two does not start
// an election (pre-vote and check-quorum stop a lone member from disrupting
// a healthy leader anyway). bench/raft measures both failover and idle
// spurious elections with these values (docs/bench-raft.md).
constexpr auto raft_tick = 10ms;
constexpr auto raft_election_timeout = 150ms;
constexpr auto raft_heartbeat_interval = 30ms;
// Snapshot every 10k applied entries: at 64-byte values that is about a
// megabyte of log between snapshots, and a lagging follower more than about
// that far behind gets the snapshot instead.
constexpr uint64_t raft_snapshot_entries = 10000;

// -- membership leases (docs/membership.md) ------------------------------------
// Every node heartbeats the controller on the Raft leader every 100 ms. With
// none for half the lease (300 ms) it is suspect; with none for the lease
// (600 ms) it is down and what it hosted moves. A node that has had no
// heartbeat acknowledged for three quarters of the lease (450 ms) stops its
// placed actors first, so no actor ever runs twice. 600 ms keeps the kill-to-
// serving time of a singleton near 0.8 s (issue 7's target: p50 <= 1 s),
// while six heartbeats per lease ride out a loaded 2-core machine delaying a
// few of them.
constexpr auto member_heartbeat_interval = 100ms;
constexpr auto member_down_after = 600ms;

// -- cache (RESP) ------------------------------------------------------------------
// A cache without a limit grows until the kernel kills it; 1 GiB is a safe
// start on a small machine (Redis's own default is no limit).
constexpr uint64_t cache_max_memory_bytes = uint64_t{1} << 30;
// Redis's proto-max-bulk-len default.
constexpr uint64_t proto_max_bulk_len = uint64_t{512} << 20;
// Unsent replies one client may accumulate before it is disconnected. Redis
// leaves normal clients unlimited; troupe does not, so a client that writes
// without reading cannot exhaust memory. 64 MiB covers any sane MGET/LRANGE.
constexpr uint64_t cache_output_buffer_limit_bytes = uint64_t{64} << 20;
constexpr uint64_t cache_max_clients = 10000; // Redis maxclients default
constexpr uint32_t cache_io_threads = 0;      // one per core
constexpr uint64_t cache_repl_backlog_bytes = uint64_t{64} << 20; // 64 MiB

// -- edge (docs/edge.md) ------------------------------------------------------------
// 0 threads = one asio io_context per core (std::thread::hardware_concurrency).
constexpr uint32_t edge_threads = 0;
constexpr uint64_t edge_cache_bytes = uint64_t{256} << 20;      // L1 budget
constexpr uint64_t edge_max_object_bytes = uint64_t{16} << 20;  // origin bodies
constexpr uint64_t edge_max_body_bytes = uint64_t{1} << 20;     // request bodies
// Connecting to an origin on the same network takes well under a
// millisecond; a second means it is gone. A whole exchange may take longer
// (a slow origin rendering a page).
constexpr auto edge_connect_timeout = 1000ms;
constexpr auto edge_origin_timeout = 10000ms;
constexpr auto edge_health_interval = 1000ms;
constexpr std::string_view edge_health_path = "/";
// Five consecutive failures open an origin's breaker for 5 s (Envoy's
// outlier detection ejects after 5 consecutive 5xx for a 30 s base).
constexpr uint32_t edge_breaker_failures = 5;
constexpr auto edge_breaker_open = 5000ms;
constexpr uint32_t edge_rate_limit_rps = 0; // off
constexpr uint32_t edge_rate_limit_burst = 0; // 0 = the rate
// Varnish's default grace is 10 s.
constexpr auto edge_stale_grace = 10000ms;

// -- shutdown ---------------------------------------------------------------------
constexpr auto shutdown_grace = 8s;        // then the node exits non-zero

// -- troupectl ----------------------------------------------------------------------
constexpr auto cli_connect_timeout = 3s;
constexpr auto cli_request_timeout = 10s;

} // namespace troupe::defaults
