#include "runtime/supervisor_table.hpp"

#include "net/errors.hpp"

namespace troupe {

// release_outside_lock: the table may hold the last reference to a dead
// actor, and destroying an actor runs arbitrary destructors (its behavior's
// captures), so handles leave the table by move and die after update()
// has released the table's lock.

child_slot adopt_child(local_actors& table, const std::string& parent,
                       child_spec spec, uint32_t order) {
  child_slot slot;
  slot.order = order;
  // A supervisor restarted by its own parent starts its children afresh, but
  // callers may still hold the gate, and clients compare incarnations to
  // notice restarts, so both carry over from the previous instance's entry
  // (with the last exit, which tells why the child went down).
  std::string last_exit;
  auto previous = table.find(spec.name);
  if (previous && previous->parent == parent) {
    slot.incarnation = previous->incarnation;
    slot.gate = previous->gate;
    last_exit = previous->last_exit;
  }
  if (spec.mailbox_capacity == 0)
    slot.gate = nullptr;
  else if (slot.gate == nullptr)
    slot.gate = std::make_shared<mailbox_gate>(spec.mailbox_capacity);
  slot.spec = std::move(spec);
  local_actor_entry entry;
  entry.name = slot.spec.name;
  entry.type = slot.spec.type;
  entry.parent = parent;
  entry.order = order;
  entry.gate = slot.gate;
  entry.status = "restarting";
  entry.kind = to_string(slot.spec.kind);
  entry.incarnation = slot.incarnation;
  entry.last_exit = std::move(last_exit);
  table.upsert(std::move(entry));
  return slot;
}

local_actor_entry root_entry(const supervisor_spec& spec) {
  local_actor_entry entry;
  entry.name = spec.name;
  entry.type = "supervisor";
  entry.status = "running";
  entry.kind = to_string(child_kind::permanent);
  entry.strategy = to_string(spec.strategy);
  entry.incarnation = 1;
  return entry;
}

void record_running(local_actors& table, const child_slot& slot) {
  table.update(slot.spec.name, [&](local_actor_entry& entry) {
    entry.handle = slot.handle;
    entry.status = "running";
    entry.restarts = slot.restarts;
    entry.incarnation = slot.incarnation;
  });
}

void record_exit(local_actors& table, const child_slot& slot,
                 const char* status, const caf::error& reason) {
  caf::actor released; // see release_outside_lock
  table.update(slot.spec.name, [&](local_actor_entry& entry) {
    released = std::move(entry.handle);
    entry.status = status;
    // Also right for a start that failed: that attempt was an incarnation.
    entry.restarts = slot.restarts;
    entry.incarnation = slot.incarnation;
    entry.last_exit = describe_exit(reason);
  });
}

void record_status(local_actors& table, const std::string& name,
                   const char* status) {
  table.update(name,
               [&](local_actor_entry& entry) { entry.status = status; });
}

std::string describe_exit(const caf::error& reason) {
  // describe() renders the empty error as "ok"; an exit reads better as
  // "normal".
  return reason ? describe(reason) : "normal";
}

bool is_escalation(const caf::error& reason) {
  return reason && is(reason, errc::escalated);
}

void record_escalation(local_actors& table, const std::string& name) {
  table.update(name, [](local_actor_entry& entry) { ++entry.escalations; });
}

void record_own_exit(local_actors& table, const std::string& name,
                     const caf::actor_addr& self, const caf::error& reason) {
  caf::actor released; // see release_outside_lock
  table.update(name, [&](local_actor_entry& entry) {
    // A missing handle means whoever spawned us has not stored it yet (we
    // died at once) or has already seen our exit; either way we are the
    // latest incarnation it knows of.
    if (entry.handle && entry.handle.address() != self)
      return;
    released = std::move(entry.handle);
    entry.status = is_escalation(reason) ? "escalated" : "stopped";
    entry.last_exit = describe_exit(reason);
  });
}

} // namespace troupe
