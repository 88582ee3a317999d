// How a supervisor writes its children into the node's local_actors table.
// Internal to the supervisor (supervisor.cpp); see supervisor.hpp for the
// lifecycle of an entry.
#pragma once

#include "runtime/local_actors.hpp"
#include "runtime/supervisor.hpp"

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/error.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace troupe {

/// One child as its supervisor sees it.
struct child_slot {
  child_spec spec;
  uint32_t order = 0;                 // position in the start order
  caf::actor handle;                  // valid while an incarnation runs
  std::shared_ptr<mailbox_gate> gate; // one object across incarnations
  uint64_t incarnation = 0;           // of the current or last incarnation
  uint32_t restarts = 0;              // by this supervisor instance
  bool stopping = false;              // asked to stop: its exit is no crash
  bool dropped = false;               // a temporary child that is gone
};

/// Builds the slot for `spec` under supervisor `parent`, taking the gate and
/// incarnation counter of an existing entry with the same name and parent,
/// and writes the slot's first entry (status "restarting" until it runs).
child_slot adopt_child(local_actors& table, const std::string& parent,
                       child_spec spec, uint32_t order);

/// The entry of a root supervisor, before it is spawned.
local_actor_entry root_entry(const supervisor_spec& spec);

/// Records that `slot` runs its current incarnation.
void record_running(local_actors& table, const child_slot& slot);

/// Records that `slot`'s incarnation exited with `reason` and sets `status`
/// ("restarting" or "stopped"); the entry loses its handle.
void record_exit(local_actors& table, const child_slot& slot,
                 const char* status, const caf::error& reason);

/// Sets only the status of the entry `name`.
void record_status(local_actors& table, const std::string& name,
                   const char* status);

/// Renders an exit reason for entries and logs: describe(), except that
/// exit_reason::normal (the empty error in CAF 0.17) reads "normal".
std::string describe_exit(const caf::error& reason);

/// Whether `reason` is errc::escalated. Safe on the empty error
/// (exit_reason::normal), on which caf::error::category() crashes in 0.17.
bool is_escalation(const caf::error& reason);

/// Counts one escalation of the nested supervisor `name`.
void record_escalation(local_actors& table, const std::string& name);

/// Records the exit of supervisor `name` in its own entry, if the entry
/// still points at `self` (so an old incarnation never overwrites a new
/// one): status "escalated" or "stopped", no handle, the rendered reason.
void record_own_exit(local_actors& table, const std::string& name,
                     const caf::actor_addr& self, const caf::error& reason);

} // namespace troupe
