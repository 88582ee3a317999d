// A seeded simulation of raft_core: 3 or 5 members in one process behind a
// router that drops, duplicates, delays, reorders and partitions, and that
// crashes members and restarts them from their persisted state only. After
// every input it checks Raft's safety properties (paper, Figure 3):
//   election safety   at most one leader per term, over the whole run;
//   log matching      two log entries with the same index and term have the
//                     same content and the same predecessor term;
//   leader completeness  a leader of a term later than a commit holds the
//                     committed entry;
//   state machine safety  no two members apply different entries at an index,
//                     and every member's state machine (a hash of the commands
//                     applied) is the same after index i, whether it got
//                     there by applying entries or by restoring a snapshot;
//   linearizable reads  a confirmed ReadIndex is at least the commit index
//                     any member had observed when the read was requested.
// Members compact their logs at random (core.compact with the state hash as
// the snapshot), so lagging members get InstallSnapshot and crashed ones
// restart from snapshot + log; the checks allow for compacted indexes. Then
// it heals everything and checks that a proposal commits, a read is confirmed
// and every member catches up, in bounded time.
//
// TROUPE_RAFT_SIM_SCHEDULES=N runs N schedules (default below);
// TROUPE_RAFT_SIM_FIRST_SEED=F starts at seed F instead of 1 (to split a long
// run over cores); TROUPE_RAFT_SIM_SEED=S replays exactly the schedule with
// seed S, and with TROUPE_RAFT_SIM_TRACE=T also prints every message
// delivered from tick T on.
#include "actors/consensus/raft_core.hpp"

#include <doctest/doctest.h>

#include <cstdio>

#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using namespace troupe::raft;

namespace {

constexpr std::uint64_t default_schedules = 5000;
constexpr std::uint64_t chaos_ticks = 400;
constexpr std::uint64_t liveness_ticks = 300; // heal -> committed proposal
constexpr std::uint64_t max_delay_ticks = 3;
constexpr std::size_t spare_members = 3; // started empty, to be added
/// Per mille, per member and tick: compact at the applied index.
constexpr std::uint64_t compact_chance = 20;
/// Small values make InstallSnapshot common; 1000 makes it (almost) never
/// needed, as in production. Chosen by the seed.
constexpr std::uint32_t trailing_choices[] = {0, 2, 8, 1000};

/// The state machine: a hash of the commands applied, in order (FNV-1a).
/// Two members that applied the same commands have the same state.
std::uint64_t mix(std::uint64_t state, const std::string& command) {
  for (unsigned char c : command) {
    state ^= c;
    state *= 1099511628211ull;
  }
  return (state ^ 0xff) * 1099511628211ull; // ends the command: "ab","c" != "a","bc"
}

constexpr std::uint64_t initial_state = 14695981039346656037ull;

/// Snapshot bytes: "<index> <state>". restore_state() reads them back.
std::string encode_state(index_t index, std::uint64_t state) {
  return std::to_string(index) + " " + std::to_string(state);
}

struct sim_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void expect(bool condition, const std::string& what) {
  if (!condition)
    throw sim_failure(what);
}

/// Random numbers as plain modulo arithmetic on mt19937_64, so a seed replays
/// identically whatever the standard library's distributions do.
struct dice {
  std::mt19937_64 rng;
  std::uint64_t below(std::uint64_t n) { return rng() % n; }
  bool chance(std::uint64_t per_mille) { return below(1000) < per_mille; }
};

struct member {
  config cfg;
  persisted_state disk;        // survives crashes
  std::unique_ptr<raft_core> core; // null while crashed
  index_t applied = 0;          // this incarnation's state machine: applied up to
  std::uint64_t state = initial_state; // ... and its state there
  std::uint64_t isolated_until = 0;    // cut off from everyone until this tick
  std::uint64_t restart_at = 0;
  int group = 0;                // partition group
  bool retired = false;         // removed by a committed change: stopped for good
};

struct in_flight {
  std::uint64_t deliver_at = 0;
  message msg;
};

struct committed_entry {
  entry e;
  term_t observed_term = 0; // term of the member that first applied it
};

struct log_key_info {
  entry e;
  std::optional<term_t> prev_term; // unknown for the first entry of a compacted log
};

struct read_request {
  node_id member = no_node;
  index_t min_index = 0; // the highest commit index observed when requested
};

class simulation {
public:
  simulation(std::uint64_t seed, std::size_t size, std::optional<std::uint64_t> trace_from = {})
    : dice_{std::mt19937_64{seed}}, trace_from_(trace_from) {
    std::vector<node_id> ids;
    for (node_id id = 1; id <= size; ++id)
      ids.push_back(id);
    for (node_id id = 1; id <= size + spare_members; ++id) {
      member m;
      m.cfg.id = id;
      if (id <= size) // spares start with no membership and wait to be added
        for (auto i : ids) m.cfg.initial.voters.emplace(i, std::to_string(i));
      m.cfg.election_timeout_ticks = 10;
      m.cfg.heartbeat_interval_ticks = 2;
      m.cfg.max_entries_per_append = 4;
      m.cfg.max_inflight_appends = 4;
      // Vary the election options too: pre-vote masks many voting bugs, so
      // schedules without it probe the vote rules directly.
      m.cfg.pre_vote = (seed / 2) % 2 == 0;
      m.cfg.check_quorum = (seed / 4) % 2 == 0;
      m.cfg.snapshot_trailing_entries = trailing_choices[(seed / 8) % 4];
      m.cfg.snapshot_retry_ticks = 20;
      members_.push_back(std::move(m));
      start(members_.back());
    }
    committed_config_ = members_.front().cfg.initial;
    next_spare_ = size + 1;
  }

  void run() {
    for (; now_ < chaos_ticks; ++now_) {
      chaos();
      step_tick(true);
    }
    heal();
    check_liveness();
  }

  /// Each member's view, for replaying a failing seed.
  std::string dump() const {
    std::ostringstream out;
    for (auto& m : members_) {
      out << "\n  member " << m.cfg.id << (m.retired ? " retired" : "");
      if (!m.core)
        continue;
      auto& c = *m.core;
      out << ": " << to_string(c.current_role()) << " term " << c.term() << " leader "
          << c.leader() << " commit " << c.commit_index() << " snapshot " << c.snapshot_index()
          << " log " << c.log().first_index()
          << ".." << c.log().last_index() << " voters";
      for (auto& [id, name] : c.members().voters)
        out << " " << id;
      out << " learners";
      for (auto& [id, name] : c.members().learners)
        out << " " << id;
    }
    return out.str();
  }

  std::uint64_t snapshots_installed() const { return snapshots_installed_; }

  std::string summary() const {
    std::ostringstream out;
    out << members_.size() << " members, " << now_ << " ticks, " << committed_.size()
        << " committed, " << reads_confirmed_ << " reads, " << transfers_ << " transfers, "
        << changes_ << " changes, " << snapshots_taken_ << " snapshots, "
        << snapshots_installed_ << " installed, " << steps_ << " steps";
    return out.str();
  }

private:
  // -- the schedule ------------------------------------------------------------

  void chaos() {
    if (dice_.chance(15)) { // crash one member
      auto& m = members_[dice_.below(members_.size())];
      if (m.core)
        crash(m);
    }
    for (auto& m : members_)
      if (!m.core && !m.retired && now_ >= m.restart_at)
        start(m);
    if (dice_.chance(20)) // new partition: each member joins group 0 or 1
      for (auto& m : members_)
        m.group = static_cast<int>(dice_.below(2));
    if (dice_.chance(30)) // heal
      for (auto& m : members_)
        m.group = 0;
    if (dice_.chance(5)) // cut one member off for long, so it falls behind the snapshots
      members_[dice_.below(members_.size())].isolated_until = now_ + 40 + dice_.below(120);
    if (dice_.chance(25))
      change_membership();
    if (dice_.chance(40)) // leadership transfer to a random member
      transfer(members_[dice_.below(members_.size())], members_[dice_.below(members_.size())]);
  }

  void change_membership() {
    // One change on whoever leads: add a spare as learner, promote a
    // learner, or remove a member (rarely below three voters).
    for (auto& m : members_) {
      if (!m.core || m.core->current_role() != role::leader)
        continue;
      auto& now = m.core->members();
      membership_change change;
      auto pick = [this](const std::map<std::uint64_t, std::string>& group) {
        auto i = group.begin();
        std::advance(i, static_cast<std::ptrdiff_t>(dice_.below(group.size())));
        return i->first;
      };
      auto choice = dice_.below(3);
      if (choice == 0 && next_spare_ <= members_.size()) {
        change = {change_kind::add_learner, next_spare_, std::to_string(next_spare_)};
      } else if (choice == 1 && !now.learners.empty()) {
        change = {change_kind::promote, pick(now.learners), {}};
      } else if (now.voters.size() > 3 || (now.voters.size() > 1 && dice_.chance(100))) {
        change = {change_kind::remove, pick(now.voters), {}};
      } else if (!now.learners.empty()) {
        change = {change_kind::remove, pick(now.learners), {}};
      } else {
        return;
      }
      if (m.core->propose_change(change)) {
        ++changes_;
        if (change.kind == change_kind::add_learner)
          ++next_spare_;
        after_input(m, true);
      }
      return;
    }
  }

  void transfer(member& from, const member& to) {
    if (!from.core || from.core->current_role() != role::leader)
      return;
    if (from.core->transfer_leadership(to.cfg.id))
      after_input(from, true);
    ++transfers_;
  }

  void step_tick(bool chaotic) {
    for (auto& m : members_) {
      if (m.core) {
        m.core->tick();
        after_input(m, chaotic);
      }
    }
    deliver_due(chaotic);
    if (dice_.chance(500))
      propose(members_[dice_.below(members_.size())], "c" + std::to_string(next_command_++),
              chaotic);
    if (dice_.chance(200))
      read(members_[dice_.below(members_.size())], chaotic);
    for (auto& m : members_)
      if (m.core && dice_.chance(compact_chance))
        compact(m, chaotic);
  }

  void compact(member& m, bool chaotic) {
    if (m.applied <= m.core->snapshot_index())
      return;
    check_state(m.cfg.id, m.applied, m.state);
    m.core->compact(m.applied, encode_state(m.applied, m.state));
    ++snapshots_taken_;
    after_input(m, chaotic);
  }

  void heal() {
    for (auto& m : members_) {
      m.group = 0;
      m.isolated_until = 0;
      if (!m.core && !m.retired)
        start(m);
    }
    retire_removed();
  }

  void retire_removed() {
    // An operator stops a member once its removal commits. A removed member
    // that never learned of it would otherwise keep campaigning (harmless
    // with check-quorum, but disruptive without it).
    for (auto id : removed_) {
      auto& m = members_[id - 1];
      if (!m.retired) {
        m.retired = true;
        m.core.reset();
      }
    }
  }

  void check_liveness() {
    // After healing, the network is reliable (delays only): a leader must be
    // elected and a fresh proposal committed within liveness_ticks.
    auto deadline = now_ + liveness_ticks;
    std::optional<proposal> pending;
    node_id proposer = no_node;
    const std::string final_command = "final";
    for (; now_ < deadline; ++now_) {
      step_tick(false);
      retire_removed();
      if (committed_contains(final_command)) {
        check_read_liveness(deadline);
        return;
      }
      if (pending) {
        auto& p = members_[proposer - 1].core;
        if (!p || p->current_role() != role::leader || p->term() != pending->term)
          pending.reset(); // leadership lost before commit: propose again
      }
      for (auto& m : members_) {
        if (pending || !m.core || m.core->current_role() != role::leader)
          continue;
        if (auto r = m.core->propose(final_command)) {
          pending = r.accepted;
          proposer = m.cfg.id;
          after_input(m, false);
        }
      }
    }
    throw sim_failure("liveness: no proposal committed within " + std::to_string(liveness_ticks)
                      + " ticks after healing");
  }

  void check_read_liveness(std::uint64_t deadline) {
    // Once a proposal committed, the leader's next read must be confirmed.
    auto confirmed = reads_confirmed_;
    for (; now_ < deadline; ++now_) {
      for (auto& m : members_)
        if (m.core && m.core->current_role() == role::leader && !has_pending_read(m.cfg.id))
          read(m, false);
      step_tick(false);
      retire_removed();
      if (reads_confirmed_ > confirmed) {
        check_catch_up(deadline);
        return;
      }
    }
    throw sim_failure("liveness: no read confirmed within " + std::to_string(liveness_ticks)
                      + " ticks after healing");
  }

  void check_catch_up(std::uint64_t deadline) {
    // Every member must then apply the final proposal too: by entries, or
    // by InstallSnapshot where what it lacks is compacted away.
    index_t target = 0;
    for (auto& [index, c] : committed_)
      if (c.e.kind == entry_kind::command && c.e.command == "final")
        target = index;
    node_id behind = no_node;
    for (; now_ < deadline; ++now_) {
      behind = first_behind(target);
      if (behind == no_node)
        return;
      step_tick(false);
      retire_removed();
    }
    throw sim_failure("liveness: member " + std::to_string(behind) + " did not apply index "
                      + std::to_string(target) + " within " + std::to_string(liveness_ticks)
                      + " ticks after healing");
  }

  /// A member of the leader's membership that has not applied `index` yet
  /// (no_node if none; a placeholder id while there is no leader).
  node_id first_behind(index_t index) const {
    for (auto& l : members_) {
      if (!l.core || l.core->current_role() != role::leader)
        continue;
      auto& group = l.core->members();
      for (auto* ids : {&group.voters, &group.learners})
        for (auto& [id, name] : *ids)
          if (members_[id - 1].applied < index)
            return id;
      return no_node;
    }
    return members_.front().cfg.id;
  }

  bool has_pending_read(node_id id) const {
    for (auto& [context, r] : reads_)
      if (r.member == id)
        return true;
    return false;
  }

  bool committed_contains(const std::string& command) const {
    for (auto& [index, c] : committed_)
      if (c.e.kind == entry_kind::command && c.e.command == command)
        return true;
    return false;
  }

  // -- members -----------------------------------------------------------------

  void start(member& m) {
    m.core = std::make_unique<raft_core>(m.cfg, m.disk, dice_.rng());
    // The state machine starts from the snapshot (or empty) and is rebuilt
    // by applying the log after it again.
    m.applied = 0;
    m.state = initial_state;
    if (m.disk.snap)
      restore_state(m, *m.disk.snap);
    expect(m.core->commit_index() == m.applied, "restarted core's commit is not the snapshot's");
  }

  void crash(member& m) {
    m.core.reset();
    for (auto i = reads_.begin(); i != reads_.end();) // never answered now
      i = i->second.member == m.cfg.id ? reads_.erase(i) : std::next(i);
    m.restart_at = now_ + 5 + dice_.below(30);
  }

  void propose(member& m, std::string command, bool chaotic) {
    if (!m.core)
      return;
    if (m.core->propose(std::move(command)))
      after_input(m, chaotic);
  }

  void read(member& m, bool chaotic) {
    if (!m.core)
      return;
    auto context = next_read_++;
    if (m.core->read_index(context)) {
      reads_[context] = read_request{m.cfg.id, max_commit_seen_};
      after_input(m, chaotic);
    }
  }

  // -- the ready contract --------------------------------------------------------

  void after_input(member& m, bool chaotic) {
    ++steps_;
    auto r = m.core->take_ready();
    persist(m, r);
    check_reads(m, r);
    max_commit_seen_ = std::max(max_commit_seen_, m.core->commit_index());
    if (chaotic && dice_.chance(2)) { // crash after the fsync, before sending
      crash(m);
      return;
    }
    for (auto& msg : r.messages)
      send(std::move(msg), chaotic);
    if (r.snap_received) {
      restore_state(m, *r.snap);
      ++snapshots_installed_;
    }
    for (auto& e : r.committed)
      apply(m, e);
    check_leader(m);
  }

  /// The ready contract's step 1, on the member's "disk", exactly as
  /// raft_types.hpp describes it; then checks what the disk now holds.
  void persist(member& m, const ready& r) {
    auto& disk = m.disk;
    if (r.snap) {
      expect(!disk.snap || r.snap->meta.index > disk.snap->meta.index,
             "ready.snap is not newer than the stored snapshot");
      check_snapshot(m.cfg.id, *r.snap);
      disk.snap = r.snap;
      if (r.snap_received)
        disk.log.clear(); // the log restarts after the snapshot
    }
    if (r.state)
      disk.state = *r.state;
    auto& log = disk.log;
    if (!r.entries.empty()) {
      auto front = r.entries.front().index;
      auto first = stored_first_index(disk);
      expect(front >= first && front <= first + log.size(),
             "ready entries leave a gap in the stored log");
      log.resize(front - first);
      log.insert(log.end(), r.entries.begin(), r.entries.end());
      for (auto i = front; i < first + log.size(); ++i)
        check_log_matching(disk, i);
    }
    if (r.compact_before != 0) {
      expect(disk.snap && r.compact_before <= disk.snap->meta.index + 1,
             "compact_before drops entries the snapshot does not cover");
      while (!log.empty() && log.front().index < r.compact_before)
        log.erase(log.begin());
    }
    if (disk.snap && !log.empty()) {
      auto& meta = disk.snap->meta;
      expect(log.front().index <= meta.index + 1, "gap between the stored snapshot and log");
      expect(log.back().index >= meta.index, "stored log ends below the snapshot");
      expect(meta.index < log.front().index || log[meta.index - log.front().index].term == meta.term,
             "stored log disagrees with the stored snapshot");
    }
  }

  static index_t stored_first_index(const persisted_state& disk) {
    if (!disk.log.empty())
      return disk.log.front().index;
    return disk.snap ? disk.snap->meta.index + 1 : 1;
  }

  void check_reads(const member& m, const ready& r) {
    for (auto& x : r.reads) {
      auto i = reads_.find(x.context);
      expect(i != reads_.end() && i->second.member == m.cfg.id,
             "read " + std::to_string(x.context) + " confirmed by the wrong member");
      expect(x.index >= i->second.min_index,
             "linearizability: read " + std::to_string(x.context) + " confirmed at index "
               + std::to_string(x.index) + " but index " + std::to_string(i->second.min_index)
               + " had committed before it was requested");
      expect(x.index <= m.core->commit_index(), "read index beyond the commit index");
      reads_.erase(i);
      ++reads_confirmed_;
    }
    for (auto context : r.failed_reads) {
      auto i = reads_.find(context);
      expect(i != reads_.end() && i->second.member == m.cfg.id,
             "read " + std::to_string(context) + " failed by the wrong member");
      reads_.erase(i);
    }
  }

  /// Log matching for the stored entry at `index`: the same (index, term)
  /// everywhere means the same entry and the same predecessor term (where the
  /// predecessor is known: it may be compacted away, or be the snapshot's end).
  void check_log_matching(const persisted_state& disk, index_t index) {
    auto first = disk.log.front().index;
    const auto& e = disk.log[index - first];
    expect(e.index == index, "persisted entry has the wrong index");
    std::optional<term_t> prev_term;
    if (index > first)
      prev_term = disk.log[index - first - 1].term;
    else if (index == 1)
      prev_term = 0;
    else if (disk.snap && disk.snap->meta.index == index - 1)
      prev_term = disk.snap->meta.term;
    auto [it, fresh] = log_entries_.try_emplace({index, e.term}, log_key_info{e, prev_term});
    if (fresh)
      return;
    bool same_prev = !prev_term || !it->second.prev_term || prev_term == it->second.prev_term;
    expect(it->second.e == e && same_prev, "log matching: index " + std::to_string(index)
                                             + " term " + std::to_string(e.term)
                                             + " differs between logs");
    if (!it->second.prev_term)
      it->second.prev_term = prev_term;
  }

  /// A snapshot ends at a committed entry, and its bytes are the state every
  /// member had after applying up to there.
  void check_snapshot(node_id id, const snapshot& snap) {
    auto i = committed_.find(snap.meta.index);
    expect(i != committed_.end() && i->second.e.term == snap.meta.term,
           "member " + std::to_string(id) + "'s snapshot at " + std::to_string(snap.meta.index)
             + " does not end at a committed entry");
    expect(snap.data == encode_state(snap.meta.index, state_at_.at(snap.meta.index)),
           "state machine safety: member " + std::to_string(id) + "'s snapshot at "
             + std::to_string(snap.meta.index) + " holds another state");
  }

  /// The state machine's step 3 for a snapshot: start from its bytes.
  void restore_state(member& m, const snapshot& snap) {
    std::istringstream in{snap.data};
    index_t index = 0;
    std::uint64_t state = 0;
    in >> index >> state;
    expect(!in.fail() && index == snap.meta.index, "snapshot bytes do not parse");
    m.applied = index;
    m.state = state;
    check_state(m.cfg.id, index, state);
  }

  /// State machine safety: every member's state after index i is the same.
  void check_state(node_id id, index_t index, std::uint64_t state) {
    if (index == 0) {
      expect(state == initial_state, "state machine safety: a state before any entry");
      return;
    }
    auto [it, fresh] = state_at_.try_emplace(index, state);
    expect(fresh || it->second == state, "state machine safety: member " + std::to_string(id)
                                           + "'s state after index " + std::to_string(index)
                                           + " differs");
  }

  void apply(member& m, const entry& e) {
    expect(e.index == m.applied + 1, "applied out of order");
    m.applied = e.index;
    if (e.kind == entry_kind::command)
      m.state = mix(m.state, e.command);
    if (e.kind == entry_kind::config && e.index > committed_config_index_) {
      committed_config_index_ = e.index;
      auto next = decode_membership(e.command);
      expect(next.has_value(), "config entry without a membership");
      for (auto& [id, name] : committed_config_.voters)
        if (!next->contains(id))
          removed_.insert(id);
      for (auto& [id, name] : committed_config_.learners)
        if (!next->contains(id))
          removed_.insert(id);
      committed_config_ = *next;
    }
    auto [it, fresh] = committed_.try_emplace(e.index, committed_entry{e, m.core->term()});
    if (!fresh) {
      expect(it->second.e == e, "state machine safety: index " + std::to_string(e.index)
                                  + " applied differently by member " + std::to_string(m.cfg.id));
      it->second.observed_term = std::min(it->second.observed_term, m.core->term());
    }
    check_state(m.cfg.id, e.index, m.state);
  }

  void check_leader(const member& m) {
    if (!m.core || m.core->current_role() != role::leader)
      return;
    auto term = m.core->term();
    auto [it, fresh] = leaders_.try_emplace(term, m.cfg.id);
    expect(it->second == m.cfg.id, "election safety: two leaders in term " + std::to_string(term));
    if (!fresh)
      return;
    // Entries below the log were compacted into the snapshot: check that
    // the snapshot ends at a committed entry, and covers them.
    auto& log = m.core->log();
    auto snap_index = m.core->snapshot_index();
    if (snap_index != 0) {
      auto i = committed_.find(snap_index);
      expect(i != committed_.end() && log.term_at(snap_index) == i->second.e.term,
             "leader completeness: leader " + std::to_string(m.cfg.id)
               + "'s snapshot does not end at a committed entry");
    }
    for (auto& [index, c] : committed_) {
      if (c.observed_term >= term || (index <= snap_index && !log.term_at(index)))
        continue;
      expect(log.term_at(index) == c.e.term,
             "leader completeness: leader " + std::to_string(m.cfg.id) + " of term "
               + std::to_string(term) + " lacks committed index " + std::to_string(index));
    }
  }

  // -- the router --------------------------------------------------------------

  void send(message msg, bool chaotic) {
    if (chaotic && dice_.chance(50))
      return; // dropped
    int copies = chaotic && dice_.chance(30) ? 2 : 1;
    for (int i = 0; i < copies; ++i)
      network_.push_back({now_ + 1 + dice_.below(max_delay_ticks), msg});
  }

  /// One line per delivered message, for TROUPE_RAFT_SIM_TRACE.
  static std::string describe(const message& m) {
    std::ostringstream out;
    out << message_from(m) << " -> " << message_to(m) << " term " << message_term(m) << ": ";
    if (auto* x = std::get_if<vote_request>(&m))
      out << (x->pre_vote ? "pre-vote" : "vote") << " request, last " << x->last_log_index
          << "/" << x->last_log_term << (x->transfer ? ", transfer" : "");
    else if (auto* x = std::get_if<vote_response>(&m))
      out << (x->pre_vote ? "pre-vote" : "vote") << (x->granted ? " granted" : " refused");
    else if (auto* x = std::get_if<append_request>(&m))
      out << (x->heartbeat ? "heartbeat" : "append") << " after " << x->prev_log_index << "/"
          << x->prev_log_term << ", " << x->entries.size() << " entries, commit "
          << x->leader_commit;
    else if (auto* x = std::get_if<append_response>(&m))
      out << "append " << (x->success ? "ok, match " : "rejected, hint ")
          << (x->success ? x->match_index : x->hint_index);
    else if (auto* x = std::get_if<snapshot_request>(&m))
      out << "snapshot at " << x->snap.meta.index << "/" << x->snap.meta.term;
    else
      out << "timeout_now";
    return out.str();
  }

  void deliver_due(bool chaotic) {
    std::vector<message> due;
    std::vector<in_flight> later;
    for (auto& f : network_) {
      if (f.deliver_at <= now_)
        due.push_back(std::move(f.msg));
      else
        later.push_back(std::move(f));
    }
    network_ = std::move(later);
    for (std::size_t i = due.size(); i > 1; --i) // reorder (Fisher-Yates)
      std::swap(due[i - 1], due[dice_.below(i)]);
    for (auto& msg : due) {
      auto& from = members_[message_from(msg) - 1];
      auto& to = members_[message_to(msg) - 1];
      if (!to.core || from.group != to.group || from.isolated_until > now_
          || to.isolated_until > now_)
        continue;
      if (trace_from_ && now_ >= *trace_from_)
        std::fprintf(stderr, "tick %llu: %s\n", static_cast<unsigned long long>(now_),
                     describe(msg).c_str());
      to.core->step(msg);
      after_input(to, chaotic);
    }
  }

  dice dice_;
  std::optional<std::uint64_t> trace_from_; // print deliveries from this tick on
  std::vector<member> members_;
  std::vector<in_flight> network_;
  std::uint64_t now_ = 0;
  std::uint64_t steps_ = 0;
  std::uint64_t next_command_ = 0;
  std::map<term_t, node_id> leaders_;
  std::map<std::pair<index_t, term_t>, log_key_info> log_entries_;
  std::map<index_t, committed_entry> committed_;
  std::map<std::uint64_t, read_request> reads_; // pending, by context
  std::uint64_t next_read_ = 1;
  std::uint64_t reads_confirmed_ = 0;
  std::uint64_t transfers_ = 0;
  std::uint64_t changes_ = 0;
  std::uint64_t snapshots_taken_ = 0;
  std::uint64_t snapshots_installed_ = 0;
  std::map<index_t, std::uint64_t> state_at_; // the state machine after each index
  node_id next_spare_ = 0;
  membership committed_config_; // the newest one applied by any member
  index_t committed_config_index_ = 0;
  std::set<node_id> removed_;
  index_t max_commit_seen_ = 0;
};

std::optional<std::uint64_t> env_number(const char* name) {
  auto* text = std::getenv(name);
  if (text == nullptr || *text == '\0')
    return std::nullopt;
  return std::strtoull(text, nullptr, 10);
}

struct run_stats {
  std::uint64_t schedules_with_installs = 0;
  std::uint64_t snapshots_installed = 0;
};

/// Runs one schedule; returns a description of the failure, if any.
std::optional<std::string> run_schedule(std::uint64_t seed, std::string* summary = nullptr,
                                        std::optional<std::uint64_t> trace_from = {},
                                        run_stats* stats = nullptr) {
  simulation sim{seed, seed % 2 == 0 ? 3u : 5u, trace_from};
  try {
    sim.run();
    if (stats) {
      stats->snapshots_installed += sim.snapshots_installed();
      stats->schedules_with_installs += sim.snapshots_installed() > 0 ? 1 : 0;
    }
  } catch (const sim_failure& e) {
    if (summary)
      *summary = sim.dump();
    return std::string{e.what()} + " (" + sim.summary() + ")";
  } catch (const invariant_violation& e) {
    return std::string{e.what()} + " (" + sim.summary() + ")";
  }
  if (summary)
    *summary = sim.summary();
  return std::nullopt;
}

} // namespace

TEST_CASE("raft simulation: safety under faults and liveness after healing") {
  if (auto seed = env_number("TROUPE_RAFT_SIM_SEED")) {
    std::string summary;
    auto failure = run_schedule(*seed, &summary, env_number("TROUPE_RAFT_SIM_TRACE"));
    if (failure)
      FAIL("seed " << *seed << ": " << *failure << summary);
    MESSAGE("seed " << *seed << " passed: " << summary);
    return;
  }
  auto schedules = env_number("TROUPE_RAFT_SIM_SCHEDULES").value_or(default_schedules);
  auto first = env_number("TROUPE_RAFT_SIM_FIRST_SEED").value_or(1);
  auto start = std::chrono::steady_clock::now();
  run_stats stats;
  for (std::uint64_t seed = first; seed < first + schedules; ++seed) {
    if (auto failure = run_schedule(seed, nullptr, {}, &stats))
      FAIL("seed " << seed << ": " << *failure << "; replay with TROUPE_RAFT_SIM_SEED=" << seed);
  }
  // The schedules must keep exercising InstallSnapshot (small trailing
  // entries, members cut off for long); a change that stops them would
  // otherwise pass silently.
  if (schedules >= 100)
    CHECK(stats.schedules_with_installs * 20 >= schedules);
  std::printf("raft simulation: %llu snapshots installed, in %llu schedules\n",
              static_cast<unsigned long long>(stats.snapshots_installed),
              static_cast<unsigned long long>(stats.schedules_with_installs));
  auto elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  MESSAGE("raft simulation: " << schedules << " schedules passed in " << elapsed_ms << " ms");
  // doctest shows MESSAGE only with -s; this line always reaches the test
  // log, where `make test` picks it up for its summary.
  std::printf("raft simulation: %llu schedules passed in %lld ms\n",
              static_cast<unsigned long long>(schedules),
              static_cast<long long>(elapsed_ms));
}
