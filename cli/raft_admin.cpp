#include "cli/raft_admin.hpp"

#include "cli/table.hpp"

#include <algorithm>
#include <cctype>

namespace troupe::cli {

namespace {

std::optional<failure> check_node(const std::string& node) {
  if (!valid_node_id(node))
    return usage(
        "NODE '" + node
        + "' is not a node id "
          "([A-Za-z0-9][A-Za-z0-9._-]{0,62}); troupectl members lists them");
  return std::nullopt;
}

outcome<v1::RaftMembershipChange> change(v1::RaftMembershipChange::Op op,
                                         const std::string& node) {
  if (auto err = check_node(node))
    return *err;
  v1::RaftMembershipChange req;
  req.set_op(op);
  req.set_node_id(node);
  return req;
}

std::string with_message(const std::string& what, const std::string& message) {
  return message.empty() ? what : what + " (" + message + ")";
}

} // namespace

bool valid_node_id(const std::string& id) {
  auto alnum
      = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  auto tail_ok
      = [&](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; };
  return !id.empty() && id.size() <= 63 && alnum(id.front())
         && std::all_of(id.begin() + 1, id.end(), tail_ok);
}

outcome<v1::RaftTransferLeader> build_transfer_leader(const std::string& node) {
  if (auto err = check_node(node))
    return *err;
  v1::RaftTransferLeader req;
  req.set_node_id(node);
  return req;
}

outcome<v1::RaftMembershipChange> build_add_member(const std::string& node,
                                                   bool learner) {
  auto req = change(v1::RaftMembershipChange::ADD_LEARNER, node);
  if (req)
    req->set_auto_promote(!learner);
  return req;
}

outcome<v1::RaftMembershipChange>
build_promote_member(const std::string& node) {
  return change(v1::RaftMembershipChange::PROMOTE, node);
}

outcome<v1::RaftMembershipChange> build_remove_member(const std::string& node) {
  return change(v1::RaftMembershipChange::REMOVE, node);
}

verdict judge_admin_reply(const envelope& reply, const std::string& node) {
  auto msg = unpack<v1::RaftAdminReply>(reply);
  if (!msg)
    return {verdict::give_up,
            {},
            member_name(node) + " answered with an unexpected message ("
                + describe(msg.error()) + ")"};
  auto what = member_name(node) + ": "
              + with_message(v1::ProposeStatus_Name(msg->status()),
                             msg->error_message());
  switch (msg->status()) {
  case v1::PROPOSE_STATUS_NOT_LEADER:
    if (!msg->leader_node().empty() && msg->leader_node() != node)
      return {verdict::redirect, msg->leader_node(), what};
    if (msg->error_message().empty())
      what += ": no leader known yet";
    return {verdict::retry, {}, what};
  case v1::PROPOSE_STATUS_OVERLOADED:
  case v1::PROPOSE_STATUS_OUTCOME_UNKNOWN:
    return {verdict::retry, {}, what};
  case v1::PROPOSE_STATUS_STOPPED:
    return {verdict::restart, {}, what};
  default:
    return {verdict::done, {}, {}};
  }
}

outcome<v1::RaftAdminReply> execute_admin(const call_env& env,
                                          const call_policy& policy,
                                          const std::string& first_node,
                                          const envelope& request) {
  auto reply = call_member(env, policy, first_node, request, judge_admin_reply);
  if (!reply)
    return reply.error();
  auto msg = unpack<v1::RaftAdminReply>(*reply);
  if (!msg)
    return failure{exit_failed, describe(msg.error())};
  if (msg->status() == v1::PROPOSE_STATUS_REJECTED)
    return failure{
        exit_failed,
        with_message("the leader rejected the request", msg->error_message())
            + "; fix it, or retry once an earlier change has committed"};
  if (msg->status() != v1::PROPOSE_STATUS_OK)
    return failure{exit_failed,
                   with_message(v1::ProposeStatus_Name(msg->status()),
                                msg->error_message())};
  return std::move(*msg);
}

std::string admin_summary(admin_op op, const std::string& node, bool learner,
                          const v1::RaftAdminReply& reply) {
  const v1::RaftMemberStatus* found = nullptr;
  for (auto& m : reply.members())
    if (m.node_id() == node)
      found = &m;
  switch (op) {
  case admin_op::transfer_leader:
    return "leadership transferred to " + node;
  case admin_op::remove_member:
    return found ? "asked to remove " + node + "; it is still listed"
                 : node + " is not a member (any more)";
  case admin_op::add_member:
  case admin_op::promote_member:
    break;
  }
  if (!found)
    return "the leader accepted the change, but its reply does not list "
           + node;
  if (found->voter())
    return node + " is a voter";
  return node + " is a learner"
         + (learner ? "" : "; the leader promotes it once it has caught up");
}

std::string render_membership(const v1::RaftAdminReply& reply) {
  std::vector<table_row> rows{{"NODE", "MEMBER", "KIND", "MATCH"}};
  for (auto& m : reply.members())
    rows.push_back({m.node_id(), std::to_string(m.member_id()),
                    m.voter() ? "voter" : "learner",
                    std::to_string(m.match_index())});
  return render_table(rows);
}

} // namespace troupe::cli
