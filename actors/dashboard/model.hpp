// The dashboard's core: the cluster state it shows, as JSON sections, and
// the revisioned deltas it pushes to browsers. Plain C++ (no CAF); the
// actor (dashboard.hpp) feeds it and sends what it returns.
//
// Sections (docs/dashboard.md has the message formats):
//   nodes    node id -> {id, status, since_ms, reason, roles, labels, ...}
//   actors   node id -> actor name -> {name, parent, type, status, ...}
//   raft     {leader, members: [...], updated_ms}
//   journal  the last max_journal_entries decision-journal entries, by seq
//   metrics  one point per second: {t, nodes: {id: {msgs_per_s, rtt_ms, ...}}}
//
// Every publish() that finds a change makes revision + 1 and one delta
// message holding only what changed (per node, per actor, new journal
// entries, the new metrics point). The last max_history_deltas deltas are
// kept, so a client that missed some can resume without a full snapshot.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace troupe::dashboard {

struct model_limits {
  size_t max_journal_entries = 500;
  /// Deltas kept for {"type":"resume"}; an older revision gets a snapshot.
  size_t max_history_deltas = 64;
  /// Metric points kept for the charts (one a second: two minutes).
  size_t max_metric_points = 120;
  /// Actors kept per node; the rest are counted in "actors_truncated".
  size_t max_actors_per_node = 20000;
  size_t max_nodes = 1000;
};

class model {
public:
  explicit model(model_limits limits = {});

  /// Sets node `id`'s record; a change if it differs from the current one.
  void set_node(const std::string& id, nlohmann::json node);
  /// Drops nodes not in `ids` (and their actors).
  void retain_nodes(const std::vector<std::string>& ids);
  /// Replaces node `node`'s actors (a JSON object name -> record).
  void set_actors(const std::string& node, const nlohmann::json& actors);
  void set_raft(nlohmann::json raft);
  /// Adds a journal entry (must hold a numeric "seq"); entries already held
  /// are ignored. Returns whether it was new.
  bool add_journal(nlohmann::json entry);
  /// Adds one metrics point; every point is a change.
  void add_metrics(nlohmann::json point);

  /// If anything changed since the last publish, makes revision + 1 and
  /// returns the delta message (serialized); else nullopt.
  std::optional<std::string> publish();

  uint64_t revision() const {
    return revision_;
  }

  /// The whole state as of revision(), as a snapshot message
  /// {"type":"snapshot","rev":N,...}. Serialized once per revision.
  std::shared_ptr<const std::string> snapshot_text() const;

  /// The whole state as JSON (for /api/...); sections as in the snapshot.
  nlohmann::json state() const;

  /// For a client at revision `rev`: the delta messages after it, in order
  /// (empty if it is current), or nullopt if `rev` is too old or in the
  /// future, in which case it needs a snapshot.
  std::optional<std::vector<std::shared_ptr<const std::string>>>
  deltas_since(uint64_t rev) const;

  const nlohmann::json& nodes() const {
    return nodes_;
  }

private:
  model_limits limits_;
  uint64_t revision_ = 0;
  nlohmann::json nodes_ = nlohmann::json::object();
  std::map<std::string, nlohmann::json> actors_; // node -> object
  nlohmann::json raft_ = nlohmann::json::object();
  std::map<int64_t, nlohmann::json> journal_;
  std::deque<nlohmann::json> metrics_;
  // What changed since the last publish.
  nlohmann::json pending_ = nlohmann::json::object();
  std::deque<std::pair<uint64_t, std::shared_ptr<const std::string>>> history_;
  mutable std::shared_ptr<const std::string> snapshot_cache_;
  mutable uint64_t snapshot_cache_rev_ = 0;
};

} // namespace troupe::dashboard
