#include "runtime/supervisor.hpp"

#include "net/errors.hpp"
#include "runtime/logging.hpp"
#include "runtime/supervisor_policy.hpp"
#include "runtime/supervisor_table.hpp"
#include "runtime/type_ids.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include <algorithm>
#include <deque>
#include <exception>
#include <optional>
#include <utility>

namespace troupe {

namespace {

using child_slots = std::vector<child_slot>;

enum class phase {
  idle,          // children run; exits are handled as they come
  restarting,    // stopping siblings one by one, then starting start_queue
  shutting_down, // stopping every child one by one, then exiting
};

// A crash seen while the supervisor was busy; handled once it is idle.
struct deferred_exit {
  size_t index;
  uint64_t incarnation;
  caf::error reason;
};

struct supervisor_state {
  static inline const char* name = "troupe.supervisor";
  std::string sup_name;
  restart_strategy strategy = restart_strategy::one_for_one;
  restart_intensity intensity;
  restart_window window{restart_intensity{}};
  std::shared_ptr<local_actors> table;
  // Shared with the functor that takes the children down when this actor
  // dies: CAF destroys the state before it runs attached functors.
  std::shared_ptr<child_slots> children = std::make_shared<child_slots>();
  phase current = phase::idle;
  std::deque<size_t> stop_queue;   // the next child to stop is at the front
  std::vector<size_t> start_queue; // start order, once the stops are done
  std::deque<deferred_exit> deferred;
  caf::error exit_reason; // while shutting down
};

using supervisor_actor = caf::stateful_actor<supervisor_state>;

child_slot& slot_at(supervisor_actor* self, size_t index) {
  return (*self->state.children)[index];
}

std::optional<size_t> find_child(supervisor_actor* self,
                                 const caf::actor_addr& who) {
  auto& children = *self->state.children;
  for (size_t i = 0; i < children.size(); ++i)
    if (children[i].handle && children[i].handle.address() == who)
      return i;
  return std::nullopt;
}

bool is_queued(const std::vector<size_t>& queue, size_t index) {
  return std::find(queue.begin(), queue.end(), index) != queue.end();
}

bool any_stopping(supervisor_actor* self) {
  auto& children = *self->state.children;
  return std::any_of(children.begin(), children.end(),
                     [](const child_slot& slot) { return slot.stopping; });
}

// -- starting -----------------------------------------------------------------

caf::expected<caf::actor> launch(supervisor_actor* self, const child_slot& slot) {
  auto& st = self->state;
  child_context ctx{slot.spec.name, slot.incarnation, slot.gate, st.table};
  auto failed = [&](const std::string& why) {
    return caf::make_error(caf::sec::runtime_error,
                           "start of " + slot.spec.name + " failed: " + why);
  };
  if (!slot.spec.start)
    return failed("no start function");
  // A start function that throws is a child that crashed while starting:
  // it goes through the restart policy like any crash, bounded by intensity.
  try {
    auto handle = slot.spec.start(self, ctx);
    if (!handle)
      return failed("no actor returned");
    return handle;
  } catch (const std::exception& ex) {
    return failed(ex.what());
  }
}

// Starts the next incarnation of child `index`. A failed start is deferred
// like a crash, never retried in place, so a child that cannot start
// cannot spin inside one handler.
void start_child(supervisor_actor* self, size_t index) {
  auto& st = self->state;
  auto& slot = slot_at(self, index);
  ++slot.incarnation;
  if (slot.gate)
    slot.gate->reset();
  auto started = launch(self, slot);
  if (!started) {
    record_exit(*st.table, slot, "restarting", started.error());
    st.deferred.push_back({index, slot.incarnation, started.error()});
    return;
  }
  // Monitor, not link: CAF 0.17 makes an exit_msg carrying exit_reason::kill
  // fatal for its receiver, so a linked supervisor would die with every
  // killed child. Children die with us through guard_children instead.
  self->monitor(*started);
  slot.handle = std::move(*started);
  record_running(*st.table, slot);
}

// -- stopping -----------------------------------------------------------------

void finish_phase(supervisor_actor* self) {
  auto& st = self->state;
  if (st.current == phase::shutting_down) {
    self->quit(st.exit_reason);
    return;
  }
  auto queue = std::exchange(st.start_queue, {});
  st.current = phase::idle;
  for (auto index : queue) {
    ++slot_at(self, index).restarts;
    start_child(self, index);
  }
}

// Asks the next child in stop_queue to stop; children are stopped one at a
// time so each one may still use the siblings started before it.
void stop_next(supervisor_actor* self) {
  auto& st = self->state;
  while (!st.stop_queue.empty()) {
    auto index = st.stop_queue.front();
    st.stop_queue.pop_front();
    auto& slot = slot_at(self, index);
    if (!slot.handle)
      continue; // exited on its own meanwhile
    slot.stopping = true;
    self->send_exit(slot.handle, caf::exit_reason::user_shutdown);
    self->delayed_send(self, slot.spec.shutdown_timeout, stop_atom_v,
                       uint64_t{index}, slot.incarnation);
    return;
  }
  finish_phase(self);
}

void on_stop_timeout(supervisor_actor* self, uint64_t index,
                     uint64_t incarnation) {
  if (index >= self->state.children->size())
    return;
  auto& slot = slot_at(self, index);
  if (!slot.stopping || slot.incarnation != incarnation || !slot.handle)
    return; // stopped in time
  logger_for(self->state.sup_name)
    ->warn("killing {}: it did not stop within its shutdown timeout",
           slot.spec.name);
  self->send_exit(slot.handle, caf::exit_reason::kill);
}

void begin_shutdown(supervisor_actor* self, caf::error reason) {
  auto& st = self->state;
  if (st.current == phase::shutting_down)
    return;
  st.current = phase::shutting_down;
  st.exit_reason = std::move(reason);
  st.deferred.clear();
  st.start_queue.clear();
  st.stop_queue.clear();
  auto& children = *st.children;
  for (size_t i = children.size(); i-- > 0;) {
    auto& slot = children[i];
    if (slot.dropped)
      continue;
    if (!slot.handle)
      record_status(*st.table, slot.spec.name, "stopped");
    else if (!slot.stopping)
      st.stop_queue.push_back(i);
  }
  if (!any_stopping(self))
    stop_next(self);
}

// -- reacting to exits --------------------------------------------------------

void forget_child(supervisor_actor* self, size_t index) {
  auto& slot = slot_at(self, index);
  slot.dropped = true;
  self->state.table->erase_subtree(slot.spec.name);
}

// A child this supervisor asked to stop has exited.
void settle_stopped(supervisor_actor* self, size_t index,
                    const caf::error& reason) {
  auto& st = self->state;
  auto& slot = slot_at(self, index);
  if (st.current == phase::shutting_down)
    record_exit(*st.table, slot, "stopped", reason);
  else if (is_queued(st.start_queue, index))
    record_exit(*st.table, slot, "restarting", reason);
  else
    forget_child(self, index); // a temporary sibling: never restarted
}

void escalate(supervisor_actor* self, size_t index, const caf::error& reason) {
  auto& st = self->state;
  auto why = st.sup_name + " exceeded "
             + std::to_string(st.intensity.max_restarts) + " restarts in "
             + std::to_string(st.intensity.period.count()) + "ms (last: "
             + slot_at(self, index).spec.name + " exited with "
             + describe_exit(reason) + ")";
  logger_for(st.sup_name)->error("escalating: {}", why);
  record_status(*st.table, st.sup_name, "escalated");
  begin_shutdown(self, make_error(errc::escalated, why));
}

// Child `index` crashed (or exited and must be restarted): count it against
// the intensity and apply the strategy.
void restart_after(supervisor_actor* self, size_t index,
                   const caf::error& reason) {
  auto& st = self->state;
  if (!st.window.try_record(self->clock().now())) {
    escalate(self, index, reason);
    return;
  }
  logger_for(st.sup_name)
    ->warn("restarting {} after exit {}", slot_at(self, index).spec.name,
           describe_exit(reason));
  auto affected = affected_children(st.strategy, index, st.children->size());
  for (auto i : affected) {
    auto& slot = slot_at(self, i);
    if (slot.dropped)
      continue;
    if (i != index && slot.handle)
      st.stop_queue.push_front(i); // reverse start order
    if (slot.spec.kind != child_kind::temporary) {
      st.start_queue.push_back(i);
      record_status(*st.table, slot.spec.name, "restarting");
    }
  }
  st.current = phase::restarting;
  stop_next(self);
}

// Handles deferred crashes while the supervisor is idle. Called at the end
// of every handler, never from inside a restart, so restarts do not nest.
void pump(supervisor_actor* self) {
  auto& st = self->state;
  while (st.current == phase::idle && !st.deferred.empty()) {
    auto next = std::move(st.deferred.front());
    st.deferred.pop_front();
    auto& slot = slot_at(self, next.index);
    // A group restart may have started it again in the meantime.
    if (slot.handle || slot.dropped || slot.incarnation != next.incarnation)
      continue;
    restart_after(self, next.index, next.reason);
  }
}

// Child `index` exited without being asked to.
void child_crashed(supervisor_actor* self, size_t index, caf::error reason) {
  auto& st = self->state;
  auto& slot = slot_at(self, index);
  if (st.current == phase::shutting_down) {
    record_exit(*st.table, slot, "stopped", reason);
    return; // stop_next skips it
  }
  if (st.current == phase::restarting && is_queued(st.start_queue, index)) {
    record_exit(*st.table, slot, "restarting", reason);
    return; // already part of the running restart
  }
  // exit_reason::normal is the empty error in CAF 0.17.
  auto abnormal = static_cast<bool>(reason);
  if (should_restart(slot.spec.kind, abnormal)) {
    record_exit(*st.table, slot, "restarting", reason);
    st.deferred.push_back({index, slot.incarnation, std::move(reason)});
  } else if (slot.spec.kind == child_kind::temporary) {
    forget_child(self, index);
  } else {
    logger_for(st.sup_name)
      ->info("{} exited with {}; not restarting it", slot.spec.name,
             describe_exit(reason));
    record_exit(*st.table, slot, "stopped", reason);
  }
}

void on_child_down(supervisor_actor* self, caf::down_msg& msg) {
  auto index = find_child(self, msg.source);
  if (!index)
    return; // an incarnation that was already accounted for
  auto& slot = slot_at(self, *index);
  slot.handle = caf::actor{};
  if (is_escalation(msg.reason))
    record_escalation(*self->state.table, slot.spec.name);
  if (std::exchange(slot.stopping, false)) {
    settle_stopped(self, *index, msg.reason);
    stop_next(self);
  } else {
    child_crashed(self, *index, std::move(msg.reason));
  }
  pump(self);
}

// Any exit signal (from the parent, or from outside) means: stop. Signals
// with exit_reason::normal are ignored, as CAF's default handler does.
void on_exit_signal(supervisor_actor* self, caf::exit_msg& msg) {
  if (!msg.reason)
    return;
  logger_for(self->state.sup_name)
    ->info("stopping after exit signal {}", describe_exit(msg.reason));
  begin_shutdown(self, std::move(msg.reason));
}

// Makes the children die with this supervisor on every exit path. The
// orderly ones stop them first, so this only acts when the supervisor is
// killed (exit_reason::kill cannot be trapped) or fails unexpectedly.
void guard_children(supervisor_actor* self) {
  auto children = self->state.children;
  auto table = self->state.table;
  auto name = self->state.sup_name;
  auto addr = self->address();
  self->attach_functor([=](const caf::error& reason) {
    // A normal reason would not stop a child with CAF's default handler.
    caf::error signal = reason;
    if (!signal)
      signal = caf::exit_reason::user_shutdown;
    for (auto& slot : *children) {
      if (!slot.handle)
        continue;
      caf::anon_send(slot.handle, caf::exit_msg{addr, signal});
      record_exit(*table, slot, "stopped", signal);
    }
    record_own_exit(*table, name, addr, reason);
  });
}

void init_state(supervisor_actor* self, supervisor_spec& spec,
                std::shared_ptr<local_actors> table) {
  auto& st = self->state;
  st.sup_name = spec.name;
  st.strategy = spec.strategy;
  st.intensity = spec.intensity;
  st.window = restart_window{spec.intensity};
  st.table = std::move(table);
  // Our own entry was written by whoever spawned us; only we know the
  // strategy of a nested supervisor.
  st.table->update(st.sup_name, [&](local_actor_entry& entry) {
    entry.strategy = to_string(st.strategy);
  });
  uint32_t order = 0;
  for (auto& child : spec.children)
    st.children->push_back(
      adopt_child(*st.table, st.sup_name, std::move(child), order++));
}

caf::behavior supervisor(supervisor_actor* self, supervisor_spec spec,
                         std::shared_ptr<local_actors> table) {
  init_state(self, spec, std::move(table));
  self->set_down_handler(
    [self](caf::down_msg& msg) { on_child_down(self, msg); });
  self->set_exit_handler(
    [self](caf::exit_msg& msg) { on_exit_signal(self, msg); });
  guard_children(self);
  for (size_t i = 0; i < self->state.children->size(); ++i)
    start_child(self, i);
  // Children that failed to start are handled from the mailbox, not during
  // initialization, where the supervisor could not yet quit cleanly.
  if (!self->state.deferred.empty())
    self->send(self, restart_atom_v);
  return {
    [self](restart_atom) { pump(self); },
    [self](stop_atom, uint64_t index, uint64_t incarnation) {
      on_stop_timeout(self, index, incarnation);
    },
  };
}

} // namespace

child_spec supervisor_child(supervisor_spec spec, child_kind kind) {
  child_spec child;
  child.name = spec.name;
  child.type = "supervisor";
  child.kind = kind;
  child.mailbox_capacity = 0;
  // A nested supervisor stops its own children one by one before it exits,
  // so it gets the node's whole grace period rather than a worker's.
  child.shutdown_timeout
    = std::chrono::duration_cast<std::chrono::milliseconds>(
      defaults::shutdown_grace);
  child.start = [spec = std::move(spec)](caf::local_actor* parent,
                                         const child_context& ctx) {
    return parent->spawn(supervisor, spec, ctx.table);
  };
  return child;
}

caf::actor spawn_supervisor(caf::actor_system& sys, supervisor_spec spec,
                            std::shared_ptr<local_actors> table) {
  table->upsert(root_entry(spec));
  auto name = spec.name;
  auto handle = sys.spawn(supervisor, std::move(spec), table);
  table->update(name, [&](local_actor_entry& entry) {
    if (entry.status == "running") // not already dead
      entry.handle = handle;
  });
  return handle;
}

} // namespace troupe
