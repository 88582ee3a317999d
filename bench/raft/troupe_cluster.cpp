#include "troupe_cluster.hpp"

#include "process.hpp"
#include "troupe_load.hpp"

#include "troupe/raft.pb.h"

#include <csignal>

namespace troupe::kvbench {

namespace {

using namespace std::chrono_literals;

// Each load run and each failover probe gets fresh client ids, so that no
// run's request ids collide with an earlier run's exactly-once session.
constexpr uint64_t client_ids_per_run = uint64_t{1} << 20;

struct troupe_member {
  std::string node_id;
  host_port listen;
  host_port admin;
  std::string data_dir;
  pid_t pid = -1;
};

class troupe_cluster final : public cluster {
public:
  troupe_cluster(caf::actor_system& sys, troupe_config cfg) :
    sys_(sys), cfg_(std::move(cfg)), gateways_(sys, endpoints(cfg_)) {
    for (size_t i = 0; i < cfg_.hosts.size(); ++i) {
      troupe_member m;
      // Built by append: GCC 12 -O3 warns falsely (stringop-overflow) on
      // `"n" + std::to_string(...)`.
      m.node_id = "n";
      m.node_id += std::to_string(i + 1);
      m.listen = {cfg_.hosts[i], cfg_.cluster_port};
      m.admin = {cfg_.hosts[i], cfg_.admin_port};
      m.data_dir = cfg_.data_root + "/" + m.node_id;
      members_.push_back(std::move(m));
    }
  }

  ~troupe_cluster() override {
    stop();
  }

  std::string name() const override {
    return "troupe";
  }

  size_t size() const override {
    return members_.size();
  }

  std::string command_line() const override {
    std::string out;
    for (auto& arg : command(members_[0]))
      out += (out.empty() ? "" : " ") + arg;
    return out;
  }

  void start() override {
    for (size_t i = 0; i < members_.size(); ++i)
      restart_member(i);
  }

  void stop() override {
    for (size_t i = 0; i < members_.size(); ++i)
      if (members_[i].pid > 0) {
        gateways_.forget(i);
        // troupe-node exits within its shutdown grace (8 s) on SIGTERM.
        stop_child(members_[i].pid, SIGTERM, 12s);
        members_[i].pid = -1;
      }
  }

  void kill_member(size_t i) override {
    gateways_.forget(i);
    stop_child(members_.at(i).pid, SIGKILL, 5s);
    members_[i].pid = -1;
  }

  void restart_member(size_t i) override {
    auto& m = members_.at(i);
    if (m.pid > 0)
      fatal("troupe member " + m.node_id + " already runs");
    m.pid
        = spawn_child({command(m), cfg_.data_root + "/" + m.node_id + ".log"});
  }

  member_view status(size_t i, std::chrono::milliseconds timeout) override;

  load_result run_load(size_t i, const load_shape& shape) override {
    return run_troupe_load(sys_, target(i), shape);
  }

  std::optional<bench_clock::time_point>
  first_write(const std::vector<size_t>& targets, const probe_timing& timing,
              bench_clock::time_point deadline) override;

  std::string member_label(size_t i) const override {
    return members_.at(i).node_id;
  }

private:
  static std::vector<host_port> endpoints(const troupe_config& cfg) {
    std::vector<host_port> out;
    for (auto& h : cfg.hosts)
      out.push_back({h, cfg.cluster_port});
    return out;
  }

  troupe_target target(size_t i) {
    auto gw = gateways_.gateway(i);
    if (!gw)
      fatal("cannot reach troupe node " + members_.at(i).node_id + ": "
            + troupe::describe(gw.error()));
    next_client_id_ += client_ids_per_run;
    return {*gw, members_[i].node_id, cfg_.path, next_client_id_};
  }

  std::vector<std::string> command(const troupe_member& m) const {
    std::string seeds;
    for (auto& x : members_)
      seeds.append(seeds.empty() ? "" : ",").append(x.listen.to_string());
    std::vector<std::string> argv{cfg_.binary};
    auto flag = [&](const char* name, std::string value) {
      argv.emplace_back(name);
      argv.push_back(std::move(value));
    };
    flag("--node-id", m.node_id);
    flag("--role", "consensus");
    flag("--listen", m.listen.to_string());
    // The first seed bootstraps the group; the others join it through its
    // leader (actors/consensus/consensus_role.hpp).
    flag("--seeds", seeds);
    flag("--data-dir", m.data_dir);
    flag("--admin-listen", m.admin.to_string());
    flag("--log-level", cfg_.log_level);
    // Plain TCP, as etcd's peer and client ports run here: the comparison
    // measures consensus, not TLS (docs/security.md, docs/bench-raft.md).
    argv.emplace_back("--insecure");
    argv.insert(argv.end(), cfg_.extra_args.begin(), cfg_.extra_args.end());
    return argv;
  }

  caf::actor_system& sys_;
  troupe_config cfg_;
  std::vector<troupe_member> members_;
  gateway_set gateways_;
  uint64_t next_client_id_ = 0;
};

member_view troupe_cluster::status(size_t i,
                                   std::chrono::milliseconds timeout) {
  member_view view;
  auto& m = members_.at(i);
  if (m.pid <= 0) {
    view.error = "not running";
    return view;
  }
  auto st = gateways_.raft_status(i, m.node_id, timeout);
  if (!st) {
    view.error = describe(st.error());
    return view;
  }
  view.reachable = true;
  view.id = st->node_id().empty() ? m.node_id : st->node_id();
  view.leader = st->leader_node();
  view.term = st->term();
  view.applied = st->applied_index();
  for (auto& member : st->members())
    view.voters += member.voter() ? 1 : 0;
  return view;
}

std::optional<bench_clock::time_point>
troupe_cluster::first_write(const std::vector<size_t>& targets,
                            const probe_timing& timing,
                            bench_clock::time_point deadline) {
  std::vector<troupe_target> ts;
  for (auto i : targets)
    ts.push_back(target(i));
  return troupe_first_write(sys_, ts, timing, deadline);
}

} // namespace

std::unique_ptr<cluster> make_troupe_cluster(caf::actor_system& sys,
                                             const troupe_config& cfg) {
  return std::make_unique<troupe_cluster>(sys, cfg);
}

} // namespace troupe::kvbench
