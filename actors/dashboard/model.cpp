#include "actors/dashboard/model.hpp"

namespace troupe::dashboard {

using nlohmann::json;

model::model(model_limits limits) : limits_(limits) {
}

void model::set_node(const std::string& id, json node) {
  if (nodes_.contains(id) && nodes_[id] == node)
    return;
  if (!nodes_.contains(id) && nodes_.size() >= limits_.max_nodes)
    return;
  pending_["nodes"][id] = node;
  nodes_[id] = std::move(node);
}

void model::retain_nodes(const std::vector<std::string>& ids) {
  std::vector<std::string> gone;
  for (auto& [id, _] : nodes_.items())
    if (std::find(ids.begin(), ids.end(), id) == ids.end())
      gone.push_back(id);
  for (auto& id : gone) {
    nodes_.erase(id);
    actors_.erase(id);
    pending_["removed_nodes"].push_back(id);
    if (pending_.contains("nodes"))
      pending_["nodes"].erase(id);
  }
}

// The delta for one node's actors: records that are new or differ, and the
// names that are gone.
void model::set_actors(const std::string& node, const json& actors) {
  auto& current = actors_[node];
  if (current.is_null())
    current = json::object();
  json set = json::object();
  json removed = json::array();
  size_t kept = 0;
  json next = json::object();
  for (auto& [name, record] : actors.items()) {
    if (kept++ >= limits_.max_actors_per_node)
      break;
    auto old = current.find(name);
    if (old == current.end() || *old != record)
      set[name] = record;
    next[name] = record;
  }
  for (auto& [name, _] : current.items())
    if (!next.contains(name))
      removed.push_back(name);
  if (set.empty() && removed.empty())
    return;
  auto& delta = pending_["actors"][node];
  for (auto& [name, record] : set.items())
    delta["set"][name] = record;
  for (auto& name : removed) {
    delta["removed"].push_back(name);
    if (delta.contains("set"))
      delta["set"].erase(name.get<std::string>());
  }
  current = std::move(next);
}

void model::set_raft(json raft) {
  if (raft_ == raft)
    return;
  pending_["raft"] = raft;
  raft_ = std::move(raft);
}

bool model::add_journal(json entry) {
  if (!entry.contains("seq") || !entry["seq"].is_number_integer())
    return false;
  auto seq = entry["seq"].get<int64_t>();
  if (journal_.count(seq)
      || (journal_.size() >= limits_.max_journal_entries && seq < journal_.begin()->first))
    return false;
  pending_["journal"].push_back(entry);
  journal_[seq] = std::move(entry);
  while (journal_.size() > limits_.max_journal_entries)
    journal_.erase(journal_.begin());
  return true;
}

void model::add_metrics(json point) {
  pending_["metrics"] = point;
  metrics_.push_back(std::move(point));
  while (metrics_.size() > limits_.max_metric_points)
    metrics_.pop_front();
}

std::optional<std::string> model::publish() {
  if (pending_.empty())
    return std::nullopt;
  ++revision_;
  json delta = std::move(pending_);
  pending_ = json::object();
  delta["type"] = "delta";
  delta["rev"] = revision_;
  auto text = std::make_shared<const std::string>(delta.dump());
  history_.emplace_back(revision_, text);
  while (history_.size() > limits_.max_history_deltas)
    history_.pop_front();
  return *text;
}

json model::state() const {
  json out = json::object();
  out["rev"] = revision_;
  out["nodes"] = nodes_;
  json actors = json::object();
  for (auto& [node, records] : actors_)
    actors[node] = records;
  out["actors"] = std::move(actors);
  out["raft"] = raft_;
  json journal = json::array();
  for (auto& [seq, entry] : journal_)
    journal.push_back(entry);
  out["journal"] = std::move(journal);
  json metrics = json::array();
  for (auto& p : metrics_)
    metrics.push_back(p);
  out["metrics"] = std::move(metrics);
  return out;
}

std::shared_ptr<const std::string> model::snapshot_text() const {
  if (snapshot_cache_ && snapshot_cache_rev_ == revision_)
    return snapshot_cache_;
  auto s = state();
  s["type"] = "snapshot";
  snapshot_cache_ = std::make_shared<const std::string>(s.dump());
  snapshot_cache_rev_ = revision_;
  return snapshot_cache_;
}

std::optional<std::vector<std::shared_ptr<const std::string>>>
model::deltas_since(uint64_t rev) const {
  std::vector<std::shared_ptr<const std::string>> out;
  if (rev == revision_)
    return out;
  if (rev > revision_ || history_.empty() || rev + 1 < history_.front().first)
    return std::nullopt;
  for (auto& [r, text] : history_)
    if (r > rev)
      out.push_back(text);
  return out;
}

} // namespace troupe::dashboard
