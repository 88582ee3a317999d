#include "cli/member_target.hpp"

#include "runtime/type_ids.hpp"

#include "troupe/cluster.pb.h"

namespace troupe::cli {

outcome<member_target> reach_members(client& c, const caf::actor& gateway,
                                     const options& opts) {
  auto reply = c.ask(gateway, status_atom_v);
  if (!reply)
    return failure{exit_failed, "node at " + c.endpoint().to_string()
                                    + " did not say who it is ("
                                    + describe(reply.error()) + "); retry"};
  auto status = unpack<v1::NodeStatus>(*reply);
  if (!status)
    return failure{exit_failed,
                   "unexpected status reply: " + describe(status.error())};
  member_target target;
  target.endpoint_node = status->node_id();
  // The gateway forwards by name (send_atom): any member of the cluster is
  // reachable through this one connection.
  target.env = real_call_env([&c, gateway](const std::string& name,
                                           const envelope& msg,
                                           std::chrono::milliseconds timeout) {
    return c.ask_within(gateway, timeout, send_atom_v, name, msg);
  });
  target.policy.timeout = std::chrono::milliseconds{opts.timeout_ms};
  return target;
}

} // namespace troupe::cli
