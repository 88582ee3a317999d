#include "runtime/members.hpp"
#include "runtime/member_status.hpp"

namespace troupe {

void member_table::upsert(member_entry entry) {
  std::lock_guard guard{mtx_};
  auto key = entry.info.node_id();
  members_.insert_or_assign(std::move(key), std::move(entry));
}

std::optional<member_entry> member_table::mark(const std::string& node_id,
                                               v1::MemberStatus status,
                                               int64_t now_ms,
                                               std::string reason) {
  std::lock_guard guard{mtx_};
  auto i = members_.find(node_id);
  if (i == members_.end() || i->second.status == status)
    return std::nullopt;
  auto old = i->second;
  i->second.status = status;
  i->second.since_ms = now_ms;
  i->second.reason = std::move(reason);
  i->second.gateway = caf::actor{};
  return old;
}

bool member_table::set_committed_status(const std::string& node_id, uint64_t incarnation,
                                        v1::MemberStatus status, int64_t since_ms,
                                        const std::string& reason) {
  std::lock_guard guard{mtx_};
  auto i = members_.find(node_id);
  if (i == members_.end() || !i->second.gateway || i->second.status == status
      || i->second.info.incarnation() > incarnation)
    return false;
  i->second.status = status;
  i->second.since_ms = since_ms;
  i->second.reason = reason;
  return true;
}

std::optional<member_entry>
member_table::find(const std::string& node_id) const {
  std::lock_guard guard{mtx_};
  auto i = members_.find(node_id);
  if (i == members_.end())
    return std::nullopt;
  return i->second;
}

std::optional<member_entry>
member_table::find_by_gateway(const caf::node_id& nid) const {
  std::lock_guard guard{mtx_};
  for (auto& [id, entry] : members_)
    if (entry.gateway && entry.gateway.node() == nid)
      return entry;
  return std::nullopt;
}

std::vector<member_entry> member_table::up() const {
  std::lock_guard guard{mtx_};
  std::vector<member_entry> result;
  for (auto& [id, entry] : members_)
    if (entry.status == v1::MEMBER_STATUS_UP && entry.gateway)
      result.push_back(entry);
  return result;
}

std::vector<member_entry> member_table::all() const {
  std::lock_guard guard{mtx_};
  std::vector<member_entry> result;
  for (auto& [id, entry] : members_)
    result.push_back(entry);
  return result;
}

v1::MemberList to_member_list(const std::vector<member_entry>& members,
                              const std::string& self_id) {
  v1::MemberList list;
  for (auto& entry : members) {
    auto* m = list.add_members();
    *m->mutable_info() = entry.info;
    m->set_status(entry.status);
    m->set_since_ms(entry.since_ms);
    m->set_reason(entry.reason);
    m->set_self(entry.info.node_id() == self_id);
  }
  return list;
}

const char* member_status_name(v1::MemberStatus s) {
  switch (s) {
    case v1::MEMBER_STATUS_UP:
      return "up";
    case v1::MEMBER_STATUS_SUSPECT:
      return "suspect";
    case v1::MEMBER_STATUS_DOWN:
      return "down";
    case v1::MEMBER_STATUS_LEFT:
      return "left";
    case v1::MEMBER_STATUS_JOINING:
      return "joining";
    default:
      return "unknown";
  }
}

} // namespace troupe
