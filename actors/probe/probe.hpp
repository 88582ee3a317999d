// The diagnostic probe: every node hosts one, named `probe/<node-id>`.
//
// Messages (protobuf, see proto/troupe/probe.proto):
//   Ping -> Pong{node_id, payload, incarnation, actor}
//     Sent by health checks, tests and `troupectl send`. Idempotent.
//     Errors: errc::mailbox_full when the probe is overloaded.
#pragma once

#include "runtime/supervisor.hpp"

#include "troupe/probe.pb.h"

#include <string>

namespace troupe::probe {

/// The core: answers a Ping. Pure function, no CAF.
v1::Pong answer(const v1::Ping& ping, const std::string& node_id,
                const std::string& actor_name, uint64_t incarnation);

/// The probe's logical name on node `node_id`.
std::string name_for(const std::string& node_id);

/// A permanent child spec that runs the probe for `node_id`.
child_spec child(const std::string& node_id);

} // namespace troupe::probe
