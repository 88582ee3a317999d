// Plain value types of the Raft core: ids, log entries, hard state, the four
// wire messages, the configuration, and the `ready` batch the core hands back.
// Nothing here knows about CAF or I/O; the actor shell maps messages to
// protobuf (proto/) and ready batches to storage writes and sends.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace troupe::raft {

using node_id = std::uint64_t;
using term_t = std::uint64_t;
using index_t = std::uint64_t;

/// Means "no node" in voted_for and leader hints. Real node ids are > 0.
inline constexpr node_id no_node = 0;

enum class entry_kind : std::uint8_t {
  /// A client command, handed to the state machine when committed.
  command,
  /// Appended by each new leader so that entries of earlier terms can commit
  /// (Raft paper, section 8). The state machine skips it.
  noop,
};

struct entry {
  term_t term = 0;
  index_t index = 0;
  entry_kind kind = entry_kind::command;
  std::string command;
  friend bool operator==(const entry&, const entry&) = default;
};

/// The state a member must persist (fsync) before acting on it.
struct hard_state {
  term_t term = 0;
  node_id voted_for = no_node;
  friend bool operator==(const hard_state&, const hard_state&) = default;
};

/// What a restarting member reads back from its storage.
struct persisted_state {
  hard_state state;
  /// Contiguous, starting at index 1 (snapshots will move the start later).
  std::vector<entry> log;
};

/// RequestVote, also used for pre-vote. A pre-vote carries the term the sender
/// *would* campaign at (its term + 1) and changes no receiver's term or vote.
struct vote_request {
  node_id from = no_node;
  node_id to = no_node;
  term_t term = 0;
  bool pre_vote = false;
  index_t last_log_index = 0;
  term_t last_log_term = 0;
};

/// Answer to vote_request. A granted pre-vote echoes the requested term; every
/// other response carries the responder's current term.
struct vote_response {
  node_id from = no_node;
  node_id to = no_node;
  term_t term = 0;
  bool pre_vote = false;
  bool granted = false;
};

/// AppendEntries. An empty `entries` with `heartbeat` set is a heartbeat; its
/// prev_log_index is the follower's known match index.
struct append_request {
  node_id from = no_node;
  node_id to = no_node;
  term_t term = 0;
  index_t prev_log_index = 0;
  term_t prev_log_term = 0;
  std::vector<entry> entries;
  index_t leader_commit = 0;
  bool heartbeat = false;
};

/// Answer to append_request. On success, match_index is the last index known
/// to equal the leader's log. On rejection, rejected_index is the request's
/// prev_log_index and hint_index is where the leader should retry (the
/// follower's last index + 1, or the first index of the conflicting term).
struct append_response {
  node_id from = no_node;
  node_id to = no_node;
  term_t term = 0;
  bool success = false;
  bool heartbeat = false;
  index_t match_index = 0;
  index_t rejected_index = 0;
  index_t hint_index = 0;
};

using message = std::variant<vote_request, vote_response, append_request, append_response>;

node_id message_from(const message& m);
node_id message_to(const message& m);
term_t message_term(const message& m);

struct config {
  node_id id = no_node;
  /// All voting members including `id`. The set is fixed at construction:
  /// membership change (issue 3) is not built yet, and will carry the
  /// configuration in the log instead.
  std::vector<node_id> members;
  /// A follower campaigns after a random timeout in
  /// [election_timeout_ticks, 2 * election_timeout_ticks).
  std::uint32_t election_timeout_ticks = 10;
  /// Must be well below election_timeout_ticks so one lost heartbeat does not
  /// start an election.
  std::uint32_t heartbeat_interval_ticks = 2;
  /// Limit on entries carried by one append_request (batching).
  std::uint32_t max_entries_per_append = 64;
  /// Limit on unacknowledged append_requests per follower (pipelining).
  std::uint32_t max_inflight_appends = 8;
  /// Limit on entries the leader holds that are not yet committed; propose
  /// returns `overloaded` beyond it.
  std::uint32_t max_uncommitted_entries = 4096;
  bool pre_vote = true;
  bool check_quorum = true;
};

/// Output of the core since the last take_ready(). The caller must handle it
/// in this order:
///  1. persist: write `state` (if set) and `entries` (drop every stored entry
///     with index >= entries.front().index, then append), and fsync;
///  2. send `messages` (they may promise what step 1 wrote);
///  3. apply `committed` to the state machine, in order.
/// Crashing anywhere in between is safe as long as 1 finished before 2 began.
struct ready {
  std::optional<hard_state> state;
  std::vector<entry> entries;
  std::vector<message> messages;
  std::vector<entry> committed;
  bool empty() const {
    return !state && entries.empty() && messages.empty() && committed.empty();
  }
};

/// What a caller of propose() should do next.
enum class propose_error : std::uint8_t {
  /// Send the command to `leader_hint` (if known) or retry later.
  not_leader,
  /// Too many uncommitted entries; back off and retry.
  overloaded,
};

struct proposal {
  index_t index = 0;
  term_t term = 0;
};

struct propose_result {
  std::optional<proposal> accepted;
  propose_error error = propose_error::not_leader;
  node_id leader_hint = no_node;
  explicit operator bool() const { return accepted.has_value(); }
};

/// Thrown when an internal invariant breaks (a programmer error). Fatal: the
/// owner must discard the core; the supervisor restarts it from storage.
struct invariant_violation : std::logic_error {
  using std::logic_error::logic_error;
};

} // namespace troupe::raft
