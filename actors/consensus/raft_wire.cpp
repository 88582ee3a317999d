#include "actors/consensus/raft_wire.hpp"

#include "net/errors.hpp"

#include <type_traits>

namespace troupe::raft {

namespace {

void encode(const entry& e, v1::RaftEntry& out) {
  out.set_index(e.index);
  out.set_term(e.term);
  out.set_kind(e.kind == entry_kind::noop ? v1::RAFT_ENTRY_KIND_NOOP
                                          : v1::RAFT_ENTRY_KIND_COMMAND);
  out.set_payload(e.command);
}

void encode(const vote_request& m, v1::RaftMessage& out) {
  auto& body = *out.mutable_vote_request();
  body.set_term(m.term);
  body.set_pre_vote(m.pre_vote);
  body.set_last_log_index(m.last_log_index);
  body.set_last_log_term(m.last_log_term);
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
}

void encode(const append_response& m, v1::RaftMessage& out) {
  auto& body = *out.mutable_append_response();
  body.set_term(m.term);
  body.set_success(m.success);
  body.set_heartbeat(m.heartbeat);
  body.set_match_index(m.match_index);
  body.set_rejected_index(m.rejected_index);
  body.set_hint_index(m.hint_index);
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
    default:
      return make_error(errc::bad_message, "raft entry " + std::to_string(e.index)
                                             + " has unknown kind "
                                             + std::to_string(in.kind()));
  }
  e.command = in.payload();
  return e;
}

vote_request decode(const v1::VoteRequest& in) {
  vote_request m;
  m.term = in.term();
  m.pre_vote = in.pre_vote();
  m.last_log_index = in.last_log_index();
  m.last_log_term = in.last_log_term();
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
  return m;
}

caf::expected<message> decode_body(const v1::RaftMessage& in) {
  switch (in.body_case()) {
    case v1::RaftMessage::kVoteRequest:
      return message{decode(in.vote_request())};
    case v1::RaftMessage::kVoteResponse:
      return message{decode(in.vote_response())};
    case v1::RaftMessage::kAppendRequest: {
      auto m = decode(in.append_request());
      if (!m)
        return m.error();
      return message{std::move(*m)};
    }
    case v1::RaftMessage::kAppendResponse:
      return message{decode(in.append_response())};
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

} // namespace troupe::raft
