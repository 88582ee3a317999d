#include "runtime/fault_agent.hpp"

#include "runtime/defaults.hpp"
#include "runtime/logging.hpp"
#include "runtime/type_ids.hpp"

#include "troupe/control.pb.h"
#include "troupe/faults.pb.h"

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <csignal>
#include <set>
#include <unistd.h>

namespace troupe {

namespace {

using namespace std::chrono_literals;

// A coordinator waits this long for each node involved.
constexpr auto local_timeout = 2s;
// A crash waits this long after answering, so the reply leaves the node.
// Long enough for the member agent to hand the journal line to the
// controller with its next heartbeat (every 100 ms by default).
constexpr auto crash_grace = 300ms;
// Longest a dropped request's promise is held (its sender times out first).
constexpr std::uint32_t max_hold_ms = 120'000;

struct agent_state {
  node_context_ptr ctx;
  std::uint64_t next_id = 1;
  std::map<std::uint64_t, caf::response_promise> held; // dropped requests
  std::shared_ptr<spdlog::logger> log;
  static inline const char* name = "fault_agent";
};

using agent_actor = caf::stateful_actor<agent_state>;

const char* kind_name(v1::FaultKind k) {
  switch (k) {
  case v1::FAULT_KIND_KILL_ACTOR:
    return "kill-actor";
  case v1::FAULT_KIND_CRASH_NODE:
    return "crash-node";
  case v1::FAULT_KIND_DROP:
    return "drop";
  case v1::FAULT_KIND_DELAY:
    return "delay";
  case v1::FAULT_KIND_PARTITION:
    return "partition";
  case v1::FAULT_KIND_HEAL:
    return "heal";
  case v1::FAULT_KIND_LIST:
    return "list";
  default:
    return "unknown";
  }
}

// -- the decision journal
// ----------------------------------------------------------

// Every injected fault is a journal entry of kind "fault" (HELPERS.md
// contract). Until runtime/journal.hpp lands this writes the log line only;
// the call sites stay as they are when it does.
// Every injected fault goes into the decision journal, through this node's
// member agent (it forwards appends to the controller with its heartbeats).
void journal_fault(agent_actor* self, const std::string& node,
                   const std::string& subject, const std::string& by,
                   const std::string& reason) {
  auto& ctx = *self->state.ctx;
  auto who = by.empty() ? ctx.self.node_id : by;
  self->state.log->warn("fault on {}: {} (requested by {})", node, reason, who);
  if (!ctx.agent)
    return;
  v1::JournalAppend a;
  a.set_kind("fault");
  a.set_node(node);
  a.set_subject(subject);
  a.set_reason(reason + " (requested by " + who + ")");
  a.set_time_ms(wall_clock_ms());
  self->send(ctx.agent, pack(a));
}

// -- applying locally
// ------------------------------------------------------------------

v1::FaultReply links_reply(const node_context& ctx) {
  v1::FaultReply reply;
  for (auto& [to, f] : ctx.faults->links()) {
    auto* l = reply.add_links();
    l->set_from_node(ctx.self.node_id);
    l->set_to_node(to);
    l->set_drop_rate(f.partitioned ? 1.0 : f.drop_rate);
    l->set_delay_ms(static_cast<std::uint32_t>(f.delay.count()));
    l->set_partitioned(f.partitioned);
    l->set_dropped(f.dropped);
    l->set_delayed(f.delayed);
  }
  return reply;
}

bool contains(const google::protobuf::RepeatedPtrField<std::string>& xs,
              const std::string& x) {
  return std::find(xs.begin(), xs.end(), x) != xs.end();
}

// The peers this node must cut for a partition: everyone on the other side.
std::vector<std::string> across(const node_context& ctx,
                                const v1::FaultRequest& req) {
  auto& me = ctx.self.node_id;
  if (contains(req.side_a(), me))
    return {req.side_b().begin(), req.side_b().end()};
  if (contains(req.side_b(), me))
    return {req.side_a().begin(), req.side_a().end()};
  return {};
}

caf::result<envelope> kill_here(agent_actor* self,
                                const v1::FaultRequest& req) {
  auto& ctx = *self->state.ctx;
  auto entry = ctx.table->find(req.actor_name());
  if (!entry || !entry->handle)
    return make_error(errc::no_such_actor, req.actor_name()
                                               + " is not running on "
                                               + ctx.self.node_id);
  journal_fault(self, ctx.self.node_id, req.actor_name(), req.requested_by(),
                "fault kill-actor " + req.actor_name());
  caf::anon_send_exit(entry->handle, caf::exit_reason::kill);
  v1::FaultReply reply;
  reply.set_summary("killed " + req.actor_name() + " on " + ctx.self.node_id);
  return pack(reply);
}

caf::result<envelope> crash_here(agent_actor* self,
                                 const v1::FaultRequest& req) {
  auto& ctx = *self->state.ctx;
  journal_fault(self, ctx.self.node_id, "", req.requested_by(),
                "fault crash-node");
  self->delayed_send(self, crash_grace, fault_atom_v, fire_atom_v);
  v1::FaultReply reply;
  reply.set_summary(ctx.self.node_id + " crashes now (as kill -9)");
  return pack(reply);
}

void set_links(agent_actor* self, const v1::FaultRequest& req) {
  auto& ctx = *self->state.ctx;
  auto& me = ctx.self.node_id;
  switch (req.kind()) {
  case v1::FAULT_KIND_DROP:
    ctx.faults->set_drop(req.to_node(), req.drop_rate());
    journal_fault(self, me, me + "->" + req.to_node(), req.requested_by(),
                  "fault drop rate " + std::to_string(req.drop_rate()));
    break;
  case v1::FAULT_KIND_DELAY:
    ctx.faults->set_delay(req.to_node(),
                          std::chrono::milliseconds{req.delay_ms()});
    journal_fault(self, me, me + "->" + req.to_node(), req.requested_by(),
                  "fault delay " + std::to_string(req.delay_ms()) + " ms");
    break;
  case v1::FAULT_KIND_PARTITION:
    for (auto& peer : across(ctx, req)) {
      ctx.faults->set_partitioned(peer, true);
      journal_fault(self, me, me + "->" + peer, req.requested_by(),
                    "fault partition");
    }
    break;
  case v1::FAULT_KIND_HEAL:
    if (auto n = ctx.faults->heal(); n > 0)
      journal_fault(self, me, "", req.requested_by(),
                    "fault heal (" + std::to_string(n) + " links)");
    break;
  default:
    break;
  }
}

caf::result<envelope> apply_local(agent_actor* self, const envelope& env) {
  auto req = unpack<v1::FaultRequest>(env);
  if (!req)
    return req.error();
  auto& ctx = *self->state.ctx;
  // A node without fault injection has no faults: listing and healing it
  // succeed and change nothing.
  if (req->kind() == v1::FAULT_KIND_LIST
      || (req->kind() == v1::FAULT_KIND_HEAL && !ctx.faults->enabled()))
    return pack(links_reply(ctx));
  if (!ctx.faults->enabled())
    return make_error(errc::feature_disabled,
                      "fault injection is off on " + ctx.self.node_id
                          + " (start it with --enable-fault-injection)");
  if (req->kind() == v1::FAULT_KIND_KILL_ACTOR)
    return kill_here(self, *req);
  if (req->kind() == v1::FAULT_KIND_CRASH_NODE)
    return crash_here(self, *req);
  set_links(self, *req);
  return pack(links_reply(ctx));
}

// -- coordinating
// ---------------------------------------------------------------------

// The gateways of the nodes a request involves (the sending sides).
caf::expected<std::map<std::string, caf::actor>>
targets(const node_context& ctx, const v1::FaultRequest& req) {
  std::vector<std::string> ids;
  switch (req.kind()) {
  case v1::FAULT_KIND_DROP:
  case v1::FAULT_KIND_DELAY:
    ids = {req.from_node()};
    break;
  case v1::FAULT_KIND_CRASH_NODE:
    ids = {req.node_id()};
    break;
  case v1::FAULT_KIND_PARTITION:
    ids.assign(req.side_a().begin(), req.side_a().end());
    ids.insert(ids.end(), req.side_b().begin(), req.side_b().end());
    break;
  default: // heal, list: every known member
    for (auto& m : ctx.members.all())
      if (m.gateway
          && (m.status == v1::MEMBER_STATUS_UP
              || m.info.node_id() == ctx.self.node_id))
        ids.push_back(m.info.node_id());
  }
  std::map<std::string, caf::actor> out;
  for (auto& id : ids) {
    auto m = ctx.members.find(id);
    if (!m || !m->gateway)
      return make_error(errc::invalid_argument, "no member named '" + id + "'");
    out[id] = m->gateway;
  }
  return out;
}

caf::error validate(const v1::FaultRequest& req) {
  auto bad = [](std::string why) {
    return make_error(errc::invalid_argument, std::move(why));
  };
  switch (req.kind()) {
  case v1::FAULT_KIND_DROP:
    if (!(req.drop_rate() >= 0 && req.drop_rate() <= 1))
      return bad("--rate must be from 0 to 1");
    [[fallthrough]];
  case v1::FAULT_KIND_DELAY:
    if (req.from_node().empty() || req.to_node().empty()
        || req.from_node() == req.to_node())
      return bad("--from and --to must name two different nodes");
    if (req.delay_ms() > fault_table::max_delay.count())
      return bad("--ms must be at most "
                 + std::to_string(fault_table::max_delay.count()));
    return caf::none;
  case v1::FAULT_KIND_PARTITION:
    if (req.side_a().empty() || req.side_b().empty())
      return bad("a partition needs nodes on both sides");
    return caf::none;
  case v1::FAULT_KIND_KILL_ACTOR:
    return req.actor_name().empty() ? bad("kill-actor needs an actor name")
                                    : caf::none;
  case v1::FAULT_KIND_CRASH_NODE:
    return req.node_id().empty() ? bad("crash-node needs a node id")
                                 : caf::none;
  case v1::FAULT_KIND_HEAL:
  case v1::FAULT_KIND_LIST:
    return caf::none;
  default:
    return bad("unknown fault kind");
  }
}

// Sends the local part to every target and merges the answers. The first
// refusal (fault injection off, unknown actor) fails the whole request.
caf::result<envelope> fan_out(agent_actor* self, const v1::FaultRequest& req,
                              std::map<std::string, caf::actor> gateways) {
  auto rp = self->make_response_promise<envelope>();
  auto merged = std::make_shared<v1::FaultReply>();
  auto failure = std::make_shared<caf::error>();
  auto pending = std::make_shared<std::size_t>(gateways.size());
  auto env = pack(req);
  auto done = [=]() mutable {
    if (--*pending > 0)
      return;
    if (*failure)
      rp.deliver(*failure);
    else
      rp.deliver(pack(*merged));
  };
  for (auto& [id, gw] : gateways) {
    auto node = id;
    self->request(gw, local_timeout, fault_atom_v, local_atom_v, env)
        .then(
            [=](const envelope& reply) mutable {
              if (auto part = unpack<v1::FaultReply>(reply)) {
                merged->mutable_links()->MergeFrom(part->links());
                if (!part->summary().empty())
                  merged->set_summary(part->summary());
              }
              done();
            },
            [=](caf::error& err) mutable {
              if (is(err, errc::feature_disabled)
                  || is(err, errc::no_such_actor)) {
                if (!*failure)
                  *failure = err;
              } else {
                merged->add_unreachable(node);
              }
              done();
            });
  }
  return rp;
}

// kill-actor goes to whichever node hosts the name. This agent asks that
// node's gateway itself (a delegate would keep troupectl as the sender,
// and over TLS only cluster nodes may ask for the local part) and passes
// the answer on.
caf::result<envelope> kill_named(agent_actor* self, v1::FaultRequest req) {
  auto& ctx = self->state.ctx;
  if (ctx->table->find_route(req.actor_name()))
    return fan_out(self, req, {{ctx->self.node_id, ctx->gateway}});
  auto rp = self->make_response_promise<envelope>();
  self->request(ctx->directory, defaults::resolve_timeout, resolve_atom_v,
                req.actor_name())
      .then(
          [=](const std::string&, const caf::actor& gateway) mutable {
            self->request(gateway, defaults::request_timeout, fault_atom_v, local_atom_v,
                          pack(req))
                .then([rp](envelope& reply) mutable { rp.deliver(std::move(reply)); },
                      [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
          },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

caf::result<envelope> coordinate(agent_actor* self, const envelope& env) {
  auto req = unpack<v1::FaultRequest>(env);
  if (!req)
    return req.error();
  if (auto err = validate(*req))
    return err;
  if (req->requested_by().empty())
    req->set_requested_by(self->state.ctx->self.node_id);
  self->state.log->info("fault {} requested", kind_name(req->kind()));
  if (req->kind() == v1::FAULT_KIND_KILL_ACTOR)
    return kill_named(self, std::move(*req));
  auto gateways = targets(*self->state.ctx, *req);
  if (!gateways)
    return gateways.error();
  return fan_out(self, *req, std::move(*gateways));
}

// -- deliveries
// ------------------------------------------------------------------------

caf::result<envelope> delay_delivery(agent_actor* self, std::uint32_t delay_ms,
                                     const caf::actor& gateway,
                                     const std::string& name, envelope& msg) {
  auto rp = self->make_response_promise();
  self->delayed_send(self, std::chrono::milliseconds{delay_ms}, fire_atom_v,
                     gateway, name, std::move(msg), self->state.next_id);
  self->state.held.emplace(self->state.next_id++, std::move(rp));
  return caf::delegated<envelope>{};
}

void fire_delivery(agent_actor* self, const caf::actor& gateway,
                   const std::string& name, envelope& msg, std::uint64_t id) {
  auto i = self->state.held.find(id);
  self->state.ctx->faults->end_delay();
  if (i == self->state.held.end())
    return;
  auto rp = std::move(i->second);
  self->state.held.erase(i);
  rp.delegate(gateway, route_atom_v, name, std::move(msg));
}

void hold_dropped(agent_actor* self, std::uint32_t hold_ms) {
  auto id = self->state.next_id++;
  self->state.held.emplace(id, self->make_response_promise());
  self->delayed_send(self,
                     std::chrono::milliseconds{std::min(hold_ms, max_hold_ms)},
                     drop_atom_v, id);
}

caf::behavior fault_agent(agent_actor* self, node_context_ptr ctx) {
  self->state.ctx = std::move(ctx);
  self->state.log = logger_for("fault_agent");
  return {
      [=](fault_atom, const envelope& env) { return coordinate(self, env); },
      [=](fault_atom, local_atom, const envelope& env) {
        return apply_local(self, env);
      },
      [=](fault_atom, fire_atom) {
        self->state.log->warn("crashing on request (fault crash-node)");
        ::kill(::getpid(), SIGKILL);
      },
      [=](delay_atom, std::uint32_t ms, const caf::actor& gateway,
          const std::string& name, envelope& msg) {
        return delay_delivery(self, ms, gateway, name, msg);
      },
      [=](fire_atom, const caf::actor& gateway, const std::string& name,
          envelope& msg,
          std::uint64_t id) { fire_delivery(self, gateway, name, msg, id); },
      [=](drop_atom, std::uint32_t hold_ms) {
        hold_dropped(self, hold_ms);
        return caf::delegated<envelope>{};
      },
      [=](drop_atom) {
        return caf::delegated<envelope>{};
      }, // shed: never answered
      [=](drop_atom, std::uint64_t id) {
        self->state.held.erase(id);
        self->state.ctx->faults->end_delay();
      },
  };
}

} // namespace

caf::actor spawn_fault_agent(caf::actor_system& sys, node_context_ptr ctx) {
  return sys.spawn(fault_agent, std::move(ctx));
}

bool faulted_send(const node_context& ctx, const std::string& to_node,
                  const caf::actor& gateway, const std::string& name,
                  envelope& msg) {
  auto v = ctx.faults->on_send(to_node);
  if (v.drop)
    return true;
  if (v.delay.count() == 0)
    return false;
  if (!ctx.fault_agent || !ctx.faults->try_start_delay())
    return true; // too many in flight: dropped (counted as delayed)
  // From the gateway, so that the receiving gateway sees a cluster node.
  caf::send_as(ctx.gateway, ctx.fault_agent, delay_atom_v,
                 static_cast<std::uint32_t>(v.delay.count()), gateway, name,
                 std::move(msg));
  return true;
}

std::optional<faulted_request> fault_for_request(const node_context& ctx,
                                                 const std::string& to_node) {
  auto v = ctx.faults->on_send(to_node);
  if (!v.drop && v.delay.count() == 0)
    return std::nullopt;
  faulted_request out;
  out.drop = v.drop;
  out.delay_ms = static_cast<std::uint32_t>(v.delay.count());
  out.extra = v.delay;
  // Too many held or delayed: `via` stays empty and the caller fails the
  // request at once, as a lost message would after its timeout.
  if (ctx.fault_agent && ctx.faults->try_start_delay())
    out.via = ctx.fault_agent;
  return out;
}

} // namespace troupe
