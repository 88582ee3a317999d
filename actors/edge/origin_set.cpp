#include "actors/edge/origin_set.hpp"

namespace troupe::edge {

namespace {

// Weight of the newest latency sample: about the last ten requests matter.
constexpr double ewma_alpha = 0.2;

} // namespace

origin_set::origin_set(std::vector<host_port> origins,
                       uint32_t failure_threshold,
                       std::chrono::milliseconds open_for) {
  for (auto& addr : origins)
    origins_.push_back(
      std::make_unique<origin>(std::move(addr), failure_threshold, open_for));
}

double origin_set::score(const origin& o) const {
  // An origin never measured scores as fast, so new origins get traffic.
  auto latency = o.ewma_s.load(std::memory_order_relaxed);
  return (latency > 0 ? latency : 1e-6)
         * static_cast<double>(o.in_flight.load(std::memory_order_relaxed) + 1);
}

std::optional<size_t> origin_set::pick(uint64_t tried, std::minstd_rand& rng,
                                       clock::time_point now) {
  // Candidates: not tried and not open. Bounded by 64 origins.
  size_t candidates[64];
  size_t n = 0;
  for (size_t i = 0; i < origins_.size() && i < 64; ++i) {
    if ((tried >> i) & 1u)
      continue;
    std::lock_guard guard{origins_[i]->mtx};
    if (origins_[i]->cb.state(now) != breaker_state::open)
      candidates[n++] = i;
  }
  while (n > 0) {
    size_t a = rng() % n;
    size_t b = n > 1 ? (a + 1 + rng() % (n - 1)) % n : a;
    size_t best = score(*origins_[candidates[a]]) <= score(*origins_[candidates[b]]) ? a : b;
    auto& o = *origins_[candidates[best]];
    {
      std::lock_guard guard{o.mtx};
      if (o.cb.try_acquire(now))
        return candidates[best];
    }
    // Its half-open trial is taken: drop it and choose again.
    candidates[best] = candidates[--n];
  }
  return std::nullopt;
}

bool origin_set::any_available(clock::time_point now) const {
  for (auto& o : origins_) {
    std::lock_guard guard{o->mtx};
    if (o->cb.state(now) != breaker_state::open)
      return true;
  }
  return false;
}

void origin_set::on_start(size_t i) {
  origins_[i]->in_flight.fetch_add(1, std::memory_order_relaxed);
  origins_[i]->requests.fetch_add(1, std::memory_order_relaxed);
}

void origin_set::on_finish(size_t i, bool ok, double latency_s,
                           clock::time_point now) {
  auto& o = *origins_[i];
  o.in_flight.fetch_sub(1, std::memory_order_relaxed);
  if (ok) {
    auto old = o.ewma_s.load(std::memory_order_relaxed);
    o.ewma_s.store(old <= 0 ? latency_s
                            : old + ewma_alpha * (latency_s - old),
                   std::memory_order_relaxed);
  } else {
    o.failures.fetch_add(1, std::memory_order_relaxed);
  }
  std::lock_guard guard{o.mtx};
  if (ok)
    o.cb.on_success(now);
  else
    o.cb.on_failure(now);
}

bool origin_set::health_check_due(size_t i, clock::time_point now) {
  auto& o = *origins_[i];
  std::lock_guard guard{o.mtx};
  return o.cb.try_acquire(now);
}

void origin_set::on_health(size_t i, bool ok, std::string error,
                           clock::time_point now) {
  auto& o = *origins_[i];
  o.health_ok.store(ok, std::memory_order_relaxed);
  std::lock_guard guard{o.mtx};
  o.health_error = std::move(error);
  if (ok)
    o.cb.on_success(now);
  else
    o.cb.on_failure(now);
}

std::vector<origin_view> origin_set::views(clock::time_point now) const {
  std::vector<origin_view> out;
  for (auto& o : origins_) {
    origin_view v;
    v.address = o->addr.to_string();
    v.ewma_latency_s = o->ewma_s.load(std::memory_order_relaxed);
    v.in_flight = o->in_flight.load(std::memory_order_relaxed);
    v.requests = o->requests.load(std::memory_order_relaxed);
    v.failures = o->failures.load(std::memory_order_relaxed);
    v.health_ok = o->health_ok.load(std::memory_order_relaxed);
    std::lock_guard guard{o->mtx};
    v.state = o->cb.state(now);
    v.times_opened = o->cb.times_opened();
    v.consecutive_failures = o->cb.consecutive_failures();
    v.health_error = o->health_error;
    out.push_back(std::move(v));
  }
  return out;
}

} // namespace troupe::edge
