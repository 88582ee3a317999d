// Internals of edge_server shared by its .cpp files: the per-thread worker,
// client connections and the origin client, all on asio. Not a public
// interface: include edge_server.hpp instead.
#pragma once

#include "actors/edge/edge_server.hpp"
#include "actors/edge/origin_parser.hpp"

#include <asio.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace troupe::edge {

using tcp = asio::ip::tcp;
class worker;

/// One response on its way to a client.
struct reply {
  std::string head;
  cache::body_ptr body; // may be null
  bool send_body = true;
  bool close = false; // close the connection after it
};

/// One client connection. Requests are answered in order (pipelining): each
/// parsed request gets a slot; slots are filled in any order and written
/// from the front as soon as they are ready. Lives on its worker's thread.
class client_connection : public std::enable_shared_from_this<client_connection> {
public:
  client_connection(worker& w, tcp::socket s);
  ~client_connection();

  void start();

  /// Fills slot `seq`. Call on the worker's thread only.
  void deliver(uint64_t seq, reply r);

  const std::string& peer_ip() const { return peer_ip_; }
  worker& owner() { return w_; }

private:
  struct slot {
    bool ready = false;
    reply r;
  };

  void read();
  void on_read(const asio::error_code& ec, size_t n);
  void write();
  void on_written(const asio::error_code& ec);
  void arm_idle();
  void close();
  bool may_read() const;

  worker& w_;
  tcp::socket sock_;
  std::string peer_ip_;
  http_request_parser parser_;
  std::vector<http_request> parsed_;
  std::vector<char> rbuf_;
  std::deque<slot> slots_;
  uint64_t first_seq_ = 0; // seq of slots_.front()
  uint64_t next_seq_ = 0;
  std::vector<reply> in_write_;
  std::vector<asio::const_buffer> buffers_;
  asio::steady_timer idle_;
  bool reading_ = false;
  bool writing_ = false;
  bool input_done_ = false; // parse error or last request seen
  bool closed_ = false;
};

/// The outcome of one origin exchange.
struct fetch_result {
  bool ok = false; // a complete response arrived
  cache::response res;
  std::string error;
  bool connect_failed = false; // no connection could be made (503, not 502)
  bool timed_out = false;      // connected, but no full answer in time (504)
  std::chrono::steady_clock::time_point sent{}, received{};
  cache::time_point sent_wall{}, received_wall{};
};

using fetch_callback = std::function<void(fetch_result)>;

/// The origin side of one worker: per-origin pools of idle keep-alive
/// connections (bounded), connect and exchange timeouts.
class origin_client {
public:
  static constexpr size_t max_idle_per_origin = 64;

  origin_client(asio::io_context& io, const edge_shared& shared);
  ~origin_client();

  /// One exchange with origin `i`: writes `request_bytes`, reads one
  /// response. `pooled`: reuse and keep connections (health checks do
  /// not). Calls `done` exactly once, on this worker's thread. A pooled
  /// connection that fails before any response byte is retried once on a
  /// fresh connection (the origin closed an idle connection).
  void fetch(size_t i, std::shared_ptr<const std::string> request_bytes,
             bool head, bool pooled, fetch_callback done);

  void close_all();

  struct conn;
  struct exchange;

  asio::io_context& io;
  const edge_shared& shared;
  std::vector<std::vector<tcp::endpoint>> endpoints; // resolved per origin
  std::vector<std::string> resolve_errors;
  std::vector<std::vector<std::shared_ptr<conn>>> idle;
};

/// One I/O thread with its io_context, listener and origin client.
class worker {
public:
  worker(std::shared_ptr<edge_shared> s, size_t i);

  // Declared first, destroyed last: handlers destroyed with the io_context
  // (connections) still read the shared stats.
  std::shared_ptr<edge_shared> shared;
  asio::io_context io;
  size_t index;
  origin_client origins;
  event_batcher events;
  std::minstd_rand rng;
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::steady_timer> health_timer;
  std::vector<char> health_in_flight; // per origin: one check at a time
  std::thread thread;
};

/// Answers one parsed request on `conn`'s slot `seq` (request_flow.cpp).
void handle_request(worker& w, const std::shared_ptr<client_connection>& conn,
                    uint64_t seq, http_request req);

/// Answers a request the parser refused (400, 413, 414, 431, 501, 505).
reply error_reply(worker& w, int status, const std::string& reason);

/// Starts the periodic active health checks on `w` (health.cpp).
void start_health_checks(worker& w);

} // namespace troupe::edge
