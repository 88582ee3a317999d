// The edge's data plane: an HTTP/1.1 server on one asio io_context per I/O
// thread, each with its own SO_REUSEPORT listener on the same address, so
// the kernel spreads connections over the threads and a request never
// crosses threads unless it waits on another thread's origin fetch
// (coalescing). The L1 cache, origin pool, coalescer and rate limiter are
// shared and thread-safe. docs/edge.md explains why not a CAF broker.
//
// Nothing here is an actor: the edge role's actor (edge_role.hpp) owns the
// server and reaches the shared state for purges and stats.
#pragma once

#include "actors/edge/cache/cache.hpp"
#include "actors/edge/coalescer.hpp"
#include "actors/edge/edge_stats.hpp"
#include "actors/edge/events.hpp"
#include "actors/edge/origin_set.hpp"
#include "actors/edge/rate_limiter.hpp"
#include "net/http.hpp"
#include "runtime/config.hpp"

#include <caf/expected.hpp>

#include <memory>
#include <string>
#include <vector>

namespace troupe::edge {

class cluster_l2;

/// What the server shares with the role and between its threads.
struct edge_shared {
  edge_settings cfg;
  std::string node_id;    // in Via
  http_limits limits;     // client-side parser limits
  std::shared_ptr<cache::cache> l1;
  std::shared_ptr<origin_set> origins;
  std::shared_ptr<edge_stats> stats;
  std::shared_ptr<rate_limiter> limiter;
  std::shared_ptr<coalescer> coalesce;
  std::shared_ptr<event_sink> events;
  std::shared_ptr<cluster_l2> l2; // null: no second tier (tests)
  std::vector<metric_histogram*> origin_latency; // per origin; may be empty
};

class edge_server {
public:
  /// Binds `shared->cfg.http_listen` on every thread and starts them.
  /// Errors (errc::invalid_argument) name the address and what to do.
  static caf::expected<std::unique_ptr<edge_server>>
  start(std::shared_ptr<edge_shared> shared);

  /// Stops accepting, closes connections, joins the threads. Idempotent.
  void stop();

  ~edge_server();

  /// The bound port (useful with port 0 in tests).
  uint16_t port() const;
  size_t threads() const;

  struct impl;

private:
  explicit edge_server(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace troupe::edge
