#include "tests/scenarios/scenario.hpp"

#include <algorithm>

#include "runtime/caf_setup.hpp"

#include <cstdio>
#include <filesystem>
#include <unistd.h>

namespace troupe::scenario {

namespace lin = test::lin;

// -- report
// --------------------------------------------------------------------------

report::report(std::string name) :
  name_(std::move(name)), start_(std::chrono::steady_clock::now()) {}

double report::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now()
                                       - start_)
      .count();
}

void report::step(const std::string& what) {
  std::printf("[%7.2fs] %s: %s\n", elapsed(), name_.c_str(), what.c_str());
  std::fflush(stdout);
}

void report::note(const std::string& what) {
  std::printf("[%7.2fs]   note: %s\n", elapsed(), what.c_str());
  std::fflush(stdout);
}

bool report::check(const std::string& what, bool ok,
                   const std::string& detail) {
  std::printf("[%7.2fs]   %s %s%s%s\n", elapsed(), ok ? "PASS" : "FAIL",
              what.c_str(), detail.empty() ? "" : ": ", detail.c_str());
  std::fflush(stdout);
  failures_ += ok ? 0 : 1;
  return ok;
}

void report::require(const std::string& what, bool ok,
                     const std::string& detail) {
  if (!check(what, ok, detail))
    throw scenario_failed(what + (detail.empty() ? "" : ": " + detail));
}

void report::not_checked(const std::string& what, const std::string& why) {
  std::printf("[%7.2fs]   SKIP %s: not checked: %s\n", elapsed(), what.c_str(),
              why.c_str());
  std::fflush(stdout);
}

void wait(report& s, std::chrono::milliseconds d, const std::string& why) {
  s.step("wait " + std::to_string(d.count()) + " ms: " + why);
  std::this_thread::sleep_for(d);
}

std::string join(const std::vector<std::string>& xs, const std::string& sep) {
  std::string out;
  for (auto& x : xs)
    out += (out.empty() ? "" : sep) + x;
  return out;
}

// -- cluster
// ---------------------------------------------------------------------------

namespace {

std::string host_of(int i) {
  return "127.0.0." + std::to_string(10 + i);
}

// The node's log is the evidence, but only when it failed to start.
void ready_or_log(report& s, node_process& n) {
  bool ok = n.wait_ready(30s);
  s.require(n.node_id() + " ready", ok, ok ? "" : n.log());
}

} // namespace

cluster::~cluster() {
  if (s_.passed())
    return;
  const char* tail_env = std::getenv("TROUPE_SCENARIO_LOG_TAIL");
  const std::size_t tail_lines = tail_env ? std::stoul(tail_env) : 40;
  for (auto& n : nodes_) {
    auto text = n->log();
    std::size_t pos = text.size();
    for (std::size_t lines = 0; pos > 0 && lines <= tail_lines;)
      if (text[--pos] == '\n')
        ++lines;
    std::printf("---- last %zu lines of %s's log ----\n%s\n", tail_lines,
                n->node_id().c_str(), text.substr(pos).c_str());
    if (n->running()) {
      std::string body;
      int code = test::http_get(n->host(), n->admin_port(), "/readyz?verbose", &body);
      auto st = troupectl(n->node_id(), {"raft", "status"}, 10s);
      std::printf("---- %s: /readyz %d\n%s\n---- %s: troupectl raft status: exit %d\n%s%s\n",
                  n->node_id().c_str(), code, body.c_str(), n->node_id().c_str(),
                  st.exit_code, st.out.c_str(), st.err.c_str());
    }
    // TROUPE_SCENARIO_GDB=1: the threads of a node that still runs, for hangs.
    if (std::getenv("TROUPE_SCENARIO_GDB") && n->running()) {
      std::fflush(stdout);
      auto bt = test::run_command({"/usr/bin/gdb", "-p", std::to_string(n->pid()),
                                   "-batch", "-ex", "thread apply all bt"},
                                  60s);
      std::printf("---- threads of %s ----\n%s\n", n->node_id().c_str(), bt.out.c_str());
    }
  }
  std::fflush(stdout);
}

cluster::cluster(report& s, cluster_options opts) : s_(s) {
  s.step("start " + std::to_string(opts.nodes) + " nodes (--role " + opts.role
         + ") on 127.0.0.11.." + std::to_string(10 + opts.nodes));
  for (int i = 1; i <= opts.nodes; ++i) {
    auto id = "n" + std::to_string(i);
    std::vector<std::string> seeds;
    if (!nodes_.empty())
      seeds.push_back(nodes_.front()->cluster_address());
    std::vector<std::string> extra{"--bind-source", host_of(i),
                                   "--enable-fault-injection"};
    extra.insert(extra.end(), opts.extra_args.begin(), opts.extra_args.end());
    if (const char* level = std::getenv("TROUPE_SCENARIO_LOG_LEVEL"))
      extra.insert(extra.end(), {"--log-level", level});
    test::node_options o{id, host_of(i), seeds, extra};
    o.role = opts.role;
    if (auto d = opts.data_dirs.find(id); d != opts.data_dirs.end())
      o.data_dir = d->second;
    nodes_.push_back(std::make_unique<node_process>(o));
    if (i == 1)
      s.require("n1 ready", nodes_.front()->wait_ready(30s),
                nodes_.front()->log());
  }
  for (std::size_t i = 1; i < nodes_.size(); ++i)
    ready_or_log(s, *nodes_[i]);
  auto voters = [&] {
    auto st = raft_status();
    int n = 0;
    if (st)
      for (auto& m : (*st)["members"])
        n += m.value("role", "") == "leader"
             || m.value("role", "") == "follower";
    return n;
  };
  s.require("a Raft group of " + std::to_string(opts.nodes) + " voters",
            test::eventually([&] { return voters() == opts.nodes; }, 40s),
            "voters seen: " + std::to_string(voters()));
  if (opts.nodes >= 2)
    place_singleton("singleton/scenario");
}

void cluster::place_singleton(const std::string& name) {
  auto res = troupectl(nodes_.front()->node_id(), {"place", name, "--type", "probe"}, 15s);
  s_.require("place " + name, res.exit_code == 0, res.err);
  bool placed = test::eventually([&] { return !placed_on(name).empty(); }, 15s);
  s_.require(name + " runs somewhere", placed,
             placed ? ""
                    : troupectl(nodes_.front()->node_id(), {"placements", "-o", "json"}, 10s)
                        .out);
  singletons_.push_back(name);
}

std::string cluster::placed_on(const std::string& name) {
  for (auto& n : nodes_) {
    if (!n->running())
      continue;
    auto res = troupectl(n->node_id(), {"placements", "-o", "json"}, 10s);
    if (res.exit_code != 0)
      continue;
    try {
      auto status = json::parse(res.out); // must outlive the loop below
      for (auto& p : status["placements"])
        if (p["spec"].value("name", "") == name)
          return p.value("node_id", p.value("nodeId", ""));
    } catch (const std::exception&) {
    }
  }
  return "";
}

namespace {

bool runs_in(const json& actors, const std::string& name) {
  for (auto& a : actors) {
    if (a.value("name", "") == name && a.value("status", "") == "running")
      return true;
    if (a.contains("children") && runs_in(a["children"], name))
      return true;
  }
  return false;
}

} // namespace

std::optional<std::vector<std::string>>
cluster::running_copies(const std::string& name, std::string& why) {
  std::vector<std::string> out;
  for (auto& n : nodes_) {
    if (!n->running())
      continue;
    auto& id = n->node_id();
    auto res = troupectl(id, {"actors", "--node", id, "-o", "json"}, 10s);
    if (res.exit_code != 0) {
      why = id + " did not list its actors: " + res.err;
      return std::nullopt;
    }
    try {
      auto tree = json::parse(res.out);
      if (tree.contains("roots") && runs_in(tree["roots"], name))
        out.push_back(id);
    } catch (const std::exception& e) {
      why = id + ": " + e.what();
      return std::nullopt;
    }
  }
  return out;
}

node_process& cluster::node(const std::string& id) {
  for (auto& n : nodes_)
    if (n->node_id() == id)
      return *n;
  throw scenario_failed("no node " + id);
}

std::vector<std::string> cluster::ids() const {
  std::vector<std::string> out;
  for (auto& n : nodes_)
    out.push_back(n->node_id());
  return out;
}

std::string cluster::host(const std::string& id) const {
  for (auto& n : nodes_)
    if (n->node_id() == id)
      return n->host();
  return {};
}

std::map<std::string, std::string>
cluster::addresses(const std::vector<std::string>& only) const {
  std::map<std::string, std::string> out;
  for (auto& n : nodes_)
    if (only.empty()
        || std::find(only.begin(), only.end(), n->node_id()) != only.end())
      out[n->node_id()] = n->cluster_address();
  return out;
}

test::command_result cluster::troupectl(const std::string& via,
                                        std::vector<std::string> args,
                                        std::chrono::milliseconds timeout) {
  args.insert(args.begin(), {"--endpoint", node(via).cluster_address()});
  return test::troupectl(args, timeout);
}

std::optional<json> cluster::raft_status(const std::string& via) {
  for (auto& n : nodes_) {
    if ((!via.empty() && n->node_id() != via) || !n->running())
      continue;
    // Generous: the answering member asks every other one, and a member
    // behind a built-in partition answers only with its request timeout.
    auto res = troupectl(n->node_id(), {"raft", "status", "-o", "json"}, 15s);
    if (res.exit_code != 0)
      continue;
    try {
      auto j = json::parse(res.out);
      if (!via.empty() || !j.value("leader", "").empty())
        return j;
    } catch (const std::exception&) {
    }
  }
  return std::nullopt;
}

std::string cluster::leader(const std::string& via) {
  auto st = raft_status(via);
  return st ? st->value("leader", "") : "";
}

std::string cluster::wait_leader(const std::vector<std::string>& among,
                                 std::chrono::milliseconds timeout) {
  std::string found;
  auto in = [&](const std::string& id) {
    return among.empty()
           || std::find(among.begin(), among.end(), id) != among.end();
  };
  test::eventually(
      [&] {
        for (auto& id : among.empty() ? ids() : among) {
          auto l = leader(id);
          if (!l.empty() && in(l)) {
            found = l;
            return true;
          }
        }
        return false;
      },
      timeout);
  s_.require("a leader among "
                 + (among.empty() ? std::string{"all"} : join(among)),
             !found.empty());
  return found;
}

std::string cluster::role_of(const std::string& id) {
  auto st = raft_status(id);
  if (!st)
    return "";
  for (auto& m : (*st)["members"])
    if (m.value("node_id", "") == id)
      return m.value("role", "");
  return "";
}

int cluster::readyz(const std::string& id, std::string* body) {
  auto& n = node(id);
  return test::http_get(n.host(), n.admin_port(), "/readyz?verbose", body);
}

std::vector<std::string>
cluster::others(const std::vector<std::string>& xs) const {
  std::vector<std::string> out;
  for (auto& id : ids())
    if (std::find(xs.begin(), xs.end(), id) == xs.end())
      out.push_back(id);
  return out;
}

// -- firewall
// --------------------------------------------------------------------------

firewall::firewall(report& s) : s_(s) {
  run({"-N", "TROUPE_CHAOS"});
  run({"-I", "OUTPUT", "1", "-o", "lo", "-j", "TROUPE_CHAOS"});
}

firewall::~firewall() {
  test::run_command({"/usr/sbin/iptables", "-F", "TROUPE_CHAOS"}, 10s);
}

void firewall::run(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/usr/sbin/iptables"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto res = test::run_command(argv, 10s);
  if (res.exit_code != 0)
    throw scenario_failed("iptables " + join(args, " ")
                          + " failed: " + res.err);
}

void firewall::partition(cluster& c, const std::vector<std::string>& a,
                         const std::vector<std::string>& b) {
  s_.step("iptables: cut " + join(a) + " from " + join(b)
          + " (both directions)");
  for (auto& x : a)
    for (auto& y : b) {
      run({"-A", "TROUPE_CHAOS", "-s", c.host(x), "-d", c.host(y), "-j",
           "DROP"});
      run({"-A", "TROUPE_CHAOS", "-s", c.host(y), "-d", c.host(x), "-j",
           "DROP"});
    }
}

void firewall::lossy(cluster& c, const std::string& from, const std::string& to,
                     double p) {
  s_.step("iptables: drop " + std::to_string(static_cast<int>(p * 100))
          + "% of packets " + from + " -> " + to);
  run({"-A", "TROUPE_CHAOS", "-s", c.host(from), "-d", c.host(to), "-m",
       "statistic", "--mode", "random", "--probability", std::to_string(p),
       "-j", "DROP"});
}

void firewall::heal() {
  s_.step("iptables: heal (flush every rule)");
  run({"-F", "TROUPE_CHAOS"});
}

std::uint64_t firewall::dropped() {
  auto res = test::run_command(
      {"/usr/sbin/iptables", "-L", "TROUPE_CHAOS", "-n", "-v", "-x"}, 10s);
  std::uint64_t total = 0;
  std::istringstream in{res.out};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words{line};
    std::uint64_t pkts = 0;
    if (words >> pkts)
      total += pkts;
  }
  return total;
}

// -- small disk
// --------------------------------------------------------------------------

small_disk::small_disk(report& s, const std::string& size) : s_(s) {
  char tmpl[] = "/tmp/troupe-scenario-disk-XXXXXX";
  dir_ = mkdtemp(tmpl);
  auto res = test::run_command(
      {"/usr/bin/mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", dir_},
      10s);
  s.require("mount a " + size + " tmpfs at " + dir_, res.exit_code == 0,
            res.err);
}

small_disk::~small_disk() {
  test::run_command({"/usr/bin/umount", "-l", dir_}, 10s);
  ::rmdir(dir_.c_str());
}

bool small_disk::resize(const std::string& size) {
  s_.step("resize the tmpfs to " + size);
  return test::run_command(
             {"/usr/bin/mount", "-o", "remount,size=" + size, dir_}, 10s)
             .exit_code
         == 0;
}

// -- workload
// -----------------------------------------------------------------------------

workload::workload(cluster& c, int clients, std::vector<std::string> only) :
  nodes_(c.addresses(only)), clients_(clients) {
  configure_caf(cfg_, std::chrono::seconds{1}, std::chrono::seconds{5});
  configure_transport(
      cfg_, test::test_client_transport()); // mutual TLS, as the nodes
  sys_ = std::make_unique<caf::actor_system>(cfg_);
}

workload::~workload() {
  finish();
}

void workload::start() {
  for (int i = 1; i <= clients_; ++i)
    threads_.emplace_back([this, i] { run_client(1000 + i); });
}

void workload::finish() {
  stop_ = true;
  for (auto& t : threads_)
    t.join();
  threads_.clear();
}

void workload::run_client(std::uint64_t id) {
  test::kv_client c{*sys_, nodes_, id};
  bool debug = std::getenv("TROUPE_SCENARIO_DEBUG") != nullptr;
  for (int seq = 0; !stop_ && seq < max_ops; ++seq) {
    auto unique = "lw/" + std::to_string(id) + "/" + std::to_string(seq);
    auto t0 = lin::now_ns();
    auto unique_res = c.put(unique, "x", 1s);
    if (debug
        && (lin::now_ns() - t0 > 1'200'000'000
            || unique_res.result != test::outcome::ok))
      std::printf("DEBUG client %llu: unique put, %.3f s: %s\n",
                  static_cast<unsigned long long>(id),
                  (lin::now_ns() - t0) / 1e9, unique_res.error.c_str());
    if (unique_res.result == test::outcome::ok) {
      acknowledged(lin::now_ns());
      std::lock_guard guard{mtx_};
      acked_unique_.insert(unique);
    }
    auto key = "r/" + std::to_string(seq % 3);
    if (seq % 2 == 0) {
      auto value = std::to_string(id) + "-" + std::to_string(seq);
      auto op = lin::operation::put(id, key, value);
      auto res = c.put(key, value, 1s);
      if (debug && res.result != test::outcome::ok)
        std::printf("DEBUG client %llu: put %s\n",
                    static_cast<unsigned long long>(id), res.error.c_str());
      op.finish(res.result == test::outcome::ok     ? lin::op_status::ok
                : res.result == test::outcome::fail ? lin::op_status::fail
                                                    : lin::op_status::unknown);
      if (res.result == test::outcome::ok) {
        acknowledged(lin::now_ns());
        ++ok_writes_;
      }
      history_.add(std::move(op));
    } else {
      auto op = lin::operation::get(id, key);
      auto res = c.get(key, false, 1s);
      if (debug && res.result != test::outcome::ok)
        std::printf("DEBUG client %llu: get %s\n",
                    static_cast<unsigned long long>(id), res.error.c_str());
      op.output = res.value;
      op.finish(res.result == test::outcome::ok ? lin::op_status::ok
                                                : lin::op_status::fail);
      history_.add(std::move(op));
    }
  }
}

std::set<std::string> workload::acked_unique() const {
  std::lock_guard guard{mtx_};
  return acked_unique_;
}

void workload::acknowledged(std::int64_t at_ns) {
  std::lock_guard guard{mtx_};
  // Clients finish in any order, so keep the times sorted.
  ok_ns_.insert(std::upper_bound(ok_ns_.begin(), ok_ns_.end(), at_ns), at_ns);
  if (at_ns > last_ok_ns_)
    last_ok_ns_ = at_ns;
}

std::optional<double>
workload::wait_write_after(std::int64_t since_ns,
                           std::chrono::milliseconds timeout) {
  if (!test::eventually([&] { return last_ok_ns() > since_ns; }, timeout))
    return std::nullopt;
  std::lock_guard guard{mtx_};
  auto first = std::upper_bound(ok_ns_.begin(), ok_ns_.end(), since_ns);
  return static_cast<double>(*first - since_ns) / 1e9;
}

probe_writes write_through(workload& w,
                           const std::map<std::string, std::string>& only,
                           const std::string& prefix,
                           std::chrono::milliseconds duration) {
  probe_writes out;
  test::kv_client c{w.system(), only, 9000};
  auto deadline = std::chrono::steady_clock::now() + duration;
  for (int seq = 0; seq < 1000 && std::chrono::steady_clock::now() < deadline;
       ++seq) {
    auto key = prefix + std::to_string(seq);
    auto res = c.put(key, "minority", 1s);
    if (!res.error.empty())
      out.last_error = res.error;
    if (res.result == test::outcome::ok) {
      ++out.ok;
      out.ok_keys.push_back(key);
    } else if (res.result == test::outcome::fail) {
      ++out.fail;
      std::this_thread::sleep_for(50ms); // a refusal is instant: do not spin
    } else {
      ++out.unknown;
    }
  }
  return out;
}

// -- invariants
// ------------------------------------------------------------------------------

namespace {

void check_linearizable(report& s, workload& w) {
  auto ops = w.history();
  auto verdict = lin::check(ops);
  std::string where;
  if (verdict.outcome != lin::verdict::ok) {
    where = "/tmp/troupe-scenario-history.jsonl";
    std::string error;
    lin::write_history_file(where, ops, &error);
    where = " (history in " + where + ")";
  }
  s.check("the KV history is linearizable", verdict.outcome == lin::verdict::ok,
          std::to_string(ops.size()) + " operations on "
              + std::to_string(verdict.keys_checked)
              + " keys: " + lin::to_string(verdict.outcome)
              + (verdict.explanation.empty()
                     ? ""
                     : ", key " + verdict.key + ": " + verdict.explanation)
              + where);
}

void check_unique_writes(report& s, workload& w) {
  test::kv_client reader{w.system(), w.nodes(), 1};
  v1::KvRequest req;
  req.mutable_range()->set_key("lw/");
  req.mutable_range()->set_range_end("lw0"); // '/' + 1
  std::string error;
  std::optional<v1::KvReply> reply;
  for (int attempt = 0;
       attempt < 5 && (!reply || reply->status() != v1::KV_STATUS_OK);
       ++attempt)
    reply = reader.call(req, 10s, error);
  s.require("read back every unique key",
            reply && reply->status() == v1::KV_STATUS_OK, error);
  std::map<std::string, std::int64_t> versions;
  for (auto& kv : reply->range().kvs())
    versions[kv.key()] = kv.version();
  auto acked = w.acked_unique();
  std::vector<std::string> lost, doubled;
  for (auto& k : acked)
    if (!versions.count(k))
      lost.push_back(k);
  for (auto& [k, v] : versions)
    if (v != 1)
      doubled.push_back(k + " (version " + std::to_string(v) + ")");
  s.check("no acknowledged write is lost", lost.empty(),
          std::to_string(acked.size()) + " acknowledged, "
              + std::to_string(lost.size()) + " missing"
              + (lost.empty() ? "" : ", first " + lost.front()));
  s.check("no write is applied twice", doubled.empty(),
          std::to_string(versions.size()) + " unique keys stored, "
              + std::to_string(doubled.size()) + " with version != 1"
              + (doubled.empty() ? "" : ", first " + doubled.front()));
}

// A fenced or partitioned host stops its copy before the controller moves
// it, so after the heal exactly one node runs each singleton, the one its
// committed placement names. The cluster may still be settling: wait.
void check_placed_once(report& s, cluster& c) {
  if (c.singletons().empty()) {
    s.not_checked("every placed actor is alive exactly once", "no singleton placed");
    return;
  }
  for (auto& name : c.singletons()) {
    std::string detail;
    bool once = test::eventually(
      [&] {
        std::string why;
        auto copies = c.running_copies(name, why);
        auto placed = c.placed_on(name);
        if (!copies) {
          detail = why;
          return false;
        }
        detail = std::to_string(copies->size()) + " running cop"
                 + (copies->size() == 1 ? "y" : "ies") + " [" + join(*copies, ",")
                 + "], placement record: " + (placed.empty() ? "none" : placed);
        return copies->size() == 1 && copies->front() == placed;
      },
      15s);
    s.check(name + " runs exactly once, where its placement says", once, detail);
  }
}

} // namespace

void check_invariants(report& s, cluster& c, workload& w) {
  s.step("check invariants");
  check_linearizable(s, w);
  check_unique_writes(s, w);
  check_placed_once(s, c);
}

// -- registry
// ----------------------------------------------------------------------------------

std::vector<scenario_info>& registry() {
  static std::vector<scenario_info> all;
  return all;
}

registrar::registrar(std::string name, std::string summary, bool is_fast,
                     std::function<void(report&)> body) {
  registry().push_back(
      {std::move(name), std::move(summary), is_fast, std::move(body)});
}

} // namespace troupe::scenario
