// The control plane's decisions, without CAF (docs/membership.md,
// docs/placement.md): the controller on the Raft leader turns heartbeats,
// leaves, lost connections and placement requests into committed records.
//
// The core holds the committed records (loaded from the system keyspace when
// its member becomes leader) and what it observed since (heartbeats with
// their local arrival time, leaves, requests). next_decision() derives one
// transaction of writes plus the journal entries that explain them; the
// shell proposes it and calls committed() once Raft applied it, or failed()
// (the same decision is derived again on a later tick). So a decision takes
// effect in the core only when it committed, and a lost leadership (reset())
// loses nothing that committed.
//
// Leases: a node is UP while heartbeats arrive. With no heartbeat for
// suspect_after it becomes SUSPECT, and with none for down_after it becomes
// DOWN, and what it hosted is placed elsewhere in the same transaction. A
// new leader counts every lease from its takeover plus takeover_grace, so a
// leader change never downs a live node, and a node that stops hearing from
// any leader fences itself (stops its placed actors) before any leader can
// place them again (runtime/member_agent.hpp): at most one copy is ever live.
#pragma once

#include "runtime/journal.hpp"

#include "troupe/control.pb.h"

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace troupe::control {

struct timing {
  std::int64_t suspect_after_ms = 300;
  std::int64_t down_after_ms = 600;
  /// Every lease counts from the takeover plus this: a node acked by the
  /// old leader has fenced itself before the new one can down it (the old
  /// leader may ack for up to an election timeout after it lost its quorum).
  std::int64_t takeover_grace_ms = 300;
};

struct limits {
  std::size_t max_members = 1024;       // DOWN/LEFT records beyond it are forgotten
  std::size_t max_placements = 10000;
  std::size_t max_pending_appends = 1000;  // JournalAppends waiting; more are shed
  std::size_t max_entries_per_decision = 24;  // appends stop here
};

/// One write of a decision: a put, or a delete when value is nullopt. A
/// delete with range_end set deletes [key, range_end).
struct kv_write {
  std::string key;
  std::optional<std::string> value;
  std::string range_end;
};

struct decision {
  std::vector<kv_write> writes;
  std::vector<journal::entry> entries;
  std::map<std::string, v1::MemberRecord> members;        // new records
  std::map<std::string, v1::PlacementRecord> placements;  // new records
  std::set<std::string> removed_placements;
  std::size_t appends_used = 0;     // pending JournalAppends consumed
  std::size_t requests_used = 0;    // pending place requests consumed
  std::vector<std::string> leaves;  // nodes whose leave this commits
  /// Seconds from first sign of trouble to re-placement, one per actor
  /// moved off a DOWN node (the failover_seconds histogram).
  std::vector<double> failover_seconds;
};

/// Keys of the system keyspace the controller owns.
std::string member_key(const std::string& node_id);
std::string placement_key(const std::string& name);
std::string directory_key(const std::string& name);
inline constexpr std::string_view members_prefix = "/troupe/sys/members/";
inline constexpr std::string_view placement_prefix = "/troupe/sys/placement/";
inline constexpr std::string_view next_seq_key = "/troupe/sys/control/next_seq";

class control_core {
public:
  control_core(std::string self_node, timing t, limits l = {});

  /// Installs the committed state read at takeover; leases start at now.
  void load(std::vector<v1::MemberRecord> members,
            std::vector<v1::PlacementRecord> placements, std::uint64_t next_seq,
            std::int64_t mono_ms);
  bool loaded() const { return loaded_; }
  /// Leadership lost: forget everything but the configuration.
  void reset();

  /// A heartbeat arrived at mono_ms. Returns the ack (accepted).
  v1::HeartbeatAck on_heartbeat(const v1::MemberHeartbeat& hb, std::int64_t mono_ms);
  /// The local connection to `node` dropped (it may be dead).
  void on_disconnect(const std::string& node, std::int64_t mono_ms);
  /// A graceful leave; committed with the next decision.
  void on_leave(const v1::MemberLeave& leave);
  /// false when the queue is full (the append is shed).
  bool on_journal_append(v1::JournalAppend append);
  /// A placement request; nullopt if accepted, else why not.
  std::optional<std::string> on_place(const v1::PlaceRequest& req);

  /// The next transaction to propose, if anything changed.
  std::optional<decision> next_decision(std::int64_t mono_ms, std::int64_t wall_ms);
  void committed(const decision& d);

  std::uint64_t revision() const { return revision_; }
  const std::map<std::string, v1::MemberRecord>& members() const { return members_; }
  const std::map<std::string, v1::PlacementRecord>& placements() const {
    return placements_;
  }
  std::uint64_t shed_appends() const { return shed_appends_; }

private:
  struct observed {
    v1::MemberInfo info;
    std::int64_t last_seen_ms = 0;
    std::int64_t trouble_since_ms = -1;  // first missed heartbeat or disconnect
    bool disconnected = false;
    std::set<std::string> escalated;     // placed actors it gave up on
    std::set<std::string> synced;        // placed actors in step (last heartbeat)
  };

  void decide_members(decision& d, std::int64_t mono_ms, std::int64_t wall_ms);
  void decide_requests(decision& d, std::int64_t wall_ms);
  void decide_placements(decision& d, std::int64_t mono_ms, std::int64_t wall_ms);
  /// With nothing else to do: one move that keeps shards' primaries off
  /// the leader's node, or evens out replicas (docs/cache-cluster.md).
  std::optional<std::pair<v1::PlacementRecord, std::string>>
  rebalance_move(const decision& d) const;
  bool synced_at(const std::string& node, const std::string& name) const;
  /// Primaries (placements with a standby) per node after `d`, the
  /// leader's own node counting one more.
  std::map<std::string, std::size_t> primary_weights(const decision& d) const;
  void decide_appends(decision& d);
  void decide_trim(decision& d);
  void set_member(decision& d, const v1::MemberInfo& info, v1::MemberStatus status,
                  std::int64_t wall_ms, const std::string& kind, const std::string& reason);
  void add_entry(decision& d, std::string kind, std::string node, std::string subject,
                 std::string reason, std::int64_t wall_ms);
  const v1::MemberRecord* member_after(const decision& d, const std::string& node) const;
  std::optional<std::string> pick_host(const decision& d, const v1::PlacementRecord& rec,
                                       const std::string& avoid_zone) const;
  bool can_host(const decision& d, const v1::PlacementRecord& rec) const;
  /// Whether `node` reported that its supervisor of `role` gave up (its
  /// heartbeats carry "role:<role>" among the escalated names).
  bool role_gave_up(const std::string& node, const std::string& role) const;
  /// Where placement `name` is after `d` ("" if nowhere or unknown).
  std::string node_of(const decision& d, const std::string& name) const;
  /// Whether `node` hosts one of the placements `rec` must stay apart from.
  bool beside_partner(const decision& d, const v1::PlacementRecord& rec,
                      const std::string& node) const;
  std::map<std::string, std::size_t> load_per_node(const decision& d) const;
  /// Placement `name` as it is after `d`, if it exists.
  std::optional<v1::PlacementRecord> record_after(const decision& d,
                                                  const std::string& name) const;
  /// Whether `node` is UP, runs rec's role and has not given up on it.
  bool eligible(const decision& d, const v1::PlacementRecord& rec,
                const std::string& node) const;

  std::string self_;
  timing timing_;
  limits limits_;
  bool loaded_ = false;
  std::uint64_t revision_ = 0;  // +1 per committed decision (acks carry it)
  std::uint64_t next_seq_ = 1;
  std::uint64_t trimmed_below_ = 1;
  std::int64_t grace_until_ms_ = 0;
  std::map<std::string, v1::MemberRecord> members_;
  std::map<std::string, v1::PlacementRecord> placements_;
  std::map<std::string, observed> observed_;
  std::vector<v1::MemberLeave> leaves_;
  std::deque<v1::JournalAppend> appends_;
  std::deque<v1::PlaceRequest> requests_;
  std::uint64_t shed_appends_ = 0;
};

const char* status_name(v1::MemberStatus s);

} // namespace troupe::control
