#include "net/http_server.hpp"

#include "net/errors.hpp"

#include <caf/io/broker.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/receive_policy.hpp>
#include <caf/io/system_messages.hpp>
#include <caf/sec.hpp>
#include <caf/type_id.hpp>

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <system_error>

namespace troupe {

namespace {

// -- opening the listener ----------------------------------------------------

std::string endpoint_text(const std::string& host, uint16_t port) {
  auto shown = host.find(':') == std::string::npos ? host : "[" + host + "]";
  return shown + ":" + std::to_string(port);
}

caf::error listen_error(const std::string& host, uint16_t port,
                        const std::string& what) {
  return make_error(errc::invalid_argument, "cannot listen on "
                                              + endpoint_text(host, port) + ": "
                                              + what);
}

std::string bind_error_text(int err) {
  switch (err) {
    case EADDRINUSE:
      return "address in use; stop the other process or choose another port";
    case EADDRNOTAVAIL:
      return "address not available on this machine; use a local address "
             "such as 127.0.0.1";
    case EACCES:
      return "permission denied; use a port above 1023";
    default:
      return std::error_code{err, std::generic_category()}.message();
  }
}

// Returns a listening socket for `ai`, or -1 with `err` set.
int try_listen(const addrinfo& ai, int& err) {
  auto fd = ::socket(ai.ai_family, ai.ai_socktype | SOCK_CLOEXEC,
                     ai.ai_protocol);
  if (fd < 0) {
    err = errno;
    return -1;
  }
  // Lets a restarted node rebind while its old connections sit in
  // TIME_WAIT. Linux still refuses a second listener on the same address.
  int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  if (::bind(fd, ai.ai_addr, ai.ai_addrlen) != 0
      || ::listen(fd, SOMAXCONN) != 0) {
    err = errno;
    ::close(fd);
    return -1;
  }
  return fd;
}

// We open the socket ourselves rather than through CAF's add_tcp_doorman:
// CAF 0.17.6 reports every bind failure as "tcp socket creation failed" and
// drops errno, so the user could not tell a busy port from a foreign address.
caf::expected<int> open_listener(const std::string& host, uint16_t port) {
  if (host.empty())
    return listen_error(host, port,
                        "no host given; use an address such as 127.0.0.1");
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  auto service = std::to_string(port);
  if (auto rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
      rc != 0)
    return listen_error(host, port,
                        std::string{"cannot resolve host ("} + gai_strerror(rc)
                          + "); use an IP address of this machine");
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard{found,
                                                             ::freeaddrinfo};
  int err = EADDRNOTAVAIL;
  for (auto ai = found; ai != nullptr; ai = ai->ai_next)
    if (auto fd = try_listen(*ai, err); fd >= 0)
      return fd;
  return listen_error(host, port, bind_error_text(err));
}

caf::error check_limits(const http_limits& limits) {
  if (limits.max_request_line == 0 || limits.max_header_bytes == 0
      || limits.max_headers == 0 || limits.max_output_bytes == 0
      || limits.idle_timeout <= std::chrono::milliseconds::zero())
    return make_error(errc::invalid_argument,
                      "http_limits: sizes, counts and idle_timeout must be "
                      "positive");
  return {};
}

// -- the broker --------------------------------------------------------------

using caf::io::connection_handle;
using time_point = caf::actor_clock::time_point;

// Bytes per read. Each read is parsed in one go, so this bounds the work and
// the requests one read can queue behind a full output buffer.
constexpr size_t read_chunk_bytes = 8192;

struct connection {
  connection(http_session s, time_point now)
    : session(std::move(s)), last_activity(now) {
  }

  http_session session;
  time_point last_activity;
  // session.requests_answered() already added to the stats.
  uint64_t requests_counted = 0;
  // Whether the connection holds its read token (see accept_connection).
  bool reading = true;
  // Whether reading stopped because of unsent output (counted once).
  bool stalled = false;
};

struct http_server_state {
  http_handler handler;
  http_limits limits;
  std::shared_ptr<http_server_stats> stats;
  http_upgrade_handler upgrade;
  std::map<connection_handle, connection> connections;
  bool sweep_scheduled = false;

  static inline const char* name = "troupe.http_server";
};

using server_actor = caf::io::stateful_broker<http_server_state>;

connection* find(server_actor* self, connection_handle hdl) {
  auto i = self->state.connections.find(hdl);
  return i == self->state.connections.end() ? nullptr : &i->second;
}

void forget(server_actor* self, connection_handle hdl) {
  auto& st = self->state;
  auto i = st.connections.find(hdl);
  if (i == st.connections.end())
    return;
  if (i->second.session.error_status() != 0)
    ++st.stats->requests_rejected;
  st.connections.erase(i);
  --st.stats->connections_open;
}

// A quarter of the timeout keeps the overshoot small; the bounds keep the
// timer cheap in production and fast in tests.
std::chrono::milliseconds sweep_interval(std::chrono::milliseconds idle) {
  return std::clamp(idle / 4, std::chrono::milliseconds{10},
                    std::chrono::milliseconds{1000});
}

// The sweep timer runs only while connections are open.
void schedule_sweep(server_actor* self) {
  auto& st = self->state;
  if (st.sweep_scheduled || st.connections.empty())
    return;
  st.sweep_scheduled = true;
  self->delayed_send(self, sweep_interval(st.limits.idle_timeout),
                     caf::tick_atom_v);
}

void accept_connection(server_actor* self, connection_handle hdl) {
  auto& st = self->state;
  if (st.connections.size() >= st.limits.max_connections) {
    ++st.stats->connections_rejected;
    self->close(hdl);
    return;
  }
  st.connections.try_emplace(hdl, http_session{st.limits, st.handler},
                             self->clock().now());
  self->configure_read(hdl, caf::io::receive_policy::at_most(read_chunk_bytes));
  // Write acknowledgements tell the session how much output is unsent.
  self->ack_writes(hdl, true);
  // The connection reads on one activity token at a time, renewed after each
  // read only if the session wants more input. Without a token CAF stops
  // reading right away; halt() would let up to max-consecutive-reads more
  // reads through first.
  self->trigger(hdl, 1);
  ++st.stats->connections_accepted;
  ++st.stats->connections_open;
  schedule_sweep(self);
}

void after_session_step(server_actor* self, connection_handle hdl,
                        connection& conn) {
  auto& stats = *self->state.stats;
  auto answered = conn.session.requests_answered();
  stats.requests_answered += answered - conn.requests_counted;
  conn.requests_counted = answered;
  self->flush(hdl);
  if (conn.session.done() && conn.session.upgraded() && self->state.upgrade) {
    auto req = *conn.session.upgraded();
    auto upgrade = self->state.upgrade;
    forget(self, hdl);
    upgrade(self, hdl, req); // moves the connection to its new broker
  } else if (conn.session.done()) {
    forget(self, hdl);
    self->close(hdl); // graceful: unsent output still goes out, then FIN
  } else if (conn.session.wants_input()) {
    conn.stalled = false;
    if (!conn.reading) {
      self->trigger(hdl, 1);
      conn.reading = true;
    }
  } else if (!conn.stalled) {
    conn.stalled = true;
    ++stats.output_stalls;
  }
}

void handle_input(server_actor* self, connection_handle hdl,
                  const std::vector<char>& buf) {
  auto conn = find(self, hdl);
  if (!conn)
    return;
  conn->last_activity = self->clock().now();
  conn->reading = false; // this read used up the token
  conn->session.on_input(buf.data(), buf.size(), self->wr_buf(hdl));
  // Closing inside this handler with the token used up would crash CAF
  // 0.17.6: after the handler, the scribe then reports "passivated" to its
  // parent broker, which close() has already detached (null). A spare token
  // skips that path; the detached scribe stops reading by itself.
  if (conn->session.done())
    self->trigger(hdl, 1);
  after_session_step(self, hdl, *conn);
}

void handle_transferred(server_actor* self, connection_handle hdl,
                        uint64_t remaining) {
  auto conn = find(self, hdl);
  if (!conn)
    return;
  conn->last_activity = self->clock().now();
  conn->session.on_output_pending(remaining, self->wr_buf(hdl));
  after_session_step(self, hdl, *conn);
}

// A graceful close of a connection whose peer stopped reading would keep its
// socket and unsent output in the multiplexer for as long as the peer keeps
// its receive window closed. For those we reset instead: in CAF 0.17.6's
// default multiplexer a connection handle's id is its socket
// (scribe_impl: conn_hdl_from_socket). SO_LINGER 0 turns the final close
// into a reset; shutdown() makes the pending write fail now, so CAF releases
// the socket.
void close_idle(server_actor* self, connection_handle hdl, bool has_output) {
  if (has_output) {
    auto fd = static_cast<int>(hdl.id());
    linger abort_on_close{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close,
                 sizeof(abort_on_close));
    ::shutdown(fd, SHUT_RDWR);
  }
  self->close(hdl);
}

void sweep_idle(server_actor* self) {
  auto& st = self->state;
  st.sweep_scheduled = false;
  auto deadline = self->clock().now() - st.limits.idle_timeout;
  std::vector<connection_handle> idle;
  for (auto& [hdl, conn] : st.connections)
    if (conn.last_activity <= deadline)
      idle.push_back(hdl);
  for (auto hdl : idle) {
    // Counters first: the peer may look at them as soon as it sees the close.
    ++st.stats->connections_timed_out;
    auto had_output = find(self, hdl)->session.unsent_bytes() > 0;
    forget(self, hdl);
    close_idle(self, hdl, had_output);
  }
  schedule_sweep(self);
}

caf::behavior http_server(server_actor* self, int listener,
                          http_handler handler, http_limits limits,
                          std::shared_ptr<http_server_stats> stats,
                          http_upgrade_handler upgrade) {
  auto& st = self->state;
  st.handler = std::move(handler);
  st.upgrade = std::move(upgrade);
  st.limits = limits;
  st.stats = std::move(stats);
  self->add_doorman(listener);
  return {
    [=](const caf::io::new_connection_msg& msg) {
      accept_connection(self, msg.handle);
    },
    [=](const caf::io::new_data_msg& msg) {
      handle_input(self, msg.handle, msg.buf);
    },
    [=](const caf::io::data_transferred_msg& msg) {
      handle_transferred(self, msg.handle, msg.remaining);
    },
    [=](const caf::io::connection_closed_msg& msg) {
      forget(self, msg.handle);
    },
    [=](const caf::io::connection_passivated_msg&) {
      // Reading paused on purpose (no token renewed); see after_session_step.
    },
    [=](const caf::io::acceptor_closed_msg&) {
      // Only a failing listener gets here; the server is useless without it.
      self->quit(caf::sec::socket_disconnected);
    },
    [=](caf::tick_atom) { sweep_idle(self); },
  };
}

} // namespace

caf::expected<caf::actor>
spawn_http_server(caf::actor_system& sys, const std::string& host,
                  uint16_t port, http_handler handler, http_limits limits,
                  std::shared_ptr<http_server_stats> stats,
                  http_upgrade_handler upgrade) {
  if (!handler)
    return make_error(errc::invalid_argument, "spawn_http_server: no handler");
  if (!sys.has_middleman())
    return make_error(errc::invalid_argument,
                      "spawn_http_server: load caf::io::middleman into the "
                      "actor_system_config first");
  if (auto err = check_limits(limits))
    return err;
  auto listener = open_listener(host, port);
  if (!listener)
    return listener.error();
  if (!stats)
    stats = std::make_shared<http_server_stats>();
  return sys.middleman().spawn_broker(
    http_server, *listener, std::move(handler), limits, std::move(stats),
    std::move(upgrade));
}

} // namespace troupe
