// Supervisor trees with Erlang/OTP semantics.
//
// A supervisor starts its children in order, watches them, and restarts them
// according to its strategy and each child's kind. When restarts exceed its
// intensity (more than max_restarts within period), it stops all children and
// exits with errc::escalated, so its own supervisor decides (escalation).
//
// Every child and supervisor appears in the node's local_actors table with
// its status, restart count, incarnation and last exit; named children are
// reachable by name, and a restarted child keeps its name and mailbox gate,
// so callers sending by name reach the new incarnation without change.
//
// Exits and restarts:
// - An exit is abnormal unless its reason is exit_reason::normal; a kill or a
//   user_shutdown from outside is a crash. Exits the supervisor caused itself
//   (stopping siblings for a restart, shutting down) are stops, not crashes.
// - permanent children are always restarted, transient ones after abnormal
//   exits, temporary ones never. A temporary child that exits, or that is
//   stopped because a sibling's restart takes it down, is forgotten: the
//   supervisor drops it and its table entry is erased. A transient child that
//   exits normally stays in the table as "stopped"; one_for_all and
//   rest_for_one restarts start it again, as OTP does.
// - Every restart decision counts once against the intensity, however many
//   children it restarts. Each restarted child gets restarts+1 and
//   incarnation+1 in its entry, and its gate is reset (messages queued for
//   the dead incarnation died with it).
// - Siblings are stopped one at a time in reverse start order, each with
//   exit(user_shutdown); the next stop waits for the previous child's exit,
//   or for its shutdown_timeout, after which it is killed. Restarts happen
//   right after the last stop, in start order.
// - A start function that throws or returns no actor counts as a crash of
//   that child (reason sec::runtime_error, "start of NAME failed: ..."), at
//   the first start as on restarts; intensity bounds the retries.
//
// Shutdown: any exit signal the supervisor receives (from its parent, or
// anon_send_exit from outside) other than exit_reason::normal makes it stop
// its children in reverse start order and then exit with that same reason.
// Its children's entries (temporary ones included) stay in the table as
// "stopped" with no handle and their last exit. On its way out the
// supervisor marks its own entry "stopped" ("escalated" after an
// escalation); its parent may then restart it. A supervisor that dies
// without this orderly path (exit_reason::kill, which CAF never lets an
// actor trap) sends each running child an exit with its own reason on the
// way out and marks them "stopped", so no child outlives its supervisor.
//
// Entries: a supervisor writes the entries of its children; whoever starts a
// supervisor (its parent, or spawn_supervisor for the root) writes the
// supervisor's own entry before spawning it. When a supervisor starts a child
// whose name already has an entry under it (its previous instance was
// restarted by its own parent), the child keeps that entry's gate,
// incarnation counter and last exit; its restarts and escalations count from
// zero.
#pragma once

#include "runtime/defaults.hpp"
#include "runtime/local_actors.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/local_actor.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace troupe {

enum class restart_strategy {
  one_for_one,  // restart only the child that exited
  one_for_all,  // stop all other children, then restart all
  rest_for_one, // stop the children started after it, then restart those and it
};

enum class child_kind {
  permanent, // always restarted
  transient, // restarted only after an abnormal exit
  temporary, // never restarted
};

const char* to_string(restart_strategy x);
const char* to_string(child_kind x);

/// At most max_restarts restarts within period, else escalate.
struct restart_intensity {
  uint32_t max_restarts = defaults::max_restarts;
  std::chrono::milliseconds period = defaults::restart_period;
};

/// What a child's start function receives.
struct child_context {
  std::string name;        // the child's logical name
  uint64_t incarnation = 0; // 1 on first start, +1 on every restart
  std::shared_ptr<mailbox_gate> gate; // null unless the child is routable
  std::shared_ptr<local_actors> table;
};

struct supervisor_spec;

/// How to start one child. `start` spawns the child's actor (it must not
/// block); the supervisor links and monitors it afterwards.
struct child_spec {
  std::string name;
  std::string type;
  child_kind kind = child_kind::permanent;
  /// Reachable by name (gets a mailbox gate of this capacity); 0 = not routable.
  uint64_t mailbox_capacity = defaults::mailbox_capacity;
  /// How long the supervisor waits for the child to exit after asking it to
  /// stop (exit user_shutdown) before it kills the child. 5 s is OTP's
  /// default for workers; supervisor_child() uses defaults::shutdown_grace.
  std::chrono::milliseconds shutdown_timeout = std::chrono::seconds{5};
  std::function<caf::actor(caf::local_actor* supervisor, const child_context&)>
    start;
};

struct supervisor_spec {
  std::string name;        // e.g. "sup/node", "sup/diag"
  restart_strategy strategy = restart_strategy::one_for_one;
  restart_intensity intensity;
  std::vector<child_spec> children;
};

/// Makes a child_spec that runs a nested supervisor (type "supervisor",
/// not routable by name). Its parent restarts it like any child after it
/// escalates, and counts each escalation in the nested supervisor's entry.
child_spec supervisor_child(supervisor_spec spec,
                            child_kind kind = child_kind::permanent);

/// Spawns a root supervisor. Its entry has an empty parent. The supervisor
/// stops its children in reverse start order when it exits, and exits with
/// errc::escalated when its intensity is exceeded. Stop it with
/// caf::anon_send_exit(handle, caf::exit_reason::user_shutdown) and monitor
/// it to learn when every child has stopped.
caf::actor spawn_supervisor(caf::actor_system& sys, supervisor_spec spec,
                            std::shared_ptr<local_actors> table);

} // namespace troupe
