#include "cli/render.hpp"

#include "runtime/member_status.hpp"

#include "cli/table.hpp"

#include <cstdio>
#include <ctime>
#include <vector>

namespace troupe::cli {

namespace {

using row = table_row;

std::string status_name(v1::MemberStatus s) {
  return member_status_name(s);
}

std::string utc_time(int64_t ms) {
  std::time_t secs = ms / 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

template <class List>
std::string joined(const List& xs) {
  std::string out;
  for (auto& x : xs)
    out += (out.empty() ? "" : ",") + x;
  return out.empty() ? "-" : out;
}

void actor_rows(const v1::ActorInfo& a, int depth, std::vector<row>& rows) {
  rows.push_back(
      {std::string(2 * depth, ' ') + a.name(), a.type(), a.node_id(),
       a.status(), std::to_string(a.restarts()),
       std::to_string(a.escalations()),
       a.mailbox_capacity() == 0 ? "-"
                                 : std::to_string(a.mailbox_size()) + "/"
                                       + std::to_string(a.mailbox_capacity()),
       std::to_string(a.dropped_total()), a.kind().empty() ? "-" : a.kind(),
       a.last_exit().empty() ? "-" : a.last_exit()});
  for (auto& child : a.children())
    actor_rows(child, depth + 1, rows);
}

} // namespace

std::string render_status(const v1::NodeStatus& st) {
  char uptime[32];
  std::snprintf(uptime, sizeof(uptime), "%.1fs", st.uptime_seconds());
  return render_table({{"node", st.node_id()},
                       {"roles", joined(st.roles())},
                       {"uptime", uptime},
                       {"version", st.version()},
                       {"incarnation", std::to_string(st.incarnation())},
                       {"cluster", st.cluster_address()},
                       {"admin", st.admin_address()},
                       {"members up", std::to_string(st.members_up())}});
}

std::string render_members(const v1::MemberList& list) {
  std::vector<row> rows{{"NODE", "STATUS", "CLUSTER", "ADMIN", "ROLES",
                         "INCARNATION", "SINCE", "REASON"}};
  for (auto& m : list.members())
    rows.push_back({m.info().node_id() + (m.self() ? " *" : ""),
                    status_name(m.status()), m.info().cluster_address(),
                    m.info().admin_address(), joined(m.info().roles()),
                    std::to_string(m.info().incarnation()),
                    utc_time(m.since_ms()), m.reason()});
  return render_table(rows);
}

std::string render_actors(const v1::ActorTree& tree) {
  std::vector<row> rows{{"NAME", "TYPE", "NODE", "STATUS", "RESTARTS",
                         "ESCALATIONS", "MAILBOX", "DROPPED", "KIND",
                         "LAST EXIT"}};
  for (auto& root : tree.roots())
    actor_rows(root, 0, rows);
  auto out = render_table(rows);
  for (auto& node : tree.unreachable())
    out += "warning: node " + node + " did not answer\n";
  return out;
}

} // namespace troupe::cli
