// The actor shell that runs one Raft member: it owns a raft_core, feeds it
// ticks, peer messages and client requests, and carries out each ready batch
// in the order the core demands (docs/raft.md, "The shell"):
//   1. persist the snapshot, hard state and entries through a
//      raft_persistence;
//   2. only once that write is durable, send the batch's messages through a
//      transport, restore or apply the state machine, and answer reads.
// Batches are released strictly in order, so a batch with nothing to persist
// still waits behind an earlier one that is being written.
//
// Reachable by name as `raft/<node-id>`. Messages it handles (envelopes,
// proto/troupe/raft.proto, except the two internal atoms):
//   RaftMessage          one-way, from peers; no reply. Dropped (safe in Raft)
//                        when it does not parse or the member sheds load.
//   Propose              request -> ProposeReply, answered once the entry is
//                        applied here, or at once with NOT_LEADER (and a
//                        leader hint) or OVERLOADED. OUTCOME_UNKNOWN on
//                        leadership loss or timeout. Not idempotent by itself.
//   RaftStatusRequest    request -> RaftStatus, at once. Idempotent.
//   RaftMembershipChange request -> RaftAdminReply once the config entry is
//                        applied (leader only; NOT_LEADER elsewhere).
//   RaftTransferLeader   request -> RaftAdminReply once the target leads.
//   anything else        offered to the state machine's on_request (the KV
//                        service answers KvRequest and WatchRequest there).
//   tick_atom            internal timer, every tick_interval.
//   persisted_atom       internal, from the persistence completion.
// A failed write or a broken core invariant stops the actor with an error
// (errc::storage_failure or caf::sec::runtime_error), so that its supervisor
// restarts it from storage; pending requests are answered first. A full disk
// is different: the member pauses (it stops taking part, as if partitioned,
// and answers UNAVAILABLE), probes the disk every second and, once a write
// succeeds again, exits so that its supervisor restarts it from storage.
#pragma once

#include "actors/consensus/raft_core.hpp"
#include "actors/consensus/raft_persistence.hpp"
#include "net/envelope.hpp"
#include "runtime/local_actors.hpp"
#include "runtime/node_context.hpp"

#include "troupe/raft.pb.h"

#include <caf/behavior.hpp>
#include <caf/result.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace troupe::raft {

struct shell_state;
using shell_actor = caf::stateful_actor<shell_state>;

/// Delivers `msg` (a packed RaftMessage) to member `to`, hosted on node
/// `to_node` ("" when unknown). Called in the shell's handler: must not
/// block. Losing a message is safe.
using transport = std::function<void(caf::event_based_actor* self, node_id to,
                                     const std::string& to_node, envelope msg)>;

/// The replicated service on top of the log. Every call runs on the shell's
/// thread, so implementations need no locks.
class state_machine {
public:
  virtual ~state_machine() = default;
  /// Applies one committed command entry and returns its result
  /// (ProposeReply.result on the member that proposed it). Called in log
  /// order, exactly once per entry per incarnation; never for no-ops or
  /// config entries.
  virtual std::string apply(const entry& e) = 0;
  /// The whole state after the last apply(), for a Raft snapshot.
  virtual std::string snapshot() = 0;
  /// Replaces the state with a snapshot() result; false if it is unusable.
  virtual bool restore(const std::string& data) = 0;
  /// Requests the shell does not handle itself. nullopt: not handled (the
  /// shell answers unexpected_message).
  virtual std::optional<caf::result<envelope>> on_request(shell_actor*,
                                                          const envelope&) {
    return std::nullopt;
  }
  /// After every tick (leases, joining, timeouts).
  virtual void on_tick(shell_actor*) {}
  /// After a batch of entries was applied or a snapshot restored (watches).
  virtual void after_apply(shell_actor*) {}
  /// For RaftStatus.kv_revision: the state machine's own version counter.
  virtual std::int64_t revision() const { return 0; }
};

/// Thread-safe figures for metrics and /readyz, written by the shell after
/// every input and read by scrapers on other threads.
struct shell_stats {
  std::atomic<bool> has_leader{false};
  std::atomic<bool> is_leader{false};
  std::atomic<bool> is_voter{false};
  std::atomic<bool> disk_full{false};
  std::atomic<std::uint64_t> term{0};
  std::atomic<std::uint64_t> leader_changes{0};
  std::atomic<std::uint64_t> proposals_committed{0}; // commit index seen
  std::atomic<std::uint64_t> proposals_applied{0};   // applied index
  std::atomic<std::uint64_t> proposals_pending{0};
  std::atomic<std::uint64_t> proposals_failed{0};
  std::atomic<std::uint64_t> dropped_messages{0};
  std::atomic<std::uint64_t> snapshots{0};
  std::atomic<std::uint64_t> read_index_failed{0};
};

struct shell_config {
  config core;
  persisted_state restored;
  /// This member's node id, sent with every RaftMessage (from_node).
  std::string node_name;
  /// Seeds the core's election timeouts; give members different seeds.
  std::uint64_t seed = 0;
  /// One core tick. See actors/consensus/defaults (consensus_defaults.hpp)
  /// for the chosen values and why.
  std::chrono::milliseconds tick_interval{10};
  /// Proposals waiting to be applied; more get OVERLOADED.
  std::size_t max_pending_proposals = 10000;
  /// A proposal not applied within this many ticks (2 s at 10 ms) gets
  /// OUTCOME_UNKNOWN, so that a client never waits forever on a stalled
  /// quorum; callers still set their own request timeout.
  std::uint32_t proposal_timeout_ticks = 200;
  /// Linearizable reads waiting for ReadIndex or for apply; more get
  /// OVERLOADED, and one waiting longer than this many ticks fails.
  std::size_t max_pending_reads = 10000;
  std::uint32_t read_timeout_ticks = 200;
  /// Ready batches waiting for persistence. Beyond it the shell sheds load:
  /// it drops peer messages, skips ticks and refuses proposals until the
  /// disk catches up (all safe in Raft).
  std::size_t max_readies_in_flight = 1024;
  /// Take a snapshot and compact the log after this many applied entries.
  std::uint64_t snapshot_entries = 10000;
  /// While paused on a full disk, probe the disk every this many ticks.
  std::uint32_t disk_probe_ticks = 100;
};

struct shell_deps {
  std::shared_ptr<raft_persistence> persistence;
  transport send;
  std::shared_ptr<state_machine> machine;
  /// The mailbox gate of the name `raft/<node-id>`; null when not routable.
  std::shared_ptr<mailbox_gate> gate;
  /// Written after every input; may be null.
  std::shared_ptr<shell_stats> stats;
};

/// Counters for tests.
struct shell_counters {
  std::uint64_t dropped_messages = 0;   // unparseable or shed peer messages
  std::uint64_t proposals_failed = 0;   // answered with anything but OK
  std::uint64_t entries_applied = 0;
};

/// Called once with the outcome of a proposal: OK with the result, or why
/// not.
using proposal_done = std::function<void(const v1::ProposeReply&)>;

/// Called once when a linearizable read may go ahead (status OK), or with
/// why not (NOT_LEADER with a hint, OVERLOADED, OUTCOME_UNKNOWN on timeout).
using read_done = std::function<void(const v1::ProposeReply&)>;

struct shell_state {
  struct pending_proposal {
    term_t term = 0;
    std::uint64_t deadline_tick = 0;
    entry_kind kind = entry_kind::command;
    proposal_done done;
  };
  struct pending_read {
    std::uint64_t deadline_tick = 0;
    read_done done;
  };
  struct pending_transfer {
    node_id target = no_node;
    std::uint64_t deadline_tick = 0;
    caf::typed_response_promise<envelope> promise;
  };
  struct inflight_ready {
    std::uint64_t seq = 0;
    bool persisted = false;
    ready batch;
    index_t first_written = 0; // first log index the write replaces, 0 = none
    index_t last_written = 0;  // last log index it writes
  };

  shell_config cfg;
  shell_deps deps;
  std::unique_ptr<raft_core> core;
  std::uint64_t ticks = 0;
  index_t applied = 0;
  index_t last_snapshot = 0;
  std::uint64_t next_seq = 1;
  std::deque<inflight_ready> inflight;         // in submission order
  /// Every log entry up to here is on disk as the core has it: heartbeat
  /// answers that claim no more than this go out without waiting behind
  /// other batches' fsyncs.
  index_t durable_upto = 0;
  std::map<index_t, pending_proposal> pending; // by log index
  std::uint64_t next_read_context = 1;
  std::map<std::uint64_t, pending_read> reads_unconfirmed; // by context
  std::multimap<index_t, pending_read> reads_confirmed;    // by read index
  std::optional<pending_transfer> transfer;
  /// Learners the leader promotes once they have caught up (leader-local).
  std::map<node_id, std::uint64_t> auto_promote; // id -> tick added
  /// Node names of members and of anyone who sent us a message.
  std::map<node_id, std::string> node_names;
  node_id last_leader = no_node;
  /// Set while paused on a full disk: the reason, for replies.
  std::optional<std::string> disk_full;
  bool probing = false;
  shell_counters counters;

  static inline const char* name = "raft_shell";
};

/// The behavior of one member. Starts the tick timer at once.
caf::behavior raft_shell(shell_actor* self, shell_config cfg, shell_deps deps);

// -- the API the state machine's request handlers use --------------------------

/// Proposes `command` (leader only) and calls `done` once with the outcome.
void propose_command(shell_actor* self, std::string command, proposal_done done);

/// Waits until a read of the local state machine is linearizable (ReadIndex:
/// leader only) and calls `done` once.
void linearizable_read(shell_actor* self, read_done done);

/// Node id of the member believed to lead ("" when unknown).
std::string leader_node(const shell_state& st);

/// The logical name of the member on node `node_id`: "raft/<node-id>".
std::string name_for(const std::string& node_id);

/// The member id of the node named `node_id`: a 64-bit FNV-1a hash, never 0.
/// Stable across restarts and versions (it is stored in every log).
node_id member_id_for(const std::string& node_id);

/// A transport over named sends to name_for(to_node).
transport named_transport(node_context_ptr ctx);

} // namespace troupe::raft
