#include "runtime/admin_views.hpp"

#include "runtime/defaults.hpp"

#include <algorithm>
#include <map>
#include <vector>

namespace troupe {

namespace {

v1::ActorInfo to_info(const local_actor_entry& e, const std::string& node_id) {
  v1::ActorInfo info;
  info.set_name(e.name);
  info.set_type(e.type);
  info.set_node_id(node_id);
  info.set_status(e.status);
  info.set_restarts(e.restarts);
  info.set_kind(e.kind);
  info.set_strategy(e.strategy);
  info.set_escalations(e.escalations);
  info.set_last_exit(e.last_exit);
  info.set_incarnation(e.incarnation);
  if (e.gate) {
    info.set_mailbox_size(e.gate->size());
    info.set_mailbox_capacity(e.gate->capacity());
    info.set_dropped_total(e.gate->dropped());
    info.set_messages_total(e.gate->accepted());
  }
  return info;
}

void attach_children(
  v1::ActorInfo& parent,
  const std::map<std::string, std::vector<const local_actor_entry*>>& kids,
  const std::string& node_id, int depth) {
  auto i = kids.find(parent.name());
  if (i == kids.end() || depth > 32)
    return;
  for (auto* child : i->second) {
    auto* info = parent.add_children();
    *info = to_info(*child, node_id);
    attach_children(*info, kids, node_id, depth + 1);
  }
}

} // namespace

v1::ActorTree local_actor_tree(const node_context& ctx) {
  auto entries = ctx.table->snapshot();
  std::map<std::string, std::vector<const local_actor_entry*>> kids;
  for (auto& e : entries)
    kids[e.parent].push_back(&e);
  for (auto& [parent, list] : kids)
    std::sort(list.begin(), list.end(),
              [](auto* a, auto* b) { return a->order < b->order; });
  v1::ActorTree tree;
  for (auto* root : kids[""]) {
    auto* info = tree.add_roots();
    *info = to_info(*root, ctx.self.node_id);
    attach_children(*info, kids, ctx.self.node_id, 0);
  }
  return tree;
}

void merge_actor_tree(v1::ActorTree& into, const v1::ActorTree& from) {
  for (auto& root : from.roots())
    *into.add_roots() = root;
  for (auto& node : from.unreachable())
    into.add_unreachable(node);
  std::sort(into.mutable_roots()->begin(), into.mutable_roots()->end(),
            [](const v1::ActorInfo& a, const v1::ActorInfo& b) {
              return a.node_id() < b.node_id();
            });
}

v1::NodeStatus node_status(const node_context& ctx) {
  v1::NodeStatus st;
  st.set_node_id(ctx.self.node_id);
  for (auto& r : ctx.self.roles)
    st.add_roles(r);
  auto up = std::chrono::steady_clock::now() - ctx.self.started_at;
  st.set_uptime_seconds(std::chrono::duration<double>(up).count());
  st.set_version(std::string{defaults::version});
  st.set_incarnation(ctx.self.incarnation);
  st.set_cluster_address(ctx.self.cluster_address);
  st.set_admin_address(ctx.self.admin_address);
  st.set_members_up(static_cast<int32_t>(ctx.members.up().size()));
  return st;
}

std::string readyz_text(const node_context& ctx, bool verbose) {
  std::string out;
  bool ok = true;
  for (auto& check : ctx.ready.results()) {
    ok = ok && check.ok;
    if (verbose || !check.ok) {
      out += check.ok ? "[+]" : "[-]";
      out += check.name;
      out += check.ok ? " ok" : " failed: " + check.detail;
      out += "\n";
    }
  }
  if (ok && ctx.ready.ready())
    out += verbose ? "readyz check passed\n" : "ok\n";
  else
    out += "readyz check failed\n";
  return out;
}

} // namespace troupe
