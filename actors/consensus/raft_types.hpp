// Plain value types of the Raft core: ids, log entries, hard state, the four
// wire messages, the configuration, and the `ready` batch the core hands back.
// Nothing here knows about CAF or I/O; the actor shell maps messages to
// protobuf (proto/) and ready batches to storage writes and sends.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
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
  /// A membership change: `command` is encode_membership() of the whole new
  /// membership. It takes effect when appended, not when committed (Raft
  /// thesis, section 4.1: one server at a time). The state machine skips it.
  config,
};

/// The members of a group. Names are opaque to the core (the shell stores
/// node ids there, so that any member can map ids to addresses); only the id
/// sets matter for quorums. A member is in at most one of the two maps.
struct membership {
  /// Vote, count towards quorums and may lead.
  std::map<std::uint64_t, std::string> voters;
  /// Receive the log but neither vote nor count towards quorums.
  std::map<std::uint64_t, std::string> learners;
  bool contains(std::uint64_t id) const {
    return voters.count(id) != 0 || learners.count(id) != 0;
  }
  bool is_voter(std::uint64_t id) const { return voters.count(id) != 0; }
  friend bool operator==(const membership&, const membership&) = default;
};

/// The payload of an entry_kind::config entry. Deterministic bytes.
std::string encode_membership(const membership& m);
/// nullopt if `bytes` is not an encode_membership() result.
std::optional<membership> decode_membership(std::string_view bytes);

/// One change of a membership change request (at most one uncommitted at a
/// time, so that any two majorities of consecutive memberships overlap).
enum class change_kind : std::uint8_t {
  add_learner, // id must not be a member yet
  promote,     // id must be a learner
  remove,      // id must be a member; removing the leader makes it step down
               // once the entry commits
};

struct membership_change {
  change_kind kind = change_kind::add_learner;
  std::uint64_t id = 0;
  std::string name; // for add_learner
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

/// Where a snapshot ends: the state machine state after applying `index`.
struct snapshot_meta {
  index_t index = 0;
  term_t term = 0;
  /// The membership in effect at `index`.
  membership members;
  friend bool operator==(const snapshot_meta&, const snapshot_meta&) = default;
};

/// A state machine snapshot: its metadata and the state machine's bytes
/// (opaque to the core).
struct snapshot {
  snapshot_meta meta;
  std::string data;
  friend bool operator==(const snapshot&, const snapshot&) = default;
};

/// What a restarting member reads back from its storage.
struct persisted_state {
  hard_state state;
  /// Contiguous. Starts at index 1 without a snapshot; with one, at any index
  /// in [first kept, snap->meta.index + 1] (a compacted log may keep some
  /// entries the snapshot covers, for slow followers).
  std::vector<entry> log;
  /// The newest snapshot, if any. The state machine starts from it.
  std::optional<snapshot> snap;
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
  /// Set when the campaign follows a timeout_now (leadership transfer): the
  /// receiver then ignores its leader lease, since the leader asked for it.
  bool transfer = false;
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
  /// ReadIndex: a heartbeat carries the newest pending read context; a
  /// quorum echoing it confirms leadership for every read up to it.
  std::uint64_t read_context = 0;
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
  /// Echo of append_request::read_context.
  std::uint64_t read_context = 0;
};

/// InstallSnapshot: the leader sends its whole snapshot in one message when
/// a follower needs entries the leader has compacted away. The follower
/// answers with an append_response whose match_index is snap.meta.index.
struct snapshot_request {
  node_id from = no_node;
  node_id to = no_node;
  term_t term = 0;
  snapshot snap;
};

/// Leadership transfer: the leader tells an up-to-date target to campaign at
/// once, without pre-vote.
struct timeout_now {
  node_id from = no_node;
  node_id to = no_node;
  term_t term = 0;
};

using message = std::variant<vote_request, vote_response, append_request, append_response,
                             snapshot_request, timeout_now>;

node_id message_from(const message& m);
node_id message_to(const message& m);
term_t message_term(const message& m);

struct config {
  node_id id = no_node;
  /// The membership to start with when neither the restored snapshot nor the
  /// restored log holds a config entry: {id} alone to bootstrap a new group,
  /// or empty for a member that waits to be added by a leader (it never
  /// campaigns until it is a voter). Afterwards the membership comes from the
  /// log: the newest config entry, committed or not, is in effect.
  membership initial;
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
  /// After compact(), keep this many entries below the snapshot index, so a
  /// follower that is only a little behind still gets entries, not the whole
  /// snapshot.
  std::uint32_t snapshot_trailing_entries = 1000;
  /// A snapshot_request not answered within this many ticks is resent.
  std::uint32_t snapshot_retry_ticks = 50;
  /// A leadership transfer that has not completed within this many ticks
  /// (an election timeout by default) is abandoned and proposals resume.
  std::uint32_t transfer_timeout_ticks = 10;
  /// ReadIndex requests waiting for confirmation; read_index() refuses more.
  std::uint32_t max_pending_reads = 10000;
};

/// A confirmed ReadIndex: once the state machine has applied `index`, a read
/// for `context` is linearizable.
struct read_state {
  std::uint64_t context = 0;
  index_t index = 0;
};

/// Output of the core since the last take_ready(). The caller must handle it
/// in this order:
///  1. persist, atomically, and fsync:
///     - `snap` if set: store it as the newest snapshot. If `snap_received`,
///       drop the whole stored log too (the log restarts after
///       snap->meta.index);
///     - `state` if set;
///     - `entries`: drop every stored entry with index >= entries.front().index,
///       then append;
///     - `compact_before` if nonzero: drop stored entries with index < it
///       (always <= the newest snapshot's index + 1);
///  2. send `messages` (they may promise what step 1 wrote);
///  3. if `snap_received`, restore the state machine from `snap->data`; then
///     apply `committed` to the state machine, in order (skip non-commands);
///  4. answer `reads` once the state machine has applied their index, and
///     fail `failed_reads` (leadership was lost: retry on the new leader).
/// Crashing anywhere in between is safe as long as 1 finished before 2 began.
struct ready {
  std::optional<hard_state> state;
  std::vector<entry> entries;
  std::optional<snapshot> snap;
  bool snap_received = false;
  index_t compact_before = 0;
  std::vector<message> messages;
  std::vector<entry> committed;
  std::vector<read_state> reads;
  std::vector<std::uint64_t> failed_reads;
  bool empty() const {
    return !state && entries.empty() && !snap && compact_before == 0 && messages.empty()
           && committed.empty() && reads.empty() && failed_reads.empty();
  }
};

/// What a caller of propose() should do next.
enum class propose_error : std::uint8_t {
  /// Send the command to `leader_hint` (if known) or retry later. Also
  /// returned while a leadership transfer is under way (the hint is then the
  /// transfer target).
  not_leader,
  /// Too many uncommitted entries (or pending reads); back off and retry.
  overloaded,
  /// A membership change is not allowed now: another one is not committed
  /// yet, or the change does not fit the membership (adding a member twice,
  /// promoting a voter, removing a non-member, transferring to a non-voter).
  /// Fix the request or retry once the previous change commits.
  rejected,
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
