// Request coalescing: concurrent misses for one cache key make one origin
// fetch. The first request for a key leads (fetches); later ones wait until
// the leader releases the key, then look the key up again (normally a hit
// now; a pass if the answer was uncacheable, which the cache remembers as
// hit-for-pass so later requests do not queue). Thread-safe; waiters are
// called on the releasing thread and must hand over to their own.
#pragma once

#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace troupe::edge {

class coalescer {
public:
  using waiter = std::function<void()>;

  enum class role {
    leader,   // fetch, then release(key)
    follower, // `w` runs once the leader releases
    overflow, // limits reached: fetch alone, do not release
  };

  /// `max_keys`: keys being fetched at once; `max_waiters`: per key.
  coalescer(size_t max_keys, size_t max_waiters)
    : max_keys_(max_keys), max_waiters_(max_waiters) {}

  role join(const std::string& key, waiter w);

  /// Ends the leader's fetch for `key`; returns its waiters (to call).
  std::vector<waiter> release(const std::string& key);

  /// Keys with a fetch in flight.
  size_t in_flight() const;

private:
  size_t max_keys_;
  size_t max_waiters_;
  mutable std::mutex mtx_;
  std::unordered_map<std::string, std::vector<waiter>> pending_;
};

} // namespace troupe::edge
