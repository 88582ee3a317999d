#include "runtime/caf_setup.hpp"

#include "runtime/defaults.hpp"
#include "runtime/type_ids.hpp"

#include <caf/io/middleman.hpp>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

namespace troupe {

namespace {

std::string render_troupe_error(uint8_t code, caf::atom_value,
                                const caf::message& ctx) {
  auto err = ctx.empty() ? make_error(static_cast<errc>(code))
                         : caf::error{code, error_category, ctx};
  return describe(err);
}

} // namespace

void configure_caf(caf::actor_system_config& cfg,
                   std::chrono::milliseconds heartbeat_interval,
                   std::chrono::milliseconds connection_timeout) {
  cfg.load<caf::io::middleman>();
  cfg.add_message_types<caf::id_block::troupe>();
  cfg.add_error_category(error_category, render_troupe_error);
  cfg.set("middleman.heartbeat-interval", caf::timespan{heartbeat_interval});
  cfg.set("middleman.connection-timeout", caf::timespan{connection_timeout});
  // Refuses BASP peers that are not troupe (another CAF application).
  cfg.set("middleman.app-identifiers", std::vector<std::string>{"troupe-1"});
  cfg.set("scheduler.max-throughput",
          size_t{defaults::scheduler_max_throughput});
  // CAF defaults to max(cores, 4) workers; on small machines more workers
  // than cores only adds stealing overhead (caf-0.17-notes §7).
  auto cores = std::max(2u, std::thread::hardware_concurrency());
  cfg.set("scheduler.max-threads", size_t{cores});
}

} // namespace troupe
