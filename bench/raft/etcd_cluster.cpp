#include "etcd_cluster.hpp"

#include "etcd_load.hpp"
#include "etcd_probe.hpp"
#include "http_client.hpp"
#include "process.hpp"

#include <nlohmann/json.hpp>

#include <csignal>

namespace troupe::kvbench {

namespace {

using namespace std::chrono_literals;

struct etcd_member {
  std::string name;
  http_endpoint client;
  std::string peer_url;
  std::string data_dir;
  pid_t pid = -1;
};

class etcd_cluster final : public cluster {
public:
  explicit etcd_cluster(etcd_config cfg) : cfg_(std::move(cfg)) {
    for (size_t i = 0; i < cfg_.hosts.size(); ++i) {
      etcd_member m;
      m.name = "e";
      m.name += std::to_string(i + 1);
      m.client = {cfg_.hosts[i], cfg_.client_port};
      m.peer_url
          = "http://" + cfg_.hosts[i] + ":" + std::to_string(cfg_.peer_port);
      m.data_dir = cfg_.data_root + "/" + m.name;
      members_.push_back(std::move(m));
    }
  }

  ~etcd_cluster() override {
    stop();
  }

  std::string name() const override {
    return "etcd";
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
    for (auto& m : members_)
      if (m.pid > 0) {
        stop_child(m.pid, SIGTERM, 10s);
        m.pid = -1;
      }
  }

  void kill_member(size_t i) override {
    stop_child(members_.at(i).pid, SIGKILL, 5s);
    members_[i].pid = -1;
  }

  void restart_member(size_t i) override {
    auto& m = members_.at(i);
    if (m.pid > 0)
      fatal("etcd member " + m.name + " already runs");
    // etcd ignores the --initial-cluster flags once its data dir holds a WAL,
    // so the first start and every restart use the same command.
    m.pid = spawn_child({command(m), cfg_.data_root + "/" + m.name + ".log"});
  }

  member_view status(size_t i, std::chrono::milliseconds timeout) override;

  load_result run_load(size_t i, const load_shape& shape) override {
    return run_etcd_load(members_.at(i).client, shape);
  }

  std::optional<bench_clock::time_point>
  first_write(const std::vector<size_t>& targets, const probe_timing& timing,
              bench_clock::time_point deadline) override;

  std::string member_label(size_t i) const override {
    return members_.at(i).name;
  }

private:
  std::vector<std::string> command(const etcd_member& m) const {
    std::string initial;
    for (auto& x : members_)
      initial.append(initial.empty() ? "" : ",")
          .append(x.name)
          .append("=")
          .append(x.peer_url);
    auto client_url = "http://" + m.client.to_string();
    std::vector<std::string> argv{
        cfg_.binary,
        "--name=" + m.name,
        "--data-dir=" + m.data_dir,
        "--listen-client-urls=" + client_url,
        "--advertise-client-urls=" + client_url,
        "--listen-peer-urls=" + m.peer_url,
        "--initial-advertise-peer-urls=" + m.peer_url,
        "--initial-cluster=" + initial,
        "--initial-cluster-state=new",
        "--initial-cluster-token=troupe-kv-bench",
        "--logger=zap",
        "--log-outputs=stderr",
        "--log-level=warn",
    };
    argv.insert(argv.end(), cfg_.extra_args.begin(), cfg_.extra_args.end());
    return argv;
  }

  etcd_config cfg_;
  std::vector<etcd_member> members_;
};

std::string json_text(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

uint64_t json_uint(const nlohmann::json& j, const char* key) {
  // The gateway renders 64-bit integers as strings.
  auto text = json_text(j, key);
  return text.empty() ? 0 : std::stoull(text);
}

member_view etcd_cluster::status(size_t i, std::chrono::milliseconds timeout) {
  member_view view;
  auto& m = members_.at(i);
  if (m.pid <= 0) {
    view.error = "not running";
    return view;
  }
  auto reply = http_post(m.client, "/v3/maintenance/status", "{}", timeout);
  if (!reply.error.empty() || reply.status != 200) {
    view.error = reply.error.empty() ? "HTTP " + std::to_string(reply.status)
                                     : reply.error;
    return view;
  }
  auto j = nlohmann::json::parse(reply.body, nullptr, false);
  if (j.is_discarded() || !j.contains("header")) {
    view.error = "status reply without header: " + reply.body.substr(0, 200);
    return view;
  }
  view.reachable = true;
  view.id = json_text(j["header"], "member_id");
  view.leader = json_text(j, "leader");
  if (view.leader == "0")
    view.leader.clear();
  view.term = json_uint(j, "raftTerm");
  view.applied = json_uint(j, "raftAppliedIndex");
  return view;
}

std::optional<bench_clock::time_point>
etcd_cluster::first_write(const std::vector<size_t>& targets,
                          const probe_timing& timing,
                          bench_clock::time_point deadline) {
  std::vector<http_endpoint> endpoints;
  for (auto i : targets)
    endpoints.push_back(members_.at(i).client);
  return etcd_first_write(endpoints, timing, deadline);
}

} // namespace

std::unique_ptr<cluster> make_etcd_cluster(const etcd_config& cfg) {
  return std::make_unique<etcd_cluster>(cfg);
}

} // namespace troupe::kvbench
