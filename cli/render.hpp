// Table rendering of troupectl's replies (the json output is protobuf's
// canonical JSON mapping and needs no code here).
#pragma once

#include "troupe/cluster.pb.h"

#include <string>

namespace troupe::cli {

std::string render_status(const v1::NodeStatus& st);
std::string render_members(const v1::MemberList& list);
std::string render_actors(const v1::ActorTree& tree);

} // namespace troupe::cli
