// troupe as the cluster under test: three troupe-node processes with
// `--role consensus` on loopback, each a CAF node whose gateway the
// benchmark reaches over BASP, as troupectl does.
#pragma once

#include "cluster.hpp"
#include "troupe_client.hpp"

#include <caf/actor_system.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace troupe::kvbench {

struct troupe_config {
  std::string binary; // troupe-node
  std::string data_root;
  std::vector<std::string> hosts{"127.0.3.1", "127.0.3.2", "127.0.3.3"};
  uint16_t cluster_port = 17400;
  uint16_t admin_port = 17480;
  std::string log_level = "warn";
  gateway_path path = gateway_path::send;
  std::vector<std::string> extra_args; // appended to every node's flags
};

std::unique_ptr<cluster> make_troupe_cluster(caf::actor_system& sys,
                                             const troupe_config& cfg);

} // namespace troupe::kvbench
