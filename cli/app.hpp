// troupectl: talk to a troupe cluster through any node.
//
//   troupectl [--endpoint HOST:PORT] [-o table|json] [--timeout-ms N] COMMAND
//
// Exit codes: 0 ok, 1 the command failed, 2 usage error, 3 no node reachable.
// Errors go to stderr as one line that says what to do.
#pragma once

namespace troupe::cli {

/// Parses the command line, connects to the endpoint and runs the command.
/// Returns the exit code.
int run_troupectl(int argc, char** argv);

} // namespace troupe::cli
