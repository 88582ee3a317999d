// troupectl: talk to a troupe cluster through any node.
//
//   troupectl [--endpoint HOST:PORT] [-o table|json] COMMAND
//
// Exit codes: 0 ok, 1 the command failed, 2 usage error, 3 no node reachable.
// Errors go to stderr as one line that says what to do.
#include "cli/client.hpp"
#include "cli/render.hpp"
#include "runtime/caf_setup.hpp"
#include "runtime/defaults.hpp"
#include "runtime/type_ids.hpp"

#include <CLI/CLI.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>

namespace troupe::cli {

namespace {

struct options {
  std::string endpoint;
  std::string output = "table";
  uint32_t timeout_ms = 0;
  std::string node;       // actors --node
  std::string name;       // send/kill NAME
  std::string type;       // send TYPE
  std::string json;       // send JSON
};

using command = std::function<int(client&, const caf::actor&, const options&)>;

// Prints `f` as exactly one line: embedded line breaks (protobuf's JSON
// errors carry a caret diagram) are folded into spaces.
int fail(const failure& f) {
  std::string line;
  for (char c : f.message) {
    bool space = c == '\n' || c == '\r' || c == '\t';
    if (space && (line.empty() || line.back() == ' '))
      continue;
    line += space ? ' ' : c;
  }
  while (!line.empty() && line.back() == ' ')
    line.pop_back();
  std::fprintf(stderr, "troupectl: %s\n", line.c_str());
  return f.code;
}

// Prints a reply in the requested format; `table` renders the message.
template <class T>
int print_reply(const caf::expected<envelope>& reply, const options& opts,
                const std::function<std::string(const T&)>& table) {
  if (!reply)
    return fail({exit_failed, describe(reply.error())});
  if (opts.output == "json") {
    auto json = envelope_to_json(*reply);
    if (!json)
      return fail({exit_failed, describe(json.error())});
    std::printf("%s\n", json->c_str());
    return exit_ok;
  }
  auto msg = unpack<T>(*reply);
  if (!msg)
    return fail({exit_failed, "unexpected reply: " + describe(msg.error())});
  std::fputs(table(*msg).c_str(), stdout);
  return exit_ok;
}

int cmd_status(client& c, const caf::actor& gw, const options& opts) {
  return print_reply<v1::NodeStatus>(c.ask(gw, status_atom_v), opts,
                                     render_status);
}

int cmd_members(client& c, const caf::actor& gw, const options& opts) {
  return print_reply<v1::MemberList>(c.ask(gw, members_atom_v), opts,
                                     render_members);
}

int cmd_actors(client& c, const caf::actor& gw, const options& opts) {
  return print_reply<v1::ActorTree>(c.ask(gw, actors_atom_v, opts.node), opts,
                                    render_actors);
}

int cmd_send(client& c, const caf::actor& gw, const options& opts) {
  auto msg = envelope_from_json(opts.type, opts.json);
  if (!msg)
    return fail({exit_usage, describe(msg.error())});
  auto reply = c.ask(gw, send_atom_v, opts.name, std::move(*msg));
  if (!reply)
    return fail({exit_failed, "send to " + opts.name
                                + " failed: " + describe(reply.error())});
  auto json = envelope_to_json(*reply);
  if (!json)
    return fail({exit_failed, describe(json.error())});
  std::printf("%s\n", json->c_str());
  return exit_ok;
}

int cmd_kill(client& c, const caf::actor& gw, const options& opts) {
  return print_reply<v1::KillReport>(
    c.ask(gw, kill_atom_v, opts.name), opts, [](const v1::KillReport& r) {
      return "sent kill to " + r.name() + " on " + r.node_id()
             + "; its supervisor restarts it\n";
    });
}

// Validates the send arguments before connecting, so bad input never
// reaches a node.
int check_send_args(const options& opts) {
  auto msg = envelope_from_json(opts.type, opts.json);
  if (!msg)
    return fail({exit_usage, describe(msg.error())});
  return exit_ok;
}

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

void list_types() {
  for (auto& t : known_message_types())
    std::printf("%s\n", t.c_str());
}

} // namespace

int main(int argc, char** argv) {
  options opts;
  opts.endpoint = env_or("TROUPECTL_ENDPOINT",
                         std::string{defaults::listen_host} + ":"
                           + std::to_string(defaults::cluster_port));
  opts.timeout_ms = static_cast<uint32_t>(
    std::chrono::milliseconds{defaults::cli_request_timeout}.count());
  CLI::App app{"troupectl: talk to a troupe cluster through any node"};
  app.require_subcommand(1);
  // Global options may also follow the command: `troupectl actors -o json`.
  app.fallthrough();
  app.add_option("--endpoint", opts.endpoint,
                 "HOST:PORT of any node's cluster port (env TROUPECTL_ENDPOINT)");
  app.add_option("-o,--output", opts.output, "table or json")
    ->check(CLI::IsMember({"table", "json"}));
  app.add_option("--timeout-ms", opts.timeout_ms, "request timeout")
    ->check(CLI::Range(1u, 600000u));
  command cmd;
  app.add_subcommand("status", "node, roles, uptime, version")
    ->callback([&] { cmd = cmd_status; });
  app.add_subcommand("members", "every node the endpoint can see")
    ->callback([&] { cmd = cmd_members; });
  auto* actors = app.add_subcommand("actors", "supervision trees of every node");
  actors->add_option("--node", opts.node, "only this node id");
  actors->callback([&] { cmd = cmd_actors; });
  auto* send = app.add_subcommand("send", "send a protobuf message given as JSON; "
                                          "prints the reply as JSON");
  send->add_option("NAME", opts.name, "actor name, e.g. probe/n3")->required();
  send->add_option("TYPE", opts.type, "message type, e.g. Ping or troupe.v1.Ping")
    ->required();
  send->add_option("JSON", opts.json, "the message, e.g. '{\"payload\":\"hi\"}'")
    ->required();
  send->callback([&] { cmd = cmd_send; });
  auto* kill = app.add_subcommand("kill", "send an actor an exit; its "
                                          "supervisor restarts it");
  kill->add_option("NAME", opts.name, "actor name")->required();
  kill->callback([&] { cmd = cmd_kill; });
  bool types = false;
  app.add_subcommand("types", "list the message types troupectl knows")
    ->callback([&] { types = true; });
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return exit_ok;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return exit_ok;
  } catch (const CLI::ParseError& e) {
    return fail({exit_usage, std::string{e.what()} + " (see troupectl --help)"});
  }
  if (types) {
    list_types();
    return exit_ok;
  }
  if (!opts.type.empty())
    if (auto rc = check_send_args(opts); rc != exit_ok)
      return rc;
  return run(opts, cmd);
}

} // namespace troupe::cli

int main(int argc, char** argv) {
  return troupe::cli::main(argc, argv);
}
