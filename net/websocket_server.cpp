#include "net/websocket_server.hpp"

#include <caf/io/broker.hpp>
#include <caf/io/receive_policy.hpp>
#include <caf/io/system_messages.hpp>

#include <sys/socket.h>

#include <algorithm>

namespace troupe {

namespace {

using caf::io::connection_handle;
using time_point = caf::actor_clock::time_point;

// How often the connection looks at its timers (slow reader, ping, close
// grace); the timeouts are met to within this.
constexpr std::chrono::milliseconds tick_interval{250};
constexpr size_t read_chunk_bytes = 8192;

struct ws_conn_state {
  connection_handle hdl;
  ws_server_options opts;
  ws_callbacks callbacks;
  std::shared_ptr<ws_server_stats> stats;
  ws_session session;
  size_t unsent = 0;
  bool behind = false;
  time_point behind_since;
  time_point last_input;
  time_point last_ping;
  time_point close_deadline;
  // Rate limit on the peer's messages: a count per one-second window.
  time_point window_start;
  uint32_t window_count = 0;
  bool closed_reported = false;
  uint16_t close_code = ws_close::abnormal;

  static inline const char* name = "troupe.ws_connection";
};

using ws_broker = caf::io::stateful_broker<ws_conn_state>;

void report_close(ws_broker* self) {
  auto& st = self->state;
  if (st.closed_reported)
    return;
  st.closed_reported = true;
  --st.stats->connections_open;
  if (st.callbacks.on_close)
    st.callbacks.on_close(caf::actor_cast<caf::actor>(self), st.close_code);
}

void write_out(ws_broker* self, const std::string& bytes) {
  if (bytes.empty())
    return;
  auto& buf = self->wr_buf(self->state.hdl);
  buf.insert(buf.end(), bytes.begin(), bytes.end());
  self->state.unsent += bytes.size();
  self->flush(self->state.hdl);
}

// Ends the connection. `reset` for a peer that does not read: a graceful
// close would keep its unsent bytes in the multiplexer for as long as the
// peer keeps its window shut (see close_idle in http_server.cpp; in CAF
// 0.17.6 a connection handle's id is its socket).
void finish(ws_broker* self, bool reset) {
  auto& st = self->state;
  if (reset) {
    auto fd = static_cast<int>(st.hdl.id());
    linger abort_on_close{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof(abort_on_close));
    ::shutdown(fd, SHUT_RDWR);
  }
  report_close(self);
  self->close(st.hdl);
  self->quit();
}

void start_close(ws_broker* self, uint16_t code, std::string_view reason) {
  auto& st = self->state;
  if (st.session.closing())
    return;
  std::string out;
  st.session.close(code, reason, out);
  st.close_code = code;
  st.close_deadline = self->clock().now() + st.opts.close_grace;
  write_out(self, out);
}

void send_text(ws_broker* self, const std::string& text) {
  auto& st = self->state;
  if (st.session.closing())
    return;
  if (st.behind || st.unsent >= st.opts.max_unsent_bytes) {
    if (!st.behind) {
      st.behind = true;
      st.behind_since = self->clock().now();
    }
    ++st.stats->messages_dropped;
    return;
  }
  std::string out;
  st.session.send_text(text, out);
  ++st.stats->messages_sent;
  write_out(self, out);
}

bool over_rate(ws_broker* self) {
  auto& st = self->state;
  auto now = self->clock().now();
  if (now - st.window_start >= std::chrono::seconds{1}) {
    st.window_start = now;
    st.window_count = 0;
  }
  return ++st.window_count > st.opts.max_messages_per_second;
}

void on_input(ws_broker* self, const std::vector<char>& buf) {
  auto& st = self->state;
  st.last_input = self->clock().now();
  std::string out;
  std::vector<ws_event> messages;
  st.session.on_input(buf.data(), buf.size(), out, messages);
  if (!st.session.decoder_status().ok()) {
    ++st.stats->protocol_closes;
    st.close_code = st.session.close_code_sent();
  }
  write_out(self, out);
  auto me = caf::actor_cast<caf::actor>(self);
  for (auto& msg : messages) {
    if (msg.kind == ws_event::binary) {
      start_close(self, ws_close::unsupported_data, "binary messages are not supported");
      break;
    }
    if (over_rate(self)) {
      start_close(self, ws_close::policy_violation, "more than the allowed messages per second");
      break;
    }
    ++st.stats->messages_received;
    if (st.callbacks.on_text)
      st.callbacks.on_text(me, std::move(msg.payload));
  }
  if (st.session.closing() && st.close_code == ws_close::abnormal)
    st.close_code = st.session.close_code_sent();
  if (st.session.done())
    finish(self, false);
}

void on_transferred(ws_broker* self, uint64_t remaining) {
  auto& st = self->state;
  st.unsent = remaining;
  if (st.behind && st.unsent <= st.opts.max_unsent_bytes / 4 && !st.session.closing()) {
    st.behind = false;
    if (st.callbacks.on_resync)
      st.callbacks.on_resync(caf::actor_cast<caf::actor>(self));
  }
}

void on_tick(ws_broker* self) {
  auto& st = self->state;
  auto now = self->clock().now();
  self->delayed_send(self, tick_interval, caf::tick_atom_v);
  if (st.session.closing()) {
    if (now >= st.close_deadline)
      finish(self, true);
    return;
  }
  if (st.behind && now - st.behind_since >= st.opts.slow_reader_timeout) {
    ++st.stats->slow_disconnects;
    start_close(self, ws_close::policy_violation,
                "client reads too slowly: its send queue stayed full");
    return;
  }
  if (now - st.last_input >= 3 * st.opts.ping_interval) {
    start_close(self, ws_close::going_away, "no traffic from the client");
    return;
  }
  if (now - st.last_ping >= st.opts.ping_interval) {
    st.last_ping = now;
    std::string out;
    st.session.send_ping("troupe", out);
    write_out(self, out);
  }
}

caf::behavior ws_connection(ws_broker* self, connection_handle hdl, ws_server_options opts,
                            ws_callbacks callbacks, std::shared_ptr<ws_server_stats> stats,
                            http_request req) {
  auto& st = self->state;
  st.hdl = hdl;
  st.opts = opts;
  st.callbacks = std::move(callbacks);
  st.stats = std::move(stats);
  st.session = ws_session{opts.limits};
  auto now = self->clock().now();
  st.last_input = st.last_ping = st.window_start = now;
  if (opts.socket_send_buffer_bytes > 0) {
    auto fd = static_cast<int>(hdl.id());
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &opts.socket_send_buffer_bytes,
                 sizeof(opts.socket_send_buffer_bytes));
  }
  self->configure_read(hdl, caf::io::receive_policy::at_most(read_chunk_bytes));
  self->ack_writes(hdl, true);
  self->trigger(hdl); // read without tokens: frames are bounded by ws_limits
  ++st.stats->connections_opened;
  ++st.stats->connections_open;
  self->delayed_send(self, tick_interval, caf::tick_atom_v);
  if (st.callbacks.on_open)
    st.callbacks.on_open(caf::actor_cast<caf::actor>(self), req);
  return {
    [=](const caf::io::new_data_msg& msg) { on_input(self, msg.buf); },
    [=](const caf::io::data_transferred_msg& msg) { on_transferred(self, msg.remaining); },
    [=](const caf::io::connection_closed_msg&) {
      report_close(self);
      self->quit();
    },
    [=](const caf::io::connection_passivated_msg&) {},
    [=](const std::string& text) { send_text(self, text); },
    [=](uint16_t code, const std::string& reason) { start_close(self, code, reason); },
    [=](caf::tick_atom) { on_tick(self); },
  };
}

} // namespace

http_upgrade_handler ws_upgrade_handler(ws_server_options options, ws_callbacks callbacks,
                                        std::shared_ptr<ws_server_stats> stats) {
  if (!stats)
    stats = std::make_shared<ws_server_stats>();
  return [options, callbacks, stats](caf::io::broker* server, connection_handle hdl,
                                     const http_request& req) {
    server->fork(ws_connection, hdl, options, callbacks, stats, req);
  };
}

} // namespace troupe
