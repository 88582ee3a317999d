// The admin port's HTTP/1.1 server: a CAF io::broker that runs one
// http_session per connection on the middleman's I/O thread. Meant for
// admin, health and metrics traffic only (docs/http.md explains why).
#pragma once

#include "net/http.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/io/broker.hpp>
#include <caf/io/connection_handle.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace troupe {

/// Counters of one HTTP server, for /metrics. Written by the server's
/// broker, readable from any thread.
struct http_server_stats {
  std::atomic<uint64_t> connections_accepted{0};
  /// Closed at once because `max_connections` were open.
  std::atomic<uint64_t> connections_rejected{0};
  /// Closed after `idle_timeout` without traffic.
  std::atomic<uint64_t> connections_timed_out{0};
  std::atomic<uint64_t> connections_open{0};
  std::atomic<uint64_t> requests_answered{0};
  /// Connections closed after answering a parse error (4xx or 5xx).
  std::atomic<uint64_t> requests_rejected{0};
  /// Times a connection stopped reading because `max_output_bytes` of its
  /// responses were unsent.
  std::atomic<uint64_t> output_stalls{0};
};

/// Takes over a connection whose request the handler answered with 101
/// Switching Protocols (e.g. a WebSocket, net/websocket_server.hpp). Called
/// on the server's broker after the 101 is queued and flushed; the server
/// has already forgotten the connection, so the callee must move it to
/// another broker with `server->fork(...)` (or close it). Must not block.
using http_upgrade_handler = std::function<void(
  caf::io::broker* server, caf::io::connection_handle hdl, const http_request& req)>;

/// Opens a TCP listener on `host`:`port` and serves HTTP/1.1 on it, calling
/// `handler` for each request (keep-alive and pipelining supported, answers
/// in request order; HEAD gets headers only). `host` is an IP address or a
/// name (resolved here, blocking the caller), bound as given: nodes on
/// 127.0.0.2 and 127.0.0.3 can share a port. Port 0 picks a free port,
/// which is not reported back.
///
/// Returns the server's handle, or an `errc::invalid_argument` error whose
/// text says what to fix, e.g. "cannot listen on 127.0.0.2:7480: address in
/// use; stop the other process or choose another port". Never throws.
///
/// Stop it with `caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown)`:
/// that closes the listener and every connection (unsent output is still
/// flushed). Stop it before the actor_system is destroyed, which otherwise
/// waits for it forever. An exception from `handler` terminates the server.
///
/// `stats`, if given, receives the server's counters. `upgrade`, if given,
/// receives connections answered with 101; without it they are closed.
caf::expected<caf::actor>
spawn_http_server(caf::actor_system& sys, const std::string& host,
                  uint16_t port, http_handler handler, http_limits limits = {},
                  std::shared_ptr<http_server_stats> stats = nullptr,
                  http_upgrade_handler upgrade = nullptr);

} // namespace troupe
