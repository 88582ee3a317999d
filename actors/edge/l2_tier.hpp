// The interface point for the edge's second tier (L2): the cluster's cache
// shards (issue 4). NOT BUILT YET: the cache role is not clustered, so no
// implementation exists and the edge goes from an L1 miss straight to the
// origin (docs/edge.md, "L2").
//
// How it plugs in, when it exists: edge_shared gets a std::shared_ptr<l2_tier>;
// in request_flow.cpp the coalescing leader of a miss (request_task::coalesce,
// leader branch) calls get(decided.key) before forward(). An answer is
// decoded with cache::decode_stored, stored with cache::cache::insert, and the
// request is looked up again; no answer (or a timeout) goes to forward(). After
// an origin answer, on_origin_response's outcome.stored_response, if set and
// below the L2 size limit, goes to put() encoded with cache::encode_stored.
// Purges then also have to reach the shards.
#pragma once

#include <functional>
#include <optional>
#include <string>

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

  /// Offers a stored response to the owning shard; fire and forget, may be
  /// dropped under load.
  virtual void put(const std::string& key, std::string bytes) = 0;
};

} // namespace troupe::edge
