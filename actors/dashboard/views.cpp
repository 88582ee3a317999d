#include "actors/dashboard/views.hpp"

#include <algorithm>
#include <cctype>

namespace troupe::dashboard {

using nlohmann::json;

std::string status_name(v1::MemberStatus status) {
  auto name = v1::MemberStatus_Name(status);
  constexpr std::string_view prefix = "MEMBER_STATUS_";
  if (name.rfind(prefix, 0) == 0)
    name.erase(0, prefix.size());
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return name.empty() ? "unknown" : name;
}

json node_record(const member_entry& m) {
  auto& info = m.info;
  json labels = json::object();
  for (auto& [k, v] : info.labels())
    labels[k] = v;
  auto label = [&](const char* key) {
    auto i = info.labels().find(key);
    return i == info.labels().end() ? std::string{} : i->second;
  };
  return {{"id", info.node_id()},
          {"status", status_name(m.status)},
          {"since_ms", m.since_ms},
          {"reason", m.reason},
          {"roles", std::vector<std::string>(info.roles().begin(), info.roles().end())},
          {"labels", std::move(labels)},
          {"region", label("region")},
          {"zone", label("zone")},
          {"admin", info.admin_address()},
          {"cluster", info.cluster_address()},
          {"incarnation", info.incarnation()},
          {"version", info.version()},
          {"started_ms", info.started_at_ms()}};
}

namespace {

void flatten(const v1::ActorInfo& a, const std::string& parent, int depth, size_t max_actors,
             json& out) {
  if (out.size() >= max_actors)
    return;
  out[a.name()] = {{"name", a.name()},
                   {"parent", parent},
                   {"type", a.type()},
                   {"status", a.status()},
                   {"kind", a.kind()},
                   {"restarts", a.restarts()},
                   {"escalations", a.escalations()},
                   {"mailbox", a.mailbox_size()},
                   {"capacity", a.mailbox_capacity()},
                   {"dropped", a.dropped_total()},
                   {"incarnation", a.incarnation()},
                   {"last_exit", a.last_exit()},
                   {"depth", depth}};
  for (auto& c : a.children())
    flatten(c, a.name(), depth + 1, max_actors, out);
}

} // namespace

json actor_records(const v1::ActorInfo& root, size_t max_actors) {
  json out = json::object();
  flatten(root, "", 0, max_actors, out);
  return out;
}

uint64_t messages_total(const v1::ActorInfo& root) {
  uint64_t sum = root.messages_total();
  for (auto& c : root.children())
    sum += messages_total(c);
  return sum;
}

json raft_record(const std::vector<raft_answer>& answers, int64_t now_ms) {
  const v1::RaftStatus* leader = nullptr;
  for (auto& a : answers)
    if (a.status && a.status->role() == "leader"
        && (!leader || a.status->term() > leader->term()))
      leader = &*a.status;
  auto match_of = [&](const std::string& node) -> json {
    if (!leader)
      return nullptr;
    for (auto& m : leader->members())
      if (m.node_id() == node)
        return m.match_index();
    return nullptr;
  };
  json members = json::array();
  for (auto& a : answers) {
    json row = {{"node_id", a.node_id}, {"match", match_of(a.node_id)}, {"error", a.error}};
    if (a.status) {
      auto& s = *a.status;
      row.update({{"member_id", s.member_id()},
                  {"role", s.role()},
                  {"term", s.term()},
                  {"commit", s.commit_index()},
                  {"applied", s.applied_index()},
                  {"last_index", s.last_index()},
                  {"snapshot_index", s.snapshot_index()}});
      bool voter = true;
      for (auto& m : s.members())
        if (m.node_id() == a.node_id)
          voter = m.voter();
      row["voter"] = voter;
    }
    members.push_back(std::move(row));
  }
  return {{"leader", leader ? leader->node_id() : std::string{}},
          {"term", leader ? leader->term() : 0},
          {"members", std::move(members)},
          {"updated_ms", now_ms}};
}

std::optional<json> journal_record(const std::string& value) {
  if (value.size() > max_journal_value_bytes)
    return std::nullopt;
  auto parsed = json::parse(value, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object() || !parsed.contains("seq")
      || !parsed["seq"].is_number_integer())
    return std::nullopt;
  json out = {{"seq", parsed["seq"]}};
  out["time_ms"] = parsed.contains("time_ms") && parsed["time_ms"].is_number_integer()
                     ? parsed["time_ms"]
                     : json(0);
  for (auto key : {"kind", "node", "by", "subject", "reason"})
    out[key] = parsed.contains(key) && parsed[key].is_string() ? parsed[key] : json("");
  return out;
}

client_message parse_client_message(const std::string& text) {
  client_message out;
  auto msg = json::parse(text, nullptr, false);
  if (msg.is_discarded() || !msg.is_object()) {
    out.error = "messages must be JSON objects";
    return out;
  }
  auto type = msg.value("type", std::string{});
  if (type == "resume") {
    if (!msg.contains("rev") || !msg["rev"].is_number_unsigned()) {
      out.error = "resume needs a non-negative integer rev";
      return out;
    }
    out.kind = client_message::resume;
    out.rev = msg["rev"].get<uint64_t>();
  } else if (type == "auth" && msg.contains("token") && msg["token"].is_string()) {
    out.kind = client_message::auth;
    out.token = msg["token"].get<std::string>();
  } else if (type == "kill" && msg.contains("actor") && msg["actor"].is_string()) {
    out.kind = client_message::kill;
    out.actor = msg["actor"].get<std::string>();
  } else {
    out.error = "unknown message; expected type resume (with rev), auth (with token) "
                "or kill (with actor)";
  }
  return out;
}

} // namespace troupe::dashboard
