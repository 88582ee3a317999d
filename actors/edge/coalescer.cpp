#include "actors/edge/coalescer.hpp"

namespace troupe::edge {

coalescer::role coalescer::join(const std::string& key, waiter w) {
  std::lock_guard guard{mtx_};
  auto i = pending_.find(key);
  if (i == pending_.end()) {
    if (pending_.size() >= max_keys_)
      return role::overflow;
    pending_.emplace(key, std::vector<waiter>{});
    return role::leader;
  }
  if (i->second.size() >= max_waiters_)
    return role::overflow;
  i->second.push_back(std::move(w));
  return role::follower;
}

std::vector<coalescer::waiter> coalescer::release(const std::string& key) {
  std::lock_guard guard{mtx_};
  auto i = pending_.find(key);
  if (i == pending_.end())
    return {};
  auto out = std::move(i->second);
  pending_.erase(i);
  return out;
}

size_t coalescer::in_flight() const {
  std::lock_guard guard{mtx_};
  return pending_.size();
}

} // namespace troupe::edge
