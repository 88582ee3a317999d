// The server child process: the client forks and execs itself as
// `--role server`, reads its ports from a readiness pipe, and makes sure it
// never outlives the client (nor the client's fatal errors and signals).
#pragma once

#include "options.hpp"

#include <cstdint>
#include <string>

#include <sys/types.h>

namespace troupe::bench {

/// Prints `what`, kills the server child if there is one and exits with 2
/// at once (the actor system may still run stuck actors).
[[noreturn]] void fatal(const std::string& what);

/// Makes SIGINT, SIGTERM and SIGHUP kill the server child before the client.
void kill_server_on_stop_signals();

/// The `--role server` process: publishes a gateway with a named echo and a
/// bare echo on 127.0.0.1 and serves until its stdin closes.
int run_server(const options& opts);

struct server_handle {
  pid_t pid = -1;
  int to_child = -1; // closing it tells the server to stop
  uint16_t gateway_port = 0;
  uint16_t bare_port = 0;
};

/// Starts the server child and waits for its ports; fatal on failure.
server_handle start_server(const options& opts);

/// Tells the server to stop and reaps it, killing it after 5 s.
void stop_server(server_handle& server);

} // namespace troupe::bench
