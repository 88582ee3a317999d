// Shared by the cache role's files (cache_role.cpp, shard_actors.cpp): the
// node's cluster and what the shard actors need from the node.
#pragma once

#include "actors/cache/cache_role.hpp"
#include "actors/cache/cluster.hpp"
#include "actors/cache/server.hpp"
#include "runtime/node_context.hpp"

#include <memory>

namespace troupe::cache {

struct role_state {
  std::unique_ptr<cluster> cl;
  std::unique_ptr<resp_server> server;
  node_context_ptr ctx;
  /// The actor that forwards for the RESP threads: cache/<node-id>.
  std::string actor_name;
};

} // namespace troupe::cache
