// The actor shell that runs one Raft member: it owns a raft_core, feeds it
// ticks, peer messages and client proposals, and carries out each ready batch
// in the order the core demands (docs/raft.md, "The shell"):
//   1. persist the hard state and entries through a raft_persistence;
//   2. only once that write is durable, send the batch's messages through a
//      transport and apply its committed entries through `apply`.
// Batches are released strictly in order, so a batch with nothing to persist
// still waits behind an earlier one that is being written.
//
// Reachable by name as `raft/<node-id>`. Messages it handles (all envelopes,
// proto/troupe/raft.proto, except the two internal ones):
//   RaftMessage        one-way, from peers; no reply. Dropped (safe in Raft)
//                      when it does not parse or too many batches wait for
//                      persistence.
//   Propose            request -> ProposeReply, answered once the entry is
//                      applied here, or at once with NOT_LEADER (and a leader
//                      hint) or OVERLOADED. OUTCOME_UNKNOWN on leadership loss
//                      or timeout. Not idempotent by itself.
//   RaftStatusRequest  request -> RaftStatus, at once. Idempotent.
//   tick_atom          internal timer, every tick_interval.
//   persisted_atom     internal, from the persistence completion.
// A failed write or a broken core invariant stops the actor with an error
// (errc::storage_failure or caf::sec::runtime_error), so that its supervisor
// restarts it from storage; pending proposals get STOPPED first.
#pragma once

#include "actors/consensus/raft_core.hpp"
#include "actors/consensus/raft_persistence.hpp"
#include "net/envelope.hpp"
#include "runtime/local_actors.hpp"
#include "runtime/node_context.hpp"

#include "troupe/raft.pb.h"

#include <caf/behavior.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace troupe::raft {

/// Delivers `msg` (a packed RaftMessage) to member `to`. Called in the
/// shell's handler: must not block. Losing a message is safe.
using transport = std::function<void(caf::event_based_actor* self, node_id to,
                                     envelope msg)>;

/// Applies one committed command entry to the state machine and returns its
/// result (ProposeReply.result on the member that proposed it). Called in
/// log order, exactly once per entry per incarnation; never for no-ops.
using apply_fn = std::function<std::string(const entry&)>;

struct shell_config {
  config core;
  persisted_state restored;
  /// Seeds the core's election timeouts; give members different seeds.
  std::uint64_t seed = 0;
  /// One core tick. 10 ms with the core's default 10-tick election timeout
  /// gives elections after 100 to 200 ms of silence, within issue 3's
  /// failover target (p50 <= 300 ms) while a 20 ms heartbeat keeps idle
  /// clusters from spurious elections.
  std::chrono::milliseconds tick_interval{10};
  /// Proposals waiting to be applied; more get OVERLOADED.
  std::size_t max_pending_proposals = 10000;
  /// A proposal not applied within this many ticks (2 s at 10 ms) gets
  /// OUTCOME_UNKNOWN, so that a client never waits forever on a stalled
  /// quorum; callers still set their own request timeout.
  std::uint32_t proposal_timeout_ticks = 200;
  /// Ready batches waiting for persistence. Beyond it the shell sheds load:
  /// it drops peer messages, skips ticks and refuses proposals until the
  /// disk catches up (all safe in Raft).
  std::size_t max_readies_in_flight = 1024;
};

struct shell_deps {
  std::shared_ptr<raft_persistence> persistence;
  transport send;
  apply_fn apply;
  /// The mailbox gate of the name `raft/<node-id>`; null when not routable.
  std::shared_ptr<mailbox_gate> gate;
};

/// Counters for metrics and tests.
struct shell_counters {
  std::uint64_t dropped_messages = 0;   // unparseable or shed peer messages
  std::uint64_t proposals_failed = 0;   // answered with anything but OK
  std::uint64_t entries_applied = 0;
};

struct shell_state {
  struct pending_proposal {
    term_t term = 0;
    std::uint64_t deadline_tick = 0;
    caf::typed_response_promise<envelope> promise;
  };
  struct inflight_ready {
    std::uint64_t seq = 0;
    bool persisted = false;
    ready batch;
  };

  shell_config cfg;
  shell_deps deps;
  std::unique_ptr<raft_core> core;
  std::uint64_t ticks = 0;
  index_t applied = 0;
  std::uint64_t next_seq = 1;
  std::deque<inflight_ready> inflight;        // in submission order
  std::map<index_t, pending_proposal> pending; // by log index
  shell_counters counters;

  static inline const char* name = "raft_shell";
};

using shell_actor = caf::stateful_actor<shell_state>;

/// The behavior of one member. Starts the tick timer at once.
caf::behavior raft_shell(shell_actor* self, shell_config cfg, shell_deps deps);

/// The logical name of the member on node `node_id`: "raft/<node-id>".
std::string name_for(const std::string& node_id);

/// A transport over named sends: member `id` is reached at
/// name_for(node_names.at(id)). Unknown ids are dropped.
transport named_transport(node_context_ptr ctx,
                          std::map<node_id, std::string> node_names);

} // namespace troupe::raft
