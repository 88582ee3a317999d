#include "cli/app.hpp"

#include "cli/command.hpp"
#include "cli/edge_commands.hpp"
#include "cli/cache_commands.hpp"
#include "cli/fault_commands.hpp"
#include "cli/kv_commands.hpp"
#include "cli/node_commands.hpp"
#include "cli/control_commands.hpp"
#include "cli/raft_commands.hpp"
#include "runtime/auth.hpp"
#include "runtime/caf_setup.hpp"
#include "runtime/defaults.hpp"
#include "runtime/tls.hpp"

#include <CLI/CLI.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <cstdlib>
#include <optional>
#include <iostream>

namespace troupe::cli {

namespace {

transport_security transport_of(const options& opts) {
  return {opts.insecure, {opts.tls_ca, opts.tls_cert, opts.tls_key}};
}

// Checked before connecting: CAF would abort or hang on a bad file.
std::optional<failure> check_transport(const options& opts) {
  auto sec = transport_of(opts);
  if (auto err = check_transport_choice(sec, "troupectl"))
    return failure{exit_usage, message_of(err)};
  if (sec.insecure)
    return std::nullopt;
  if (auto id = check_tls_files(sec.files); !id)
    return failure{exit_usage, message_of(id.error())};
  return std::nullopt;
}

// CAF reports every refused TLS handshake as disconnect_during_handshake.
std::string connect_hint(const options& opts, const caf::error& err) {
  if (err != caf::sec::disconnect_during_handshake)
    return "; check --endpoint or TROUPECTL_ENDPOINT and that the node runs";
  if (opts.insecure)
    return "; the node may require TLS: pass --tls-ca, --tls-cert and "
           "--tls-key instead of --insecure";
  return "; the TLS handshake failed: the node refused this certificate (not "
         "signed by its CA?), its certificate is not signed by --tls-ca, or it "
         "runs --insecure (the node's log says which)";
}

// Over TLS, the node only knows that our certificate is from its CA; the
// proof tells it which one, and so what we may do (runtime/auth.hpp).
std::optional<failure> prove_identity(client& c, const caf::actor& gw,
                                      const options& opts) {
  if (opts.insecure)
    return std::nullopt;
  auto me = auth::signer::load(transport_of(opts).files);
  if (!me)
    return failure{exit_usage, message_of(me.error())};
  auto role = c.prove(gw, **me);
  if (!role)
    return failure{exit_failed, "the node at " + opts.endpoint
                                  + " refused this certificate's identity: "
                                  + describe(role.error())};
  return std::nullopt;
}

int run(const options& opts, const command& cmd) {
  auto endpoint = parse_host_port(opts.endpoint, defaults::cluster_port);
  if (!endpoint)
    return fail({exit_usage, describe(endpoint.error())});
  if (auto problem = check_transport(opts))
    return fail(*problem);
  caf::actor_system_config cfg;
  configure_caf(cfg, std::chrono::seconds{1}, std::chrono::seconds{5});
  configure_transport(cfg, transport_of(opts));
  caf::actor_system sys{cfg};
  client c{sys, *endpoint, std::chrono::milliseconds{opts.timeout_ms}};
  auto gw = c.connect();
  if (!gw)
    return fail({exit_unreachable,
                 "cannot reach a troupe node at " + endpoint->to_string() + " ("
                     + describe(gw.error()) + ")"
                     + connect_hint(opts, gw.error())});
  if (auto refused = prove_identity(c, *gw, opts))
    return fail(*refused);
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
  opts.tls_ca = env_or("TROUPECTL_TLS_CA", "");
  opts.tls_cert = env_or("TROUPECTL_TLS_CERT", "");
  opts.tls_key = env_or("TROUPECTL_TLS_KEY", "");
  auto insecure = env_or("TROUPECTL_INSECURE", "");
  opts.insecure = insecure == "1" || insecure == "true" || insecure == "yes";
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
  app.add_option("--tls-ca", opts.tls_ca,
                 "PEM CA certificate of the cluster (env TROUPECTL_TLS_CA)");
  app.add_option("--tls-cert", opts.tls_cert,
                 "your PEM client certificate; OU=viewer or OU=admin "
                 "(env TROUPECTL_TLS_CERT)");
  app.add_option("--tls-key", opts.tls_key,
                 "its unencrypted PEM private key (env TROUPECTL_TLS_KEY)");
  app.add_flag("--insecure", opts.insecure,
               "plain TCP to a node started with --insecure "
               "(env TROUPECTL_INSECURE=1)");
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
  add_control_commands(app, chosen);
  add_cache_commands(app, chosen, opts);
  add_fault_commands(app, chosen);
  add_edge_commands(app, chosen);
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
