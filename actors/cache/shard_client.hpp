// Commands to a cache cluster's shards from any node, cache role or not
// (the edge's L2, docs/edge.md): the key's primary comes from the slot map
// this node learns with its heartbeat acks, and the command goes to
// cache/<owner> as a CacheProxyCommand through the runtime, from a local
// actor that runs forward_call() (the role's own actor). Bounded: at most
// `max_in_flight` calls; each answers within `timeout` or is failed by
// sweep().
#pragma once

#include "actors/cache/cluster.hpp"
#include "net/envelope.hpp"
#include "runtime/node_context.hpp"

#include <caf/event_based_actor.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace troupe::cache {

/// Sends `cmd` (a CacheProxyCommand of `n` commands: n > 1 is a batch) to
/// cache/<node> by name and calls `complete(i, reply)` for each command i
/// with its RESP reply, or with an error reply ("-TRYAGAIN ...") when the
/// runtime could not deliver it.
void forward_call(caf::event_based_actor* self, const node_context_ptr& ctx,
                  const std::string& node, envelope cmd, size_t n,
                  std::chrono::milliseconds timeout,
                  std::function<void(size_t, std::string)> complete);

class shard_client {
public:
  /// `actor_name`: the local actor that handles (cache_proxy_atom, id,
  /// node, envelope) by calling forward_call and then complete(id, ...).
  shard_client(node_context_ptr ctx, std::string actor_name, size_t max_in_flight,
               std::chrono::milliseconds timeout);

  /// Whether a cache cluster exists (the slot map has shards).
  bool enabled() const;

  /// Runs `args` on the primary of the shard owning args[1]. `done` gets
  /// the RESP reply, or nullopt (no cluster, no primary, shed, timeout,
  /// an error reply), exactly once, from any thread.
  using done_fn = std::function<void(std::optional<std::string>)>;
  void call(std::vector<std::string> args, done_fn done);

  /// For the actor: the reply to call `id`.
  void complete(uint64_t id, std::string reply);
  /// Fails calls older than the timeout (call it now and then).
  void sweep();

  uint64_t errors() const noexcept {
    return errors_.load(std::memory_order_relaxed);
  }

private:
  node_context_ptr ctx_;
  std::string actor_name_;
  size_t max_in_flight_;
  std::chrono::milliseconds timeout_;
  std::shared_ptr<const slot_map> map_;
  mutable std::mutex mtx_;
  struct pending {
    done_fn done;
    std::chrono::steady_clock::time_point started;
  };
  std::unordered_map<uint64_t, pending> calls_;
  uint64_t next_ = 1;
  std::atomic<uint64_t> errors_{0};
};

/// The value of a RESP bulk-string reply ("$3\r\nabc\r\n"); nullopt for a
/// null or any other reply.
std::optional<std::string> bulk_value(const std::string& reply);

} // namespace troupe::cache
