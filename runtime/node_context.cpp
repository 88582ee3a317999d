#include "runtime/node_context.hpp"

#include "troupe/control.pb.h"

#include <algorithm>

namespace troupe {

std::optional<placement> name_cache::find(const std::string& name) const {
  std::lock_guard guard{mtx_};
  auto i = entries_.find(name);
  if (i == entries_.end())
    return std::nullopt;
  return i->second;
}

void name_cache::put(const std::string& name, placement where) {
  std::lock_guard guard{mtx_};
  if (entries_.count(name) == 0) {
    // Evict the oldest insertions once full; the vector may hold names that
    // were already erased, which evict nothing and are simply skipped.
    while (entries_.size() >= capacity_ && !insertion_order_.empty()) {
      entries_.erase(insertion_order_.front());
      insertion_order_.erase(insertion_order_.begin());
    }
    insertion_order_.push_back(name);
  }
  entries_.insert_or_assign(name, std::move(where));
  if (insertion_order_.size() > 2 * capacity_) {
    std::erase_if(insertion_order_,
                  [&](const std::string& n) { return entries_.count(n) == 0; });
  }
}

void name_cache::erase(const std::string& name) {
  std::lock_guard guard{mtx_};
  entries_.erase(name);
}

void name_cache::erase_node(const std::string& node_id) {
  std::lock_guard guard{mtx_};
  std::erase_if(entries_,
                [&](const auto& kvp) { return kvp.second.node_id == node_id; });
}

void readiness::set(const std::string& check, bool ok, std::string detail) {
  std::lock_guard guard{mtx_};
  checks_[check] = check_result{check, ok, std::move(detail)};
}

void readiness::add_probe(const std::string& check, probe fn) {
  std::lock_guard guard{mtx_};
  probes_[check] = std::move(fn);
}

void readiness::remove_probe(const std::string& check) {
  std::lock_guard guard{mtx_};
  probes_.erase(check);
}

std::vector<readiness::check_result> readiness::results() const {
  std::lock_guard guard{mtx_};
  std::map<std::string, check_result> all = checks_;
  for (auto& [name, fn] : probes_) {
    auto res = fn();
    res.name = name;
    all[name] = std::move(res);
  }
  std::vector<check_result> result;
  for (auto& [name, res] : all)
    result.push_back(std::move(res));
  return result;
}

bool readiness::ready() const {
  auto all = results();
  return !all.empty()
         && std::all_of(all.begin(), all.end(), [](const auto& c) { return c.ok; });
}

int64_t wall_clock_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
    .count();
}

} // namespace troupe

namespace troupe {

void placement_feed::subscribe(listener fn) {
  std::shared_ptr<const v1::HeartbeatAck> last;
  {
    std::lock_guard guard{mtx_};
    listeners_.push_back(fn);
    last = last_;
  }
  if (last)
    fn(*last);
}

void placement_feed::set_synced(const std::string& name, bool synced) {
  std::lock_guard guard{mtx_};
  if (synced)
    synced_.insert(name);
  else
    synced_.erase(name);
}

std::vector<std::string> placement_feed::synced() const {
  std::lock_guard guard{mtx_};
  return {synced_.begin(), synced_.end()};
}

void placement_feed::publish(const v1::HeartbeatAck& ack) {
  auto copy = std::make_shared<const v1::HeartbeatAck>(ack);
  std::vector<listener> fns;
  {
    std::lock_guard guard{mtx_};
    last_ = copy;
    fns = listeners_;
  }
  for (auto& fn : fns)
    fn(*copy);
}

} // namespace troupe
