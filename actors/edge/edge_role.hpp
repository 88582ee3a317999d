// The edge role of troupe-node: an HTTP/1.1 caching reverse proxy (the CDN
// edge). The data plane is edge_server (asio, one io_context per core); the
// role's actor `edge/<node-id>` answers the admin messages of
// proto/troupe/edge.proto, which troupectl sends through the gateway:
//   EdgePurgeRequest -> EdgePurgeReport   (idempotent; invalid_argument for
//                                          a bad URL or both/neither of url, key)
//   EdgeStatsRequest -> EdgeStats
//   EdgeOriginsRequest -> EdgeOrigins
// The actor only reads and purges the shared, thread-safe state; it never
// blocks and never touches a socket. docs/edge.md has the whole picture.
#pragma once

#include "actors/edge/edge_server.hpp"
#include "runtime/node.hpp"

#include "troupe/edge.pb.h"

#include <caf/expected.hpp>

#include <memory>
#include <string>

namespace troupe::edge {

/// The role's actor name on `node_id`.
std::string name_for(const std::string& node_id);

/// Starts the edge server (binding --http-listen; failure stops the node
/// with a message naming the address) and returns the role's supervisor
/// `sup/<node-id>/edge` with the admin actor.
caf::expected<supervisor_spec> make_role(role_environment& env);

// -- the admin core, without actors (tested directly) ------------------------

/// Splits "http://HOST[:PORT]/PATH?QUERY" into scheme, host and target
/// ("/" when the path is empty).
struct purge_target {
  std::string scheme, host, target;
};
caf::expected<purge_target> parse_purge_url(const std::string& url);

caf::expected<v1::EdgePurgeReport> apply_purge(edge_shared& shared,
                                               const v1::EdgePurgeRequest& req);
v1::EdgeStats stats_of(const edge_shared& shared, size_t threads);
v1::EdgeOrigins origins_of(const edge_shared& shared);

} // namespace troupe::edge
