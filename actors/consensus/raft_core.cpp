#include "actors/consensus/raft_core.hpp"

#include <algorithm>
#include <limits>
#include <set>

namespace troupe::raft {

namespace {

[[noreturn]] void violated(const char* what) {
  throw invariant_violation(std::string{"raft invariant violated: "} + what);
}

void require(bool condition, const char* what) {
  if (!condition)
    violated(what);
}

} // namespace

node_id message_from(const message& m) {
  return std::visit([](const auto& x) { return x.from; }, m);
}

node_id message_to(const message& m) {
  return std::visit([](const auto& x) { return x.to; }, m);
}

term_t message_term(const message& m) {
  return std::visit([](const auto& x) { return x.term; }, m);
}

const char* to_string(role r) {
  switch (r) {
    case role::follower: return "follower";
    case role::pre_candidate: return "pre_candidate";
    case role::candidate: return "candidate";
    case role::leader: return "leader";
  }
  return "unknown";
}

raft_core::raft_core(config cfg, persisted_state restored, std::uint64_t seed)
  : cfg_(std::move(cfg)),
    rng_(seed),
    term_(restored.state.term),
    voted_for_(restored.state.voted_for),
    persisted_state_(restored.state),
    checked_term_(restored.state.term) {
  // Programmer errors in the configuration: fail at once, not at first use.
  require(cfg_.id != no_node, "config: id must be non-zero");
  require(cfg_.initial.voters.count(no_node) == 0 && cfg_.initial.learners.count(no_node) == 0,
          "config: member ids must be non-zero");
  restore(restored);
  require(cfg_.election_timeout_ticks > cfg_.heartbeat_interval_ticks
            && cfg_.heartbeat_interval_ticks > 0,
          "config: need 0 < heartbeat_interval_ticks < election_timeout_ticks");
  require(cfg_.max_entries_per_append > 0 && cfg_.max_inflight_appends > 0,
          "config: batching limits must be positive");
  require(log_.last_term() <= term_, "restored log has a term above the hard state");
  reset_election_timer();
}

void raft_core::restore(persisted_state& restored) {
  base_members_ = cfg_.initial;
  auto& log = restored.log;
  if (!restored.snap) {
    log_ = raft_log(std::move(log));
  } else {
    snapshot_ = std::move(restored.snap);
    auto& meta = snapshot_->meta;
    if (!log.empty() && log.back().index < meta.index)
      log.clear(); // all covered by the snapshot
    if (log.empty()) {
      log_ = raft_log({}, meta.index, meta.term);
    } else {
      // A compacted log may keep entries the snapshot covers (for slow
      // followers); the term before its first entry is then unknown.
      auto first = log.front().index;
      require(first >= 1 && first <= meta.index + 1, "restored log starts after the snapshot");
      std::optional<term_t> prev;
      if (first == 1)
        prev = 0;
      else if (first == meta.index + 1)
        prev = meta.term;
      log_ = raft_log(std::move(log), first - 1, prev);
      require(log_.term_at(meta.index) == meta.term, "restored log disagrees with the snapshot");
    }
    // The state machine starts from the snapshot, so everything up to it
    // counts as committed and applied.
    commit_ = applied_ = checked_commit_ = meta.index;
    base_members_ = meta.members;
  }
  for (auto i = std::max(log_.first_index(), snapshot_index() + 1); i <= log_.last_index(); ++i)
    note_appended(log_.at(i));
}

const membership& raft_core::members() const {
  return configs_.empty() ? base_members_ : configs_.rbegin()->second;
}

index_t raft_core::snapshot_index() const {
  return snapshot_ ? snapshot_->meta.index : 0;
}

bool raft_core::transferring() const {
  return transfer_target_ != no_node;
}

index_t raft_core::match_index(node_id peer) const {
  if (peer == cfg_.id)
    return log_.last_index();
  auto i = progress_.find(peer);
  return i == progress_.end() ? 0 : i->second.match;
}

// -- time ----------------------------------------------------------------------

void raft_core::tick() {
  if (role_ == role::leader)
    tick_leader();
  else
    tick_election();
  finish_input();
}

void raft_core::tick_election() {
  if (++election_elapsed_ < randomized_timeout_)
    return;
  if (may_campaign())
    campaign(cfg_.pre_vote);
  else // a learner or a member yet to be added waits; its lease has expired
    election_elapsed_ = randomized_timeout_;
}

void raft_core::tick_leader() {
  ++heartbeat_elapsed_;
  if (transfer_target_ != no_node && ++transfer_elapsed_ >= cfg_.transfer_timeout_ticks)
    abort_transfer(); // the target is down or slow: resume serving
  if (++election_elapsed_ >= cfg_.election_timeout_ticks) {
    election_elapsed_ = 0;
    if (cfg_.check_quorum) {
      // A leader cut off from a majority must stop acting as one: otherwise
      // clients on its side wait on it forever while the majority moves on.
      // Only voters count: learners cannot form a majority.
      std::size_t active = is_voter(cfg_.id) ? 1 : 0;
      for (auto& [peer, pr] : progress_) {
        active += pr.recent_active && is_voter(peer) ? 1 : 0;
        pr.recent_active = false;
      }
      if (active < quorum()) {
        become_follower(term_, no_node);
        return;
      }
    }
  }
  for (auto& [peer, pr] : progress_)
    if (pr.mode == progress_mode::snapshot && ++pr.snapshot_elapsed >= cfg_.snapshot_retry_ticks)
      send_snapshot(peer, pr); // lost, or the follower was down
  if (heartbeat_elapsed_ >= cfg_.heartbeat_interval_ticks)
    broadcast_heartbeat();
}

void raft_core::reset_election_timer() {
  // Randomized in [T, 2T) so that split votes resolve (paper section 5.2).
  election_elapsed_ = 0;
  auto base = cfg_.election_timeout_ticks;
  randomized_timeout_ = base + static_cast<std::uint32_t>(rng_() % base);
}

// -- roles ---------------------------------------------------------------------

void raft_core::become_follower(term_t term, node_id leader) {
  if (role_ == role::leader)
    fail_reads();
  abort_transfer();
  if (term > term_) {
    term_ = term;
    voted_for_ = no_node;
  }
  role_ = role::follower;
  leader_ = leader;
  votes_.clear();
  progress_.clear();
  reset_election_timer();
}

void raft_core::adopt_term(term_t term) {
  // Paper, Figure 2: a follower's election timer restarts only when it hears
  // from the current leader or grants a vote, not when a higher term merely
  // shows up. Otherwise a candidate that cannot win (its log is behind) keeps
  // restarting the timer of the one member that can, with every vote request
  // it refuses: without pre-vote the two then campaign in lockstep and their
  // votes split forever (the simulation's seed 11630, two voters left).
  auto elapsed = election_elapsed_;
  auto timeout = randomized_timeout_;
  become_follower(term, no_node);
  election_elapsed_ = elapsed;
  randomized_timeout_ = timeout;
}

void raft_core::become_pre_candidate() {
  // Pre-vote changes neither term nor vote: a member that cannot win (it is
  // partitioned or behind) never bumps terms and so never disrupts a leader.
  role_ = role::pre_candidate;
  leader_ = no_node;
  votes_.clear();
  reset_election_timer();
}

void raft_core::become_candidate() {
  ++term_;
  voted_for_ = cfg_.id;
  role_ = role::candidate;
  leader_ = no_node;
  votes_.clear();
  reset_election_timer();
}

void raft_core::become_leader() {
  role_ = role::leader;
  leader_ = cfg_.id;
  votes_.clear();
  progress_.clear();
  on_membership_change(); // a progress for every other member
  heartbeat_elapsed_ = 0;
  election_elapsed_ = 0;
  // The no-op lets entries of earlier terms commit (they only commit
  // indirectly, once an entry of this term does).
  append_local(entry_kind::noop, {});
  broadcast_append();
  maybe_commit();
}

void raft_core::campaign(bool pre_vote, bool transfer) {
  if (pre_vote)
    become_pre_candidate();
  else
    become_candidate();
  auto request_term = pre_vote ? term_ + 1 : term_;
  votes_.emplace(cfg_.id, true);
  if (granted_votes() >= quorum()) { // single-voter group
    if (pre_vote)
      campaign(false);
    else
      become_leader();
    return;
  }
  for (auto& [peer, name] : members().voters) {
    if (peer == cfg_.id)
      continue;
    send(vote_request{cfg_.id, peer, request_term, pre_vote, log_.last_index(),
                      log_.last_term(), transfer});
  }
}

// -- messages ------------------------------------------------------------------

void raft_core::step(const message& m) {
  // Senders need not be members: a new member hears from the leader before
  // it knows the config that adds it, and a candidate may have been promoted
  // in an entry we lack. Only votes are filtered, when counted.
  auto from = message_from(m);
  if (message_to(m) != cfg_.id || from == cfg_.id || from == no_node)
    return; // misrouted; the shell counts these
  if (step_term(m)) {
    std::visit(
      [this](const auto& x) {
        using type = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<type, vote_request>)
          on_vote_request(x);
        else if constexpr (std::is_same_v<type, vote_response>)
          on_vote_response(x);
        else if constexpr (std::is_same_v<type, append_request>)
          on_append_request(x);
        else if constexpr (std::is_same_v<type, append_response>)
          on_append_response(x);
        else if constexpr (std::is_same_v<type, timeout_now>)
          on_timeout_now(x);
        else if constexpr (std::is_same_v<type, snapshot_request>)
          on_snapshot_request(x);
      },
      m);
  }
  finish_input();
}

bool raft_core::step_term(const message& m) {
  auto term = message_term(m);
  if (term > term_) {
    if (auto* vote = std::get_if<vote_request>(&m)) {
      // Check-quorum's lease: while we hear from a leader, nobody can win an
      // election it needs us for, so ignore the request without adopting its
      // term. This keeps a rejoining member from deposing a healthy leader.
      // A transfer campaign is the leader's own wish, so it passes.
      if (in_leader_lease() && !vote->transfer)
        return false;
      if (vote->pre_vote)
        return true;
      adopt_term(term); // on_vote_request restarts the timer if it grants
      return true;
    }
    if (auto* response = std::get_if<vote_response>(&m);
        response != nullptr && response->pre_vote && response->granted)
      return true; // echoes the term we would campaign at
    if (std::holds_alternative<append_request>(m) || std::holds_alternative<snapshot_request>(m))
      become_follower(term, message_from(m)); // a leader of that term: restart the timer
    else
      adopt_term(term);
    return true;
  }
  if (term < term_) {
    reject_stale(m);
    return false;
  }
  return true;
}

void raft_core::reject_stale(const message& m) {
  // Answering tells a stale leader or candidate our term, so it steps down
  // instead of retrying forever. Stale responses need no answer.
  if (auto* append = std::get_if<append_request>(&m)) {
    append_response r;
    r.from = cfg_.id;
    r.to = append->from;
    r.term = term_;
    r.rejected_index = append->prev_log_index;
    r.hint_index = log_.last_index() + 1;
    send(r);
  } else if (auto* vote = std::get_if<vote_request>(&m)) {
    send(vote_response{cfg_.id, vote->from, term_, vote->pre_vote, false});
  }
}

void raft_core::on_vote_request(const vote_request& m) {
  bool up_to_date = log_.candidate_up_to_date(m.last_log_index, m.last_log_term);
  bool free_to_vote = voted_for_ == m.from || (voted_for_ == no_node && leader_ == no_node);
  if (m.pre_vote) {
    bool granted = up_to_date && (m.term > term_ || free_to_vote);
    send(vote_response{cfg_.id, m.from, granted ? m.term : term_, true, granted});
    return;
  }
  bool granted = up_to_date && free_to_vote;
  if (granted) {
    voted_for_ = m.from;
    reset_election_timer(); // a vote granted is progress; don't compete with it
  }
  send(vote_response{cfg_.id, m.from, term_, false, granted});
}

void raft_core::on_vote_response(const vote_response& m) {
  if (role_ == role::pre_candidate) {
    if (!m.pre_vote || (m.granted && m.term != term_ + 1))
      return;
  } else if (role_ == role::candidate) {
    if (m.pre_vote || m.term != term_)
      return;
  } else {
    return;
  }
  if (!is_voter(m.from))
    return; // only voters elect
  votes_.emplace(m.from, m.granted); // a duplicate keeps the first answer
  auto granted = granted_votes();
  if (granted >= quorum()) {
    if (role_ == role::pre_candidate)
      campaign(false);
    else
      become_leader();
  } else if (std::count_if(votes_.begin(), votes_.end(),
                           [this](auto& v) { return !v.second && is_voter(v.first); })
             >= static_cast<std::ptrdiff_t>(quorum())) {
    become_follower(term_, no_node); // lost
  }
}

append_response raft_core::follow(node_id leader) {
  // Two leaders in one term would break election safety.
  require(role_ != role::leader, "two leaders in one term");
  if (role_ != role::follower || leader_ != leader)
    become_follower(term_, leader);
  election_elapsed_ = 0;
  append_response r;
  r.from = cfg_.id;
  r.to = leader;
  r.term = term_;
  return r;
}

void raft_core::on_append_request(const append_request& m) {
  auto r = follow(m.from);
  r.heartbeat = m.heartbeat;
  r.read_context = m.read_context;
  if (m.prev_log_index < commit_) {
    // Everything up to commit_ matches any current leader's log; skip the
    // already committed part rather than re-checking it.
    r.success = true;
    r.match_index = commit_;
    send(r);
    return;
  }
  if (!log_.matches(m.prev_log_index, m.prev_log_term)) {
    r.rejected_index = m.prev_log_index;
    r.hint_index = m.prev_log_index > log_.last_index()
                     ? log_.last_index() + 1
                     : log_.first_index_of_term_at(m.prev_log_index);
    send(r);
    return;
  }
  store_entries_from(m.prev_log_index + 1, m.entries);
  r.success = true;
  r.match_index = m.prev_log_index + m.entries.size();
  // Only what this message proved to match may commit, not our whole log.
  auto new_commit = std::min(m.leader_commit, r.match_index);
  if (new_commit > commit_)
    advance_commit(new_commit);
  send(r);
}

void raft_core::store_entries_from(index_t from, const std::vector<entry>& entries) {
  for (const auto& e : entries) {
    require(e.index == from++, "append_request entries are not contiguous");
    auto existing = log_.term_at(e.index);
    if (existing == e.term)
      continue; // already have it (duplicate or overlapping message)
    if (existing) {
      require(e.index > commit_, "conflict below the commit index");
      require(role_ != role::leader, "leader overwriting its own log");
      log_.truncate_from(e.index);
      note_truncated(e.index);
    }
    log_.append(e);
    note_appended(e);
    unstable_from_ = unstable_from_ == 0 ? e.index : std::min(unstable_from_, e.index);
  }
}

void raft_core::on_append_response(const append_response& m) {
  if (role_ != role::leader)
    return;
  auto i = progress_.find(m.from);
  if (i == progress_.end())
    return;
  i->second.recent_active = true;
  if (m.read_context > i->second.read_ack) {
    // Any answer in our term proves the peer still takes us for its leader.
    i->second.read_ack = m.read_context;
    release_reads();
  }
  if (m.success)
    on_append_success(m.from, i->second, m);
  else
    on_append_reject(m.from, i->second, m);
}

void raft_core::on_append_success(node_id peer, progress& pr, const append_response& m) {
  require(m.match_index <= log_.last_index(), "follower matched beyond the leader's log");
  pr.match = std::max(pr.match, m.match_index);
  pr.next = std::max(pr.next, pr.match + 1);
  if (pr.mode == progress_mode::snapshot) {
    if (pr.match < pr.pending_snapshot) {
      maybe_commit(); // an older answer; wait for the snapshot's
      return;
    }
    pr.mode = progress_mode::probe; // installed: stream from its end
  }
  while (!pr.inflight.empty() && pr.inflight.front() <= pr.match)
    pr.inflight.pop_front();
  bool stalled = pr.mode == progress_mode::replicate && pr.match < log_.last_index()
                 && (pr.inflight.size() >= cfg_.max_inflight_appends
                     || pr.next > log_.last_index());
  if (pr.mode == progress_mode::probe || (m.heartbeat && stalled)) {
    // Probe found the match point: start streaming from it. A heartbeat
    // answer while appends are unanswered means some were lost: resend.
    pr.mode = progress_mode::replicate;
    pr.next = pr.match + 1;
    pr.inflight.clear();
    pr.probe_sent = false;
  }
  maybe_commit();
  send_append(peer, pr);
  maybe_send_timeout_now(peer, pr);
}

void raft_core::on_append_reject(node_id peer, progress& pr, const append_response& m) {
  // Entries up to match are known to agree, so a rejection at or below match
  // is an old answer, as is one in probe mode that is not for the last probe.
  if (m.rejected_index <= pr.match && pr.match > 0)
    return;
  if (pr.mode == progress_mode::snapshot)
    return; // the snapshot answer decides
  if (pr.mode == progress_mode::probe && m.rejected_index + 1 != pr.next)
    return;
  pr.mode = progress_mode::probe;
  pr.next = std::max(pr.match + 1, std::min(m.hint_index, m.rejected_index));
  pr.inflight.clear();
  pr.probe_sent = false;
  send_append(peer, pr);
}

// -- snapshots -----------------------------------------------------------------

const membership& raft_core::membership_at(index_t index) const {
  auto i = configs_.upper_bound(index);
  return i == configs_.begin() ? base_members_ : std::prev(i)->second;
}

void raft_core::compact(index_t index, std::string data) {
  require(index <= applied_, "compact beyond the applied index");
  if (index <= snapshot_index())
    return; // not newer than what we have
  snapshot_ = snapshot{snapshot_meta{index, log_.term_at(index).value(), membership_at(index)},
                       std::move(data)};
  snap_unstable_ = true;
  // Config entries up to `index` are committed, so they can never be
  // truncated: fold them into the base membership.
  base_members_ = snapshot_->meta.members;
  configs_.erase(configs_.begin(), configs_.upper_bound(index));
  auto trailing = static_cast<index_t>(cfg_.snapshot_trailing_entries);
  auto keep_from = std::max(log_.first_index(), index + 1 > trailing ? index + 1 - trailing : 1);
  if (keep_from > log_.first_index()) {
    require(unstable_from_ == 0 || unstable_from_ >= keep_from, "compacting unstable entries");
    log_.compact_before(keep_from);
    compact_before_ = keep_from;
  }
  check_invariants();
}

void raft_core::send_snapshot(node_id peer, progress& pr) {
  require(snapshot_.has_value(), "a follower needs compacted entries but there is no snapshot");
  // One outstanding per follower; resent after snapshot_retry_ticks.
  pr.mode = progress_mode::snapshot;
  pr.pending_snapshot = snapshot_->meta.index;
  pr.snapshot_elapsed = 0;
  pr.inflight.clear();
  pr.probe_sent = false;
  send(snapshot_request{cfg_.id, peer, term_, *snapshot_});
}

void raft_core::on_snapshot_request(const snapshot_request& m) {
  auto r = follow(m.from);
  r.success = true;
  auto& meta = m.snap.meta;
  if (meta.index <= commit_) {
    r.match_index = commit_; // nothing new; our committed prefix matches
    send(r);
    return;
  }
  if (log_.matches(meta.index, meta.term)) {
    // The suffix after the snapshot agrees with the leader up to there; keep
    // it. Storage drops its whole log on snap_received, so write it again.
    log_.compact_before(meta.index + 1);
    configs_.erase(configs_.begin(), configs_.upper_bound(meta.index));
    unstable_from_ = log_.last_index() > meta.index ? meta.index + 1 : 0;
  } else {
    log_ = raft_log({}, meta.index, meta.term);
    configs_.clear();
    unstable_from_ = 0;
  }
  base_members_ = meta.members;
  commit_ = applied_ = meta.index;
  snapshot_ = m.snap;
  snap_unstable_ = true;
  snap_received_ = true;
  compact_before_ = 0; // the log restarts anyway
  on_membership_change();
  r.match_index = meta.index;
  send(r);
}

// -- leadership transfer -------------------------------------------------------
//
// Raft thesis section 3.10: the leader stops taking proposals (so the target
// can catch up with a log that no longer grows), replicates to the target,
// and once the target matches its whole log tells it to campaign at once. The
// target wins because its log is as up to date as anyone's; its vote
// requests carry `transfer` so that followers still in the leader's lease
// do not ignore them.

propose_result raft_core::transfer_leadership(node_id target) {
  propose_result result;
  result.leader_hint = leader_;
  if (role_ != role::leader)
    return result;
  auto i = progress_.find(target);
  if (target == cfg_.id || !members().is_voter(target) || i == progress_.end()) {
    result.error = propose_error::rejected;
    return result;
  }
  transfer_target_ = target;
  transfer_elapsed_ = 0;
  timeout_now_sent_ = false;
  result.accepted = proposal{log_.last_index(), term_};
  send_append(target, i->second);
  maybe_send_timeout_now(target, i->second);
  check_invariants();
  return result;
}

void raft_core::maybe_send_timeout_now(node_id peer, const progress& pr) {
  if (peer != transfer_target_ || timeout_now_sent_ || pr.match != log_.last_index())
    return;
  // Once only: a second one would make the target campaign again. If this
  // one is lost, the transfer times out and the caller may retry.
  timeout_now_sent_ = true;
  send(timeout_now{cfg_.id, peer, term_});
}

void raft_core::abort_transfer() {
  transfer_target_ = no_node;
  transfer_elapsed_ = 0;
  timeout_now_sent_ = false;
}

propose_result raft_core::refuse_while_transferring() const {
  propose_result result;
  result.leader_hint = transfer_target_;
  return result;
}

void raft_core::on_timeout_now(const timeout_now&) {
  // Only a follower campaigns; a stale timeout_now (we already lead, or
  // already campaign) changes nothing. A non-voter can never win.
  if (role_ != role::follower || !members().is_voter(cfg_.id))
    return;
  campaign(false, true);
}

// -- replication ---------------------------------------------------------------

void raft_core::send_append(node_id peer, progress& pr) {
  for (;;) {
    if (pr.mode == progress_mode::snapshot)
      return;
    if (pr.next < log_.first_index() || !log_.term_at(pr.next - 1)) {
      send_snapshot(peer, pr); // what it needs is compacted away
      return;
    }
    if (pr.mode == progress_mode::probe && pr.probe_sent)
      return;
    if (pr.mode == progress_mode::replicate
        && (pr.inflight.size() >= cfg_.max_inflight_appends || pr.next > log_.last_index()))
      return;
    append_request r;
    r.from = cfg_.id;
    r.to = peer;
    r.term = term_;
    r.prev_log_index = pr.next - 1;
    r.prev_log_term = log_.term_at(r.prev_log_index).value();
    r.entries = log_.slice(pr.next, cfg_.max_entries_per_append);
    r.leader_commit = commit_;
    if (pr.mode == progress_mode::probe) {
      pr.probe_sent = true;
    } else {
      // Optimistic: assume it arrives and go on with the next batch.
      pr.next = r.entries.back().index + 1;
      pr.inflight.push_back(r.entries.back().index);
    }
    send(std::move(r));
  }
}

void raft_core::send_heartbeat(node_id peer, const progress& pr) {
  append_request r;
  r.from = cfg_.id;
  r.to = peer;
  r.term = term_;
  r.prev_log_index = pr.match; // known to match, so it cannot be rejected
  if (auto term = log_.term_at(pr.match)) {
    r.prev_log_term = *term;
  } else {
    // Compacted: index 0 is below the follower's commit index (or matches
    // an empty log), so the heartbeat still cannot be rejected.
    r.prev_log_index = 0;
  }
  r.leader_commit = commit_;
  r.heartbeat = true;
  // The newest pending read: a quorum echoing it confirms every read up to it.
  r.read_context = reads_.empty() ? 0 : reads_.back().seq;
  send(std::move(r));
}

void raft_core::broadcast_append() {
  for (auto& [peer, pr] : progress_)
    send_append(peer, pr);
}

void raft_core::broadcast_heartbeat() {
  heartbeat_elapsed_ = 0;
  for (auto& [peer, pr] : progress_)
    send_heartbeat(peer, pr);
}

bool raft_core::maybe_commit() {
  // Voters only: a learner's copy does not make an entry durable enough,
  // and a leader being removed does not count itself.
  std::vector<index_t> matches;
  for (auto& [voter, name] : members().voters) {
    auto i = progress_.find(voter);
    matches.push_back(voter == cfg_.id ? log_.last_index()
                                       : i == progress_.end() ? 0 : i->second.match);
  }
  if (matches.size() < quorum())
    return false;
  std::sort(matches.begin(), matches.end(), std::greater<>{});
  auto candidate = matches[quorum() - 1];
  // Only entries of the current term commit by counting replicas (paper
  // section 5.4.2, Figure 8); earlier ones commit along with them.
  if (candidate <= commit_ || log_.term_at(candidate) != term_)
    return false;
  advance_commit(candidate);
  return true;
}

void raft_core::advance_commit(index_t new_commit) {
  require(new_commit > commit_ && new_commit <= log_.last_index(), "bad commit advance");
  commit_ = new_commit;
  if (role_ == role::leader) {
    assign_read_indexes();
    release_reads();
  }
}

// -- ReadIndex -----------------------------------------------------------------
//
// Raft thesis section 6.4. A read may be served at index i once (1) i is at
// least the commit index when the read arrived, and (2) the leader has
// confirmed, after the read arrived, that it still leads. A new leader does
// not know the latest commit index until an entry of its own term commits, so
// reads wait for that first (its no-op). Confirmation is a heartbeat round:
// each read gets a sequence number, heartbeats carry the newest one, and a
// quorum of voters echoing sequence s proves leadership for every read <= s.

bool raft_core::committed_in_term() const {
  return commit_ > 0 && log_.term_at(commit_) == term_;
}

void raft_core::assign_read_indexes() {
  if (!committed_in_term())
    return;
  for (auto& r : reads_)
    if (r.index == 0)
      r.index = commit_;
}

std::uint64_t raft_core::confirmed_read_seq() const {
  // The quorum-th highest echo among voters; this member counts as having
  // echoed everything.
  std::vector<std::uint64_t> acks;
  for (auto& [voter, name] : members().voters) {
    if (voter == cfg_.id) {
      acks.push_back(std::numeric_limits<std::uint64_t>::max());
      continue;
    }
    auto i = progress_.find(voter);
    acks.push_back(i == progress_.end() ? 0 : i->second.read_ack);
  }
  if (acks.size() < quorum())
    return 0;
  std::sort(acks.begin(), acks.end(), std::greater<>{});
  return acks[quorum() - 1];
}

void raft_core::release_reads() {
  if (reads_.empty())
    return;
  auto confirmed = confirmed_read_seq();
  // In order: sequence numbers and indexes both grow along the queue.
  while (!reads_.empty() && reads_.front().index != 0 && reads_.front().seq <= confirmed) {
    ready_reads_.push_back(read_state{reads_.front().context, reads_.front().index});
    reads_.pop_front();
  }
}

void raft_core::fail_reads() {
  for (auto& r : reads_)
    failed_reads_.push_back(r.context);
  reads_.clear();
}

propose_result raft_core::read_index(std::uint64_t context) {
  propose_result result;
  result.leader_hint = leader_;
  if (role_ != role::leader)
    return result;
  if (transfer_target_ != no_node)
    return refuse_while_transferring(); // it would fail soon anyway
  if (reads_.size() >= cfg_.max_pending_reads) {
    result.error = propose_error::overloaded;
    return result;
  }
  reads_.push_back(pending_read{context, next_read_seq_++, 0});
  assign_read_indexes();
  result.accepted = proposal{reads_.back().index, term_};
  // Start the confirming round now rather than at the next heartbeat tick.
  broadcast_heartbeat();
  release_reads();
  check_invariants();
  return result;
}

// -- membership ----------------------------------------------------------------
//
// Raft thesis section 4.1: one server at a time, so that the majorities of
// any two consecutive memberships overlap, and each config entry takes effect
// as soon as it is in the log (committed or not). A truncated config entry
// therefore takes its membership with it. New members join as learners and
// are promoted once they have caught up, so that adding one never stalls
// commits while it copies the log.

void raft_core::note_appended(const entry& e) {
  if (e.kind != entry_kind::config)
    return;
  auto decoded = decode_membership(e.command);
  require(decoded.has_value(), "config entry without a membership");
  configs_[e.index] = std::move(*decoded);
  on_membership_change();
}

void raft_core::note_truncated(index_t from) {
  auto first = configs_.lower_bound(from);
  if (first == configs_.end())
    return;
  configs_.erase(first, configs_.end());
  on_membership_change(); // back to the previous config (or the base)
}

index_t raft_core::newest_config_index() const {
  return configs_.empty() ? 0 : configs_.rbegin()->first;
}

void raft_core::on_membership_change() {
  if (transfer_target_ != no_node && !is_voter(transfer_target_))
    abort_transfer();
  if (role_ != role::leader)
    return;
  // One progress per other member, voter or learner. Removed members get no
  // more messages; added ones are probed from the end of the log.
  auto& m = members();
  for (auto i = progress_.begin(); i != progress_.end();)
    i = m.contains(i->first) ? std::next(i) : progress_.erase(i);
  for (auto* group : {&m.voters, &m.learners})
    for (auto& [id, name] : *group) {
      if (id == cfg_.id || progress_.count(id))
        continue;
      progress p;
      p.next = log_.last_index() + 1;
      p.recent_active = true; // give it a full timeout to answer
      progress_.emplace(id, p);
    }
}

bool raft_core::may_campaign() const {
  if (is_voter(cfg_.id))
    return true;
  // Raft thesis section 4.2.2: a voter removed by a config entry that is not
  // committed yet may still be needed to commit it (say the leader removed
  // itself and crashed before replicating it: the rest still run the old
  // config and need this member's vote, which its longer log withholds). So
  // it campaigns without counting its own vote, and leads until then.
  if (newest_config_index() <= commit_)
    return false;
  auto previous = configs_.size() >= 2 ? std::prev(configs_.end(), 2)->second : base_members_;
  return previous.is_voter(cfg_.id);
}

std::size_t raft_core::granted_votes() const {
  std::size_t granted = 0;
  for (auto& [peer, yes] : votes_)
    granted += yes && is_voter(peer) ? 1 : 0;
  return granted;
}

void raft_core::step_down_if_removed() {
  // A leader that removed itself keeps leading (without counting itself)
  // until the entry commits, so that the change is durable; then it goes.
  if (role_ == role::leader && !is_voter(cfg_.id) && newest_config_index() <= commit_)
    become_follower(term_, no_node);
}

void raft_core::finish_input() {
  step_down_if_removed();
  check_invariants();
}

propose_result raft_core::propose_change(const membership_change& change) {
  propose_result result;
  result.leader_hint = leader_;
  if (role_ != role::leader)
    return result;
  if (transfer_target_ != no_node)
    return refuse_while_transferring();
  if (log_.last_index() - commit_ >= cfg_.max_uncommitted_entries) {
    result.error = propose_error::overloaded;
    return result;
  }
  result.error = propose_error::rejected;
  // Committing an entry of our term proves every earlier entry, including
  // any config entry inherited from an earlier leader, is committed.
  if (!committed_in_term() || newest_config_index() > commit_)
    return result;
  auto next = members();
  switch (change.kind) {
    case change_kind::add_learner:
      if (change.id == no_node || next.contains(change.id))
        return result;
      next.learners.emplace(change.id, change.name);
      break;
    case change_kind::promote: {
      auto i = next.learners.find(change.id);
      if (i == next.learners.end())
        return result;
      next.voters.emplace(i->first, i->second);
      next.learners.erase(i);
      break;
    }
    case change_kind::remove:
      if (!next.contains(change.id) || (next.is_voter(change.id) && next.voters.size() == 1))
        return result; // a group without voters could never commit again
      next.voters.erase(change.id);
      next.learners.erase(change.id);
      break;
  }
  append_local(entry_kind::config, encode_membership(next));
  result.accepted = proposal{log_.last_index(), term_};
  broadcast_append();
  maybe_commit();
  finish_input();
  return result;
}



void raft_core::append_local(entry_kind kind, std::string command) {
  auto index = log_.last_index() + 1;
  log_.append(entry{term_, index, kind, std::move(command)});
  note_appended(log_.at(index));
  unstable_from_ = unstable_from_ == 0 ? index : unstable_from_;
}

propose_result raft_core::propose(std::string command) {
  propose_result result;
  result.leader_hint = leader_;
  if (role_ != role::leader)
    return result;
  if (transfer_target_ != no_node)
    return refuse_while_transferring();
  if (log_.last_index() - commit_ >= cfg_.max_uncommitted_entries) {
    result.error = propose_error::overloaded;
    return result;
  }
  append_local(entry_kind::command, std::move(command));
  result.accepted = proposal{log_.last_index(), term_};
  broadcast_append();
  maybe_commit();
  finish_input();
  return result;
}

// -- output --------------------------------------------------------------------

void raft_core::send(message m) {
  outbox_.push_back(std::move(m));
}

bool raft_core::has_ready() const {
  return hard_state{term_, voted_for_} != persisted_state_ || unstable_from_ != 0
         || snap_unstable_ || compact_before_ != 0
         || !outbox_.empty() || applied_ < commit_ || !ready_reads_.empty()
         || !failed_reads_.empty();
}

ready raft_core::take_ready() {
  ready r;
  if (snap_unstable_) {
    r.snap = snapshot_;
    r.snap_received = snap_received_;
    snap_unstable_ = snap_received_ = false;
  }
  r.compact_before = compact_before_;
  compact_before_ = 0;
  hard_state current{term_, voted_for_};
  if (current != persisted_state_) {
    r.state = current;
    persisted_state_ = current;
  }
  if (unstable_from_ != 0) {
    require(unstable_from_ <= log_.last_index(), "truncation without a following append");
    r.entries = log_.slice(unstable_from_, std::numeric_limits<std::size_t>::max());
    unstable_from_ = 0;
  }
  r.messages = std::move(outbox_);
  outbox_.clear();
  if (applied_ < commit_) {
    r.committed = log_.slice(applied_ + 1, commit_ - applied_);
    applied_ = commit_;
  }
  r.reads = std::move(ready_reads_);
  ready_reads_.clear();
  r.failed_reads = std::move(failed_reads_);
  failed_reads_.clear();
  return r;
}

// -- invariants ----------------------------------------------------------------

bool raft_core::in_leader_lease() const {
  return cfg_.check_quorum && leader_ != no_node
         && election_elapsed_ < cfg_.election_timeout_ticks;
}

void raft_core::check_invariants() {
  // All O(members): cheap enough to run after every input, in every build.
  require(commit_ <= log_.last_index(), "commit index beyond the last index");
  require(term_ >= checked_term_, "term decreased");
  require(commit_ >= checked_commit_, "commit index decreased");
  require(applied_ <= commit_, "applied beyond commit");
  require(log_.last_term() <= term_, "log has an entry from a future term");
  checked_term_ = term_;
  checked_commit_ = commit_;
  require(role_ == role::leader || reads_.empty(), "pending reads on a non-leader");
  require(reads_.size() <= cfg_.max_pending_reads, "too many pending reads");
  if (!reads_.empty())
    require(reads_.back().index <= commit_, "read index beyond the commit index");
  require(transfer_target_ == no_node
            || (role_ == role::leader && members().is_voter(transfer_target_)),
          "transferring to a non-voter or while not leading");
  require(snapshot_index() <= commit_ && snapshot_index() <= applied_,
          "snapshot beyond the commit or applied index");
  require(!snapshot_ || log_.first_index() <= snapshot_index() + 1,
          "gap between the snapshot and the log");
  auto& m = members();
  for (auto& [id, name] : m.learners)
    require(!m.is_voter(id), "a member is both voter and learner");
  if (role_ == role::pre_candidate || role_ == role::candidate)
    require(may_campaign(), "a non-voter campaigns");
  if (role_ == role::leader) {
    require(voted_for_ == cfg_.id && leader_ == cfg_.id, "leader did not vote for itself");
    // A removed leader leads only until its removal commits; a learner never.
    require(m.is_voter(cfg_.id) || may_campaign(), "a non-voter leads");
    require(!m.learners.count(cfg_.id), "a learner leads");
    std::size_t own_uncommitted = 0;
    for (auto i = configs_.upper_bound(commit_); i != configs_.end(); ++i)
      own_uncommitted += log_.term_at(i->first) == term_ ? 1 : 0;
    require(own_uncommitted <= 1, "leader has two uncommitted config entries");
    require(progress_.size() + (m.contains(cfg_.id) ? 1 : 0)
              == m.voters.size() + m.learners.size(),
            "leader's progress does not match the membership");
    for (auto& [peer, pr] : progress_) {
      require(m.contains(peer), "progress for a non-member");
      require(pr.match < pr.next && pr.next <= log_.last_index() + 1, "progress out of range");
    }
  }
}

} // namespace troupe::raft
