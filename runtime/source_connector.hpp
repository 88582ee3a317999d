// The node's own connect path for cluster connections: a replacement for
// CAF's middleman actor (same interface, caf::io::middleman_actor) whose
// outgoing TCP connections bind a chosen local source address before they
// connect, and give up after a bounded connect timeout.
//
// Why (docs/faults.md, "Source addresses"): CAF 0.17's connect path
// (new_tcp_connection) never binds, so every connection between 127.0.0.x
// nodes leaves from 127.0.0.1 and iptables rules cannot tell the nodes
// apart. CAF's middleman_actor_impl keeps connect() virtual; this actor
// overrides only that, and hands the socket to the same BASP broker, so the
// handshake, connection cache and heartbeats stay CAF's.
//
// TLS: when the actor system has loaded caf::openssl::manager, the socket is
// wrapped in an OpenSSL session built the way libcaf_openssl builds its own
// (caf::openssl::make_session, which reads the same openssl.* settings), so
// peers that only accept TLS keep working. Otherwise the socket becomes a
// plain scribe.
//
// Messages: exactly caf::io::middleman_actor's; callers use
//   (connect_atom, host, port) -> (node_id, strong_actor_ptr, set<string>)
// with a request timeout, as with middleman().actor_handle(). Errors:
// sec::cannot_connect_to_node with "bind failed", "connect failed" or
// "connect timed out" and the address.
#pragma once

#include <caf/actor_system.hpp>
#include <caf/io/middleman_actor.hpp>

#include <chrono>
#include <string>

namespace troupe {

/// Spawns a connector whose connections leave from `source_host` (an IPv4
/// or IPv6 literal, port chosen by the kernel). Connects give up after
/// `connect_timeout`. Detached: the connect itself waits in its own thread,
/// never in a scheduler worker.
caf::io::middleman_actor
spawn_source_connector(caf::actor_system& sys, std::string source_host,
                       std::chrono::milliseconds connect_timeout);

} // namespace troupe
