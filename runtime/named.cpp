#include "runtime/named.hpp"

#include "runtime/defaults.hpp"
#include "runtime/fault_agent.hpp"
#include "runtime/type_ids.hpp"

#include <caf/sec.hpp>
#include <caf/send.hpp>

namespace troupe {

namespace {

bool suggests_moved(const caf::error& err) {
  return is(err, errc::not_hosted_here) || err == caf::sec::request_timeout
         || err == caf::sec::request_receiver_down
         || is(err, errc::no_such_actor);
}

// Local delivery: the same gate check the gateway applies for remote callers.
caf::error try_local(caf::event_based_actor* self, const node_context_ptr& ctx,
                     const std::string& name, envelope& msg,
                     std::chrono::milliseconds timeout,
                     const reply_handler& on_reply,
                     const error_handler& on_error, bool& handled) {
  auto route = ctx->table->find_route(name);
  if (!route)
    return caf::none;
  handled = true;
  if (!route->handle)
    return not_running(*ctx, name);
  if (!route->gate->try_enter())
    return make_error(errc::mailbox_full, "mailbox of " + name + " is full");
  self->request(route->handle, timeout, std::move(msg))
    .then([on_reply](envelope& reply) { on_reply(reply); },
          [on_error](caf::error& err) { on_error(err); });
  return caf::none;
}

// The one place a request by name leaves for another node: through the
// fault table (runtime/faults.hpp), which may drop or delay it.
auto route_request(caf::event_based_actor* self, const node_context& ctx,
                   const placement& where, const std::string& name, envelope msg,
                   std::chrono::milliseconds timeout) {
  auto fault = fault_for_request(ctx, where.node_id);
  if (fault && fault->via && fault->drop)
    return self->request(fault->via, timeout, drop_atom_v,
                         static_cast<std::uint32_t>(timeout.count() + 1000));
  if (fault && fault->via)
    return self->request(fault->via, timeout + fault->extra, delay_atom_v, fault->delay_ms,
                         where.gateway, name, std::move(msg));
  if (fault && ctx.fault_agent) // shed: too many held; times out at once
    return self->request(ctx.fault_agent, std::chrono::milliseconds{1}, drop_atom_v);
  return self->request(where.gateway, timeout, route_atom_v, name, std::move(msg));
}

void remote_request(caf::event_based_actor* self, const node_context_ptr& ctx,
                    const std::string& name, envelope msg,
                    std::chrono::milliseconds timeout, reply_handler on_reply,
                    error_handler on_error, placement where, bool may_retry) {
  auto on_failure = [=, on_error = std::move(on_error)](caf::error& err) mutable {
    if (suggests_moved(err))
      ctx->names.erase(name);
    on_error(err);
  };
  if (!may_retry) {
    route_request(self, *ctx, where, name, std::move(msg), timeout)
      .then([on_reply](envelope& reply) { on_reply(reply); },
            std::move(on_failure));
    return;
  }
  // Keep one copy of the message for a retry after not_hosted_here (the
  // name moved); the request itself takes the other.
  auto retry_copy = std::make_shared<envelope>(msg);
  route_request(self, *ctx, where, name, std::move(msg), timeout)
    .then([on_reply](envelope& reply) { on_reply(reply); },
          [=](caf::error& err) mutable {
            if (!is(err, errc::not_hosted_here)) {
              on_failure(err);
              return;
            }
            ctx->names.erase(name);
            request_by_name(self, ctx, name, std::move(*retry_copy), timeout,
                            std::move(on_reply), [on_failure](caf::error& e) mutable {
                              on_failure(e);
                            });
          });
}

} // namespace

caf::error not_running(const node_context& ctx, const std::string& name) {
  auto entry = ctx.table->find(name);
  if (entry && entry->status == "stopped")
    return make_error(errc::no_such_actor,
                      name + " is stopped on " + ctx.self.node_id);
  return make_error(errc::mailbox_full, name + " is restarting; retry");
}

void request_by_name(caf::event_based_actor* self, const node_context_ptr& ctx,
                     const std::string& name, envelope msg,
                     std::chrono::milliseconds timeout, reply_handler on_reply,
                     error_handler on_error) {
  bool handled = false;
  if (auto err = try_local(self, ctx, name, msg, timeout, on_reply, on_error,
                           handled)) {
    on_error(err);
    return;
  }
  if (handled)
    return;
  if (auto hit = ctx->names.find(name)) {
    remote_request(self, ctx, name, std::move(msg), timeout,
                   std::move(on_reply), std::move(on_error), *hit, true);
    return;
  }
  self->request(ctx->directory, defaults::resolve_timeout, resolve_atom_v, name)
    .then(
      [=](const std::string& node_id, const caf::actor& gateway) mutable {
        remote_request(self, ctx, name, std::move(msg), timeout,
                       std::move(on_reply), std::move(on_error),
                       placement{node_id, gateway}, false);
      },
      [on_error](caf::error& err) { on_error(err); });
}

void send_by_name(caf::event_based_actor* self, const node_context_ptr& ctx,
                  const std::string& name, envelope msg) {
  // Anonymous sends: the target's answer (if any) has nowhere to go and is
  // dropped by CAF instead of landing in this actor's mailbox.
  if (auto route = ctx->table->find_route(name)) {
    if (route->handle && route->gate->try_enter())
      caf::anon_send(route->handle, std::move(msg));
    return;
  }
  // Across nodes the local gateway is the sender, not nobody: over TLS the
  // remote gateway accepts route only from a cluster node (runtime/auth.hpp),
  // and an anonymous message names no node. The gateway drops the answers.
  if (auto hit = ctx->names.find(name)) {
    if (!faulted_send(*ctx, hit->node_id, hit->gateway, name, msg))
      caf::send_as(ctx->gateway, hit->gateway, route_atom_v, name, std::move(msg));
    return;
  }
  self->request(ctx->directory, defaults::resolve_timeout, resolve_atom_v, name)
    .then(
      [ctx, name, msg](const std::string& node_id, const caf::actor& gateway) mutable {
        if (!faulted_send(*ctx, node_id, gateway, name, msg))
          caf::send_as(ctx->gateway, gateway, route_atom_v, name, msg);
      },
      [](caf::error&) {
        // Unknown name: nothing to count it against; see the contract.
      });
}

} // namespace troupe
