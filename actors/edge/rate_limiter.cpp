#include "actors/edge/rate_limiter.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

namespace troupe::edge {

namespace {
constexpr size_t shard_count = 16;
}

rate_limiter::rate_limiter(uint32_t rate, uint32_t burst, size_t max_clients)
  : rate_(rate), burst_(burst == 0 ? rate : burst),
    max_per_shard_(std::max<size_t>(1, max_clients / shard_count)) {
  for (size_t i = 0; i < shard_count; ++i)
    shards_.push_back(std::make_unique<shard>());
}

double rate_limiter::refill(bucket& b, clock::time_point now) const {
  std::chrono::duration<double> elapsed = now - b.last;
  if (elapsed.count() > 0) {
    b.tokens = std::min(burst_, b.tokens + elapsed.count() * rate_);
    b.last = now;
  }
  return b.tokens;
}

void rate_limiter::sweep(shard& s, clock::time_point now) {
  for (auto i = s.buckets.begin(); i != s.buckets.end();)
    i = refill(i->second, now) >= burst_ ? s.buckets.erase(i) : std::next(i);
}

rate_limiter::verdict rate_limiter::check(std::string_view client,
                                          clock::time_point now) {
  if (!enabled())
    return {};
  auto& s = *shards_[std::hash<std::string_view>{}(client) % shard_count];
  std::lock_guard guard{s.mtx};
  auto i = s.buckets.find(std::string{client});
  if (i == s.buckets.end()) {
    if (s.buckets.size() >= max_per_shard_)
      sweep(s, now);
    if (s.buckets.size() >= max_per_shard_) {
      ++s.untracked;
      return {};
    }
    i = s.buckets.emplace(std::string{client}, bucket{burst_, now}).first;
  }
  auto tokens = refill(i->second, now);
  if (tokens >= 1.0) {
    i->second.tokens = tokens - 1.0;
    return {};
  }
  auto wait_s = std::ceil((1.0 - tokens) / rate_);
  return {false, static_cast<uint32_t>(std::max(1.0, wait_s))};
}

uint64_t rate_limiter::untracked() const {
  uint64_t n = 0;
  for (auto& s : shards_) {
    std::lock_guard guard{s->mtx};
    n += s->untracked;
  }
  return n;
}

size_t rate_limiter::tracked() const {
  size_t n = 0;
  for (auto& s : shards_) {
    std::lock_guard guard{s->mtx};
    n += s->buckets.size();
  }
  return n;
}

} // namespace troupe::edge
