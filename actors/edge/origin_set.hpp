// The edge's origin pool, shared by every I/O thread: one circuit breaker
// per origin, a latency EWMA, in-flight counts, and the choice of origin by
// power of two choices (Mitzenmacher) over EWMA x (in-flight + 1), the
// "peak EWMA" score Finagle and Linkerd use. Thread-safe.
#pragma once

#include "actors/edge/breaker.hpp"
#include "net/address.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace troupe::edge {

/// What `troupectl edge origins` and /metrics show about one origin.
struct origin_view {
  std::string address;
  breaker_state state = breaker_state::closed;
  double ewma_latency_s = 0;
  uint64_t in_flight = 0;
  uint64_t requests = 0;
  uint64_t failures = 0;
  uint64_t times_opened = 0;
  uint32_t consecutive_failures = 0;
  bool health_ok = true;       // last active check (true before the first)
  std::string health_error;    // why the last check failed
};

class origin_set {
public:
  using clock = std::chrono::steady_clock;

  origin_set(std::vector<host_port> origins, uint32_t failure_threshold,
             std::chrono::milliseconds open_for);

  size_t size() const { return origins_.size(); }
  const host_port& address(size_t i) const { return origins_[i]->addr; }

  /// Picks an origin whose breaker admits a request now, skipping those in
  /// `tried` (bit i = origin i, so at most 64 origins). Takes the breaker's
  /// half-open trial when it picks a half-open origin. nullopt: none
  /// available, the caller answers without an origin at once.
  std::optional<size_t> pick(uint64_t tried, std::minstd_rand& rng,
                             clock::time_point now);

  /// Whether any origin admits a request now (no side effects).
  bool any_available(clock::time_point now) const;

  /// A request to origin `i` starts / ends. `ok` false counts against the
  /// breaker: transport errors, timeouts and 5xx answers.
  void on_start(size_t i);
  void on_finish(size_t i, bool ok, double latency_s, clock::time_point now);

  /// Whether a health check of origin `i` should run now; a half-open
  /// origin's check is its trial.
  bool health_check_due(size_t i, clock::time_point now);
  void on_health(size_t i, bool ok, std::string error, clock::time_point now);

  std::vector<origin_view> views(clock::time_point now) const;

private:
  struct origin {
    host_port addr;
    mutable std::mutex mtx; // guards cb, health_error
    breaker cb;
    std::string health_error;
    std::atomic<double> ewma_s{0};
    std::atomic<uint64_t> in_flight{0};
    std::atomic<uint64_t> requests{0};
    std::atomic<uint64_t> failures{0};
    std::atomic<bool> health_ok{true};
    origin(host_port a, uint32_t t, std::chrono::milliseconds o)
      : addr(std::move(a)), cb(t, o) {}
  };

  double score(const origin& o) const;

  std::vector<std::unique_ptr<origin>> origins_;
};

} // namespace troupe::edge
