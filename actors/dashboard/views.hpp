// Conversions from what the dashboard gathers (member entries, actor trees,
// Raft statuses, journal values) to the JSON records of its model, and the
// parser of browser messages. Plain functions, no CAF; docs/dashboard.md
// lists every field.
#pragma once

#include "runtime/members.hpp"

#include "troupe/cluster.pb.h"
#include "troupe/raft.pb.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace troupe::dashboard {

/// "up", "down", "left", and whatever MemberStatus gains ("joining",
/// "suspect"): the enum name without its prefix, in lower case.
std::string status_name(v1::MemberStatus status);

/// {id, status, since_ms, reason, roles, labels, region, zone, admin,
/// cluster, incarnation, version, started_ms}. region and zone come from
/// the labels of those names ("" if absent).
nlohmann::json node_record(const member_entry& m);

/// The actors of one node's tree as an object name -> {name, parent, type,
/// status, kind, restarts, escalations, mailbox, capacity, dropped,
/// incarnation, last_exit, depth}, at most `max_actors` of them (depth
/// first from the root).
nlohmann::json actor_records(const v1::ActorInfo& root, size_t max_actors);

/// Sum of messages_total over a tree (the node's message counter).
uint64_t messages_total(const v1::ActorInfo& root);

/// One member's answer to RaftStatusRequest, or why there is none.
struct raft_answer {
  std::string node_id;
  std::optional<v1::RaftStatus> status;
  std::string error;
};

/// {leader, term, members: [{node_id, member_id, role, term, commit,
/// applied, last_index, match, voter, error}], updated_ms}. The match
/// index is the leader's view; the leader is the node that reports itself
/// leader with the highest term.
nlohmann::json raft_record(const std::vector<raft_answer>& answers, int64_t now_ms);

/// Longest journal value accepted, in bytes.
inline constexpr size_t max_journal_value_bytes = 4096;

/// Parses a decision-journal value (HELPERS.md "Contracts": {"seq","time_ms",
/// "kind","node","by","subject","reason"}). nullopt if it is not a JSON
/// object with an integer seq, or longer than max_journal_value_bytes;
/// unknown fields are dropped, missing strings become "".
std::optional<nlohmann::json> journal_record(const std::string& value);

/// A message from a browser.
struct client_message {
  enum kind_t { resume, auth, kill, invalid };
  kind_t kind = invalid;
  uint64_t rev = 0;   // resume
  std::string token;  // auth
  std::string actor;  // kill
  std::string error;  // invalid: why, for the {"type":"error"} answer
};

/// Parses {"type":"resume","rev":N}, {"type":"auth","token":"..."} and
/// {"type":"kill","actor":"name"}. Anything else is `invalid` with a reason.
client_message parse_client_message(const std::string& text);

} // namespace troupe::dashboard
