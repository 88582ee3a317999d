#include "actors/edge/breaker.hpp"

namespace troupe::edge {

const char* to_string(breaker_state x) {
  switch (x) {
    case breaker_state::closed: return "closed";
    case breaker_state::open: return "open";
    default: return "half_open";
  }
}

breaker_state breaker::state(clock::time_point now) const {
  if (state_ == breaker_state::open && now - opened_at_ >= open_for_)
    return breaker_state::half_open;
  return state_;
}

bool breaker::try_acquire(clock::time_point now) {
  switch (state(now)) {
    case breaker_state::closed:
      return true;
    case breaker_state::open:
      return false;
    case breaker_state::half_open:
      state_ = breaker_state::half_open;
      if (trial_out_ && now - trial_at_ < open_for_)
        return false;
      trial_out_ = true;
      trial_at_ = now;
      return true;
  }
  return false;
}

void breaker::on_success(clock::time_point) {
  failures_ = 0;
  trial_out_ = false;
  state_ = breaker_state::closed;
}

void breaker::on_failure(clock::time_point now) {
  ++failures_;
  auto current = state(now);
  bool trip = current == breaker_state::half_open
              || (current == breaker_state::closed && failures_ >= threshold_);
  if (trip) {
    state_ = breaker_state::open;
    opened_at_ = now;
    trial_out_ = false;
    ++opened_count_;
  }
}

} // namespace troupe::edge
