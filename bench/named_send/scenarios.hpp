// The measured scenarios: each runs --runs times, its paths interleaved in
// --blocks rounds per run, and adds one sample per run and path to `rep`.
#pragma once

#include "options.hpp"
#include "report.hpp"

#include <caf/actor_system.hpp>

namespace troupe::bench {

/// local.rtt and local.oneway: a named echo and sink in this process
/// against bare CAF actors doing the same work.
void run_local(caf::actor_system& sys, const options& opts, report& rep);

/// remote.rtt and remote.pipelined against a server child process: its
/// gateway, request_by_name through a client node, and a bare echo.
void run_remote(caf::actor_system& sys, const options& opts, report& rep);

} // namespace troupe::bench
