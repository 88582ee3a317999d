// etcd 3.4 (Debian's etcd-server) as the comparison cluster: three members
// on loopback, default durability (every commit fsyncs its WAL), default
// timing (100 ms heartbeat, 1 s election timeout), as a user would run it.
#pragma once

#include "cluster.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace troupe::kvbench {

struct etcd_config {
  std::string binary = "/usr/bin/etcd";
  std::string data_root; // member data dirs and logs go under it
  std::vector<std::string> hosts{"127.0.4.1", "127.0.4.2", "127.0.4.3"};
  uint16_t client_port = 12379;
  uint16_t peer_port = 12380;
  std::vector<std::string> extra_args; // appended to every member's flags
};

std::unique_ptr<cluster> make_etcd_cluster(const etcd_config& cfg);

} // namespace troupe::kvbench
