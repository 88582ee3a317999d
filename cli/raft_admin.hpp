// `troupectl raft transfer-leader|add-member|promote-member|remove-member`:
// the requests (pure, validated before connecting), the verdicts on
// RaftAdminReply, and the membership table printed afterwards.
#pragma once

#include "cli/member_call.hpp"

#include "troupe/raft.pb.h"

#include <string>

namespace troupe::cli {

/// Whether `id` is a node id troupe-node accepts:
/// [A-Za-z0-9][A-Za-z0-9._-]{0,62} (the rule of --node-id in
/// runtime/config.cpp).
bool valid_node_id(const std::string& id);

outcome<v1::RaftTransferLeader> build_transfer_leader(const std::string& node);

/// ADD_LEARNER with auto_promote unless `learner`.
outcome<v1::RaftMembershipChange> build_add_member(const std::string& node,
                                                   bool learner);
outcome<v1::RaftMembershipChange> build_promote_member(const std::string& node);
outcome<v1::RaftMembershipChange> build_remove_member(const std::string& node);

/// RaftAdminReply: OK and REJECTED are done; NOT_LEADER with a leader
/// redirects; NOT_LEADER without one, OVERLOADED and OUTCOME_UNKNOWN are
/// retried (a membership change is idempotent in effect); STOPPED asks the
/// first member again.
verdict judge_admin_reply(const envelope& reply, const std::string& node);

/// Sends `request` (a packed RaftTransferLeader or RaftMembershipChange) to
/// raft/<first_node>, following NOT_LEADER to the leader. A final status
/// other than OK is a failure.
outcome<v1::RaftAdminReply> execute_admin(const call_env& env,
                                          const call_policy& policy,
                                          const std::string& first_node,
                                          const envelope& request);

enum class admin_op {
  transfer_leader,
  add_member,
  promote_member,
  remove_member
};

/// One line on what the membership now says about `node`, from an OK reply
/// (the leader answers OK without a change when there is nothing to do, so
/// "removed n9" would be wrong for a node that never was a member).
std::string admin_summary(admin_op op, const std::string& node, bool learner,
                          const v1::RaftAdminReply& reply);

/// NODE MEMBER KIND MATCH for the membership in an OK reply.
std::string render_membership(const v1::RaftAdminReply& reply);

} // namespace troupe::cli
