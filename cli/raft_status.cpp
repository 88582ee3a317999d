#include "cli/raft_status.hpp"

#include "cli/command.hpp"
#include "cli/table.hpp"
#include "net/errors.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace troupe::cli {

namespace {

envelope status_request() {
  return pack(v1::RaftStatusRequest{});
}

verdict judge_status(const envelope& reply, const std::string& node) {
  if (holds<v1::RaftStatus>(reply))
    return {verdict::done, {}, {}};
  return {verdict::give_up,
          {},
          member_name(node) + " answered " + reply.type
              + " to RaftStatusRequest"};
}

// One attempt, no retries: a member that is down must not hold up the table
// for the whole --timeout-ms once per retry.
void ask_member(const call_env& env, const call_policy& policy,
                member_row& row) {
  auto timeout = std::min(policy.timeout, raft_status_member_timeout);
  auto reply = env.ask(member_name(row.node_id), status_request(), timeout);
  if (!reply) {
    row.error = describe(reply.error());
    return;
  }
  auto status = unpack<v1::RaftStatus>(*reply);
  if (!status) {
    row.error = describe(status.error());
    return;
  }
  row.status = std::move(*status);
}

std::string find_leader(const raft_view& view, const v1::RaftStatus& mine) {
  if (!mine.leader_node().empty())
    return mine.leader_node();
  const v1::RaftStatus* best = nullptr;
  for (auto& row : view.rows)
    if (row.status && row.status->role() == "leader"
        && (!best || row.status->term() > best->term()))
      best = &*row.status;
  return best ? best->node_id() : std::string{};
}

std::vector<member_row> rows_of(const v1::RaftStatus& mine) {
  std::vector<member_row> rows;
  bool listed = false;
  for (auto& m : mine.members()) {
    rows.push_back({m.node_id(), m.member_id(), m.voter(), std::nullopt, {}});
    listed = listed || m.member_id() == mine.member_id();
  }
  // A removed member still answers; show it first rather than not at all.
  if (!listed)
    rows.insert(
        rows.begin(),
        member_row{mine.node_id(), mine.member_id(), true, std::nullopt, {}});
  return rows;
}

const v1::RaftStatus* leader_status(const raft_view& view) {
  for (auto& row : view.rows)
    if (row.status && row.node_id == view.leader)
      return &*row.status;
  return nullptr;
}

std::string match_of(const v1::RaftStatus* leader, uint64_t member_id) {
  if (leader)
    for (auto& m : leader->members())
      if (m.member_id() == member_id)
        return std::to_string(m.match_index());
  return "-";
}

table_row status_row(const raft_view& view, const member_row& row,
                     const v1::RaftStatus* leader) {
  auto node = row.node_id + (row.node_id == view.endpoint_node ? " *" : "");
  auto id = std::to_string(row.member_id);
  if (!row.status)
    return {node, id, "-", "-", "-", "-", "-", "-", "-", row.error};
  auto& s = *row.status;
  return {node,
          id,
          row.voter ? s.role() : "learner",
          std::to_string(s.term()),
          std::to_string(s.commit_index()),
          std::to_string(s.applied_index()),
          match_of(leader, row.member_id),
          std::to_string(s.last_index()),
          std::to_string(s.snapshot_index()),
          "-"};
}

} // namespace

outcome<raft_view> gather_raft_status(const call_env& env,
                                      const call_policy& policy,
                                      const std::string& endpoint_node) {
  auto first
      = call_member(env, policy, endpoint_node, status_request(), judge_status);
  if (!first)
    return first.error();
  auto mine = unpack<v1::RaftStatus>(*first);
  if (!mine)
    return failure{exit_failed, describe(mine.error())};
  raft_view view;
  view.endpoint_node = endpoint_node;
  view.rows = rows_of(*mine);
  size_t asked = 0;
  for (auto& row : view.rows) {
    if (row.member_id == mine->member_id())
      row.status = *mine;
    else if (++asked <= raft_status_max_members)
      ask_member(env, policy, row);
    else
      row.error = "not asked (more than "
                  + std::to_string(raft_status_max_members) + " members)";
  }
  view.leader = find_leader(view, *mine);
  return view;
}

std::string render_raft_status(const raft_view& view) {
  std::vector<table_row> rows{{"NODE", "MEMBER", "ROLE", "TERM", "COMMIT",
                               "APPLIED", "MATCH", "LAST", "SNAPSHOT",
                               "ERROR"}};
  bool errors = false;
  auto* leader = leader_status(view);
  for (auto& row : view.rows) {
    rows.push_back(status_row(view, row, leader));
    errors = errors || !row.status;
  }
  if (!errors)
    for (auto& r : rows)
      r.pop_back();
  return render_table(rows);
}

outcome<std::string> raft_view_json(const raft_view& view) {
  auto members = nlohmann::ordered_json::array();
  for (auto& row : view.rows) {
    if (!row.status) {
      // Same field names and uint64-as-string form as protobuf's JSON.
      members.push_back({{"node_id", row.node_id},
                         {"member_id", std::to_string(row.member_id)},
                         {"error", row.error}});
      continue;
    }
    auto line = to_json_line(pack(*row.status));
    if (!line)
      return line.error();
    members.push_back(nlohmann::ordered_json::parse(*line));
  }
  nlohmann::ordered_json doc{{"members", std::move(members)},
                             {"leader", view.leader}};
  return doc.dump();
}

} // namespace troupe::cli
