#include "cli/kv_call.hpp"

#include <random>

namespace troupe::cli {

namespace {

std::string status_text(v1::KvStatus status, const std::string& message) {
  auto name = v1::KvStatus_Name(status);
  return message.empty() ? name : name + " (" + message + ")";
}

} // namespace

uint64_t random_client_id() {
  std::random_device rd;
  uint64_t id = 0;
  while (id == 0)
    id = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  return id;
}

verdict judge_kv_reply(const envelope& reply, const std::string& node) {
  auto msg = unpack<v1::KvReply>(reply);
  if (!msg)
    return {verdict::give_up,
            {},
            member_name(node) + " answered with an unexpected message ("
                + describe(msg.error()) + ")"};
  auto what = member_name(node) + ": "
              + status_text(msg->status(), msg->error_message());
  switch (msg->status()) {
  case v1::KV_STATUS_NOT_LEADER:
    if (!msg->leader_node().empty() && msg->leader_node() != node)
      return {verdict::redirect, msg->leader_node(), what};
    if (msg->error_message().empty())
      what += ": no leader known yet";
    return {verdict::retry, {}, what};
  case v1::KV_STATUS_UNAVAILABLE:
  case v1::KV_STATUS_OVERLOADED:
    return {verdict::retry, {}, what};
  case v1::KV_STATUS_OUTCOME_UNKNOWN:
    return {verdict::retry, {}, what + ": it may or may not have applied"};
  default:
    return {verdict::done, {}, {}};
  }
}

verdict judge_watch_response(const envelope& reply, const std::string& node) {
  auto msg = unpack<v1::WatchResponse>(reply);
  if (!msg)
    return {verdict::give_up,
            {},
            member_name(node) + " answered with an unexpected message ("
                + describe(msg.error()) + ")"};
  auto status = msg->status();
  if (status == v1::KV_STATUS_UNAVAILABLE || status == v1::KV_STATUS_OVERLOADED)
    return {verdict::retry,
            {},
            member_name(node) + ": "
                + status_text(status, msg->error_message())};
  return {verdict::done, {}, {}};
}

failure kv_status_failure(v1::KvStatus status, const std::string& message) {
  auto text = status_text(status, message);
  switch (status) {
  case v1::KV_STATUS_INVALID_ARGUMENT:
  case v1::KV_STATUS_LIMIT_EXCEEDED:
    return {exit_failed, text + ": fix the request"};
  case v1::KV_STATUS_COMPACTED:
    return {exit_failed,
            text + ": that revision is compacted; read a newer --rev"};
  case v1::KV_STATUS_FUTURE_REVISION:
    return {exit_failed,
            text + ": that revision does not exist yet; retry later"};
  case v1::KV_STATUS_LEASE_NOT_FOUND:
    return {exit_failed, text + ": grant a lease first, or check --lease"};
  case v1::KV_STATUS_PERMISSION_DENIED:
    return {exit_failed, text
                             + ": keys under /troupe/sys/ are written by the "
                               "runtime only"};
  case v1::KV_STATUS_STALE_REQUEST:
    return {exit_failed, text
                             + ": the reply is gone; check the key and run "
                               "the command again"};
  default:
    return {exit_failed, text};
  }
}

outcome<v1::KvReply> kv_session::execute(const call_env& env,
                                         const call_policy& policy,
                                         const std::string& node,
                                         v1::KvRequest req) {
  req.set_client_id(client_id_);
  req.set_request_id(next_request_id_++);
  // One envelope for every attempt: a retry resends the same ids.
  auto reply = call_member(env, policy, node, pack(req), judge_kv_reply);
  if (!reply)
    return reply.error();
  auto msg = unpack<v1::KvReply>(*reply);
  if (!msg)
    return failure{exit_failed, describe(msg.error())};
  if (msg->status() != v1::KV_STATUS_OK)
    return kv_status_failure(msg->status(), msg->error_message());
  return std::move(*msg);
}

} // namespace troupe::cli
