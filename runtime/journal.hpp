// The decision journal: every suspicion, downing, rejoin, placement change,
// restart, escalation and injected fault, with time, node and reason
// (docs/journal.md).
//
// Entries live in the consensus group's system keyspace, one key each:
//   /troupe/sys/journal/<seq, 20 zero-padded digits>  ->  JSON
//   {"seq":N,"time_ms":T,"kind":K,"node":"<subject node>","by":"<decider>",
//    "subject":"<actor, may be empty>","reason":"<one line>"}
// Only the controller on the Raft leader writes them, in the same
// transaction as the decision they explain, so an entry exists exactly when
// its decision committed. Readers (troupectl events, the dashboard) use an
// ordinary KV range over the prefix; keys sort by seq.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace troupe::journal {

inline constexpr std::string_view prefix = "/troupe/sys/journal/";

/// The journal keeps at most this many entries: the controller deletes the
/// oldest ones as it writes new ones (about 2 MB of keyspace at 200 B each).
inline constexpr std::uint64_t max_entries = 10000;

struct entry {
  std::uint64_t seq = 0;
  std::int64_t time_ms = 0;  // wall clock, ms since the epoch
  std::string kind;          // suspect, down, up, join, rejoin, leave, placement,
                             // restart, escalation, fault
  std::string node;          // the node the entry is about
  std::string by;            // the node that decided or observed it
  std::string subject;       // an actor or other object, may be empty
  std::string reason;
};

/// The key of entry `seq`.
std::string key_for(std::uint64_t seq);

/// The seq of a journal key, nullopt if `key` is not one.
std::optional<std::uint64_t> seq_of(std::string_view key);

std::string to_json(const entry& e);

/// nullopt if `json` is not an entry (a reader skips it).
std::optional<entry> from_json(std::string_view json);

/// One line for humans: "2026-12-01T23:41:07.123Z #12 down n3 (by n1): ...".
std::string render(const entry& e);

} // namespace troupe::journal
