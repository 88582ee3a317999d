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
/// not routable by name).
child_spec supervisor_child(supervisor_spec spec,
                            child_kind kind = child_kind::permanent);

/// Spawns a root supervisor. Its entry has an empty parent. The supervisor
/// stops its children in reverse start order when it exits, and exits with
/// errc::escalated when its intensity is exceeded.
caf::actor spawn_supervisor(caf::actor_system& sys, supervisor_spec spec,
                            std::shared_ptr<local_actors> table);

} // namespace troupe
