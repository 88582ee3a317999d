// The shell of one server-side WebSocket connection: a CAF io::broker that
// runs a ws_session (net/websocket.hpp) on a connection taken over from the
// admin HTTP server after its 101 answer (net/http_server.hpp).
//
// Messages the connection broker accepts (from any actor):
//   std::string text             send as one text message, if the bounded
//                                send queue has room (see ws_server_options)
//   (uint16_t code, std::string reason)
//                                start the close handshake with `code`
// Everything else is reported through ws_callbacks, which run on the
// broker's (the middleman's) thread and must only send messages.
#pragma once

#include "net/http_server.hpp"
#include "net/websocket.hpp"

#include <caf/actor.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace troupe {

struct ws_server_options {
  ws_limits limits;
  /// Unsent bytes (queued in the broker and the kernel's send buffer beyond
  /// SO_SNDBUF) at which outgoing messages are dropped instead of queued;
  /// the connection is then "behind" until the peer drains it to a quarter
  /// of this, when on_resync asks for one fresh snapshot. One message may
  /// overshoot it.
  size_t max_unsent_bytes = 1 << 20;
  /// A connection behind for this long is closed with 1008.
  std::chrono::milliseconds slow_reader_timeout{5000};
  /// Pings go out this often; a peer silent for 3 intervals is closed (1001).
  std::chrono::milliseconds ping_interval{15000};
  /// After our close frame, how long the peer gets to answer before the
  /// connection is reset.
  std::chrono::milliseconds close_grace{2000};
  /// Messages from the peer per second (each counts one); more: 1008.
  uint32_t max_messages_per_second = 100;
  /// SO_SNDBUF of the socket, so that the kernel cannot hide a slow reader
  /// behind megabytes of buffer. 0 keeps the system default.
  int socket_send_buffer_bytes = 64 * 1024;
};

/// Counters of every connection made with the same stats object.
struct ws_server_stats {
  std::atomic<uint64_t> connections_opened{0};
  std::atomic<uint64_t> connections_open{0};
  std::atomic<uint64_t> messages_sent{0};
  std::atomic<uint64_t> messages_received{0};
  /// Outgoing messages dropped because the send queue was full.
  std::atomic<uint64_t> messages_dropped{0};
  /// Connections closed because they read too slowly (1008).
  std::atomic<uint64_t> slow_disconnects{0};
  /// Connections closed because the peer broke the protocol or a limit.
  std::atomic<uint64_t> protocol_closes{0};
};

struct ws_callbacks {
  /// The connection is open; `conn` accepts the messages listed above.
  std::function<void(const caf::actor& conn, const http_request& req)> on_open;
  /// A complete text message from the peer (binary messages are refused
  /// with 1003).
  std::function<void(const caf::actor& conn, std::string text)> on_text;
  /// The connection was behind (messages were dropped) and has drained:
  /// send it a fresh snapshot so it catches up in one message.
  std::function<void(const caf::actor& conn)> on_resync;
  /// The connection ended; `code` is the close code sent or received, or
  /// 1006 when the TCP connection ended without a close frame. Called once.
  std::function<void(const caf::actor& conn, uint16_t code)> on_close;
};

/// Returns an upgrade handler for spawn_http_server that runs each upgraded
/// connection as a WebSocket connection broker with `callbacks`.
http_upgrade_handler ws_upgrade_handler(ws_server_options options, ws_callbacks callbacks,
                                        std::shared_ptr<ws_server_stats> stats);

} // namespace troupe
