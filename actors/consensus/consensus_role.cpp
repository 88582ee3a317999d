#include "actors/consensus/consensus_role.hpp"

#include "actors/consensus/control_shell.hpp"

#include "actors/consensus/kv_service.hpp"
#include "actors/consensus/raft_persistence.hpp"
#include "actors/consensus/raft_shell.hpp"
#include "net/errors.hpp"
#include "runtime/defaults.hpp"
#include "runtime/logging.hpp"
#include "runtime/named.hpp"
#include "runtime/type_ids.hpp"
#include "storage/lmdb_raft_store.hpp"
#include "storage/raft_writer.hpp"

#include <caf/event_based_actor.hpp>

#include <chrono>
#include <limits>
#include <mutex>
#include <random>

#include <sys/statvfs.h>

namespace troupe::consensus {

namespace {

using namespace std::chrono_literals;

// Node metadata keys (storage/node_store.hpp) recording how this node's
// group was formed, so that a restart continues the same way.
constexpr const char* bootstrapped_key = "raft.bootstrapped"; // "1": started the group
constexpr const char* join_key = "raft.join";                 // "pending" | "done"

// -- storage -------------------------------------------------------------------

// Below this much free space, a failed write counts as a full disk.
constexpr std::uint64_t low_space_bytes = std::uint64_t{8} << 20;

std::uint64_t free_bytes(const std::string& dir) {
  struct statvfs fs{};
  if (::statvfs(dir.c_str(), &fs) != 0)
    return std::numeric_limits<std::uint64_t>::max();
  return std::uint64_t{fs.f_bavail} * fs.f_frsize;
}

// Times every store write (commit + fsync) into the fsync histogram, and
// tells a full disk from other I/O errors: LMDB reports a short write on a
// full filesystem as EIO, so a failed write with little space left is
// reported as no_space, which pauses the member instead of crash-looping it.
// Runs on the writer thread.
class timed_store final : public storage::forwarding_raft_store {
public:
  timed_store(storage::raft_log_store& inner, std::shared_ptr<histogram_family> hist,
              std::string dir)
    : forwarding_raft_store(inner), hist_(std::move(hist)), series_(&hist_->with()),
      dir_(std::move(dir)) {}

  storage::raft_status write(std::span<const storage::raft_write> batch) override {
    auto start = std::chrono::steady_clock::now();
    auto status = inner_.write(batch);
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    series_->observe(took.count());
    if (status.code == storage::raft_store_errc::io_error) {
      auto left = free_bytes(dir_);
      if (left < low_space_bytes)
        status = {storage::raft_store_errc::no_space,
                  std::to_string(left) + " bytes free in " + dir_ + " (" + status.message + ")"};
    }
    return status;
  }

private:
  std::shared_ptr<histogram_family> hist_;
  metric_histogram* series_;
  std::string dir_;
};

// The member's store and writer. Reopened on every restart of the member, so
// that the new incarnation starts from exactly what is on disk.
class member_storage {
public:
  member_storage(storage::node_store& node, std::shared_ptr<histogram_family> hist)
    : node_(node), hist_(std::move(hist)) {}

  ~member_storage() { stop(); }

  // Stops the previous writer (it finishes every write it accepted: a dead
  // incarnation's vote must be on disk before the new one reads the state,
  // or the new one could vote twice in a term), then loads. Blocks for at
  // most one commit plus one read transaction; runs at node start and in
  // the supervisor's restart of the member, never on the member's own
  // handlers.
  caf::expected<raft::persisted_state> load() {
    std::lock_guard guard{mtx_};
    stop_locked();
    storage::raft_status status;
    lmdb_ = storage::lmdb_raft_store::open(node_, status);
    if (!lmdb_)
      return make_error(errc::storage_failure, status.message);
    storage::raft_log_state loaded;
    status = lmdb_->load(loaded);
    if (!status.ok())
      return make_error(errc::storage_failure, status.message);
    empty_ = !loaded.hard_state && loaded.log.empty() && !loaded.snapshot;
    auto restored = raft::restore(loaded);
    if (!restored)
      return make_error(errc::storage_failure,
                        message_of(restored.error()) + " (" + lmdb_->file() + ")");
    timed_ = std::make_unique<timed_store>(*lmdb_, hist_, node_.dir());
    writer_ = std::make_unique<storage::raft_writer>(*timed_);
    persistence_ = std::make_shared<raft::writer_persistence>(*writer_);
    return restored;
  }

  bool was_empty() const { return empty_; }

  std::shared_ptr<raft::raft_persistence> persistence() {
    std::lock_guard guard{mtx_};
    return persistence_;
  }

  void stop() {
    std::lock_guard guard{mtx_};
    stop_locked();
  }

private:
  void stop_locked() {
    if (writer_)
      writer_->stop();
    persistence_.reset();
    writer_.reset();
    timed_.reset();
    lmdb_.reset();
  }

  storage::node_store& node_;
  std::shared_ptr<histogram_family> hist_;
  std::mutex mtx_;
  std::unique_ptr<storage::lmdb_raft_store> lmdb_;
  std::unique_ptr<timed_store> timed_;
  std::unique_ptr<storage::raft_writer> writer_;
  std::shared_ptr<raft::writer_persistence> persistence_;
  bool empty_ = true;
};

// -- metrics and readiness ---------------------------------------------------------

// etcd's names and meanings (etcd_server_* become raft_*), so dashboards and
// alerts written for etcd carry over (docs/consensus.md, "Metrics").
caf::error add_metrics(metrics_registry& reg, const std::shared_ptr<raft::shell_stats>& s) {
  auto gauge = [&](const char* name, const char* help, auto fn) {
    return reg.callback_gauge({name, help}, fn);
  };
  auto counter = [&](const char* name, const char* help, auto fn) {
    return reg.callback_counter({name, help}, fn);
  };
  auto v = [](const std::atomic<std::uint64_t>& x) { return static_cast<double>(x.load()); };
  caf::error err;
  auto check = [&](caf::error e) {
    if (e && !err)
      err = std::move(e);
  };
  check(gauge("raft_has_leader", "1 if this member knows a leader, else 0.",
              [s] { return s->has_leader.load() ? 1.0 : 0.0; }));
  check(gauge("raft_is_leader", "1 if this member is the leader, else 0.",
              [s] { return s->is_leader.load() ? 1.0 : 0.0; }));
  check(counter("raft_leader_changes_seen_total", "Leader changes this member has seen.",
                [s, v] { return v(s->leader_changes); }));
  check(counter("raft_proposals_committed_total", "Entries committed (the commit index).",
                [s, v] { return v(s->proposals_committed); }));
  check(counter("raft_proposals_applied_total", "Entries applied (the applied index).",
                [s, v] { return v(s->proposals_applied); }));
  check(gauge("raft_proposals_pending", "Proposals waiting to commit on this member.",
              [s, v] { return v(s->proposals_pending); }));
  check(counter("raft_proposals_failed_total", "Proposals answered with anything but OK.",
                [s, v] { return v(s->proposals_failed); }));
  check(gauge("raft_term", "The member's current term.", [s, v] { return v(s->term); }));
  check(counter("raft_messages_dropped_total",
                "Peer messages dropped (unparseable, shed under load, or while paused).",
                [s, v] { return v(s->dropped_messages); }));
  check(counter("raft_snapshots_total", "Snapshots taken by this member.",
                [s, v] { return v(s->snapshots); }));
  check(counter("raft_read_index_failed_total", "Linearizable reads failed by leadership loss.",
                [s, v] { return v(s->read_index_failed); }));
  check(gauge("raft_disk_full", "1 while the member is paused on a full disk.",
              [s] { return s->disk_full.load() ? 1.0 : 0.0; }));
  return err;
}

readiness::check_result raft_check(const raft::shell_stats& s) {
  if (s.disk_full.load())
    return {"raft", false, "disk full: refusing writes until space is freed"};
  if (!s.has_leader.load())
    return {"raft", false, "no raft leader known (no quorum reachable, or still joining)"};
  return {"raft", true,
          std::string{s.is_leader.load() ? "leader" : "follower"} + " in term "
            + std::to_string(s.term.load())};
}

// -- joining ---------------------------------------------------------------------

struct joiner_state {
  std::string leader; // last leader hint
  std::size_t next = 0;
  static inline const char* name = "raft_joiner";
};

// Whom to ask: the last leader hint, else the next consensus-capable node.
std::string join_target(joiner_state& st, const node_context& ctx) {
  if (!st.leader.empty() && st.leader != ctx.self.node_id)
    return st.leader;
  std::vector<std::string> candidates;
  for (auto& m : ctx.members.up()) {
    auto& id = m.info.node_id();
    if (id == ctx.self.node_id)
      continue;
    for (auto& r : m.info.roles())
      if (r == "consensus" || r == "all") {
        candidates.push_back(id);
        break;
      }
  }
  if (candidates.empty())
    return {};
  return candidates[st.next++ % candidates.size()];
}

// A detached actor (it writes the node metadata once, which fsyncs): every
// second, until this member is a voter, asks the group to add it.
caf::behavior joiner(caf::stateful_actor<joiner_state, caf::event_based_actor>* self,
                     node_context_ptr ctx, storage::node_store* store) {
  self->send(self, tick_atom_v);
  auto me = raft::name_for(ctx->self.node_id);
  return {
    [=](tick_atom) {
      request_by_name(
        self, ctx, me, pack(v1::RaftStatusRequest{}), 1s,
        [=](envelope& reply) {
          auto status = unpack<v1::RaftStatus>(reply);
          if (status && status->role() != "learner" && status->role() != "not a member"
              && status->role().find("paused") == std::string::npos) {
            storage::store_error err;
            store->put_meta(join_key, "done", err);
            logger_for("consensus")->info("joined the raft group as a voter");
            self->quit();
            return;
          }
          if (status && !status->leader_node().empty())
            self->state.leader = status->leader_node();
          auto target = join_target(self->state, *ctx);
          if (!target.empty()) {
            v1::RaftMembershipChange change;
            change.set_op(v1::RaftMembershipChange::ADD_LEARNER);
            change.set_node_id(ctx->self.node_id);
            change.set_auto_promote(true);
            request_by_name(
              self, ctx, raft::name_for(target), pack(change), 2s,
              [=](envelope& r) {
                auto admin = unpack<v1::RaftAdminReply>(r);
                if (admin && admin->status() == v1::PROPOSE_STATUS_NOT_LEADER)
                  self->state.leader = admin->leader_node();
              },
              [=](caf::error&) { self->state.leader.clear(); });
          }
          self->delayed_send(self, 1s, tick_atom_v);
        },
        [=](caf::error&) { self->delayed_send(self, 1s, tick_atom_v); });
    },
  };
}

// -- the member ---------------------------------------------------------------------

struct member_plan {
  node_context_ptr ctx;
  std::shared_ptr<member_storage> storage;
  std::shared_ptr<raft::shell_stats> stats;
  raft::shell_config base;     // without `restored`
  raft::persisted_state first; // what the node start loaded
  bool first_used = false;
};

caf::actor start_member(caf::local_actor* sup, const child_context& cctx,
                        const std::shared_ptr<member_plan>& plan) {
  auto cfg = plan->base;
  if (!plan->first_used) {
    cfg.restored = std::move(plan->first);
    plan->first_used = true;
  } else {
    auto restored = plan->storage->load();
    if (!restored)
      throw std::runtime_error(message_of(restored.error()));
    cfg.restored = std::move(*restored);
  }
  cfg.seed = std::random_device{}() ^ cctx.incarnation;
  raft::shell_deps deps;
  deps.persistence = plan->storage->persistence();
  deps.send = raft::named_transport(plan->ctx);
  deps.machine = std::make_shared<kv::kv_service>();
  deps.gate = cctx.gate;
  deps.stats = plan->stats;
  return sup->spawn(raft::raft_shell, std::move(cfg), std::move(deps));
}

raft::shell_config base_config(const node_config& cfg, bool bootstrapped) {
  raft::shell_config sc;
  auto id = raft::member_id_for(cfg.node_id);
  sc.node_name = cfg.node_id;
  sc.core.id = id;
  if (bootstrapped)
    sc.core.initial.voters.emplace(id, cfg.node_id);
  auto tick_ms = static_cast<std::uint32_t>(defaults::raft_tick.count());
  sc.tick_interval = defaults::raft_tick;
  sc.core.election_timeout_ticks = std::max(2u, cfg.raft_election_timeout_ms / tick_ms);
  sc.core.heartbeat_interval_ticks = std::max(1u, cfg.raft_heartbeat_interval_ms / tick_ms);
  sc.core.transfer_timeout_ticks = sc.core.election_timeout_ticks;
  sc.snapshot_entries = cfg.raft_snapshot_entries;
  // Proposals and reads give up after 2 s, or four election timeouts on
  // slow settings, so that a client retries elsewhere instead of hanging.
  sc.proposal_timeout_ticks = std::max(200u, 4 * sc.core.election_timeout_ticks);
  sc.read_timeout_ticks = sc.proposal_timeout_ticks;
  sc.disk_probe_ticks = static_cast<std::uint32_t>(1000 / tick_ms);
  return sc;
}

bool is_first_seed(const node_config& cfg) {
  return cfg.seeds.empty() || cfg.seeds.front() == cfg.advertise
         || cfg.seeds.front() == cfg.listen;
}

} // namespace

caf::expected<supervisor_spec> make_role(role_environment& env) {
  auto& cfg = env.cfg;
  auto hist = env.ctx->metrics->histogram(
    {"raft_disk_fsync_duration_seconds",
     "Time of one group commit of the Raft log (LMDB commit with fsync)."},
    {0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024});
  if (!hist)
    return hist.error();
  auto plan = std::make_shared<member_plan>();
  plan->ctx = env.ctx;
  plan->storage = std::make_shared<member_storage>(env.store, *hist);
  plan->stats = std::make_shared<raft::shell_stats>();
  auto first = plan->storage->load();
  if (!first)
    return make_error(errc::storage_failure,
                      "cannot start the consensus role: " + message_of(first.error()));
  plan->first = std::move(*first);
  storage::store_error err;
  bool bootstrapped = env.store.get_meta(bootstrapped_key) == std::optional<std::string>{"1"};
  bool fresh = plan->storage->was_empty();
  if (fresh && !bootstrapped && is_first_seed(cfg)) {
    if (!env.store.put_meta(bootstrapped_key, "1", err))
      return make_error(errc::storage_failure, err.message);
    bootstrapped = true;
  } else if (fresh && !bootstrapped) {
    if (!env.store.put_meta(join_key, "pending", err))
      return make_error(errc::storage_failure, err.message);
  }
  bool joining = env.store.get_meta(join_key) == std::optional<std::string>{"pending"};
  plan->base = base_config(cfg, bootstrapped);
  if (auto e = add_metrics(*env.ctx->metrics, plan->stats))
    return e;
  auto stats = plan->stats;
  env.ctx->ready.add_probe("raft", [stats] { return raft_check(*stats); });
  auto storage = plan->storage;
  env.on_shutdown.push_back([storage] { storage->stop(); });

  supervisor_spec sup;
  sup.name = "sup/" + cfg.node_id + "/consensus";
  sup.intensity = {cfg.max_restarts, std::chrono::milliseconds{cfg.restart_period_ms}};
  child_spec member;
  member.name = raft::name_for(cfg.node_id);
  member.type = "raft";
  member.mailbox_capacity = cfg.mailbox_capacity;
  member.start = [plan](caf::local_actor* s, const child_context& c) {
    return start_member(s, c, plan);
  };
  sup.children.push_back(std::move(member));
  auto control_metrics = control::register_metrics(*env.ctx->metrics);
  if (!control_metrics)
    return control_metrics.error();
  control::timing timing;
  timing.down_after_ms = cfg.member_down_after_ms;
  timing.suspect_after_ms = cfg.member_down_after_ms / 2;
  timing.takeover_grace_ms = cfg.member_down_after_ms / 2;
  sup.children.push_back(control::controller_child(env.ctx, timing, *control_metrics,
                                                   cfg.mailbox_capacity));
  if (joining) {
    child_spec join;
    join.name = "raft-join/" + cfg.node_id;
    join.type = "raft_joiner";
    join.kind = child_kind::transient;
    join.mailbox_capacity = 0;
    auto ctx = env.ctx;
    auto* store = &env.store;
    join.start = [ctx, store](caf::local_actor* s, const child_context&) {
      return s->spawn<caf::detached>(joiner, ctx, store);
    };
    sup.children.push_back(std::move(join));
  }
  auto log = logger_for("consensus");
  log->info("consensus member {} (id {}): {}{}", raft::name_for(cfg.node_id),
            raft::member_id_for(cfg.node_id),
            bootstrapped ? "bootstrapped its own group" : "member of an existing group",
            joining ? "; joining through the cluster's leader" : "");
  return sup;
}

} // namespace troupe::consensus
