#include "cli/app.hpp"

#include "cli/command.hpp"
#include "cli/kv_commands.hpp"
#include "cli/node_commands.hpp"
#include "cli/raft_commands.hpp"
#include "runtime/caf_setup.hpp"
#include "runtime/defaults.hpp"

#include <CLI/CLI.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <cstdlib>
#include <iostream>

namespace troupe::cli {

namespace {

int run(const options& opts, const command& cmd) {
  auto endpoint = parse_host_port(opts.endpoint, defaults::cluster_port);
  if (!endpoint)
    return fail({exit_usage, describe(endpoint.error())});
  caf::actor_system_config cfg;
  configure_caf(cfg, std::chrono::seconds{1}, std::chrono::seconds{5});
  caf::actor_system sys{cfg};
  client c{sys, *endpoint, std::chrono::milliseconds{opts.timeout_ms}};
  auto gw = c.connect();
  if (!gw)
    return fail({exit_unreachable,
                 "cannot reach a troupe node at " + endpoint->to_string() + " ("
                     + describe(gw.error())
                     + "); check --endpoint or TROUPECTL_ENDPOINT and that the "
                       "node runs"});
  return cmd(c, *gw, opts);
}

std::string env_or(const char* name, std::string fallback) {
  auto* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string{value} : fallback;
}

options default_options() {
  options opts;
  opts.endpoint = env_or("TROUPECTL_ENDPOINT",
                         std::string{defaults::listen_host} + ":"
                             + std::to_string(defaults::cluster_port));
  opts.timeout_ms = static_cast<uint32_t>(
      std::chrono::milliseconds{defaults::cli_request_timeout}.count());
  return opts;
}

void add_global_options(CLI::App& app, options& opts) {
  app.add_option(
      "--endpoint", opts.endpoint,
      "HOST:PORT of any node's cluster port (env TROUPECTL_ENDPOINT)");
  app.add_option("-o,--output", opts.output, "table or json")
      ->check(CLI::IsMember({"table", "json"}));
  app.add_option("--timeout-ms", opts.timeout_ms,
                 "request timeout; kv and raft commands retry within it")
      ->check(CLI::Range(1u, 600000u));
}

} // namespace

int run_troupectl(int argc, char** argv) {
  auto opts = default_options();
  CLI::App app{"troupectl: talk to a troupe cluster through any node"};
  app.require_subcommand(1);
  // Global options may also follow the command: `troupectl actors -o json`.
  // Subcommands created after this inherit it, so `kv get k -o json` works.
  app.fallthrough();
  add_global_options(app, opts);
  chosen_command chosen;
  add_node_commands(app, chosen);
  add_kv_commands(app, chosen);
  add_raft_commands(app, chosen);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return exit_ok;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return exit_ok;
  } catch (const CLI::ParseError& e) {
    return fail(
        {exit_usage, std::string{e.what()} + " (see troupectl --help)"});
  }
  if (chosen.offline)
    return chosen.offline();
  return run(opts, chosen.online);
}

} // namespace troupe::cli
