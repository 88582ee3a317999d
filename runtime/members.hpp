// The node's view of cluster membership: every node it has heard of, with
// status and the handle of that node's gateway. Thread-safe.
//
// Until the Raft-backed membership exists (consensus issue), this view is
// built by the seed-based membership actor (runtime/membership.hpp): each node
// joins the seeds, learns the member list and joins every member it learns of.
#pragma once

#include "troupe/cluster.pb.h"

#include <caf/actor.hpp>

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace troupe {

struct member_entry {
  v1::MemberInfo info;
  v1::MemberStatus status = v1::MEMBER_STATUS_UP;
  int64_t since_ms = 0;
  std::string reason;
  caf::actor gateway; // the node's published gateway; invalid once down
};

class member_table {
public:
  /// Inserts or replaces the member with info.node_id().
  void upsert(member_entry entry);

  /// Marks a member down or left. Returns the old entry if the status
  /// changed (so the caller can log and invalidate caches).
  std::optional<member_entry> mark(const std::string& node_id,
                                   v1::MemberStatus status, int64_t now_ms,
                                   std::string reason);

  /// Sets the status the control plane committed (SUSPECT, DOWN, UP...) of
  /// a member whose connection is alive, keeping its gateway. Returns
  /// whether it changed. A member the mesh lost keeps its own status, and so
  /// does a newer incarnation than the record's: a node restarted faster
  /// than the controller commits its rejoin must not be downed by the
  /// record of the process it replaced.
  bool set_committed_status(const std::string& node_id, uint64_t incarnation,
                            v1::MemberStatus status, int64_t since_ms,
                            const std::string& reason);

  std::optional<member_entry> find(const std::string& node_id) const;

  /// The member whose gateway lives on CAF node `nid`, if any.
  std::optional<member_entry> find_by_gateway(const caf::node_id& nid) const;

  /// Every member that is up, except none: includes the local node's entry.
  std::vector<member_entry> up() const;

  /// Every member, ordered by node id.
  std::vector<member_entry> all() const;

private:
  mutable std::mutex mtx_;
  std::map<std::string, member_entry> members_;
};

/// Renders the table as a MemberList, flagging `self_id` as self.
v1::MemberList to_member_list(const std::vector<member_entry>& members,
                              const std::string& self_id);

} // namespace troupe
