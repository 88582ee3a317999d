// The dashboard role's two halves, joined by dashboard.cpp: the actor that
// gathers and pushes (dashboard_actor.cpp) and the admin-port routes
// (routes.cpp). Internal to actors/dashboard.
#pragma once

#include "actors/dashboard/shared_view.hpp"
#include "runtime/node_context.hpp"
#include "runtime/supervisor.hpp"

#include <string_view>
#include <vector>

namespace troupe::dashboard {

/// The permanent child `dashboard/<node-id>` (not routable by name: only
/// this node's connection brokers talk to it).
child_spec actor_child(node_context_ptr ctx, shared_view_ptr view);

/// The routes /, /assets/, /ws and /api/. The WebSocket callbacks find the
/// actor's current incarnation in the node's actor table on every event,
/// so connections made after a restart reach the new one.
std::vector<admin_route> routes(node_context_ptr ctx, shared_view_ptr view);

/// The page's files, embedded at build time (assets.cpp, generated from
/// actors/dashboard/page/). nullptr content for an unknown name.
struct asset {
  std::string_view content_type;
  std::string_view content;
};
asset find_asset(std::string_view name);

} // namespace troupe::dashboard
