// Request events for analytics (issue 5, item 8): one compact event per
// request, batched per I/O thread, handed to an event_sink when a batch is
// full. No analytics role exists yet, so the node's sink takes nothing and
// every batch is dropped and counted; offering never blocks the data path.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace troupe::edge {

/// 40 bytes; strings are hashed so an event never allocates.
struct edge_event {
  int64_t time_ms = 0;       // wall clock, ms since the epoch
  uint64_t host_hash = 0;    // FNV-1a of the Host
  uint64_t path_hash = 0;    // FNV-1a of the target
  uint32_t latency_us = 0;   // request parsed -> response queued
  uint32_t bytes = 0;        // body bytes sent (saturated)
  uint16_t status = 0;
  uint8_t cache_status = 0;  // cache_status_label index (edge_stats.hpp)
  int8_t origin = -1;        // index into the origin list, -1 = none
};

/// FNV-1a, 64 bit.
uint64_t fnv1a(std::string_view text);

/// Where full batches go. `offer` must not block; returning false means the
/// batch was not taken (it is dropped and counted).
class event_sink {
public:
  virtual ~event_sink() = default;
  virtual bool offer(std::vector<edge_event>&& batch) = 0;
};

/// The sink while no analytics worker exists: takes nothing.
class no_analytics_sink final : public event_sink {
public:
  bool offer(std::vector<edge_event>&&) override { return false; }
};

struct event_counters {
  std::atomic<uint64_t> produced{0};
  std::atomic<uint64_t> delivered{0};
  std::atomic<uint64_t> dropped{0};
};

/// One per I/O thread; not thread-safe.
class event_batcher {
public:
  static constexpr size_t batch_size = 256;

  event_batcher(std::shared_ptr<event_sink> sink,
                std::shared_ptr<event_counters> counters);

  void add(const edge_event& e);

  /// Offers a partial batch (shutdown, idle tick).
  void flush();

private:
  std::shared_ptr<event_sink> sink_;
  std::shared_ptr<event_counters> counters_;
  std::vector<edge_event> batch_;
};

} // namespace troupe::edge
