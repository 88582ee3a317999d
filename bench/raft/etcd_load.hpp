// The etcd backend of the load: C keep-alive HTTP/1.1 connections to one
// member's JSON gateway (POST /v3/kv/put), one put outstanding on each, all
// driven by one epoll loop on the calling thread.
#pragma once

#include "http_client.hpp"
#include "load.hpp"

namespace troupe::kvbench {

/// Runs `shape` against `member` (the leader, so that no put is forwarded)
/// and returns the merged tally.
load_result run_etcd_load(const http_endpoint& member, const load_shape& shape);

/// The JSON body of a put of `key` = `value`.
std::string etcd_put_json(const std::string& key, const std::string& value);

} // namespace troupe::kvbench
