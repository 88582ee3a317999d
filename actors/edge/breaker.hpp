// A circuit breaker for one origin: closed, open, half-open. Pure: time is
// passed in, so tests drive it without sleeping. Not thread-safe (the
// origin_set locks around it).
//
// closed:    requests flow; `failure_threshold` consecutive failures open it.
// open:      nothing is sent; after `open_for` it turns half-open.
// half_open: exactly one trial (a request or a health check) may go; its
//            success closes the breaker, its failure opens it again.
#pragma once

#include <chrono>
#include <cstdint>

namespace troupe::edge {

enum class breaker_state { closed, open, half_open };

/// "closed", "open" or "half_open".
const char* to_string(breaker_state x);

class breaker {
public:
  using clock = std::chrono::steady_clock;

  breaker(uint32_t failure_threshold, std::chrono::milliseconds open_for)
    : threshold_(failure_threshold < 1 ? 1 : failure_threshold),
      open_for_(open_for) {}

  /// The state at `now` (an open breaker past its time reads half_open).
  breaker_state state(clock::time_point now) const;

  /// Whether a request may go now. In half_open, the first caller gets the
  /// trial (returns true once until the trial reports back or times out
  /// after open_for, so a lost trial cannot wedge the breaker).
  bool try_acquire(clock::time_point now);

  void on_success(clock::time_point now);
  void on_failure(clock::time_point now);

  uint32_t consecutive_failures() const { return failures_; }
  /// Transitions into open, since construction.
  uint64_t times_opened() const { return opened_count_; }

private:
  uint32_t threshold_;
  std::chrono::milliseconds open_for_;
  breaker_state state_ = breaker_state::closed;
  clock::time_point opened_at_{};
  clock::time_point trial_at_{};
  bool trial_out_ = false;
  uint32_t failures_ = 0;
  uint64_t opened_count_ = 0;
};

} // namespace troupe::edge
