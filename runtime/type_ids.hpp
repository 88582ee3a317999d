// Every CAF type and atom troupe uses, in one type-ID block (0.18 spelling,
// accepted by 0.17.6). Register with `cfg.add_message_types<caf::id_block::troupe>()`,
// which node_system_config does.
#pragma once

#include "net/envelope.hpp"

#include <caf/type_id.hpp>

CAF_BEGIN_TYPE_ID_BLOCK(troupe, caf::first_custom_type_id)

  CAF_ADD_TYPE_ID(troupe, (troupe::envelope))

  // Routing a message to a named actor on the node that hosts it.
  CAF_ADD_ATOM(troupe, troupe, route_atom, "route")
  // Asking a node whether it hosts a name.
  CAF_ADD_ATOM(troupe, troupe, lookup_atom, "lookup")
  // The directory: resolving names to their hosting node, forgetting stale ones.
  CAF_ADD_ATOM(troupe, troupe, resolve_atom, "resolve")
  CAF_ADD_ATOM(troupe, troupe, invalidate_atom, "invalidat")
  // Sending an actor an exit (troupectl kill).
  CAF_ADD_ATOM(troupe, troupe, kill_atom, "kill")
  // Membership: join, leave, member list.
  CAF_ADD_ATOM(troupe, troupe, join_atom, "join")
  CAF_ADD_ATOM(troupe, troupe, leave_atom, "leave")
  CAF_ADD_ATOM(troupe, troupe, members_atom, "members")
  // Administration requests from troupectl.
  CAF_ADD_ATOM(troupe, troupe, status_atom, "status")
  CAF_ADD_ATOM(troupe, troupe, actors_atom, "actors")
  CAF_ADD_ATOM(troupe, troupe, send_atom, "send")
  // Proving a certificate identity to a gateway (runtime/auth.hpp).
  CAF_ADD_ATOM(troupe, troupe, auth_atom, "auth")
  CAF_ADD_ATOM(troupe, troupe, challenge_atom, "challenge")
  CAF_ADD_ATOM(troupe, troupe, prove_atom, "prove")
  // Scope markers: `local` means "this node only, do not fan out".
  CAF_ADD_ATOM(troupe, troupe, local_atom, "local")
  // Supervision internals.
  CAF_ADD_ATOM(troupe, troupe, restart_atom, "restart")
  CAF_ADD_ATOM(troupe, troupe, stop_atom, "stop")
  // Periodic work (retries, housekeeping).
  CAF_ADD_ATOM(troupe, troupe, tick_atom, "tick")
  // Raft shell: a ready batch's write is durable (or failed), from the
  // storage writer thread (actors/consensus/raft_shell.hpp).
  CAF_ADD_ATOM(troupe, troupe, persisted_atom, "persisted")
  // Fault injection (runtime/fault_agent.hpp): commands, delayed and
  // dropped deliveries.
  CAF_ADD_ATOM(troupe, troupe, fault_atom, "fault")
  CAF_ADD_ATOM(troupe, troupe, delay_atom, "delay")
  CAF_ADD_ATOM(troupe, troupe, drop_atom, "drop")
  CAF_ADD_ATOM(troupe, troupe, fire_atom, "fire")

  // The dashboard: a WebSocket connection opened, sent text, or drained
  // after falling behind (actors/dashboard/dashboard.hpp).
  CAF_ADD_ATOM(troupe, troupe, ws_open_atom, "wsopen")
  CAF_ADD_ATOM(troupe, troupe, ws_text_atom, "wstext")
  CAF_ADD_ATOM(troupe, troupe, ws_resync_atom, "wsresync")

  // The cache cluster: a RESP command to forward (proxy mode) and a
  // primary's wake-up when its backlog grew (actors/cache/cluster.hpp).
  CAF_ADD_ATOM(troupe, troupe, cache_proxy_atom, "cproxy")
  CAF_ADD_ATOM(troupe, troupe, cache_wake_atom, "cwake")

CAF_END_TYPE_ID_BLOCK(troupe)
