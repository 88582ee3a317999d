#include "cli/kv_watch.hpp"

#include "cli/kv_call.hpp"

#include <algorithm>

namespace troupe::cli {

namespace {

failure compacted(const v1::WatchResponse& resp, int64_t start) {
  auto compact = resp.compact_revision();
  return {exit_failed,
          "revision " + std::to_string(start)
              + " is compacted (compact revision " + std::to_string(compact)
              + "): watch again with --rev " + std::to_string(compact + 1)
              + " (deletes up to the compaction may be missing)"};
}

outcome<v1::WatchResponse> poll(const call_env& env, const call_policy& policy,
                                const std::string& node,
                                const v1::WatchRequest& req) {
  auto reply = call_member(env, policy, node, pack(req), judge_watch_response);
  if (!reply)
    return reply.error();
  auto resp = unpack<v1::WatchResponse>(*reply);
  if (!resp)
    return failure{exit_failed, describe(resp.error())};
  if (resp->status() == v1::KV_STATUS_COMPACTED)
    return compacted(*resp, req.start_revision());
  if (resp->status() != v1::KV_STATUS_OK)
    return kv_status_failure(resp->status(), resp->error_message());
  if (resp->next_revision() < req.start_revision())
    return failure{exit_failed, member_name(node) + " answered next_revision "
                                    + std::to_string(resp->next_revision())
                                    + " below start "
                                    + std::to_string(req.start_revision())
                                    + " (a server bug)"};
  return std::move(*resp);
}

// Without --follow the watch is done once a page is empty or reaches the
// revision the member had when it answered.
bool caught_up(const v1::WatchResponse& resp) {
  return resp.events().empty()
         || resp.next_revision() > resp.header().revision();
}

} // namespace

outcome<int64_t>
run_watch(const call_env& env, const call_policy& policy,
          const std::string& node, v1::WatchRequest req, bool follow,
          const std::function<void(const v1::Event&)>& on_event) {
  auto half_timeout_ms = static_cast<int64_t>(policy.timeout.count() / 2);
  req.set_wait_ms(follow ? std::min(watch_poll_ms, half_timeout_ms) : 0);
  for (int page = 0; follow || page < watch_max_pages; ++page) {
    auto resp = poll(env, policy, node, req);
    if (!resp)
      return resp.error();
    for (auto& event : resp->events())
      on_event(event);
    req.set_start_revision(resp->next_revision());
    if (!follow && caught_up(*resp))
      return resp->next_revision();
  }
  return failure{exit_failed, "kv watch stopped after "
                                  + std::to_string(watch_max_pages)
                                  + " pages; resume with --rev "
                                  + std::to_string(req.start_revision())};
}

} // namespace troupe::cli
