#include "runtime/gateway.hpp"

#include "runtime/admin_views.hpp"
#include "runtime/defaults.hpp"
#include "runtime/logging.hpp"
#include "runtime/named.hpp"
#include "runtime/type_ids.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

namespace troupe {

namespace {

// The gateway sheds routed messages once this many wait in its own mailbox.
constexpr size_t gateway_mailbox_limit = 50000;

struct gateway_state {
  node_context_ptr ctx;
  uint64_t shed_total = 0;
  static inline const char* name = "gateway";
};

using gateway_actor = caf::stateful_actor<gateway_state>;

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
  return {
    [=](route_atom, const std::string& name, envelope& msg) {
      return route(self, name, msg);
    },
    [=](route_atom, kill_atom, const std::string& name) {
      return kill_local(self, name);
    },
    [=](lookup_atom, const std::string& name) {
      return c->table->find_route(name).has_value();
    },
    [=](actors_atom, local_atom) { return pack(local_actor_tree(*c)); },
    [=](join_atom a, envelope& info, caf::actor& peer) {
      return self->delegate(c->membership, a, std::move(info), std::move(peer));
    },
    [=](leave_atom a, envelope& notice) {
      return self->delegate(c->membership, a, std::move(notice));
    },
    [=](status_atom) { return pack(node_status(*c)); },
    [=](members_atom) {
      return pack(to_member_list(c->members.all(), c->self.node_id));
    },
    [=](actors_atom, const std::string& node_filter) {
      return cluster_actors(self, node_filter);
    },
    [=](send_atom, const std::string& name, envelope& msg) {
      return send_named(self, name, msg);
    },
    [=](kill_atom, const std::string& name) { return kill_named(self, name); },
  };
}

} // namespace

caf::actor spawn_gateway(caf::actor_system& sys, node_context_ptr ctx) {
  return sys.spawn(gateway, std::move(ctx));
}

} // namespace troupe
