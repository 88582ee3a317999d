#include "actors/consensus/raft_wire.hpp"

#include "net/errors.hpp"

#include <type_traits>

namespace troupe::raft {

namespace {

v1::RaftEntryKind encode(entry_kind kind) {
  switch (kind) {
    case entry_kind::noop: return v1::RAFT_ENTRY_KIND_NOOP;
    case entry_kind::config: return v1::RAFT_ENTRY_KIND_CONFIG;
    case entry_kind::command: break;
  }
  return v1::RAFT_ENTRY_KIND_COMMAND;
}

void encode(const entry& e, v1::RaftEntry& out) {
  out.set_index(e.index);
  out.set_term(e.term);
  out.set_kind(encode(e.kind));
  out.set_payload(e.command);
}

void encode(const vote_request& m, v1::RaftMessage& out) {
  auto& body = *out.mutable_vote_request();
  body.set_term(m.term);
  body.set_pre_vote(m.pre_vote);
  body.set_last_log_index(m.last_log_index);
  body.set_last_log_term(m.last_log_term);
  body.set_transfer(m.transfer);
}

void encode(const vote_response& m, v1::RaftMessage& out) {
  auto& body = *out.mutable_vote_response();
  body.set_term(m.term);
  body.set_pre_vote(m.pre_vote);
  body.set_granted(m.granted);
}

void encode(const append_request& m, v1::RaftMessage& out) {
  auto& body = *out.mutable_append_request();
  body.set_term(m.term);
  body.set_prev_log_index(m.prev_log_index);
  body.set_prev_log_term(m.prev_log_term);
  for (auto& e : m.entries)
    encode(e, *body.add_entries());
  body.set_leader_commit(m.leader_commit);
  body.set_heartbeat(m.heartbeat);
  body.set_read_context(m.read_context);
}

void encode(const append_response& m, v1::RaftMessage& out) {
  auto& body = *out.mutable_append_response();
  body.set_term(m.term);
  body.set_success(m.success);
  body.set_heartbeat(m.heartbeat);
  body.set_match_index(m.match_index);
  body.set_rejected_index(m.rejected_index);
  body.set_hint_index(m.hint_index);
  body.set_read_context(m.read_context);
}

void encode(const snapshot_request& m, v1::RaftMessage& out) {
  auto& body = *out.mutable_snapshot_request();
  body.set_term(m.term);
  *body.mutable_meta() = to_proto(m.snap.meta);
  body.set_data(m.snap.data);
}

void encode(const timeout_now& m, v1::RaftMessage& out) {
  out.mutable_timeout_now()->set_term(m.term);
}

caf::expected<entry> decode(const v1::RaftEntry& in) {
  entry e;
  e.index = in.index();
  e.term = in.term();
  switch (in.kind()) {
    case v1::RAFT_ENTRY_KIND_COMMAND:
      e.kind = entry_kind::command;
      break;
    case v1::RAFT_ENTRY_KIND_NOOP:
      e.kind = entry_kind::noop;
      break;
    case v1::RAFT_ENTRY_KIND_CONFIG:
      e.kind = entry_kind::config;
      break;
    default:
      return make_error(errc::bad_message, "raft entry " + std::to_string(e.index)
                                             + " has unknown kind "
                                             + std::to_string(in.kind()));
  }
  e.command = in.payload();
  if (e.kind == entry_kind::config && !decode_membership(e.command))
    return make_error(errc::bad_message, "raft config entry " + std::to_string(e.index)
                                           + " does not hold a membership");
  return e;
}

vote_request decode(const v1::VoteRequest& in) {
  vote_request m;
  m.term = in.term();
  m.pre_vote = in.pre_vote();
  m.last_log_index = in.last_log_index();
  m.last_log_term = in.last_log_term();
  m.transfer = in.transfer();
  return m;
}

vote_response decode(const v1::VoteResponse& in) {
  vote_response m;
  m.term = in.term();
  m.pre_vote = in.pre_vote();
  m.granted = in.granted();
  return m;
}

caf::expected<append_request> decode(const v1::AppendRequest& in) {
  append_request m;
  m.term = in.term();
  m.prev_log_index = in.prev_log_index();
  m.prev_log_term = in.prev_log_term();
  m.entries.reserve(in.entries_size());
  for (auto& e : in.entries()) {
    auto decoded = decode(e);
    if (!decoded)
      return decoded.error();
    m.entries.push_back(std::move(*decoded));
  }
  m.leader_commit = in.leader_commit();
  m.heartbeat = in.heartbeat();
  m.read_context = in.read_context();
  return m;
}

append_response decode(const v1::AppendResponse& in) {
  append_response m;
  m.term = in.term();
  m.success = in.success();
  m.heartbeat = in.heartbeat();
  m.match_index = in.match_index();
  m.rejected_index = in.rejected_index();
  m.hint_index = in.hint_index();
  m.read_context = in.read_context();
  return m;
}

caf::expected<snapshot_request> decode(const v1::SnapshotRequest& in) {
  snapshot_request m;
  m.term = in.term();
  auto meta = from_proto(in.meta());
  if (!meta)
    return meta.error();
  m.snap.meta = std::move(*meta);
  m.snap.data = in.data();
  return m;
}

template <class T>
caf::expected<message> as_message(caf::expected<T> x) {
  if (!x)
    return x.error();
  return message{std::move(*x)};
}

caf::expected<message> decode_body(const v1::RaftMessage& in) {
  switch (in.body_case()) {
    case v1::RaftMessage::kVoteRequest:
      return message{decode(in.vote_request())};
    case v1::RaftMessage::kVoteResponse:
      return message{decode(in.vote_response())};
    case v1::RaftMessage::kAppendRequest:
      return as_message(decode(in.append_request()));
    case v1::RaftMessage::kAppendResponse:
      return message{decode(in.append_response())};
    case v1::RaftMessage::kSnapshotRequest:
      return as_message(decode(in.snapshot_request()));
    case v1::RaftMessage::kTimeoutNow:
      return message{timeout_now{no_node, no_node, in.timeout_now().term()}};
    default:
      return make_error(errc::bad_message, "RaftMessage without a body");
  }
}

} // namespace

v1::RaftMessage to_proto(const message& m) {
  v1::RaftMessage out;
  out.set_from(message_from(m));
  out.set_to(message_to(m));
  std::visit([&out](const auto& body) { encode(body, out); }, m);
  return out;
}

caf::expected<message> from_proto(const v1::RaftMessage& in) {
  if (in.from() == no_node || in.to() == no_node)
    return make_error(errc::bad_message, "RaftMessage without from or to");
  auto m = decode_body(in);
  if (!m)
    return m.error();
  std::visit(
    [&in](auto& body) {
      body.from = in.from();
      body.to = in.to();
    },
    *m);
  return m;
}

v1::RaftMembership to_proto(const membership& m) {
  v1::RaftMembership out;
  for (auto& [id, name] : m.voters) {
    auto* x = out.add_voters();
    x->set_id(id);
    x->set_name(name);
  }
  for (auto& [id, name] : m.learners) {
    auto* x = out.add_learners();
    x->set_id(id);
    x->set_name(name);
  }
  return out;
}

caf::expected<membership> from_proto(const v1::RaftMembership& in) {
  membership out;
  for (auto& x : in.voters())
    if (x.id() == no_node || !out.voters.emplace(x.id(), x.name()).second)
      return make_error(errc::bad_message, "membership has a zero or repeated voter id");
  for (auto& x : in.learners())
    if (x.id() == no_node || out.voters.count(x.id()) != 0
        || !out.learners.emplace(x.id(), x.name()).second)
      return make_error(errc::bad_message,
                        "membership has a zero or repeated learner id");
  return out;
}

v1::RaftSnapshotMeta to_proto(const snapshot_meta& m) {
  v1::RaftSnapshotMeta out;
  out.set_index(m.index);
  out.set_term(m.term);
  *out.mutable_membership() = to_proto(m.members);
  return out;
}

caf::expected<snapshot_meta> from_proto(const v1::RaftSnapshotMeta& in) {
  auto members = from_proto(in.membership());
  if (!members)
    return members.error();
  return snapshot_meta{in.index(), in.term(), std::move(*members)};
}

std::string encode_membership(const membership& m) {
  // Protobuf serialization of repeated fields in the order given is
  // deterministic, and std::map iterates in ascending id order.
  return to_proto(m).SerializeAsString();
}

std::optional<membership> decode_membership(std::string_view bytes) {
  v1::RaftMembership in;
  if (!in.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return std::nullopt;
  auto m = from_proto(in);
  if (!m)
    return std::nullopt;
  return std::move(*m);
}

} // namespace troupe::raft
