// named_send_bench: what the runtime's send and request by name cost, next to
// bare CAF doing the same work in the same process and the same run.
//
// One binary, two roles. As `--role client` (the default) it measures:
//   local.rtt      request_by_name to a local named echo vs self->request
//   local.oneway   send_by_name vs anon_send, with a credit window and acks
// then forks/execs itself as `--role server` over 127.0.0.1 and measures:
//   remote.rtt / remote.pipelined
//     gateway   (route_atom, name, envelope) to the server's gateway
//     named     request_by_name through a client node_context whose seed
//               directory learned the server from its members table
//     caf       the envelope straight to a published bare echo actor
// Every echo does the same protobuf work (unpack Ping, pack Pong), so the
// ratios show the runtime's own cost: name lookup, gate, handler dispatch and
// the gateway hop. Each scenario runs --runs times; within a run the paths
// take turns in --blocks rounds (so background load hits them alike), and the
// medians over runs are compared. docs/bench-named-send.md has results.
//
// This file holds the client's top level and main; bench/named_send/ has the
// rest, one job per file.
#include "actors.hpp"
#include "context.hpp"
#include "options.hpp"
#include "report.hpp"
#include "scenarios.hpp"
#include "server.hpp"

#include "runtime/caf_setup.hpp"
#include "runtime/defaults.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <CLI/CLI.hpp>

namespace troupe::bench {

namespace {

int run_client(const options& opts) {
  kill_server_on_stop_signals();
  caf::actor_system_config cfg;
  configure_caf(cfg, defaults::heartbeat_interval,
                defaults::connection_timeout);
  caf::actor_system sys{cfg};
  print_header(sys, opts);
  print_load("at start");
  auto ping = make_ping(opts.payload_bytes);
  print_component_costs(ping);
  print_payload_sizes(sys, ping);
  report rep;
  if (opts.only != "remote")
    run_local(sys, opts, rep);
  if (opts.only != "local")
    run_remote(sys, opts, rep);
  print_comparisons(rep);
  print_summary(rep, opts);
  print_load("at end");
  return 0;
}

} // namespace

} // namespace troupe::bench

int main(int argc, char** argv) {
  troupe::bench::options opts;
  CLI::App app{"named_send_bench: troupe's named send/request vs bare CAF"};
  troupe::bench::add_options(app, opts);
  CLI11_PARSE(app, argc, argv);
  if (opts.role == "server")
    return troupe::bench::run_server(opts);
  return troupe::bench::run_client(opts);
}
