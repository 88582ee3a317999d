// The load shape both backends run, and what a run measured.
//
// C clients each do sequential puts: one put, wait for its reply, the next.
// Keys come from a space of `key_space` ("bench/000" .. "bench/999") in a
// per-client seeded order, values are `value_bytes` long. A put counts as a
// success only if the store confirms it (etcd: HTTP 200 with a header
// revision; troupe: KV_STATUS_OK with a header revision). Only successes
// that start and finish inside the measurement window count; the warm-up
// before it lets connections, caches and group commit settle.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace troupe::kvbench {

using bench_clock = std::chrono::steady_clock;

struct load_shape {
  uint32_t clients = 1;
  std::chrono::milliseconds warmup{1000};
  std::chrono::milliseconds measure{5000};
  /// Bound on successful puts per run (all clients together); the run ends
  /// early when it is reached.
  uint64_t max_ops = 2'000'000;
  uint32_t value_bytes = 64;
  uint32_t key_space = 1000;
  uint64_t seed = 1;
  /// A put without a reply after this long is an error.
  std::chrono::milliseconds op_timeout{5000};
  /// A run with more errors than this stops early. Failed puts are resent
  /// after 5 ms, so 64 clients without a leader make about 13k errors per
  /// second: an election costs a few thousand, and only a cluster that is
  /// down for most of the window reaches the bound.
  uint64_t max_errors = 100000;
};

/// How a failover probe puts: a new put to every target each `interval`,
/// whether or not earlier ones were answered, each with its own timeout, so
/// that a put stuck at a member without a leader does not delay the next.
struct probe_timing {
  std::chrono::milliseconds interval{10};
  std::chrono::milliseconds attempt_timeout{300};

  /// Most puts in flight per target.
  size_t max_in_flight() const {
    return static_cast<size_t>(attempt_timeout.count()
                               / std::max<long>(interval.count(), 1))
           + 1;
  }
};

/// Latencies are recorded in microseconds.
struct load_result {
  std::string system;
  uint32_t clients = 0;
  double seconds = 0;         // the measurement window actually used
  uint64_t ok = 0;            // successes inside the window
  uint64_t errors = 0;        // error replies, timeouts, broken connections
  uint64_t ok_total = 0;      // successes including warm-up and overrun
  int64_t first_revision = 0; // the smallest and largest revision seen
  int64_t last_revision = 0;
  std::string first_error;            // the first error's text, for the report
  std::vector<uint32_t> latencies_us; // successes inside the window

  double per_second() const;
  /// The q-quantile of latencies_us in milliseconds (0 if none).
  double quantile_ms(double q) const;
};

/// One client's keys and values: deterministic for (seed, client).
class key_source {
public:
  key_source(const load_shape& shape, uint32_t client);

  /// The next key, e.g. "bench/042".
  std::string next_key();

  /// A value of value_bytes printable bytes that names the client and the
  /// operation, so that consecutive puts differ.
  std::string value_for(uint64_t op) const;

private:
  uint32_t key_space_;
  uint32_t value_bytes_;
  uint32_t client_;
  uint64_t state_;
};

/// Merges `part` (one client's tally) into `into`.
void merge(load_result& into, load_result&& part);

/// Standard base64 (RFC 4648, with padding), for etcd's JSON gateway.
std::string base64(const std::string& bytes);

/// Records one operation's outcome into a client's tally: `ok` successes
/// inside [window_begin, window_end] count, errors always count.
struct window {
  bench_clock::time_point begin;
  bench_clock::time_point end;

  bool contains(bench_clock::time_point start,
                bench_clock::time_point done) const {
    return start >= begin && done <= end;
  }
};

void record_ok(load_result& r, const window& w, bench_clock::time_point start,
               bench_clock::time_point done, int64_t revision);
void record_error(load_result& r, const std::string& what);

} // namespace troupe::kvbench
