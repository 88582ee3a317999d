#include "actors/consensus/control_core.hpp"

#include "runtime/member_status.hpp"

#include <algorithm>
#include <set>
#include <tuple>

namespace troupe::control {

std::string member_key(const std::string& node_id) {
  return std::string{members_prefix} + node_id;
}

std::string placement_key(const std::string& name) {
  return std::string{placement_prefix} + name;
}

std::string directory_key(const std::string& name) {
  return "/troupe/sys/directory/" + name;
}

const char* status_name(v1::MemberStatus s) {
  return member_status_name(s);
}

namespace {

// The KV service takes at most 128 operations per transaction; a decision
// stops adding members and moves at this many writes (each adds up to 3),
// leaving room for the journal entries, the trim and next_seq.
constexpr std::size_t max_writes_per_decision = 48;

bool hosts_role(const v1::MemberInfo& info, const std::string& role) {
  if (role.empty())
    return true;
  for (auto& r : info.roles())
    if (r == role || r == "all")
      return true;
  return false;
}

std::string zone_of(const v1::MemberInfo& info) {
  auto i = info.labels().find("zone");
  return i == info.labels().end() ? std::string{} : i->second;
}

bool alive(v1::MemberStatus s) {
  return s == v1::MEMBER_STATUS_UP || s == v1::MEMBER_STATUS_SUSPECT;
}

} // namespace

control_core::control_core(std::string self_node, timing t, limits l)
  : self_(std::move(self_node)), timing_(t), limits_(l) {
}

void control_core::load(std::vector<v1::MemberRecord> members,
                        std::vector<v1::PlacementRecord> placements,
                        std::uint64_t next_seq, std::int64_t mono_ms) {
  reset();
  for (auto& m : members)
    members_[m.info().node_id()] = std::move(m);
  for (auto& p : placements)
    placements_[p.spec().name()] = std::move(p);
  next_seq_ = std::max<std::uint64_t>(next_seq, 1);
  trimmed_below_ = next_seq_ > journal::max_entries ? next_seq_ - journal::max_entries : 1;
  grace_until_ms_ = mono_ms + timing_.takeover_grace_ms;
  // Acks carry the revision; a value unique to this takeover makes every
  // node fetch the full table from the new leader once.
  revision_ = static_cast<std::uint64_t>(mono_ms) << 10;
  loaded_ = true;
}

void control_core::reset() {
  loaded_ = false;
  members_.clear();
  placements_.clear();
  observed_.clear();
  leaves_.clear();
  appends_.clear();
  requests_.clear();
}

v1::HeartbeatAck control_core::on_heartbeat(const v1::MemberHeartbeat& hb,
                                            std::int64_t mono_ms) {
  auto& obs = observed_[hb.info().node_id()];
  if (obs.info.incarnation() != hb.info().incarnation())
    obs.escalated.clear(); // a new incarnation starts over
  obs.info = hb.info();
  obs.last_seen_ms = mono_ms;
  obs.disconnected = false;
  for (auto& name : hb.escalated())
    obs.escalated.insert(name);
  obs.synced = {hb.synced().begin(), hb.synced().end()};
  v1::HeartbeatAck ack;
  ack.set_accepted(true);
  ack.set_leader_node(self_);
  ack.set_revision(revision_);
  auto m = members_.find(hb.info().node_id());
  bool current = m != members_.end() && m->second.info().incarnation() == hb.info().incarnation();
  ack.set_status(current ? m->second.status() : v1::MEMBER_STATUS_JOINING);
  if (hb.known_revision() != revision_) {
    ack.set_full(true);
    for (auto& [id, rec] : members_)
      *ack.add_members() = rec;
    for (auto& [name, rec] : placements_)
      *ack.add_placements() = rec;
  }
  return ack;
}

void control_core::on_disconnect(const std::string& node, std::int64_t mono_ms) {
  auto i = observed_.find(node);
  if (i == observed_.end() || i->second.disconnected)
    return;
  i->second.disconnected = true;
  if (i->second.trouble_since_ms < 0)
    i->second.trouble_since_ms = mono_ms;
}

void control_core::on_leave(const v1::MemberLeave& leave) {
  for (auto& l : leaves_)
    if (l.node_id() == leave.node_id() && l.incarnation() == leave.incarnation())
      return;
  if (leaves_.size() < limits_.max_members)
    leaves_.push_back(leave);
}

bool control_core::on_journal_append(v1::JournalAppend append) {
  if (appends_.size() >= limits_.max_pending_appends) {
    ++shed_appends_;
    return false;
  }
  appends_.push_back(std::move(append));
  return true;
}

std::optional<std::string> control_core::on_place(const v1::PlaceRequest& req) {
  auto& name = req.spec().name();
  if (name.empty() || name.size() > 200)
    return "a placement needs a name of 1 to 200 bytes";
  if (!req.remove() && req.spec().type().empty())
    return "a placement needs a type (e.g. probe)";
  if (req.spec().apart_from_size() > 8)
    return "a placement stays apart from at most 8 others";
  for (auto& partner : req.spec().apart_from())
    if (partner.empty() || partner.size() > 200 || partner == name)
      return "apart-from names another placement, of 1 to 200 bytes";
  if (req.spec().slots_size() > 1024)
    return "a placement serves at most 1024 slot ranges";
  if (req.spec().standby().size() > 200 || req.spec().standby() == name)
    return "standby names another placement, of 1 to 200 bytes";
  for (auto& r : req.spec().slots()) {
    if (r.start() > r.end() || r.end() > 16383)
      return "slot range " + std::to_string(r.start()) + "-" + std::to_string(r.end())
             + " is not within 0-16383";
    auto overlaps = [&](const v1::PlacementSpec& other) {
      if (other.name() == name)
        return false;
      for (auto& o : other.slots())
        if (o.start() <= r.end() && r.start() <= o.end())
          return true;
      return false;
    };
    for (auto& [other, rec] : placements_)
      if (overlaps(rec.spec()))
        return "slots " + std::to_string(r.start()) + "-" + std::to_string(r.end())
               + " overlap those of " + other;
    for (auto& q : requests_)
      if (!q.remove() && overlaps(q.spec()))
        return "slots " + std::to_string(r.start()) + "-" + std::to_string(r.end())
               + " overlap those of " + q.spec().name();
  }
  if (!req.remove() && !placements_.count(name)
      && placements_.size() + requests_.size() >= limits_.max_placements)
    return "too many placements (limit " + std::to_string(limits_.max_placements) + ")";
  if (requests_.size() >= 256)
    return "too many placement requests in flight; retry shortly";
  requests_.push_back(req);
  return std::nullopt;
}

// -- deciding -------------------------------------------------------------------

std::optional<decision> control_core::next_decision(std::int64_t mono_ms,
                                                    std::int64_t wall_ms) {
  if (!loaded_)
    return std::nullopt;
  decision d;
  decide_members(d, mono_ms, wall_ms);
  decide_requests(d, wall_ms);
  decide_placements(d, mono_ms, wall_ms);
  decide_appends(d);
  if (d.writes.empty() && d.entries.empty())
    return std::nullopt;
  decide_trim(d);
  for (auto& e : d.entries)
    d.writes.push_back({journal::key_for(e.seq), journal::to_json(e), {}});
  d.writes.push_back(
    {std::string{next_seq_key}, std::to_string(next_seq_ + d.entries.size()), {}});
  return d;
}

void control_core::add_entry(decision& d, std::string kind, std::string node,
                             std::string subject, std::string reason, std::int64_t wall_ms) {
  journal::entry e;
  e.seq = next_seq_ + d.entries.size();
  e.time_ms = wall_ms;
  e.kind = std::move(kind);
  e.node = std::move(node);
  e.by = self_;
  e.subject = std::move(subject);
  e.reason = std::move(reason);
  d.entries.push_back(std::move(e));
}

void control_core::set_member(decision& d, const v1::MemberInfo& info,
                              v1::MemberStatus status, std::int64_t wall_ms,
                              const std::string& kind, const std::string& reason) {
  v1::MemberRecord rec;
  *rec.mutable_info() = info;
  rec.set_status(status);
  rec.set_since_ms(wall_ms);
  rec.set_reason(reason);
  rec.set_decided_by(self_);
  d.writes.push_back({member_key(info.node_id()), rec.SerializeAsString(), {}});
  d.members[info.node_id()] = std::move(rec);
  add_entry(d, kind, info.node_id(), "", reason, wall_ms);
}

void control_core::decide_members(decision& d, std::int64_t mono_ms, std::int64_t wall_ms) {
  // Joins, rejoins and recoveries, from heartbeats.
  for (auto& [node, obs] : observed_) {
    if (d.writes.size() >= max_writes_per_decision)
      return;
    if (obs.last_seen_ms <= 0 || obs.disconnected)
      continue;
    auto inc = obs.info.incarnation();
    auto rec = members_.find(node);
    if (rec == members_.end()) {
      set_member(d, obs.info, v1::MEMBER_STATUS_UP, wall_ms, "join",
                 "joined with incarnation " + std::to_string(inc));
      continue;
    }
    auto old_inc = rec->second.info().incarnation();
    auto old = rec->second.status();
    if (old_inc < inc) {
      // A new process starts healthy: its failover clock starts at its own
      // first trouble, not at the one of the process it replaced.
      obs.trouble_since_ms = -1;
      set_member(d, obs.info, v1::MEMBER_STATUS_UP, wall_ms, "rejoin",
                 "rejoined with incarnation " + std::to_string(inc) + " (was "
                   + std::to_string(old_inc) + ", " + status_name(old) + ")");
    } else if (old_inc == inc && mono_ms - obs.last_seen_ms <= timing_.suspect_after_ms
               && (old == v1::MEMBER_STATUS_SUSPECT || old == v1::MEMBER_STATUS_DOWN
                   || old == v1::MEMBER_STATUS_JOINING)) {
      set_member(d, obs.info, v1::MEMBER_STATUS_UP, wall_ms, "up",
                 std::string{"heartbeats resumed (was "} + status_name(old) + ")");
      obs.trouble_since_ms = -1;
    }
  }
  // Graceful leaves.
  for (auto& leave : leaves_) {
    auto rec = members_.find(leave.node_id());
    if (rec == members_.end() || d.members.count(leave.node_id())
        || rec->second.info().incarnation() != leave.incarnation()
        || rec->second.status() == v1::MEMBER_STATUS_LEFT)
      continue;
    set_member(d, rec->second.info(), v1::MEMBER_STATUS_LEFT, wall_ms, "leave",
               "left gracefully");
    d.leaves.push_back(leave.node_id());
  }
  // Leases running out.
  for (auto& [node, rec] : members_) {
    if (d.writes.size() >= max_writes_per_decision)
      return;
    if (d.members.count(node) || !alive(rec.status()))
      continue;
    auto& obs = observed_[node];
    auto last = std::max(obs.last_seen_ms, grace_until_ms_);
    auto silent_ms = mono_ms - last;
    auto heard = obs.last_seen_ms > 0
                   ? "for " + std::to_string(mono_ms - obs.last_seen_ms) + " ms"
                   : std::string{"since this leader took over"};
    if (silent_ms > timing_.down_after_ms) {
      if (obs.trouble_since_ms < 0)
        obs.trouble_since_ms = last + timing_.suspect_after_ms;
      set_member(d, rec.info(), v1::MEMBER_STATUS_DOWN, wall_ms, "down",
                 "lease expired: no heartbeat " + heard + " (limit "
                   + std::to_string(timing_.down_after_ms) + " ms)");
    } else if (rec.status() == v1::MEMBER_STATUS_UP
               && (silent_ms > timing_.suspect_after_ms || obs.disconnected)) {
      if (obs.trouble_since_ms < 0)
        obs.trouble_since_ms = obs.disconnected ? mono_ms : last + timing_.suspect_after_ms;
      set_member(d, rec.info(), v1::MEMBER_STATUS_SUSPECT, wall_ms, "suspect",
                 obs.disconnected ? "connection lost"
                                  : "no heartbeat " + heard);
    }
  }
  // Forget the oldest DOWN/LEFT records beyond the limit.
  if (members_.size() > limits_.max_members) {
    std::vector<std::pair<std::int64_t, std::string>> gone;
    for (auto& [node, rec] : members_)
      if (!alive(rec.status()) && !d.members.count(node))
        gone.emplace_back(rec.since_ms(), node);
    std::sort(gone.begin(), gone.end());
    auto excess = members_.size() - limits_.max_members;
    for (std::size_t i = 0; i < excess && i < gone.size(); ++i)
      d.writes.push_back({member_key(gone[i].second), std::nullopt, {}});
  }
}

void control_core::decide_requests(decision& d, std::int64_t wall_ms) {
  for (auto& req : requests_) {
    if (d.requests_used >= 16)
      break;
    ++d.requests_used;
    auto& name = req.spec().name();
    if (req.remove()) {
      if (!placements_.count(name) && !d.placements.count(name))
        continue;
      d.placements.erase(name);
      d.removed_placements.insert(name);
      d.writes.push_back({placement_key(name), std::nullopt, {}});
      d.writes.push_back({directory_key(name), std::nullopt, {}});
      add_entry(d, "placement", "", name, "removed on request", wall_ms);
      continue;
    }
    d.removed_placements.erase(name);
    v1::PlacementRecord rec;
    if (auto i = placements_.find(name); i != placements_.end())
      rec = i->second;
    *rec.mutable_spec() = req.spec();
    rec.set_reason(rec.node_id().empty() ? "requested" : rec.reason());
    d.placements[name] = rec;
    d.writes.push_back({placement_key(name), rec.SerializeAsString(), {}});
  }
}

const v1::MemberRecord* control_core::member_after(const decision& d,
                                                   const std::string& node) const {
  if (auto i = d.members.find(node); i != d.members.end())
    return &i->second;
  if (auto i = members_.find(node); i != members_.end())
    return &i->second;
  return nullptr;
}

bool control_core::role_gave_up(const std::string& node, const std::string& role) const {
  if (role.empty())
    return false;
  auto obs = observed_.find(node);
  return obs != observed_.end() && obs->second.escalated.count("role:" + role) > 0;
}

std::string control_core::node_of(const decision& d, const std::string& name) const {
  if (d.removed_placements.count(name))
    return {};
  if (auto i = d.placements.find(name); i != d.placements.end())
    return i->second.node_id();
  if (auto i = placements_.find(name); i != placements_.end())
    return i->second.node_id();
  return {};
}

bool control_core::beside_partner(const decision& d, const v1::PlacementRecord& rec,
                                  const std::string& node) const {
  for (auto& partner : rec.spec().apart_from())
    if (partner != rec.spec().name() && !node.empty() && node_of(d, partner) == node)
      return true;
  return false;
}

bool control_core::can_host(const decision& d, const v1::PlacementRecord& rec) const {
  if (rec.node_id().empty())
    return false;
  auto* m = member_after(d, rec.node_id());
  if (!m || !alive(m->status()) || m->info().incarnation() != rec.node_incarnation()
      || !hosts_role(m->info(), rec.spec().role())
      || role_gave_up(rec.node_id(), rec.spec().role())
      || beside_partner(d, rec, rec.node_id()))
    return false;
  auto obs = observed_.find(rec.node_id());
  return obs == observed_.end() || !obs->second.escalated.count(rec.spec().name());
}

std::map<std::string, std::size_t> control_core::load_per_node(const decision& d) const {
  std::map<std::string, std::size_t> load;
  for (auto& [name, rec] : placements_)
    if (!d.placements.count(name) && !d.removed_placements.count(name))
      ++load[rec.node_id()];
  for (auto& [name, rec] : d.placements)
    ++load[rec.node_id()];
  return load;
}

std::optional<std::string> control_core::pick_host(const decision& d,
                                                   const v1::PlacementRecord& rec,
                                                   const std::string& avoid_zone) const {
  auto load = load_per_node(d);
  // Preference: another zone than the old host's, then not the leader's own
  // node (it carries the control plane, and a singleton beside the leader
  // fails over slower: an election and a takeover grace come first), then
  // the fewest placed actors, then the lowest id.
  std::optional<std::tuple<bool, std::size_t, bool, std::size_t, std::string>> best;
  // The zones of the placements this one stays apart from: avoided, as
  // the old host's zone is, while another zone can host it.
  std::set<std::string> partner_zones;
  for (auto& partner : rec.spec().apart_from())
    if (auto* pm = member_after(d, node_of(d, partner)); pm && !zone_of(pm->info()).empty())
      partner_zones.insert(zone_of(pm->info()));
  bool in_set = rec.spec().apart_from_size() > 0 || !rec.spec().standby().empty();
  bool primary = !rec.spec().standby().empty();
  auto primaries = primary ? primary_weights(d) : std::map<std::string, std::size_t>{};
  auto consider = [&](const v1::MemberRecord& m) {
    auto& node = m.info().node_id();
    if (m.status() != v1::MEMBER_STATUS_UP || !hosts_role(m.info(), rec.spec().role())
        || role_gave_up(node, rec.spec().role()) || beside_partner(d, rec, node))
      return;
    if (auto obs = observed_.find(node);
        obs != observed_.end() && obs->second.escalated.count(rec.spec().name()))
      return;
    auto zone = zone_of(m.info());
    bool same_zone = (!avoid_zone.empty() && zone == avoid_zone)
                     || (!zone.empty() && partner_zones.count(zone));
    // A shard's replica spreads evenly first: it holds data, and the
    // leader's node is as good a home as any for one. A primary (it has a
    // standby) goes where the fewest primaries are, the leader's node
    // counting one more, and to another node than the leader's on a tie.
    bool beside_leader = node == self_ && (!in_set || primary);
    std::size_t weight = primary ? primaries[node] : 0;
    std::tuple<bool, std::size_t, bool, std::size_t, std::string> key{
      same_zone, weight, beside_leader, load[node], node};
    if (!best || key < *best)
      best = key;
  };
  for (auto& [node, m] : members_)
    if (!d.members.count(node))
      consider(m);
  for (auto& [node, m] : d.members)
    consider(m);
  if (!best)
    return std::nullopt;
  return std::get<4>(*best);
}

std::map<std::string, std::size_t> control_core::primary_weights(const decision& d) const {
  std::map<std::string, std::size_t> w;
  w[self_] = 1; // the control plane: a primary beside it fails over slower
  auto count = [&](const v1::PlacementRecord& rec) {
    if (!rec.spec().standby().empty() && !rec.node_id().empty())
      ++w[rec.node_id()];
  };
  for (auto& [name, rec] : placements_)
    if (!d.placements.count(name) && !d.removed_placements.count(name))
      count(rec);
  for (auto& [name, rec] : d.placements)
    count(rec);
  return w;
}

void control_core::decide_placements(decision& d, std::int64_t mono_ms,
                                     std::int64_t wall_ms) {
  std::vector<v1::PlacementRecord> current;
  for (auto& [name, rec] : placements_)
    if (!d.placements.count(name) && !d.removed_placements.count(name))
      current.push_back(rec);
  for (auto& [name, rec] : d.placements)
    current.push_back(rec);
  std::vector<std::string> promoted; // standbys whose partner took their node
  // `forced`: a rebalancing move of a record that could stay, and why.
  auto decide = [&](const v1::PlacementRecord& rec, const std::string& forced = {}) {
    if (forced.empty() && can_host(d, rec))
      return;
    auto& name = rec.spec().name();
    auto* old = rec.node_id().empty() ? nullptr : member_after(d, rec.node_id());
    // A primary moves to its standby's node while that one is hosted: the
    // replica there has the data (docs/cache-cluster.md, "Failover").
    std::optional<std::string> host;
    std::string standby_node;
    if (auto sb = record_after(d, rec.spec().standby()); sb && can_host(d, *sb)
        && sb->node_id() != rec.node_id() && eligible(d, rec, sb->node_id())
        && (forced.empty() || synced_at(sb->node_id(), sb->spec().name()))) {
      standby_node = sb->node_id();
      host = standby_node;
    }
    if (!forced.empty() && !rec.spec().standby().empty() && standby_node.empty())
      return; // a primary is handed over only to its standby, in step
    if (!host)
      host = pick_host(d, rec, old ? zone_of(old->info()) : std::string{});
    if (!forced.empty() && (!host || *host == rec.node_id()))
      return; // nowhere better
    if (!host && rec.node_id().empty() && !d.placements.count(name))
      return; // still nowhere to go: nothing new to write
    std::string why = forced;
    if (!forced.empty())
      ; // a rebalancing move
    else if (!old && !rec.node_id().empty())
      why = rec.node_id() + " is gone";
    else if (old && !alive(old->status()))
      why = rec.node_id() + " is " + status_name(old->status());
    else if (old && old->info().incarnation() != rec.node_incarnation())
      why = rec.node_id() + " restarted";
    else if (old && beside_partner(d, rec, rec.node_id()))
      why = rec.node_id() + " also hosts a placement it must stay apart from";
    else if (old && role_gave_up(rec.node_id(), rec.spec().role()))
      why = "role " + rec.spec().role() + " gave up on " + rec.node_id() + " (escalation)";
    else if (old)
      why = name + " gave up on " + rec.node_id() + " (escalation)";
    v1::PlacementRecord next = rec;
    next.set_epoch(rec.epoch() + 1);
    next.set_since_ms(wall_ms);
    if (host) {
      auto* m = member_after(d, *host);
      next.set_node_id(*host);
      next.set_node_incarnation(m->info().incarnation());
      if (!standby_node.empty()) {
        next.set_reason("promoted " + rec.spec().standby() + " on " + *host + ": " + why);
        promoted.push_back(rec.spec().standby());
      } else {
        next.set_reason(rec.node_id().empty() ? "placed on " + *host
                                              : "moved from " + rec.node_id() + " to "
                                                  + *host + ": " + why);
      }
      d.writes.push_back({directory_key(name), *host, {}});
    } else {
      next.set_node_id("");
      next.set_node_incarnation(0);
      next.set_reason("no eligible node" + (why.empty() ? "" : ": " + why));
      d.writes.push_back({directory_key(name), std::nullopt, {}});
    }
    if (old && old->status() == v1::MEMBER_STATUS_DOWN)
      if (auto obs = observed_.find(rec.node_id());
          obs != observed_.end() && obs->second.trouble_since_ms >= 0)
        d.failover_seconds.push_back((mono_ms - obs->second.trouble_since_ms) / 1000.0);
    d.writes.push_back({placement_key(name), next.SerializeAsString(), {}});
    add_entry(d, "placement", next.node_id(), name, next.reason(), wall_ms);
    d.placements[name] = std::move(next);
  };
  for (auto& rec : current) {
    if (d.writes.size() >= max_writes_per_decision)
      break; // the rest on the next tick: a transaction has at most 128 ops
    decide(rec);
  }
  if (d.placements.empty() && d.members.empty())
    if (auto move = rebalance_move(d))
      decide(move->first, move->second);
  // A promoted standby now shares its node with its primary: place it
  // again in the same transaction, wherever the loop above saw it.
  for (auto& name : promoted)
    if (auto sb = record_after(d, name); sb && d.writes.size() < max_writes_per_decision)
      decide(*sb);
}

bool control_core::synced_at(const std::string& node, const std::string& name) const {
  auto obs = observed_.find(node);
  return obs != observed_.end() && obs->second.synced.count(name) > 0;
}

std::optional<std::pair<v1::PlacementRecord, std::string>>
control_core::rebalance_move(const decision& d) const {
  // Only in a settled cluster: every member up, every standby in step.
  for (auto& [node, m] : members_)
    if (m.status() == v1::MEMBER_STATUS_SUSPECT)
      return std::nullopt;
  for (auto& [name, prim] : placements_) {
    if (prim.spec().standby().empty())
      continue;
    auto sb = placements_.find(prim.spec().standby());
    if (sb != placements_.end()
        && (sb->second.node_id().empty() || !synced_at(sb->second.node_id(), sb->first)))
      return std::nullopt;
  }
  // 1. Primaries even out: one moves to its in-step standby when that
  //    node serves at least two fewer (the leader's node counts one more:
  //    a primary beside the control plane fails over slower, since an
  //    election and the takeover grace come first).
  auto weights = primary_weights(d);
  for (auto& [name, rec] : placements_) {
    if (rec.spec().standby().empty() || rec.node_id().empty())
      continue;
    auto sb = record_after(d, rec.spec().standby());
    if (!sb || sb->node_id().empty() || !eligible(d, rec, sb->node_id()))
      continue;
    auto from = weights[rec.node_id()], to = weights[sb->node_id()];
    if (from >= to + 2)
      return std::pair{rec, "handed over to " + sb->node_id() + ": " + rec.node_id()
                              + " weighs " + std::to_string(from) + " primaries, "
                              + sb->node_id() + " " + std::to_string(to)
                              + " (the Raft leader's node counts one more)"};
  }
  // 2. Replicas (placements with a partner and no standby) even out: one
  //    moves from a node with at least two more placements than another
  //    that can host it.
  auto load = load_per_node(d);
  for (auto& [name, rec] : placements_) {
    if (rec.spec().apart_from().empty() || !rec.spec().standby().empty()
        || rec.node_id().empty())
      continue;
    for (auto& [node, m] : members_)
      if (node != rec.node_id() && eligible(d, rec, node) && !beside_partner(d, rec, node)
          && load[node] + 2 <= load[rec.node_id()])
        return std::pair{rec, "rebalanced: " + rec.node_id() + " has "
                                + std::to_string(load[rec.node_id()]) + " placements, "
                                + node + " " + std::to_string(load[node])};
  }
  return std::nullopt;
}

std::optional<v1::PlacementRecord> control_core::record_after(const decision& d,
                                                              const std::string& name) const {
  if (name.empty() || d.removed_placements.count(name))
    return std::nullopt;
  if (auto i = d.placements.find(name); i != d.placements.end())
    return i->second;
  if (auto i = placements_.find(name); i != placements_.end())
    return i->second;
  return std::nullopt;
}

bool control_core::eligible(const decision& d, const v1::PlacementRecord& rec,
                            const std::string& node) const {
  auto* m = member_after(d, node);
  if (!m || m->status() != v1::MEMBER_STATUS_UP || !hosts_role(m->info(), rec.spec().role())
      || role_gave_up(node, rec.spec().role()))
    return false;
  auto obs = observed_.find(node);
  return obs == observed_.end() || !obs->second.escalated.count(rec.spec().name());
}

void control_core::decide_appends(decision& d) {
  static const std::set<std::string> kinds{"restart", "escalation", "fault", "note"};
  for (auto& a : appends_) {
    if (d.entries.size() >= limits_.max_entries_per_decision)
      break;
    ++d.appends_used;
    journal::entry e;
    e.seq = next_seq_ + d.entries.size();
    e.time_ms = a.time_ms();
    e.kind = kinds.count(a.kind()) ? a.kind() : "note";
    e.node = a.node();
    e.by = a.node();
    e.subject = a.subject();
    e.reason = a.reason();
    d.entries.push_back(std::move(e));
  }
}

void control_core::decide_trim(decision& d) {
  auto next = next_seq_ + d.entries.size();
  if (next <= journal::max_entries + 1)
    return;
  auto keep_from = next - journal::max_entries;
  if (keep_from <= trimmed_below_)
    return;
  d.writes.push_back({journal::key_for(trimmed_below_), std::nullopt,
                      journal::key_for(keep_from)});
}

void control_core::committed(const decision& d) {
  for (auto& w : d.writes)
    if (!w.value && w.key.rfind(members_prefix, 0) == 0)
      members_.erase(w.key.substr(members_prefix.size()));
  for (auto& [node, rec] : d.members)
    members_[node] = rec;
  for (auto& name : d.removed_placements)
    placements_.erase(name);
  for (auto& [name, rec] : d.placements)
    placements_[name] = rec;
  auto next = next_seq_ + d.entries.size();
  if (next > journal::max_entries + 1)
    trimmed_below_ = std::max(trimmed_below_, next - journal::max_entries);
  next_seq_ = next;
  for (std::size_t i = 0; i < d.appends_used && !appends_.empty(); ++i)
    appends_.pop_front();
  for (std::size_t i = 0; i < d.requests_used && !requests_.empty(); ++i)
    requests_.pop_front();
  for (auto& node : d.leaves)
    leaves_.erase(std::remove_if(leaves_.begin(), leaves_.end(),
                                 [&](auto& l) { return l.node_id() == node; }),
                  leaves_.end());
  ++revision_;
}

} // namespace troupe::control
