// The edge's counters, shared by its I/O threads (relaxed atomics), and
// their Prometheus names (docs/edge.md, "Metrics").
#pragma once

#include "actors/edge/events.hpp"
#include "runtime/metrics.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

namespace troupe::edge {

namespace cache {
class cache;
}
class origin_set;
class rate_limiter;

/// How a request was answered, as counted in troupe_edge_requests_total.
enum class cache_status : uint8_t {
  hit,        // fresh from L1
  stale,      // stale-while-revalidate or stale-if-error
  revalidated,// a conditional origin request
  miss,       // fetched from the origin
  collapsed,  // waited on another request's fetch (coalesced)
  pass,       // not cacheable, forwarded
  synthetic,  // answered by the edge: errors, 429, purge, only-if-cached
};
constexpr size_t cache_status_count = 7;

/// "hit", "stale", ... (the label values).
const char* cache_status_label(cache_status x);

struct edge_stats {
  std::array<std::atomic<uint64_t>, cache_status_count> requests{};
  std::atomic<uint64_t> bytes_out{0};          // body bytes to clients
  std::atomic<uint64_t> rate_limited{0};
  std::atomic<uint64_t> origin_unavailable{0}; // 503 without an origin
  std::atomic<uint64_t> origin_errors{0};      // 502/504 after trying
  std::atomic<uint64_t> retries{0};            // on another origin
  std::atomic<uint64_t> coalesce_timeouts{0};
  std::atomic<uint64_t> purged{0};             // objects removed or marked
  std::atomic<uint64_t> connections_open{0};
  std::atomic<uint64_t> connections_total{0};
  std::atomic<uint64_t> connections_rejected{0};
  std::atomic<uint64_t> bad_requests{0};       // parse errors answered
  std::shared_ptr<event_counters> events = std::make_shared<event_counters>();

  void count(cache_status s) {
    requests[static_cast<size_t>(s)].fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t get(cache_status s) const {
    return requests[static_cast<size_t>(s)].load(std::memory_order_relaxed);
  }
  /// (hit + stale + collapsed) / every request that could be cached.
  double hit_ratio() const;
};

/// Registers the edge's metrics. `origin_latency` gets the histogram series
/// per origin index (same order as `origins`).
caf::error register_edge_metrics(
  metrics_registry& reg, std::shared_ptr<edge_stats> stats,
  std::shared_ptr<origin_set> origins, std::shared_ptr<cache::cache> l1,
  std::shared_ptr<rate_limiter> limiter,
  std::vector<metric_histogram*>& origin_latency);

} // namespace troupe::edge
