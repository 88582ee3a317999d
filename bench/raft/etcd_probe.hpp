// The failover probe for etcd: puts to several members, a new one every
// `interval` to each whatever the earlier ones are doing, until one put
// succeeds. A put that reaches an etcd follower with no leader is not
// answered until it times out, so waiting for each reply before sending the
// next would round the measured failover up to whole attempt timeouts.
#pragma once

#include "http_client.hpp"
#include "load.hpp"

#include <optional>
#include <vector>

namespace troupe::kvbench {

/// Returns when the first successful put's reply arrived, or nothing at
/// `deadline`. At most attempt_timeout / interval + 1 puts per target are in
/// flight at once.
std::optional<bench_clock::time_point>
etcd_first_write(const std::vector<http_endpoint>& targets,
                 const probe_timing& timing, bench_clock::time_point deadline);

} // namespace troupe::kvbench
