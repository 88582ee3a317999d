// The dashboard role of troupe-node: `dashboard/<node-id>`, an actor under
// `sup/<node-id>/dashboard` that gathers the cluster's state and pushes it
// to browsers over WebSocket, plus its routes on the admin port:
//
//   GET /            the page (HTML, JS and CSS embedded in the binary)
//   GET /assets/...  the page's script and style sheet
//   GET /ws          the WebSocket (RFC 6455, net/websocket_server.hpp)
//   GET /api/...     read-only JSON snapshots: cluster, nodes/<id>, actors,
//                    actors/<node>, raft, journal, metrics, snapshot
//
// What the actor gathers, and how often (docs/dashboard.md):
//   every 500 ms  the node's member view (runtime/members.hpp)
//   every 1 s     each up node's supervision tree (gateway actors_atom,
//                 local), timing the round trip; each consensus member's
//                 RaftStatus; new decision-journal entries (a serializable
//                 range read of /troupe/sys/journal/ from a consensus member)
// and then publishes one delta if anything changed.
//
// Messages the actor handles (all from this node):
//   (tick_atom)                          its own timer
//   (ws_open_atom, conn)                 a browser connected: hello + snapshot
//   (ws_text_atom, conn, text)           a browser message (resume/auth/kill)
//   (ws_resync_atom, conn)               conn fell behind and drained: snapshot
//   down_msg from conn                   the connection ended
// It sends each connection broker std::string texts, and (code, reason) to
// close one. It never waits on a browser: the connection broker bounds the
// send queue (slow readers get one fresh snapshot once they drain, or are
// closed with 1008).
#pragma once

#include "runtime/node.hpp"

#include <caf/expected.hpp>

#include <string>

namespace troupe::dashboard {

/// The actor's logical name on node `node_id`.
std::string name_for(const std::string& node_id);

/// Builds the role's supervisor and adds its routes to the admin port.
caf::expected<supervisor_spec> make_role(role_environment& env);

} // namespace troupe::dashboard
