// Where `troupectl kv` and `troupectl raft` start: the consensus member on
// the endpoint's node, reached through the endpoint's gateway.
#pragma once

#include "cli/command.hpp"
#include "cli/member_call.hpp"

#include <string>

namespace troupe::cli {

struct member_target {
  std::string endpoint_node; // node id of --endpoint; its member is raft/<id>
  call_env env;              // requests by name through the gateway
  call_policy policy;        // --timeout-ms bounds each call, retries included
};

/// Asks the gateway for its node id (NodeStatus) and builds the call
/// environment. Fails (exit 1) if the gateway does not answer.
outcome<member_target> reach_members(client& c, const caf::actor& gateway,
                                     const options& opts);

} // namespace troupe::cli
