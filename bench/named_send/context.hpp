// The "#" lines that put a run in context: settings, machine, load, the
// single-threaded cost of each piece of the named path, and payload sizes.
#pragma once

#include "options.hpp"

#include "net/envelope.hpp"

#include <caf/actor_system.hpp>

namespace troupe::bench {

void print_header(caf::actor_system& sys, const options& opts);

// The machine is shared: the load average says how much.
void print_load(const char* when);

/// Micro-benchmarks, one thread, no contention: table lookup, name cache,
/// gate, handler dispatch against the same protobuf work inline.
void print_component_costs(const envelope& ping);

/// What CAF serializes for one request on the caf and the gateway path.
void print_payload_sizes(caf::actor_system& sys, const envelope& ping);

} // namespace troupe::bench
