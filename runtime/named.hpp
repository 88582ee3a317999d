// The runtime's send and request by logical name (DESIGN.md, "Naming and
// messages"). Callers never see addresses or handles.
//
// Resolution order: the node's own local_actors table (the actor is here),
// then the name_cache, then the directory actor. A cached placement is
// dropped and resolved again when a request fails with not_hosted_here (the
// name moved; retried once at once), request_receiver_down, or a timeout, and
// when the hosting node goes down (membership clears the cache).
//
// Delivery to a remote name goes through the hosting node's gateway, which
// applies the target's bounded mailbox and delegates, so the reply travels
// straight back to the caller.
#pragma once

#include "net/envelope.hpp"
#include "runtime/node_context.hpp"

#include <caf/event_based_actor.hpp>

#include <chrono>
#include <functional>
#include <string>

namespace troupe {

using reply_handler = std::function<void(envelope&)>;
using error_handler = std::function<void(caf::error&)>;

/// Sends `msg` to the actor named `name` and calls exactly one of `on_reply`
/// or `on_error`, within `timeout` (plus at most one resolve timeout).
void request_by_name(caf::event_based_actor* self, const node_context_ptr& ctx,
                     const std::string& name, envelope msg,
                     std::chrono::milliseconds timeout, reply_handler on_reply,
                     error_handler on_error);

/// The error for a name that is known here but has no running incarnation:
/// mailbox_full ("retry soon") between a crash and its restart, or
/// no_such_actor when it is stopped for good (a finished transient child,
/// a role that escalated to the top).
caf::error not_running(const node_context& ctx, const std::string& name);

/// Sends `msg` to `name` without waiting for an answer. Failures (unknown
/// name, full mailbox) are counted by the target's gate or logged, never
/// reported to the caller; use request_by_name when the outcome matters.
void send_by_name(caf::event_based_actor* self, const node_context_ptr& ctx,
                  const std::string& name, envelope msg);

} // namespace troupe
