#include "runtime/supervisor_policy.hpp"

namespace troupe {

const char* to_string(restart_strategy x) {
  switch (x) {
    case restart_strategy::one_for_one: return "one_for_one";
    case restart_strategy::one_for_all: return "one_for_all";
    case restart_strategy::rest_for_one: return "rest_for_one";
  }
  return "unknown_strategy";
}

const char* to_string(child_kind x) {
  switch (x) {
    case child_kind::permanent: return "permanent";
    case child_kind::transient: return "transient";
    case child_kind::temporary: return "temporary";
  }
  return "unknown_kind";
}

bool should_restart(child_kind kind, bool abnormal) {
  switch (kind) {
    case child_kind::permanent: return true;
    case child_kind::transient: return abnormal;
    case child_kind::temporary: return false;
  }
  return false;
}

std::vector<size_t> affected_children(restart_strategy strategy, size_t failed,
                                      size_t count) {
  size_t first = failed;
  size_t last = failed + 1;
  if (strategy == restart_strategy::one_for_all)
    first = 0;
  if (strategy != restart_strategy::one_for_one)
    last = count;
  std::vector<size_t> result;
  for (auto i = first; i < last; ++i)
    result.push_back(i);
  return result;
}

bool restart_window::try_record(time_point now) {
  // Forget restarts that left the window first, so a child that crashes
  // rarely never accumulates toward an escalation.
  while (!restarts_.empty() && now - restarts_.front() >= limit_.period)
    restarts_.pop_front();
  // OTP checks after adding: max_restarts = 0 forbids every restart.
  if (restarts_.size() + 1 > limit_.max_restarts)
    return false;
  restarts_.push_back(now);
  return true;
}

} // namespace troupe
