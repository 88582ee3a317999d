// CAF configuration shared by troupe-node, troupectl, tests and benchmarks.
#pragma once

#include <caf/actor_system_config.hpp>

#include <chrono>

namespace troupe {

/// Loads the middleman, registers troupe's message types and error
/// category, sets BASP heartbeats and the application identifier, so that
/// only troupe peers connect and a silent peer is dropped after
/// `connection_timeout`.
void configure_caf(caf::actor_system_config& cfg,
                   std::chrono::milliseconds heartbeat_interval,
                   std::chrono::milliseconds connection_timeout);

} // namespace troupe
