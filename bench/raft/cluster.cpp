#include "cluster.hpp"

#include <algorithm>
#include <thread>

namespace troupe::kvbench {

namespace {

using namespace std::chrono_literals;

// Status polls are cheap (one small request per member); 20 ms keeps the
// wait short without loading the members.
constexpr auto poll_interval = 20ms;
constexpr auto status_timeout = 500ms;

// The leader's index if every member is reachable and agrees on the leader
// and the term.
std::optional<size_t> agreed_leader(const std::vector<member_view>& views) {
  if (views.empty() || !views[0].reachable || views[0].leader.empty())
    return std::nullopt;
  for (auto& v : views)
    if (!v.reachable || v.leader != views[0].leader || v.term != views[0].term)
      return std::nullopt;
  for (size_t i = 0; i < views.size(); ++i)
    if (views[i].id == views[0].leader) {
      auto voters = views[i].voters;
      if (voters != 0 && voters != views.size())
        return std::nullopt;
      return i;
    }
  return std::nullopt;
}

bool same_applied(const std::vector<member_view>& views) {
  return std::all_of(views.begin(), views.end(), [&](const member_view& v) {
    return v.applied == views[0].applied;
  });
}

template <class Pred>
std::optional<size_t> poll_until(cluster& c, std::chrono::milliseconds timeout,
                                 Pred pred) {
  auto deadline = bench_clock::now() + timeout;
  do {
    auto views = status_all(c, status_timeout);
    if (auto leader = agreed_leader(views); leader && pred(views))
      return leader;
    std::this_thread::sleep_for(poll_interval);
  } while (bench_clock::now() < deadline);
  return std::nullopt;
}

} // namespace

std::vector<member_view> status_all(cluster& c,
                                    std::chrono::milliseconds timeout) {
  std::vector<member_view> views;
  for (size_t i = 0; i < c.size(); ++i)
    views.push_back(c.status(i, timeout));
  return views;
}

std::optional<size_t> wait_for_leader(cluster& c,
                                      std::chrono::milliseconds timeout) {
  return poll_until(c, timeout, [](auto&) { return true; });
}

std::optional<size_t> wait_until_healthy(cluster& c,
                                         std::chrono::milliseconds timeout) {
  return poll_until(c, timeout, same_applied);
}

uint64_t max_term(const std::vector<member_view>& views) {
  uint64_t result = 0;
  for (auto& v : views)
    if (v.reachable)
      result = std::max(result, v.term);
  return result;
}

} // namespace troupe::kvbench
