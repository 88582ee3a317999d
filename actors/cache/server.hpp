// The cache's RESP server: one asio io_context per I/O thread; one acceptor
// hands new connections to the threads in turn, and every connection is
// served entirely on its thread: read, parse, execute on the engine, write. docs/cache.md
// explains why the data path bypasses CAF's multiplexer.
//
// Per connection: the RESP limits of resp::limits; an output-buffer limit
// (a client that sends but does not read its replies is disconnected when
// its unsent replies exceed it, counted in INFO and /metrics); a protocol
// error is answered, then the connection closes after the reply, as Redis.
// Past max_clients, a new connection gets "-ERR max number of clients
// reached" and is closed.
#pragma once

#include "actors/cache/cluster.hpp"
#include "net/resp.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace troupe::cache {

struct server_config {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;            // 0: any free port (see port())
  uint32_t io_threads = 1;
  uint64_t output_buffer_limit_bytes = 64 << 20;
  uint64_t max_clients = 10000;
  resp::limits limits;
  /// Active expiry runs every this many ms on each thread (Redis hz 10).
  uint32_t expire_interval_ms = 100;
};

class resp_server {
public:
  resp_server(server_config cfg, cluster& cl);
  ~resp_server();
  resp_server(const resp_server&) = delete;
  resp_server& operator=(const resp_server&) = delete;

  /// Binds every thread's acceptor and starts the threads. Returns an empty
  /// string, or one line saying why not (e.g. the port is in use).
  std::string start();
  /// Closes the listeners and every connection and joins the threads.
  /// Idempotent; also called by the destructor.
  void stop();
  /// The bound port (after start()).
  uint16_t port() const noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace troupe::cache
