#include "runtime/member_agent.hpp"

#include "net/envelope.hpp"
#include "net/errors.hpp"
#include "runtime/logging.hpp"
#include "runtime/system_keyspace.hpp"
#include "runtime/type_ids.hpp"

#include "troupe/control.pb.h"

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <algorithm>
#include <atomic>
#include <deque>
#include <set>

namespace troupe {

namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

// Fencing is checked every tick, so a node stops its placed actors within
// fence_after + tick of its last acknowledged heartbeat: 500 ms with the
// defaults, a clear 100 ms before any leader may down it (600 ms).
constexpr auto tick_interval = 50ms;
constexpr auto journal_scan_interval = 1s;
constexpr std::size_t max_outbox = 256;
constexpr auto leave_timeout = 1s;

std::int64_t mono_ms() {
  return std::chrono::duration_cast<milliseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

/// What /readyz reads from other threads.
struct fence_view {
  std::atomic<std::int64_t> last_ack_sent_ms{-1};
  std::atomic<bool> fenced{true};
  std::mutex mtx;
  std::string leader;
};

struct hosted_actor {
  caf::actor handle;
  std::string type;
  std::shared_ptr<mailbox_gate> gate;
  std::uint64_t incarnation = 0;
  std::deque<std::int64_t> restarts; // mono ms of recent restarts
};

struct agent_state {
  node_context_ptr ctx;
  member_agent_config cfg;
  placeable_types types;
  std::shared_ptr<fence_view> view;
  std::shared_ptr<spdlog::logger> log;
  // lease
  std::string leader;
  std::size_t rotate = 0;
  bool in_flight = false;
  std::string in_flight_to;
  std::int64_t last_sent_ms = 0;
  std::uint64_t known_revision = 0;
  v1::MemberStatus own_status = v1::MEMBER_STATUS_JOINING;
  // committed records, from the acks
  std::map<std::string, v1::MemberRecord> members;
  std::map<std::string, v1::PlacementRecord> placements;
  // placement host
  std::map<std::string, hosted_actor> hosted;
  std::set<std::string> escalated;
  // journal
  std::deque<v1::JournalAppend> outbox;
  std::map<std::string, std::pair<std::uint32_t, std::uint32_t>> tree_counts;
  bool tree_scanned = false;
  bool leaving = false;
  static inline const char* name = "member_agent";
};

using agent = caf::stateful_actor<agent_state>;

// -- talking to the controller --------------------------------------------------

struct controller_route {
  std::string node;
  caf::actor gateway;
};

std::optional<controller_route> controller(agent* self) {
  auto& st = self->state;
  if (!st.leader.empty()) {
    if (st.leader == st.ctx->self.node_id)
      return controller_route{st.leader, st.ctx->gateway};
    if (auto m = st.ctx->members.find(st.leader); m && m->gateway)
      return controller_route{st.leader, m->gateway};
  }
  if (auto r = pick_consensus_member(*st.ctx, st.rotate++))
    return controller_route{r->node_id, r->gateway};
  return std::nullopt;
}

// Asks control/<to.node>: the local controller directly (the gateway refuses
// routing once the node shuts down, and a leaving leader must still commit
// its own leave), any other through its node's gateway. `then` gets the
// reply envelope or nullopt on any error.
void ask_controller(agent* self, const controller_route& to, envelope msg,
                    milliseconds timeout, std::function<void(std::optional<envelope>)> then) {
  auto name = "control/" + to.node;
  auto on_error = [then](caf::error&) { then(std::nullopt); };
  if (to.node == self->state.ctx->self.node_id) {
    auto route = self->state.ctx->table->find_route(name);
    if (!route || !route->handle || (route->gate && !route->gate->try_enter())) {
      then(std::nullopt);
      return;
    }
    self->request(route->handle, timeout, std::move(msg))
      .then([then](const envelope& env) { then(env); }, on_error);
    return;
  }
  self->request(to.gateway, timeout, route_atom_v, name, std::move(msg))
    .then([then](const envelope& env) { then(env); }, on_error);
}

void journal(agent* self, std::string kind, std::string subject, std::string reason) {
  auto& st = self->state;
  if (st.outbox.size() >= max_outbox)
    st.outbox.pop_front(); // the oldest goes: the journal is bounded anyway
  v1::JournalAppend a;
  a.set_kind(std::move(kind));
  a.set_node(st.ctx->self.node_id);
  a.set_subject(std::move(subject));
  a.set_reason(std::move(reason));
  a.set_time_ms(wall_clock_ms());
  st.outbox.push_back(std::move(a));
}

// An append stays in the outbox until a controller took it: one that
// times out, or reaches a node that is no longer the leader (a fault that
// cut this node off, for example), goes back to the front and is sent again
// with a later heartbeat. A reply lost after the controller took it means a
// duplicate line, never a lost one. The outbox is bounded; past its limit
// the oldest entries go.
void flush_journal(agent* self, const controller_route& to) {
  auto& st = self->state;
  for (std::size_t i = 0; i < 16 && !st.outbox.empty(); ++i) {
    auto a = std::move(st.outbox.front());
    st.outbox.pop_front();
    auto msg = pack(a);
    ask_controller(self, to, std::move(msg), 1s,
                   [self, a = std::move(a)](std::optional<envelope> env) mutable {
                     if (env) {
                       auto reply = unpack<v1::ControlReply>(*env);
                       if (reply && reply->ok())
                         return;
                     }
                     auto& box = self->state.outbox;
                     if (box.size() < max_outbox)
                       box.push_front(std::move(a));
                   });
  }
}

// -- placed actors --------------------------------------------------------------------

void register_entry(agent* self, const std::string& name, const hosted_actor& h,
                    const std::string& status) {
  local_actor_entry e;
  e.name = name;
  e.type = h.type;
  e.parent = placement_host_name(self->state.ctx->self.node_id);
  e.handle = h.handle;
  e.gate = h.gate;
  e.status = status;
  e.kind = "placed";
  e.incarnation = h.incarnation;
  e.restarts = static_cast<std::uint32_t>(h.incarnation > 0 ? h.incarnation - 1 : 0);
  self->state.ctx->table->upsert(std::move(e));
}

void start_placed(agent* self, const std::string& name, hosted_actor& h) {
  auto& st = self->state;
  child_context c;
  c.name = name;
  c.incarnation = ++h.incarnation;
  c.gate = h.gate;
  c.table = st.ctx->table;
  h.gate->reset();
  h.handle = st.types.at(h.type)(self, c);
  self->monitor(h.handle);
  register_entry(self, name, h, "running");
}

void stop_placed(agent* self, const std::string& name, const std::string& why) {
  auto& st = self->state;
  auto i = st.hosted.find(name);
  if (i == st.hosted.end())
    return;
  st.ctx->table->erase_subtree(name);
  if (i->second.handle) {
    self->demonitor(i->second.handle);
    self->send_exit(i->second.handle, caf::exit_reason::user_shutdown);
  }
  st.log->info("placed actor {} stopped here: {}", name, why);
  st.hosted.erase(i);
}

void escalate(agent* self, const std::string& name, const std::string& why) {
  auto& st = self->state;
  st.escalated.insert(name);
  stop_placed(self, name, why);
  journal(self, "escalation", name, why);
}

void host(agent* self, const v1::PlacementRecord& rec) {
  auto& st = self->state;
  auto& name = rec.spec().name();
  if (st.hosted.count(name) || st.escalated.count(name))
    return;
  if (!st.types.count(rec.spec().type())) {
    escalate(self, name, "type '" + rec.spec().type() + "' is not placeable on this node");
    return;
  }
  auto& h = st.hosted[name];
  h.type = rec.spec().type();
  h.gate = std::make_shared<mailbox_gate>(st.ctx->self.mailbox_capacity);
  start_placed(self, name, h);
  st.log->info("placed actor {} ({}) runs here, epoch {}: {}", name, h.type, rec.epoch(),
               rec.reason());
}

bool fenced(const agent_state& st) {
  auto last = st.view->last_ack_sent_ms.load();
  return last < 0 || mono_ms() - last > st.cfg.fence_after.count();
}

void reconcile(agent* self) {
  auto& st = self->state;
  auto& me = st.ctx->self;
  bool may_host = !fenced(st) && !st.leaving
                  && (st.own_status == v1::MEMBER_STATUS_UP
                      || st.own_status == v1::MEMBER_STATUS_SUSPECT);
  std::set<std::string> wanted;
  for (auto& [name, rec] : st.placements)
    if (may_host && rec.node_id() == me.node_id && rec.node_incarnation() == me.incarnation)
      wanted.insert(name);
  std::vector<std::string> extra;
  for (auto& [name, h] : st.hosted)
    if (!wanted.count(name))
      extra.push_back(name);
  for (auto& name : extra)
    stop_placed(self, name, may_host ? "placed elsewhere" : "fenced: no majority reachable");
  for (auto& name : wanted)
    host(self, st.placements.at(name));
  // An escalation is reported until the controller moved the actor away.
  for (auto i = st.escalated.begin(); i != st.escalated.end();)
    i = wanted.count(*i) || !st.placements.count(*i) ? std::next(i)
                                                     : st.escalated.erase(i);
}

void on_placed_down(agent* self, const caf::down_msg& dm) {
  auto& st = self->state;
  for (auto& [name, h] : st.hosted) {
    if (h.handle.address() != dm.source)
      continue;
    auto why = "exited: " + to_string(dm.reason);
    auto now = mono_ms();
    while (!h.restarts.empty() && now - h.restarts.front() > st.ctx->self.restart_period.count())
      h.restarts.pop_front();
    if (h.restarts.size() >= st.ctx->self.max_restarts) {
      escalate(self, name, why + "; gave up after " + std::to_string(h.restarts.size())
                             + " restarts");
      return;
    }
    h.restarts.push_back(now);
    journal(self, "restart", name, why);
    start_placed(self, name, h);
    return;
  }
}

// -- the lease ------------------------------------------------------------------------

void apply_records(agent* self, const v1::HeartbeatAck& ack) {
  auto& st = self->state;
  st.members.clear();
  for (auto& m : ack.members())
    st.members[m.info().node_id()] = m;
  st.placements.clear();
  for (auto& p : ack.placements())
    st.placements[p.spec().name()] = p;
  for (auto& [id, rec] : st.members) {
    if (id == st.ctx->self.node_id)
      continue;
    if (st.ctx->members.set_committed_status(id, rec.info().incarnation(), rec.status(),
                                             rec.since_ms(), rec.reason())
        && rec.status() != v1::MEMBER_STATUS_UP && rec.status() != v1::MEMBER_STATUS_SUSPECT)
      st.ctx->names.erase_node(id);
  }
}

void on_ack(agent* self, const v1::HeartbeatAck& ack, std::int64_t sent_ms,
            const std::string& to) {
  auto& st = self->state;
  if (!ack.accepted()) {
    st.leader = ack.leader_node() == to ? std::string{} : ack.leader_node();
    return;
  }
  st.leader = to;
  st.view->last_ack_sent_ms = std::max(st.view->last_ack_sent_ms.load(), sent_ms);
  {
    std::lock_guard guard{st.view->mtx};
    st.view->leader = to;
  }
  if (st.own_status != ack.status())
    st.log->info("membership: {} is {} (controller {})", st.ctx->self.node_id,
                 ack.status() == v1::MEMBER_STATUS_UP ? "up" : "not up", to);
  st.own_status = ack.status();
  if (ack.full()) {
    apply_records(self, ack);
    st.known_revision = ack.revision();
    st.ctx->placements.publish(ack);
  }
}

v1::MemberHeartbeat heartbeat(const agent_state& st) {
  v1::MemberHeartbeat hb;
  auto me = st.ctx->members.find(st.ctx->self.node_id);
  if (me)
    *hb.mutable_info() = me->info;
  hb.mutable_info()->set_node_id(st.ctx->self.node_id);
  hb.mutable_info()->set_incarnation(st.ctx->self.incarnation);
  hb.set_known_revision(st.known_revision);
  for (auto& name : st.escalated)
    hb.add_escalated(name);
  for (auto& name : st.ctx->placements.synced())
    if (st.hosted.count(name))
      hb.add_synced(name);
  return hb;
}

void send_heartbeat(agent* self) {
  auto& st = self->state;
  auto to = controller(self);
  if (!to)
    return;
  st.in_flight = true;
  st.in_flight_to = to->node;
  auto sent = mono_ms();
  st.last_sent_ms = sent;
  auto node = to->node;
  // Two heartbeat intervals for the ack: a controller that cannot answer
  // that fast is as good as gone, and waiting longer would keep the node
  // from trying the next one before its lease runs out.
  auto timeout = std::clamp(2 * st.cfg.heartbeat_interval, milliseconds{100}, st.cfg.fence_after);
  ask_controller(self, *to, pack(heartbeat(st)), timeout,
                 [self, sent, node](std::optional<envelope> env) {
                   self->state.in_flight = false;
                   if (!env) {
                     self->state.leader.clear();
                     return;
                   }
                   if (auto ack = unpack<v1::HeartbeatAck>(*env))
                     on_ack(self, *ack, sent, node);
                   reconcile(self);
                 });
  flush_journal(self, *to);
}

void update_view(agent* self) {
  auto& st = self->state;
  bool now_fenced = fenced(st);
  if (now_fenced != st.view->fenced.load())
  {
    if (now_fenced)
      st.log->warn("membership: no heartbeat acknowledged for {} ms: fenced (placed actors "
                   "stop; /readyz reports no majority)",
                   st.cfg.fence_after.count());
    else
      st.log->info("membership: heartbeats acknowledged again");
  }
  st.view->fenced = now_fenced;
}

// Restarts and escalations in the supervision tree since the last scan.
void scan_tree(agent* self) {
  auto& st = self->state;
  for (auto& e : st.ctx->table->snapshot()) {
    if (e.kind == "placed")
      continue;
    auto& seen = st.tree_counts[e.name];
    if (st.tree_scanned && e.restarts > seen.first)
      journal(self, "restart", e.name,
              "restarted by " + e.parent + (e.last_exit.empty() ? "" : " after " + e.last_exit));
    bool gave_up = st.tree_scanned && e.escalations > seen.second;
    if (gave_up)
      journal(self, "escalation", e.name,
              "gave up: restart intensity exceeded" + (e.last_exit.empty() ? "" : " (" + e.last_exit + ")"));
    seen = {e.restarts, e.escalations};
    // A role's supervisor (a child of the node's root) that gave up: the
    // node supervisor may restart it, but the controller moves the placed
    // actors that need the role to another node, and places none here
    // again ("role:<role>" among the escalated names) until this node
    // restarts under a new incarnation.
    auto root = "sup/" + st.ctx->self.node_id;
    if (gave_up && e.type == "supervisor" && e.parent == root
        && e.name.size() > root.size() + 1 && e.name.rfind(root + "/", 0) == 0) {
      auto role = e.name.substr(root.size() + 1);
      if (st.escalated.insert("role:" + role).second)
        st.log->warn("role {} gave up on this node: placed actors that need it move", role);
    }
  }
  st.tree_scanned = true;
  self->delayed_send(self, journal_scan_interval, lookup_atom_v);
}

void on_tick(agent* self) {
  self->delayed_send(self, tick_interval, tick_atom_v);
  auto& st = self->state;
  update_view(self);
  if (fenced(st) && !st.hosted.empty())
    reconcile(self); // stop them now, not at the next ack
  auto now = mono_ms();
  if (st.leaving || st.ctx->shutting_down)
    return;
  if (st.in_flight && st.in_flight_to != st.ctx->self.node_id) {
    // The mesh lost the controller's node: do not wait for the timeout.
    auto m = st.ctx->members.find(st.in_flight_to);
    if (!m || !m->gateway) {
      st.in_flight = false;
      st.leader.clear();
    }
  }
  if (st.in_flight)
    return;
  if (now - st.last_sent_ms >= st.cfg.heartbeat_interval.count())
    send_heartbeat(self);
}

void on_leave(agent* self, caf::typed_response_promise<bool> rp) {
  auto& st = self->state;
  st.leaving = true;
  std::vector<std::string> names;
  for (auto& [name, h] : st.hosted)
    names.push_back(name);
  for (auto& name : names)
    stop_placed(self, name, "node leaving");
  auto to = controller(self);
  if (!to) {
    rp.deliver(false);
    return;
  }
  v1::MemberLeave leave;
  leave.set_node_id(st.ctx->self.node_id);
  leave.set_incarnation(st.ctx->self.incarnation);
  ask_controller(self, *to, pack(leave), leave_timeout,
                 [rp](std::optional<envelope> env) mutable { rp.deliver(env.has_value()); });
}

readiness::check_result majority_check(const node_context& ctx, const fence_view& v) {
  bool any = false;
  for (auto& m : ctx.members.all())
    any = any || hosts_consensus(m.info);
  if (!any)
    return {"majority", true, "no consensus member known: the control plane is not in use"};
  auto last = v.last_ack_sent_ms.load();
  std::string leader;
  {
    std::lock_guard guard{const_cast<std::mutex&>(v.mtx)};
    leader = v.leader;
  }
  if (last < 0)
    return {"majority", false, "no heartbeat acknowledged by a Raft leader yet"};
  auto age = std::to_string(mono_ms() - last);
  if (v.fenced)
    return {"majority", false, "no heartbeat acknowledged for " + age
                                 + " ms: not taking actions that need a majority"};
  return {"majority", true, "lease renewed by control/" + leader + " " + age + " ms ago"};
}

caf::behavior member_agent(agent* self, node_context_ptr ctx, member_agent_config cfg,
                           placeable_types types) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.cfg = cfg;
  st.types = std::move(types);
  st.view = std::make_shared<fence_view>();
  st.log = logger_for("member_agent");
  local_actor_entry host_entry;
  host_entry.name = placement_host_name(st.ctx->self.node_id);
  host_entry.type = "placement_host";
  host_entry.status = "running";
  host_entry.kind = "permanent";
  host_entry.handle = caf::actor_cast<caf::actor>(self);
  st.ctx->table->upsert(host_entry);
  auto view = st.view;
  auto* c = st.ctx.get();
  st.ctx->ready.add_probe("majority", [c, view] { return majority_check(*c, *view); });
  self->set_down_handler([self](caf::down_msg& dm) { on_placed_down(self, dm); });
  self->attach_functor([c] { c->ready.remove_probe("majority"); });
  self->send(self, tick_atom_v);
  self->send(self, lookup_atom_v);
  return {
    [self](tick_atom) { on_tick(self); },
    [self](lookup_atom) { scan_tree(self); },
    [self](const envelope& env) {
      // A JournalAppend from another component of this node.
      if (auto a = unpack<v1::JournalAppend>(env)) {
        auto& st = self->state;
        if (a->node().empty())
          a->set_node(st.ctx->self.node_id);
        if (a->time_ms() == 0)
          a->set_time_ms(wall_clock_ms());
        if (st.outbox.size() >= max_outbox)
          st.outbox.pop_front();
        st.outbox.push_back(std::move(*a));
      }
    },
    [self](leave_atom) {
      auto rp = self->make_response_promise<bool>();
      on_leave(self, rp);
      return rp;
    },
  };
}

} // namespace

std::string placement_host_name(const std::string& node_id) {
  return "placed/" + node_id;
}

caf::actor spawn_member_agent(caf::actor_system& sys, node_context_ptr ctx,
                              member_agent_config cfg, placeable_types types) {
  return sys.spawn(member_agent, std::move(ctx), cfg, std::move(types));
}

} // namespace troupe
