// Rate limiting: a token bucket per client address (`rate` tokens per
// second, at most `burst`), in a bounded, sharded table. Thread-safe.
//
// Bounded without losing anything: a bucket that has refilled completely
// behaves exactly like a missing one, so a full shard first drops its full
// buckets. If every tracked client is still active the new client is let
// through untracked and counted (fail open: the limiter must never turn
// into an outage of its own).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace troupe::edge {

class rate_limiter {
public:
  using clock = std::chrono::steady_clock;

  struct verdict {
    bool allowed = true;
    uint32_t retry_after_s = 0; // when refused: whole seconds, at least 1
  };

  /// `rate` 0 turns the limiter off. `burst` 0 means `rate`.
  rate_limiter(uint32_t rate, uint32_t burst, size_t max_clients = 65536);

  bool enabled() const { return rate_ > 0; }

  verdict check(std::string_view client, clock::time_point now);

  /// Clients let through untracked because the table was full.
  uint64_t untracked() const;
  size_t tracked() const;

private:
  struct bucket {
    double tokens;
    clock::time_point last;
  };
  struct shard {
    std::mutex mtx;
    std::unordered_map<std::string, bucket> buckets;
    uint64_t untracked = 0;
  };

  double refill(bucket& b, clock::time_point now) const;
  void sweep(shard& s, clock::time_point now);

  double rate_;
  double burst_;
  size_t max_per_shard_;
  std::vector<std::unique_ptr<shard>> shards_;
};

} // namespace troupe::edge
