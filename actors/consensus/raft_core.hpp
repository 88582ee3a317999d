// The Raft consensus algorithm as a plain, deterministic state machine: no
// threads, no clocks, no I/O, no CAF. The actor shell drives it and carries
// out what it asks for (STYLE.md practice 1; the shape follows etcd-raft's
// "ready" loop).
//
// Inputs:
//   tick()         one unit of logical time; the shell calls it on a timer.
//                  Election and heartbeat timeouts are counted in ticks.
//   step(m)        a message from a peer (stale, duplicated and reordered
//                  messages are all fine).
//   propose(cmd)   a client command; only the leader accepts it.
// Output:
//   take_ready()   everything the core asks for since the last call, see
//                  `ready` in raft_types.hpp. CONTRACT: persist ready.state and
//                  ready.entries durably *before* sending ready.messages, since
//                  votes and acknowledgements in those messages promise that
//                  the state is on disk. Apply ready.committed after persisting.
//
// Implemented: leader election with randomized timeouts, pre-vote,
// check-quorum (with the follower-side leader lease), log replication with
// batching and pipelining, conflict-hinted backoff, the commit rule that
// only counts entries of the current term, membership change one member at
// a time (learners, promote, remove), snapshots with log compaction and
// InstallSnapshot, leadership transfer, and ReadIndex.
//
// Invariants (commit <= last index, terms never decrease, a leader never
// truncates its own log, commit never moves back) are checked after every
// input; a violation throws invariant_violation.
#pragma once

#include "actors/consensus/raft_log.hpp"
#include "actors/consensus/raft_types.hpp"

#include <cstdint>
#include <deque>
#include <map>
#include <random>
#include <string>

namespace troupe::raft {

enum class role : std::uint8_t { follower, pre_candidate, candidate, leader };

const char* to_string(role r);

class raft_core {
public:
  /// `restored` is what storage holds (empty for a fresh member). `seed` feeds
  /// the election timeout randomization; give members different seeds.
  raft_core(config cfg, persisted_state restored, std::uint64_t seed);

  /// Advances logical time by one tick.
  void tick();

  /// Handles a message addressed to this member.
  void step(const message& m);

  /// Appends `command` to the log if this member leads. The entry is not
  /// committed yet: it shows up in ready.committed once it is (or never, if
  /// leadership is lost first).
  propose_result propose(std::string command);

  /// Leader only: appends a config entry for `change` applied to the current
  /// membership. Refused (propose_error::rejected) while an earlier config
  /// entry is uncommitted or when the change does not fit.
  propose_result propose_change(const membership_change& change);

  /// Leader only: hands leadership to voter `target`. Proposals are refused
  /// with not_leader (hint = target) until the transfer completes or
  /// transfer_timeout_ticks pass. Returns not_leader, or rejected for a
  /// target that is not another voter. When accepted, `accepted` is
  /// {last log index, term}: the target campaigns once it has the log up to
  /// there. A second call replaces the target and restarts the timeout.
  propose_result transfer_leadership(node_id target);

  /// Leader only: asks for a linearizable read point. Once a quorum confirms
  /// leadership (and this term has committed an entry), ready.reads carries
  /// {context, commit index}. On leadership loss the context shows up in
  /// ready.failed_reads. Returns not_leader or overloaded when refused;
  /// `accepted` is then empty. A single-voter group confirms at once.
  /// When accepted, `accepted->term` is the leader's term and
  /// `accepted->index` the read index if already known, else 0 (it is known
  /// once this term has committed an entry). Contexts are opaque to the core;
  /// give each pending read its own.
  propose_result read_index(std::uint64_t context);

  /// The state machine's snapshot after applying `index` (<= applied index).
  /// The core keeps it to send to lagging followers and drops log entries
  /// up to index - snapshot_trailing_entries; ready.snap / compact_before
  /// tell the shell what to persist.
  void compact(index_t index, std::string data);

  /// True if take_ready() would return something.
  bool has_ready() const;

  /// Hands over the pending output and clears it.
  ready take_ready();

  // -- observers, for the shell's status reports and for tests ---------------

  node_id id() const { return cfg_.id; }
  role current_role() const { return role_; }
  term_t term() const { return term_; }
  node_id voted_for() const { return voted_for_; }
  node_id leader() const { return leader_; }
  index_t commit_index() const { return commit_; }
  const raft_log& log() const { return log_; }
  /// The leader's view of a follower's replication; 0 if unknown.
  index_t match_index(node_id peer) const;
  /// The membership in effect (the newest config entry, even uncommitted).
  const membership& members() const;
  /// Index of the newest snapshot (0 = none).
  index_t snapshot_index() const;
  /// True while a leadership transfer is under way on this leader.
  bool transferring() const;

private:
  enum class progress_mode : std::uint8_t { probe, replicate, snapshot };

  /// The leader's view of one follower (Raft's nextIndex/matchIndex plus the
  /// flow control that etcd-raft calls Progress).
  struct progress {
    index_t match = 0;
    index_t next = 1;
    progress_mode mode = progress_mode::probe;
    bool probe_sent = false;       // in probe mode: one append is outstanding
    std::deque<index_t> inflight;  // in replicate mode: last index of each send
    bool recent_active = false;    // heard from since the last quorum check
    std::uint64_t read_ack = 0;    // newest read sequence number it echoed
    index_t pending_snapshot = 0;  // in snapshot mode: the index sent
    std::uint32_t snapshot_elapsed = 0; // in snapshot mode: ticks since sent
  };

  /// A ReadIndex request waiting for its quorum round.
  struct pending_read {
    std::uint64_t context = 0;
    std::uint64_t seq = 0; // sent as append_request::read_context
    index_t index = 0;     // 0 until this term has committed an entry
  };

  // tick helpers
  void tick_election();
  void tick_leader();
  void reset_election_timer();

  // role changes
  void become_follower(term_t term, node_id leader);
  /// Steps down to a higher term seen in a message not from its leader,
  /// without restarting the election timer.
  void adopt_term(term_t term);
  void become_pre_candidate();
  void become_candidate();
  void become_leader();
  void campaign(bool pre_vote, bool transfer = false);

  // message handlers
  bool step_term(const message& m);
  void on_vote_request(const vote_request& m);
  void on_vote_response(const vote_response& m);
  /// Accepts `leader` for the current term (a message from it arrived) and
  /// starts the answer to it.
  append_response follow(node_id leader);
  void on_append_request(const append_request& m);
  void on_append_response(const append_response& m);
  void on_timeout_now(const timeout_now& m);
  void on_snapshot_request(const snapshot_request& m);
  void reject_stale(const message& m);

  // replication
  void send_append(node_id peer, progress& pr);
  void send_heartbeat(node_id peer, const progress& pr);
  void send_snapshot(node_id peer, progress& pr);
  void restore(persisted_state& restored);
  const membership& membership_at(index_t index) const;
  void broadcast_append();
  void broadcast_heartbeat();
  void on_append_success(node_id peer, progress& pr, const append_response& m);
  void on_append_reject(node_id peer, progress& pr, const append_response& m);
  bool maybe_commit();
  void advance_commit(index_t new_commit);
  void append_local(entry_kind kind, std::string command);
  void store_entries_from(index_t from, const std::vector<entry>& entries);

  // leadership transfer
  void maybe_send_timeout_now(node_id peer, const progress& pr);
  void abort_transfer();
  propose_result refuse_while_transferring() const;

  // ReadIndex
  bool committed_in_term() const;
  void assign_read_indexes();
  std::uint64_t confirmed_read_seq() const;
  void release_reads();
  void fail_reads();

  // membership
  void note_appended(const entry& e);
  void note_truncated(index_t from);
  void on_membership_change();
  index_t newest_config_index() const;
  bool may_campaign() const;
  std::size_t granted_votes() const;
  void step_down_if_removed();
  void finish_input();

  // helpers
  std::size_t quorum() const { return members().voters.size() / 2 + 1; }
  bool is_voter(node_id id) const { return members().is_voter(id); }
  bool in_leader_lease() const;
  void send(message m);
  void check_invariants();

  config cfg_;
  /// The membership before the first config entry in the log: the
  /// snapshot's, or cfg.initial. The one in effect is the newest of configs_.
  membership base_members_;
  std::map<index_t, membership> configs_; // config entries in the log
  std::mt19937_64 rng_;

  // persistent state (mirrored to storage through ready)
  term_t term_ = 0;
  node_id voted_for_ = no_node;
  raft_log log_;

  // volatile state
  role role_ = role::follower;
  node_id leader_ = no_node;
  index_t commit_ = 0;
  index_t applied_ = 0; // highest index handed out in ready.committed
  std::uint32_t election_elapsed_ = 0;
  std::uint32_t randomized_timeout_ = 0;
  std::uint32_t heartbeat_elapsed_ = 0;
  std::map<node_id, bool> votes_;        // candidate: responses so far
  std::map<node_id, progress> progress_; // leader: one per other member
  std::deque<pending_read> reads_;       // leader: oldest first
  std::uint64_t next_read_seq_ = 1;      // never reused, not even across terms
  node_id transfer_target_ = no_node;    // leader: transferring to it
  std::uint32_t transfer_elapsed_ = 0;   // ticks since the transfer began
  bool timeout_now_sent_ = false;

  // pending output
  hard_state persisted_state_;     // last hard state handed out
  index_t unstable_from_ = 0;      // lowest log index changed since, 0 = none
  std::vector<message> outbox_;
  std::optional<snapshot> snapshot_; // the newest, kept for lagging followers
  bool snap_unstable_ = false;       // snapshot_ not handed out in a ready yet
  bool snap_received_ = false;       // ... and it came from the leader
  index_t compact_before_ = 0;       // pending ready.compact_before
  std::vector<read_state> ready_reads_;
  std::vector<std::uint64_t> failed_reads_;

  // invariant tracking
  term_t checked_term_ = 0;
  index_t checked_commit_ = 0;
};

} // namespace troupe::raft
