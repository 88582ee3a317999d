#include "runtime/gateway.hpp"

#include "runtime/admin_views.hpp"
#include "runtime/defaults.hpp"
#include "runtime/logging.hpp"
#include "runtime/named.hpp"
#include "runtime/type_ids.hpp"

#include "troupe/kv.pb.h"

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

namespace troupe {

namespace {

// The gateway sheds routed messages once this many wait in its own mailbox.
constexpr size_t gateway_mailbox_limit = 50000;

struct gateway_state {
  node_context_ptr ctx;
  uint64_t shed_total = 0;
  uint64_t route_errors_total = 0; // refused fire-and-forget routes
  // The actor that proved each session, so its down message ends it.
  std::map<caf::actor_addr, caf::node_id> provers;
  static inline const char* name = "gateway";
};

using gateway_actor = caf::stateful_actor<gateway_state>;

caf::node_id sender_node(caf::local_actor* self) {
  const auto& sender = self->current_sender();
  return sender ? sender->node() : caf::node_id{};
}

caf::error refuse(const caf::error& err) {
  if (err)
    logger_for("gateway")->warn("refused: {}", message_of(err));
  return err;
}

// Viewers may read through `send`: the Raft status, the controller's view
// (troupectl placements) and KV ranges (troupectl events reads the journal).
bool read_only(const envelope& msg) {
  if (msg.type == "troupe.v1.RaftStatusRequest" || msg.type == "troupe.v1.ControlStatusRequest")
    return true;
  if (msg.type != "troupe.v1.KvRequest")
    return false;
  auto req = unpack<v1::KvRequest>(msg);
  return req && req->has_range();
}

// A node joining must prove a node certificate naming the node it joins as.
caf::error check_join(gateway_actor* self, const envelope& info) {
  auto& ctx = *self->state.ctx;
  if (!ctx.auth->enforcing())
    return caf::none;
  auto member = unpack<v1::MemberInfo>(info);
  if (!member)
    return member.error();
  auto who = ctx.auth->find(sender_node(self));
  if (who && who->r == auth::role::node && who->name == member->node_id())
    return caf::none;
  return make_error(errc::permission_denied,
                    "join as " + member->node_id() + " needs a proven node "
                      "certificate with CN=" + member->node_id() + "; the caller "
                      + (who ? "proved " + who->subject : "proved none"));
}

std::tuple<std::string, std::string> challenge(gateway_actor* self) {
  auto& ctx = *self->state.ctx;
  return {ctx.self.node_id, ctx.auth->challenge(sender_node(self))};
}

caf::result<std::string> prove(gateway_actor* self, const std::string& cert,
                               const std::string& signature) {
  auto& st = self->state;
  auto caller = sender_node(self);
  auto who = st.ctx->auth->prove(caller, cert, signature);
  if (!who)
    return refuse(who.error());
  if (auto sender = caf::actor_cast<caf::actor>(self->current_sender())) {
    self->monitor(sender);
    st.provers[sender.address()] = caller;
  }
  logger_for("gateway")->info("{} proved {} ({})", to_string(caller),
                              who->subject, auth::name_of(who->r));
  return std::string{auth::name_of(who->r)};
}

void on_down(gateway_actor* self, const caf::down_msg& dm) {
  auto& st = self->state;
  auto i = st.provers.find(dm.source);
  if (i == st.provers.end())
    return;
  st.ctx->auth->forget(i->second);
  st.provers.erase(i);
}

caf::result<envelope> route(gateway_actor* self, const std::string& name,
                            envelope& msg) {
  auto& ctx = *self->state.ctx;
  if (ctx.shutting_down)
    return make_error(errc::shutting_down, ctx.self.node_id + " is shutting down");
  if (self->mailbox().size() > gateway_mailbox_limit) {
    ++self->state.shed_total;
    return make_error(errc::mailbox_full, "gateway of " + ctx.self.node_id
                                            + " is overloaded");
  }
  auto target = ctx.table->find_route(name);
  if (!target)
    return make_error(errc::not_hosted_here,
                      name + " is not hosted on " + ctx.self.node_id);
  if (!target->handle)
    return not_running(ctx, name);
  if (!target->gate->try_enter())
    return make_error(errc::mailbox_full, "mailbox of " + name + " is full");
  self->delegate(target->handle, std::move(msg));
  return caf::delegated<envelope>{};
}

caf::result<envelope> kill_local(gateway_actor* self, const std::string& name) {
  auto& ctx = *self->state.ctx;
  auto entry = ctx.table->find(name);
  if (!entry || !entry->gate)
    return make_error(errc::not_hosted_here,
                      name + " is not hosted on " + ctx.self.node_id);
  if (!entry->handle)
    return not_running(ctx, name);
  logger_for("gateway")->info("kill {} requested", name);
  caf::anon_send_exit(entry->handle, caf::exit_reason::kill);
  v1::KillReport report;
  report.set_name(name);
  report.set_node_id(ctx.self.node_id);
  return pack(report);
}

// Gathers every member's local tree; members that do not answer in time are
// listed as unreachable instead of failing the whole request.
caf::result<envelope> cluster_actors(gateway_actor* self,
                                     const std::string& node_filter) {
  auto& ctx = *self->state.ctx;
  auto rp = self->make_response_promise<envelope>();
  auto tree = std::make_shared<v1::ActorTree>();
  auto pending = std::make_shared<size_t>(0);
  auto members = ctx.members.up();
  for (auto& m : members)
    if (node_filter.empty() || m.info.node_id() == node_filter)
      ++*pending;
  if (*pending == 0) {
    if (node_filter.empty())
      return pack(*tree);
    return make_error(errc::no_such_actor,
                      "no member named '" + node_filter + "' is up");
  }
  for (auto& m : members) {
    if (!node_filter.empty() && m.info.node_id() != node_filter)
      continue;
    auto node_id = m.info.node_id();
    auto done = [=]() mutable {
      if (--*pending == 0)
        rp.deliver(pack(*tree));
    };
    self->request(m.gateway, defaults::resolve_timeout, actors_atom_v, local_atom_v)
      .then(
        [=](const envelope& env) mutable {
          if (auto part = unpack<v1::ActorTree>(env))
            merge_actor_tree(*tree, *part);
          else
            tree->add_unreachable(node_id);
          done();
        },
        [=](caf::error&) mutable {
          tree->add_unreachable(node_id);
          done();
        });
  }
  return rp;
}

caf::result<envelope> send_named(gateway_actor* self, const std::string& name,
                                 envelope& msg) {
  auto& ctx = self->state.ctx;
  if (ctx->shutting_down)
    return make_error(errc::shutting_down, ctx->self.node_id + " is shutting down");
  auto rp = self->make_response_promise<envelope>();
  request_by_name(
    self, ctx, name, std::move(msg), defaults::request_timeout,
    [rp](envelope& reply) mutable { rp.deliver(std::move(reply)); },
    [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

caf::result<envelope> kill_named(gateway_actor* self, const std::string& name) {
  auto& ctx = self->state.ctx;
  if (ctx->table->find_route(name))
    return kill_local(self, name);
  auto rp = self->make_response_promise<envelope>();
  self->request(ctx->directory, defaults::resolve_timeout, resolve_atom_v, name)
    .then(
      [=](const std::string&, const caf::actor& gateway) mutable {
        self->request(gateway, defaults::request_timeout, route_atom_v,
                      kill_atom_v, name)
          .then([rp](envelope& report) mutable { rp.deliver(std::move(report)); },
                [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      },
      [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

caf::behavior gateway(gateway_actor* self, node_context_ptr ctx) {
  self->state.ctx = std::move(ctx);
  auto& c = self->state.ctx;
  self->set_down_handler([=](caf::down_msg& dm) { on_down(self, dm); });
  // Answers to the fire-and-forget routes this node sends on behalf of
  // send_by_name (runtime/named.cpp) come back here, and a refusal (the
  // target moved, its mailbox is full, the peer does not know us yet) is an
  // error message. CAF's default error handler would make the gateway quit
  // on the first one; nobody waits for these answers, so they are counted.
  self->set_error_handler([=](caf::error& err) {
    ++self->state.route_errors_total;
    logger_for("gateway")->debug("a fire-and-forget route was refused: {}",
                                 message_of(err));
  });
  auto node_only = [=](const char* what) {
    return refuse(caller_is_node(self, *c, what));
  };
  auto may = [=](auth::permission p, const std::string& what) {
    return refuse(caller_may(self, *c, p, what));
  };
  using auth::permission;
  return {
    [=](route_atom, const std::string& name, envelope& msg) -> caf::result<envelope> {
      if (auto err = node_only("route"))
        return err;
      return route(self, name, msg);
    },
    [=](route_atom, kill_atom, const std::string& name) -> caf::result<envelope> {
      if (auto err = node_only("route kill"))
        return err;
      return kill_local(self, name);
    },
    [=](lookup_atom, const std::string& name) -> caf::result<bool> {
      if (auto err = node_only("lookup"))
        return err;
      return c->table->find_route(name).has_value();
    },
    [=](actors_atom, local_atom) -> caf::result<envelope> {
      if (auto err = node_only("actors local"))
        return err;
      return pack(local_actor_tree(*c));
    },
    [=](join_atom a, envelope& info, caf::actor& peer) -> caf::result<envelope> {
      if (auto err = refuse(check_join(self, info)))
        return err;
      self->delegate(c->membership, a, std::move(info), std::move(peer));
      return caf::delegated<envelope>{};
    },
    [=](leave_atom a, envelope& notice) -> caf::result<bool> {
      if (auto err = node_only("leave"))
        return err;
      self->delegate(c->membership, a, std::move(notice));
      return caf::delegated<bool>{};
    },
    [=](auth_atom, challenge_atom) { return challenge(self); },
    [=](auth_atom, prove_atom, const std::string& cert, const std::string& sig) {
      return prove(self, cert, sig);
    },
    [=](status_atom) -> caf::result<envelope> {
      if (auto err = may(permission::viewer, "status"))
        return err;
      return pack(node_status(*c));
    },
    [=](members_atom) -> caf::result<envelope> {
      if (auto err = may(permission::viewer, "members"))
        return err;
      return pack(to_member_list(c->members.all(), c->self.node_id));
    },
    [=](actors_atom, const std::string& node_filter) -> caf::result<envelope> {
      if (auto err = may(permission::viewer, "actors"))
        return err;
      return cluster_actors(self, node_filter);
    },
    [=](send_atom, const std::string& name, envelope& msg) -> caf::result<envelope> {
      auto needed = read_only(msg) ? permission::viewer : permission::admin;
      if (auto err = may(needed, "send " + msg.type + " to " + name))
        return err;
      return send_named(self, name, msg);
    },
    // Successful answers to those routes (refusals: the error handler).
    [=](const envelope&) {},
    [=](kill_atom, const std::string& name) -> caf::result<envelope> {
      if (auto err = may(permission::admin, "kill " + name))
        return err;
      return kill_named(self, name);
    },
    // Fault injection needs admin from troupectl, and a cluster node for
    // the part a coordinator asks this node to apply.
    [=](fault_atom a, envelope& req) -> caf::result<envelope> {
      if (auto err = may(permission::admin, "fault"))
        return err;
      self->delegate(c->fault_agent, a, std::move(req));
      return caf::delegated<envelope>{};
    },
    [=](fault_atom a, local_atom l, envelope& req) -> caf::result<envelope> {
      if (auto err = node_only("fault"))
        return err;
      self->delegate(c->fault_agent, a, l, std::move(req));
      return caf::delegated<envelope>{};
    },
  };
}

} // namespace

caf::actor spawn_gateway(caf::actor_system& sys, node_context_ptr ctx) {
  if (!ctx->auth) // tests that build a context by hand: no TLS, no checks
    ctx->auth = std::make_shared<auth::session_table>(ctx->self.node_id, nullptr);
  return sys.spawn(gateway, std::move(ctx));
}

caf::error caller_may(caf::local_actor* self, const node_context& ctx,
                      auth::permission p, const std::string& what) {
  auto caller = sender_node(self);
  if (caller == self->node() || !ctx.auth)
    return caf::none;
  return ctx.auth->check(caller, p, what);
}

caf::error caller_is_node(caf::local_actor* self, const node_context& ctx,
                          const std::string& what) {
  auto caller = sender_node(self);
  if (!ctx.auth || !ctx.auth->enforcing() || caller == self->node())
    return caf::none;
  if (auto who = ctx.auth->find(caller); who && who->r == auth::role::node)
    return caf::none;
  if (caller && ctx.members.find_by_gateway(caller))
    return caf::none;
  return make_error(errc::permission_denied,
                    what + " is for cluster nodes only, and the caller is not a "
                           "member and proved no node certificate");
}

} // namespace troupe
