#include "actors/edge/events.hpp"

namespace troupe::edge {

uint64_t fnv1a(std::string_view text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

event_batcher::event_batcher(std::shared_ptr<event_sink> sink,
                             std::shared_ptr<event_counters> counters)
  : sink_(std::move(sink)), counters_(std::move(counters)) {
  batch_.reserve(batch_size);
}

void event_batcher::add(const edge_event& e) {
  batch_.push_back(e);
  counters_->produced.fetch_add(1, std::memory_order_relaxed);
  if (batch_.size() >= batch_size)
    flush();
}

void event_batcher::flush() {
  if (batch_.empty())
    return;
  auto n = batch_.size();
  bool taken = sink_ && sink_->offer(std::move(batch_));
  (taken ? counters_->delivered : counters_->dropped)
    .fetch_add(n, std::memory_order_relaxed);
  batch_ = {};
  batch_.reserve(batch_size);
}

} // namespace troupe::edge
