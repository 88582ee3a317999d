// Conversion between the Raft core's message structs (raft_types.hpp) and
// their protobuf form (proto/troupe/raft.proto). Pure functions, no CAF
// actors; the wire format is documented in docs/raft.md.
#pragma once

#include "actors/consensus/raft_types.hpp"

#include "troupe/raft.pb.h"

#include <caf/expected.hpp>

namespace troupe::raft {

/// Encodes `m`. Total: every core message has a wire form.
v1::RaftMessage to_proto(const message& m);

/// Decodes `m`. Fails with errc::bad_message when no body is set, `from` or
/// `to` is 0, or an entry has an unknown kind (a newer peer or a bug).
caf::expected<message> from_proto(const v1::RaftMessage& m);

} // namespace troupe::raft
