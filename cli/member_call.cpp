#include "cli/member_call.hpp"

#include "net/errors.hpp"

#include <caf/sec.hpp>

#include <algorithm>
#include <thread>
#include <vector>

namespace troupe::cli {

namespace {

using std::chrono::milliseconds;

struct call_state {
  std::string target;
  std::vector<std::string> path; // every member asked, in order of redirects
  int redirects = 0;
  int attempts = 0;
  bool first_answered = false;
  milliseconds backoff{0};
  std::string failed_node; // a redirect target that did not answer
  int failed_skips = 0;    // redirects to it turned into waits
};

// After a leader dies, the other members keep naming it until they elect a
// new one (an election timeout, 150 to 300 ms by default). Redirecting to it
// again would spend the redirect limit on a dead member, so wait instead, a
// few times: by then the backoff has outgrown an election, and a member
// that came back and leads again gets its redirect.
constexpr int max_failed_skips = 3;

verdict avoid_failed(verdict v, call_state& st) {
  if (v.kind != verdict::redirect || v.node != st.failed_node
      || st.failed_skips == max_failed_skips)
    return v;
  ++st.failed_skips;
  return {verdict::retry,
          {},
          member_name(st.target) + " still names " + v.node
              + " as leader, which did not answer: waiting for an election"};
}

bool not_understood(const caf::error& err) {
  return is(err, errc::unexpected_message) || is(err, errc::bad_message)
         || is(err, errc::no_such_type);
}

std::string no_member_message(const std::string& node, const caf::error& err) {
  auto detail = describe(err);
  if (detail.find("stopped") != std::string::npos)
    return "the consensus member " + member_name(node) + " is stopped ("
           + detail
           + "); see troupectl actors, or use --endpoint of another "
             "consensus node";
  return "node " + node + " does not run the consensus role (" + detail
         + "); use --endpoint of a consensus node";
}

// Transport failures: the request did not get a member's reply.
verdict judge_error(const caf::error& err, const std::string& first,
                    const call_state& st) {
  auto name = member_name(st.target);
  if (is(err, errc::no_such_actor) && st.target == first && !st.first_answered)
    return {verdict::give_up, {}, no_member_message(first, err)};
  if (not_understood(err))
    return {verdict::give_up,
            {},
            name + " cannot handle the request (" + describe(err)
                + "); does that node run an older troupe?"};
  std::string reason = name + ": " + describe(err);
  if (err == caf::sec::request_timeout)
    reason += " (the request may or may not have applied)";
  // A redirected member that fails may be an old leader that died: the
  // first member, which answered before, will name the new one.
  return {st.target == first ? verdict::retry : verdict::restart, {}, reason};
}

std::string joined_path(const std::vector<std::string>& path) {
  std::string out;
  for (auto& node : path)
    out += (out.empty() ? "" : " -> ") + node;
  return out;
}

// Sleeps before a retry; false if the retry would start after the deadline.
bool back_off(const call_env& env, const call_policy& policy, call_state& st,
              std::chrono::steady_clock::time_point deadline) {
  st.backoff = st.backoff.count() == 0
                   ? policy.backoff_min
                   : std::min(st.backoff * 2, policy.backoff_max);
  if (env.now() + st.backoff >= deadline)
    return false;
  env.sleep(st.backoff);
  return true;
}

failure gave_up(const call_policy& policy, const call_state& st,
                const std::string& reason) {
  return {exit_failed, "gave up after " + std::to_string(st.attempts)
                           + " attempts within --timeout-ms "
                           + std::to_string(policy.timeout.count())
                           + "; last: " + reason};
}

failure too_many_redirects(const call_policy& policy, const call_state& st,
                           const std::string& next) {
  return {exit_failed, "still NOT_LEADER after following "
                           + std::to_string(policy.max_redirects)
                           + " redirects (" + joined_path(st.path) + " -> "
                           + next
                           + "); leadership is moving: retry in a moment"};
}

} // namespace

std::string member_name(const std::string& node) {
  return "raft/" + node;
}

call_env real_call_env(ask_fn ask) {
  return {std::move(ask), [] { return std::chrono::steady_clock::now(); },
          [](milliseconds d) { std::this_thread::sleep_for(d); }};
}

outcome<envelope> call_member(const call_env& env, const call_policy& policy,
                              const std::string& first_node,
                              const envelope& msg, const judge_fn& judge) {
  auto deadline = env.now() + policy.timeout;
  call_state st;
  st.target = first_node;
  st.path.push_back(first_node);
  for (;;) {
    ++st.attempts;
    auto left = std::chrono::duration_cast<milliseconds>(deadline - env.now());
    auto reply
        = env.ask(member_name(st.target), msg, std::max(left, milliseconds{1}));
    if (reply && st.target == first_node)
      st.first_answered = true;
    auto v = reply ? judge(*reply, st.target)
                   : judge_error(reply.error(), first_node, st);
    if (!reply && v.kind == verdict::restart && st.failed_node != st.target) {
      st.failed_node = st.target;
      st.failed_skips = 0;
    }
    v = avoid_failed(std::move(v), st);
    switch (v.kind) {
    case verdict::done:
      return std::move(*reply);
    case verdict::give_up:
      return failure{exit_failed, v.reason};
    case verdict::redirect:
      if (st.redirects == policy.max_redirects)
        return too_many_redirects(policy, st, v.node);
      ++st.redirects;
      st.path.push_back(v.node);
      st.target = v.node;
      continue;
    case verdict::restart:
      st.target = first_node;
      st.path.push_back(first_node);
      [[fallthrough]];
    case verdict::retry:
      if (!back_off(env, policy, st, deadline))
        return gave_up(policy, st, v.reason);
      continue;
    }
  }
}

} // namespace troupe::cli
