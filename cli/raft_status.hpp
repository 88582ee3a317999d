// `troupectl raft status`: every member's own view, gathered through the
// endpoint's gateway, and its table and JSON forms.
#pragma once

#include "cli/member_call.hpp"

#include "troupe/raft.pb.h"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace troupe::cli {

/// Members asked for their status beyond the endpoint's own; the rest are
/// listed as not asked. Raft groups have 3 to 7 voters.
constexpr size_t raft_status_max_members = 64;

/// How long each other member gets to answer (capped by --timeout-ms). A
/// member answers RaftStatusRequest at once, so a slow one is unhealthy, and
/// the members are asked one after another.
constexpr std::chrono::milliseconds raft_status_member_timeout{3000};

/// One member: what the endpoint's membership says about it, and either its
/// own status or why there is none.
struct member_row {
  std::string node_id;
  uint64_t member_id = 0;
  bool voter = true;
  std::optional<v1::RaftStatus> status;
  std::string error; // set when status is not
};

struct raft_view {
  std::string endpoint_node;
  std::string leader; // node id, "" = unknown
  std::vector<member_row> rows;
};

/// Asks raft/<endpoint_node> for its RaftStatus through `call` (retries and
/// the consensus-role check), then each member it lists, once, through
/// `env.ask`. A member that does not answer becomes a row with its error;
/// only a failure of the endpoint's own member fails the whole command.
outcome<raft_view> gather_raft_status(const call_env& env,
                                      const call_policy& policy,
                                      const std::string& endpoint_node);

/// NODE MEMBER ROLE TERM COMMIT APPLIED MATCH LAST SNAPSHOT, plus ERROR when
/// a member did not answer; the endpoint's node is marked with " *". MATCH
/// is the leader's view ("-" when the leader did not answer).
std::string render_raft_status(const raft_view& view);

/// {"members":[RaftStatus as protobuf JSON, or {"node_id","member_id",
/// "error"} for a member that did not answer], "leader":"<node>"}.
outcome<std::string> raft_view_json(const raft_view& view);

} // namespace troupe::cli
