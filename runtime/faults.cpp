#include "runtime/faults.hpp"

#include <algorithm>
#include <set>
#include <sstream>

namespace troupe {

send_verdict fault_table::on_send(const std::string& to) {
  send_verdict out;
  if (!enabled_ || !any_.load(std::memory_order_acquire))
    return out;
  std::lock_guard guard{mtx_};
  auto i = links_.find(to);
  if (i == links_.end())
    return out;
  auto& link = i->second;
  bool drop = link.partitioned;
  if (!drop && link.drop_rate > 0)
    drop = std::uniform_real_distribution<double>{0, 1}(rng_) < link.drop_rate;
  if (drop) {
    ++link.dropped;
    dropped_total_.fetch_add(1, std::memory_order_relaxed);
    out.drop = true;
    return out;
  }
  if (link.delay.count() > 0) {
    ++link.delayed;
    delayed_total_.fetch_add(1, std::memory_order_relaxed);
    out.delay = link.delay;
  }
  return out;
}

void fault_table::prune(const std::string& to) {
  auto i = links_.find(to);
  if (i != links_.end() && !i->second.partitioned && i->second.drop_rate <= 0
      && i->second.delay.count() == 0)
    links_.erase(i);
  any_.store(!links_.empty(), std::memory_order_release);
}

void fault_table::set_drop(const std::string& to, double rate) {
  std::lock_guard guard{mtx_};
  links_[to].drop_rate = std::clamp(rate, 0.0, 1.0);
  prune(to);
}

void fault_table::set_delay(const std::string& to,
                            std::chrono::milliseconds delay) {
  std::lock_guard guard{mtx_};
  links_[to].delay = std::clamp(delay, std::chrono::milliseconds{0}, max_delay);
  prune(to);
}

void fault_table::set_partitioned(const std::string& to, bool cut) {
  std::lock_guard guard{mtx_};
  links_[to].partitioned = cut;
  prune(to);
}

std::size_t fault_table::heal() {
  std::lock_guard guard{mtx_};
  auto n = links_.size();
  links_.clear();
  any_.store(false, std::memory_order_release);
  return n;
}

std::map<std::string, link_fault> fault_table::links() const {
  std::lock_guard guard{mtx_};
  return links_;
}

bool fault_table::try_start_delay() {
  if (delayed_in_flight_.fetch_add(1) < max_delayed_in_flight)
    return true;
  delayed_in_flight_.fetch_sub(1);
  return false;
}

void fault_table::end_delay() {
  delayed_in_flight_.fetch_sub(1);
}

namespace {

std::vector<std::string> split_nodes(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in{text};
  std::string item;
  while (std::getline(in, item, ','))
    out.push_back(item);
  if (!text.empty() && text.back() == ',')
    out.emplace_back();
  return out;
}

} // namespace

bool parse_partition(const std::string& text, std::vector<std::string>& side_a,
                     std::vector<std::string>& side_b, std::string& error) {
  constexpr std::size_t max_nodes = 64;
  auto slash = text.find('/');
  if (slash == std::string::npos
      || text.find('/', slash + 1) != std::string::npos) {
    error
        = "expected two sides separated by one '/', e.g. n1,n2/n3,n4,n5; got '"
          + text + "'";
    return false;
  }
  side_a = split_nodes(text.substr(0, slash));
  side_b = split_nodes(text.substr(slash + 1));
  std::set<std::string> seen;
  for (auto* side : {&side_a, &side_b}) {
    if (side->empty()) {
      error = "each side of '" + text + "' needs at least one node id";
      return false;
    }
    for (auto& id : *side) {
      if (id.empty()) {
        error = "empty node id in '" + text + "'";
        return false;
      }
      if (!seen.insert(id).second) {
        error = "node '" + id + "' appears twice in '" + text + "'";
        return false;
      }
    }
  }
  if (seen.size() > max_nodes) {
    error = "at most " + std::to_string(max_nodes) + " nodes in a partition";
    return false;
  }
  return true;
}

} // namespace troupe
