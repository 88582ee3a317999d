// The edge's second tier (L2): the cluster's cache shards (docs/edge.md,
// "L2"). The coalescing leader of an L1 miss asks L2 before the origin
// (request_flow.cpp); an object the edge stores after an origin answer is
// offered to L2 when it is at most max_object_bytes; purges remove from
// L2 too. actors/edge/cluster_l2.cpp implements it over the cache cluster.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace troupe::edge {

class l2_tier {
public:
  virtual ~l2_tier() = default;

  /// Asks the shard owning `key` for a stored response (encode_stored
  /// bytes). Calls `done` exactly once, from any thread, within the
  /// implementation's timeout; nullopt on a miss, an error or a timeout.
  virtual void get(const std::string& key,
                   std::function<void(std::optional<std::string>)> done)
    = 0;

  /// Offers a stored response to the owning shard, tagged with its
  /// surrogate keys; fire and forget, may be dropped under load.
  virtual void put(const std::string& key, std::string bytes,
                   const std::vector<std::string>& surrogate_keys)
    = 0;

  /// Purges: the object stored under `key`; every object tagged `tag`.
  virtual void remove(const std::string& key) = 0;
  virtual void remove_tagged(const std::string& tag) = 0;

  /// Whether a second tier exists now (a cache cluster is placed).
  virtual bool enabled() const = 0;
};

} // namespace troupe::edge
