#include "cli/node_commands.hpp"

#include "cli/render.hpp"
#include "runtime/type_ids.hpp"

#include <CLI/CLI.hpp>

#include <memory>

namespace troupe::cli {

namespace {

struct node_args {
  std::string node; // actors --node
  std::string name; // send/kill NAME
  std::string type; // send TYPE
  std::string json; // send JSON
};

int cmd_status(client& c, const caf::actor& gw, const options& opts) {
  return print_reply<v1::NodeStatus>(c.ask(gw, status_atom_v), opts,
                                     render_status);
}

int cmd_members(client& c, const caf::actor& gw, const options& opts) {
  return print_reply<v1::MemberList>(c.ask(gw, members_atom_v), opts,
                                     render_members);
}

int cmd_send(client& c, const caf::actor& gw, const std::string& name,
             envelope msg) {
  auto reply = c.ask(gw, send_atom_v, name, std::move(msg));
  if (!reply)
    return fail({exit_failed,
                 "send to " + name + " failed: " + describe(reply.error())});
  return print_json(*reply);
}

std::string render_kill(const v1::KillReport& r) {
  return "sent kill to " + r.name() + " on " + r.node_id()
         + "; its supervisor restarts it\n";
}

void add_actors(CLI::App& app, chosen_command& chosen,
                const std::shared_ptr<node_args>& args) {
  auto* sub = app.add_subcommand("actors", "supervision trees of every node");
  sub->add_option("--node", args->node, "only this node id");
  sub->callback([&chosen, args] {
    chosen.online
        = [args](client& c, const caf::actor& gw, const options& opts) {
            return print_reply<v1::ActorTree>(
                c.ask(gw, actors_atom_v, args->node), opts, render_actors);
          };
  });
}

void add_send(CLI::App& app, chosen_command& chosen,
              const std::shared_ptr<node_args>& args) {
  auto* sub = app.add_subcommand("send", "send a protobuf message given as "
                                         "JSON; prints the reply as JSON");
  sub->add_option("NAME", args->name, "actor name, e.g. probe/n3")->required();
  sub->add_option("TYPE", args->type,
                  "message type, e.g. Ping or troupe.v1.Ping")
      ->required();
  sub->add_option("JSON", args->json,
                  "the message, e.g. '{\"payload\":\"hi\"}'")
      ->required();
  sub->callback([&chosen, args] {
    // Parsed here, before connecting, so bad input never reaches a node.
    auto msg = envelope_from_json(args->type, args->json);
    if (!msg)
      throw CLI::ValidationError(describe(msg.error()));
    chosen.online
        = [args, msg = *msg](client& c, const caf::actor& gw, const options&) {
            return cmd_send(c, gw, args->name, msg);
          };
  });
}

void add_kill(CLI::App& app, chosen_command& chosen,
              const std::shared_ptr<node_args>& args) {
  auto* sub = app.add_subcommand("kill", "send an actor an exit; its "
                                         "supervisor restarts it");
  sub->add_option("NAME", args->name, "actor name")->required();
  sub->callback([&chosen, args] {
    chosen.online
        = [args](client& c, const caf::actor& gw, const options& opts) {
            return print_reply<v1::KillReport>(
                c.ask(gw, kill_atom_v, args->name), opts, render_kill);
          };
  });
}

int list_types() {
  for (auto& t : known_message_types())
    std::printf("%s\n", t.c_str());
  return exit_ok;
}

} // namespace

void add_node_commands(CLI::App& app, chosen_command& chosen) {
  auto args = std::make_shared<node_args>();
  app.add_subcommand("status", "node, roles, uptime, version")
      ->callback([&chosen] { chosen.online = cmd_status; });
  app.add_subcommand("members", "every node the endpoint can see")
      ->callback([&chosen] { chosen.online = cmd_members; });
  add_actors(app, chosen, args);
  add_send(app, chosen, args);
  add_kill(app, chosen, args);
  app.add_subcommand("types", "list the message types troupectl knows")
      ->callback([&chosen] { chosen.offline = list_types; });
}

} // namespace troupe::cli
