// The decisions of a supervisor, without actors: which exits lead to a
// restart, which children a restart touches, and when restarts come too fast.
// The supervisor actor (supervisor.cpp) feeds events in and carries out the
// answers; these pieces are unit-tested on their own.
#pragma once

#include "runtime/supervisor.hpp"

#include <chrono>
#include <cstddef>
#include <deque>
#include <vector>

namespace troupe {

/// Whether a child of `kind` is restarted after it exited on its own;
/// `abnormal` is true for every reason except exit_reason::normal.
bool should_restart(child_kind kind, bool abnormal);

/// The children that a restart of child `failed` touches under `strategy`,
/// as indices into the start order (ascending): only `failed` for
/// one_for_one, all `count` children for one_for_all, and `failed` and every
/// later child for rest_for_one. Requires failed < count.
std::vector<size_t> affected_children(restart_strategy strategy, size_t failed,
                                      size_t count);

/// The sliding window behind restart_intensity: at most max_restarts
/// restarts within any `period`. Holds at most max_restarts time points.
class restart_window {
public:
  using time_point = std::chrono::steady_clock::time_point;

  explicit restart_window(restart_intensity limit) : limit_(limit) {}

  /// Records a restart at `now` and returns true, or returns false when one
  /// more restart would exceed the intensity (the supervisor must escalate
  /// instead). Restarts at least `period` older than `now` no longer count.
  /// `now` must not go backwards.
  bool try_record(time_point now);

  /// The restarts that still count at the time of the last try_record.
  size_t recent() const noexcept { return restarts_.size(); }

private:
  restart_intensity limit_;
  std::deque<time_point> restarts_;
};

} // namespace troupe
