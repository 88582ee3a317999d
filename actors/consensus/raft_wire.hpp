// Conversion between the Raft core's message structs (raft_types.hpp) and
// their protobuf form (proto/troupe/raft.proto). Pure functions, no CAF
// actors; the wire format is documented in docs/raft.md. This file also
// defines encode_membership/decode_membership (raft_types.hpp): a config
// entry's payload is a serialized RaftMembership.
#pragma once

#include "actors/consensus/raft_types.hpp"

#include "troupe/raft.pb.h"

#include <caf/expected.hpp>

namespace troupe::raft {

/// Encodes `m`. Total: every core message has a wire form.
v1::RaftMessage to_proto(const message& m);

/// Decodes `m`. Fails with errc::bad_message when no body is set, `from` or
/// `to` is 0, an entry has an unknown kind, or a config entry or snapshot
/// holds no valid membership (a newer peer or a bug).
caf::expected<message> from_proto(const v1::RaftMessage& m);

v1::RaftMembership to_proto(const membership& m);
/// Fails for a zero id or an id listed twice.
caf::expected<membership> from_proto(const v1::RaftMembership& m);

v1::RaftSnapshotMeta to_proto(const snapshot_meta& m);
caf::expected<snapshot_meta> from_proto(const v1::RaftSnapshotMeta& m);

} // namespace troupe::raft
