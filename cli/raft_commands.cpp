#include "cli/raft_commands.hpp"

#include "cli/member_target.hpp"
#include "cli/raft_admin.hpp"
#include "cli/raft_status.hpp"
#include "cli/usage_check.hpp"

#include <memory>

namespace troupe::cli {

namespace {

int cmd_status(client& c, const caf::actor& gw, const options& opts) {
  auto target = reach_members(c, gw, opts);
  if (!target)
    return fail(target.error());
  auto view
      = gather_raft_status(target->env, target->policy, target->endpoint_node);
  if (!view)
    return fail(view.error());
  if (!opts.json()) {
    std::fputs(render_raft_status(*view).c_str(), stdout);
    return exit_ok;
  }
  auto json = raft_view_json(*view);
  if (!json)
    return fail(json.error());
  std::printf("%s\n", json->c_str());
  return exit_ok;
}

// RaftAdminReply carries the membership afterwards; when a reply leaves it
// out (a transfer's does today), the table reads it from the leader's status.
void fill_membership(const member_target& target, v1::RaftAdminReply& reply) {
  if (!reply.members().empty())
    return;
  auto view
      = gather_raft_status(target.env, target.policy, target.endpoint_node);
  if (!view)
    return;
  for (auto& row : view->rows)
    if (row.status && row.node_id == view->leader)
      *reply.mutable_members() = row.status->members();
}

struct admin_request {
  envelope msg;
  admin_op op;
  std::string node;
  bool learner = false;
};

// Runs an admin request and prints what it did and the membership afterwards.
command admin_command(admin_request req) {
  return [req = std::move(req)](client& c, const caf::actor& gw,
                                const options& opts) -> int {
    auto target = reach_members(c, gw, opts);
    if (!target)
      return fail(target.error());
    auto reply = execute_admin(target->env, target->policy,
                               target->endpoint_node, req.msg);
    if (!reply)
      return fail(reply.error());
    if (opts.json())
      return print_json(pack(*reply));
    fill_membership(*target, *reply);
    auto line = admin_summary(req.op, req.node, req.learner, *reply);
    std::fputs((line + "\n" + render_membership(*reply)).c_str(), stdout);
    return exit_ok;
  };
}

CLI::App* with_node(CLI::App& raft, const char* name, const char* about,
                    std::string& node) {
  auto* sub = raft.add_subcommand(name, about);
  sub->add_option("NODE", node, "node id, as troupectl members lists it")
      ->required();
  return sub;
}

void add_transfer(CLI::App& raft, chosen_command& chosen) {
  auto node = std::make_shared<std::string>();
  with_node(raft, "transfer-leader", "hand leadership to NODE (a voter)", *node)
      ->callback([&chosen, node] {
        auto msg = pack(checked(build_transfer_leader(*node)));
        chosen.online = admin_command({msg, admin_op::transfer_leader, *node});
      });
}

void add_add(CLI::App& raft, chosen_command& chosen) {
  auto node = std::make_shared<std::string>();
  auto learner = std::make_shared<bool>(false);
  auto* sub = with_node(raft, "add-member",
                        "add NODE's consensus member; it becomes a voter once "
                        "it has caught up, unless --learner",
                        *node);
  sub->add_flag("--learner", *learner,
                "keep it a learner (promote-member later)");
  sub->callback([&chosen, node, learner] {
    auto msg = pack(checked(build_add_member(*node, *learner)));
    chosen.online = admin_command({msg, admin_op::add_member, *node, *learner});
  });
}

void add_promote(CLI::App& raft, chosen_command& chosen) {
  auto node = std::make_shared<std::string>();
  with_node(raft, "promote-member", "make learner NODE a voter", *node)
      ->callback([&chosen, node] {
        auto msg = pack(checked(build_promote_member(*node)));
        chosen.online = admin_command({msg, admin_op::promote_member, *node});
      });
}

void add_remove(CLI::App& raft, chosen_command& chosen) {
  auto node = std::make_shared<std::string>();
  with_node(raft, "remove-member", "remove NODE's member from the group", *node)
      ->callback([&chosen, node] {
        auto msg = pack(checked(build_remove_member(*node)));
        chosen.online = admin_command({msg, admin_op::remove_member, *node});
      });
}

} // namespace

void add_raft_commands(CLI::App& app, chosen_command& chosen) {
  auto* raft = app.add_subcommand("raft", "the consensus group: status, "
                                          "leadership and membership");
  raft->require_subcommand(1);
  raft->add_subcommand("status", "every member's role, term and indexes")
      ->callback([&chosen] { chosen.online = cmd_status; });
  add_transfer(*raft, chosen);
  add_add(*raft, chosen);
  add_promote(*raft, chosen);
  add_remove(*raft, chosen);
}

} // namespace troupe::cli
