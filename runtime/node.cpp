#include "runtime/node.hpp"

#include "net/http_server.hpp"
#include "runtime/admin_views.hpp"
#include "runtime/auth.hpp"
#include "runtime/caf_setup.hpp"
#include "runtime/defaults.hpp"
#include "runtime/directory.hpp"
#include "runtime/fault_agent.hpp"
#include "runtime/gateway.hpp"
#include "runtime/logging.hpp"
#include "runtime/membership.hpp"
#include "runtime/node_metrics.hpp"
#include "runtime/process_metrics.hpp"
#include "runtime/source_connector.hpp"
#include "runtime/system_keyspace.hpp"
#include "runtime/tls.hpp"
#include "runtime/type_ids.hpp"
#include "storage/node_store.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>
#include <unistd.h>

namespace troupe {

namespace {

using namespace std::chrono_literals;

// -- signals and fatal events ---------------------------------------------------

// A fatal event inside an actor (duplicate node id, the node supervisor
// giving up) is turned into SIGUSR1, so the main thread has one place to wait.
struct stop_reason {
  std::mutex mtx;
  int exit_code = 0;
  std::string message;
};

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);
  return set;
}

void fail_line(const std::string& message) {
  std::fprintf(stderr, "troupe-node: %s\n", message.c_str());
}

std::shared_ptr<node_context> make_context(const node_config& cfg,
                                           uint64_t incarnation) {
  auto ctx = std::make_shared<node_context>();
  auto& s = ctx->self;
  s.node_id = cfg.node_id;
  if (has_role(cfg, "all"))
    s.roles = {"all"};
  for (auto& r : cfg.roles)
    if (r != "all")
      s.roles.push_back(r);
  s.cluster_address = cfg.advertise.to_string();
  s.admin_address = cfg.admin_listen.to_string();
  if (has_role(cfg, "cache"))
    s.resp_address = cfg.resp_listen.to_string();
  for (auto& seed : cfg.seeds)
    s.seeds.push_back(seed.to_string());
  s.labels = cfg.labels;
  s.incarnation = incarnation;
  s.started_at_ms = wall_clock_ms();
  s.started_at = std::chrono::steady_clock::now();
  s.mailbox_capacity = cfg.mailbox_capacity;
  s.max_restarts = cfg.max_restarts;
  s.restart_period = std::chrono::milliseconds{cfg.restart_period_ms};
  ctx->faults = std::make_shared<fault_table>(cfg.enable_fault_injection,
                                              std::random_device{}() ^ incarnation);
  return ctx;
}

supervisor_spec node_tree(const node_config& cfg, node_plan& plan) {
  restart_intensity intensity{cfg.max_restarts,
                              std::chrono::milliseconds{cfg.restart_period_ms}};
  supervisor_spec system;
  system.name = "sup/" + cfg.node_id + "/system";
  system.intensity = intensity;
  system.children = std::move(plan.system_children);
  for (auto& child : system.children)
    child.mailbox_capacity = child.mailbox_capacity ? cfg.mailbox_capacity : 0;
  supervisor_spec root;
  root.name = "sup/" + cfg.node_id;
  root.intensity = intensity;
  root.children.push_back(supervisor_child(std::move(system)));
  for (auto& role : plan.role_supervisors)
    root.children.push_back(supervisor_child(std::move(role)));
  return root;
}

// -- admin HTTP -------------------------------------------------------------------

void refresh_supervision_check(node_context& ctx, const std::string& root) {
  auto entry = ctx.table->find(root);
  if (!entry)
    ctx.ready.set("supervision", false, root + " is not running");
  else if (entry->status != "running")
    ctx.ready.set("supervision", false, root + " is " + entry->status);
  else
    ctx.ready.set("supervision", true, root + " running");
}

const admin_route* find_route(const node_context& ctx, const std::string& path) {
  for (auto& r : ctx.admin_routes)
    if (path == r.path
        || (r.path.size() > 1 && r.path.back() == '/' && path.rfind(r.path, 0) == 0))
      return &r;
  return nullptr;
}

http_handler admin_handler(node_context_ptr ctx, std::string root) {
  return [ctx, root](const http_request& req) {
    http_response res;
    if (req.path == "/livez") {
      res.body = "ok\n";
    } else if (req.path == "/readyz") {
      refresh_supervision_check(*ctx, root);
      bool verbose = req.query.find("verbose") != std::string::npos;
      res.status = ctx->ready.ready() ? 200 : 503;
      res.body = readyz_text(*ctx, verbose);
    } else if (req.path == "/metrics") {
      res.content_type = std::string{metrics_registry::content_type};
      res.body = ctx->metrics->render();
    } else if (auto route = find_route(*ctx, req.path)) {
      return route->handler(req);
    } else {
      res.status = 404;
      res.body = "not found: " + req.path
                 + " (try /livez, /readyz or /metrics)\n";
    }
    return res;
  };
}

// Upgraded connections go to the route that answered their request.
http_upgrade_handler admin_upgrade(node_context_ptr ctx) {
  return [ctx](caf::io::broker* server, caf::io::connection_handle hdl,
               const http_request& req) {
    auto route = find_route(*ctx, req.path);
    if (route && route->upgrade)
      route->upgrade(server, hdl, req);
    else
      server->close(hdl);
  };
}

// -- the running node -------------------------------------------------------------

class running_node {
public:
  running_node(const node_config& cfg, node_context_ptr ctx,
               caf::actor_system& sys, stop_reason& stop)
    : cfg_(cfg), ctx_(std::move(ctx)), sys_(sys), stop_(stop),
      log_(logger_for("node")) {
  }

  // Starts every actor and opens the ports. Returns an error line on failure.
  std::string start(node_plan plan, storage::node_store& store) {
    role_environment env{cfg_, ctx_, store, on_shutdown_};
    for (auto& factory : plan.role_factories) {
      auto role = factory(env);
      if (!role)
        return message_of(role.error());
      plan.role_supervisors.push_back(std::move(*role));
    }
    auto tree = node_tree(cfg_, plan);
    root_name_ = tree.name;
    ctx_->directory = caf::actor_cast<caf::actor>(
      spawn_seed_directory(sys_, ctx_));
    ctx_->gateway = spawn_gateway(sys_, ctx_);
    ctx_->fault_agent = spawn_fault_agent(sys_, ctx_);
    if (cfg_.enable_fault_injection)
      log_->warn("fault injection is on: `troupectl fault ...` can drop, delay and "
                 "crash (docs/faults.md)");
    if (!cfg_.bind_source.empty())
      ctx_->connector = caf::actor_cast<caf::actor>(
        spawn_source_connector(sys_, cfg_.bind_source, defaults::seed_connect_timeout));
    ctx_->ready.set("storage", true, cfg_.data_dir);
    ctx_->ready.set("shutdown", true, "accepting work");
    ctx_->membership = spawn_membership(sys_, ctx_, make_fatal_handler());
    publisher_ = spawn_system_publisher(sys_, ctx_);
    member_agent_config agent_cfg;
    agent_cfg.heartbeat_interval = std::chrono::milliseconds{cfg_.member_heartbeat_interval_ms};
    agent_cfg.fence_after = std::chrono::milliseconds{cfg_.member_down_after_ms * 3 / 4};
    agent_ = spawn_member_agent(sys_, ctx_, agent_cfg, std::move(plan.placeable));
    ctx_->agent = agent_;
    root_ = spawn_supervisor(sys_, std::move(tree), ctx_->table);
    watch_core();
    auto port = publish_actor(sys_, ctx_->gateway, cfg_.listen.host,
                              cfg_.listen.port);
    if (!port)
      return "cannot listen on " + cfg_.listen.to_string()
             + " (cluster port): " + sys_.render(port.error())
             + "; is the port in use or the address not local?";
    published_port_ = *port;
    auto http_stats = std::make_shared<http_server_stats>();
    if (auto err = add_process_metrics(*ctx_->metrics))
      return message_of(err) + " (metrics)";
    if (auto err = add_node_metrics(*ctx_->metrics, ctx_, http_stats))
      return message_of(err) + " (metrics)";
    auto http = spawn_http_server(sys_, cfg_.admin_listen.host,
                                  cfg_.admin_listen.port,
                                  admin_handler(ctx_, root_name_), http_limits{},
                                  http_stats, admin_upgrade(ctx_));
    if (!http)
      return message_of(http.error()) + " (admin HTTP port)";
    http_ = *http;
    log_->info("node {} up: cluster {} (advertised {}), admin http://{}, "
               "data {}, incarnation {}, roles [{}]",
               cfg_.node_id, cfg_.listen.to_string(),
               cfg_.advertise.to_string(), cfg_.admin_listen.to_string(),
               cfg_.data_dir, ctx_->self.incarnation, roles_text());
    return {};
  }

  void stop(storage::node_store& store) {
    ctx_->shutting_down = true;
    ctx_->ready.set("shutdown", false, "shutting down");
    if (http_)
      caf::anon_send_exit(http_, caf::exit_reason::user_shutdown);
    if (published_port_ != 0)
      unpublish_actor(sys_, ctx_->gateway, published_port_);
    caf::scoped_actor self{sys_};
    self->request(agent_, 2s, leave_atom_v).receive([](bool) {}, [](caf::error&) {});
    self->request(ctx_->membership, 2s, leave_atom_v)
      .receive([](bool) {}, [](caf::error&) {});
    stop_and_wait(self, root_);
    for (auto& hook : on_shutdown_)
      hook();
    for (auto& a : {agent_, publisher_, ctx_->membership, ctx_->directory, ctx_->fault_agent,
                    ctx_->connector, ctx_->gateway})
      stop_and_wait(self, a);
    storage::store_error err;
    if (!store.sync(err))
      log_->error("final flush failed: {}", err.message);
  }

private:
  fatal_handler make_fatal_handler() {
    auto* stop = &stop_;
    return [stop](int code, std::string message) {
      {
        std::lock_guard guard{stop->mtx};
        if (stop->exit_code == 0) {
          stop->exit_code = code;
          stop->message = std::move(message);
        }
      }
      ::kill(::getpid(), SIGUSR1);
    };
  }

  // The node supervisor exits only on shutdown or when escalation reached
  // the top of the tree; the latter stops the node with exit code 1. The
  // node's own service actors (gateway, membership, directory, member agent,
  // publisher, fault agent) are not restarted in place: the gateway is the
  // published actor every peer holds, so a node without it would look alive
  // and answer nothing. Any of them exiting stops the node with exit code 1,
  // and a process supervisor brings it back under a new incarnation.
  void watch_core() {
    auto on_fatal = make_fatal_handler();
    auto ctx = ctx_;
    std::vector<std::pair<caf::actor, std::string>> watched{
      {root_, "node supervisor"},        {ctx_->gateway, "gateway"},
      {ctx_->membership, "membership"},  {ctx_->directory, "directory"},
      {agent_, "member agent"},          {publisher_, "system publisher"},
      {ctx_->fault_agent, "fault agent"}};
    sys_.spawn([watched, ctx, on_fatal](caf::event_based_actor* self) {
      for (auto& [a, name] : watched)
        if (a)
          self->monitor(a);
      self->set_down_handler([=](caf::down_msg& dm) {
        if (!ctx->shutting_down)
          for (auto& [a, name] : watched)
            if (a && a.address() == dm.source)
              on_fatal(1, name + " exited (" + describe(dm.reason) + ")"
                            + (name == "node supervisor"
                                 ? ": escalation reached the top of the tree"
                                 : ": the node cannot work without it"));
        self->quit(); // one is enough: the node stops, or already does
      });
    });
  }

  void stop_and_wait(caf::scoped_actor& self, const caf::actor& a) {
    if (!a)
      return;
    self->monitor(a);
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    bool done = false;
    self->receive_while([&] { return !done; })(
      [&](caf::down_msg& dm) { done = dm.source == a.address(); },
      caf::after(defaults::shutdown_grace) >> [&] {
        log_->error("actor did not stop in time during shutdown");
        done = true;
      });
  }

  std::string roles_text() const {
    std::string out;
    for (auto& r : ctx_->self.roles)
      out += (out.empty() ? "" : ", ") + r;
    return out;
  }

  const node_config& cfg_;
  node_context_ptr ctx_;
  caf::actor_system& sys_;
  stop_reason& stop_;
  std::shared_ptr<spdlog::logger> log_;
  caf::actor root_;
  caf::actor http_;
  caf::actor publisher_;
  caf::actor agent_;
  std::vector<std::function<void()>> on_shutdown_;
  std::string root_name_;
  uint16_t published_port_ = 0;
};

// Exits the process if graceful shutdown hangs.
class shutdown_watchdog {
public:
  void arm(std::chrono::milliseconds grace) {
    thread_ = std::thread([this, grace] {
      std::unique_lock guard{mtx_};
      if (!cv_.wait_for(guard, grace, [this] { return done_; })) {
        fail_line("graceful shutdown did not finish within "
                  + std::to_string(grace.count()) + " ms; exiting");
        std::_Exit(1);
      }
    });
  }
  ~shutdown_watchdog() {
    {
      std::lock_guard guard{mtx_};
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable())
      thread_.join();
  }

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

transport_security transport_of(const node_config& cfg) {
  return {cfg.insecure, {cfg.tls_ca, cfg.tls_cert, cfg.tls_key}};
}

// CAF would abort or hang on a bad file only when the first peer connects
// (caf-0.17-notes §5), so the files are checked before anything starts. A
// node's certificate names the node: CN = node id, OU (or O) = node, so a
// client certificate cannot run a node and peers can check who joins.
std::string check_transport(const node_config& cfg) {
  auto sec = transport_of(cfg);
  if (auto err = check_transport_choice(sec, "troupe-node"))
    return message_of(err);
  if (sec.insecure)
    return {};
  auto id = check_tls_files(sec.files);
  if (!id)
    return message_of(id.error());
  if (id->unit != "node" || id->common_name != cfg.node_id)
    return "--tls-cert " + cfg.tls_cert + ": the certificate is for " + id->subject
           + "; node " + cfg.node_id + " needs CN=" + cfg.node_id
           + " and OU=node (deploy/tls/make-certs.sh node " + cfg.node_id + ")";
  return {};
}

// The session table enforces permissions unless the node runs --insecure;
// the signer proves this node to the peers it joins.
std::string add_auth(node_context& ctx, const node_config& cfg) {
  if (cfg.insecure) {
    ctx.auth = std::make_shared<auth::session_table>(cfg.node_id, nullptr);
    return {};
  }
  auto checker = auth::verifier::load(cfg.tls_ca);
  if (!checker)
    return message_of(checker.error());
  auto me = auth::signer::load({cfg.tls_ca, cfg.tls_cert, cfg.tls_key});
  if (!me)
    return message_of(me.error());
  ctx.auth = std::make_shared<auth::session_table>(cfg.node_id, *checker);
  ctx.credentials = *me;
  return {};
}

int wait_for_stop(stop_reason& stop, std::shared_ptr<spdlog::logger> log) {
  auto set = stop_signals();
  int sig = 0;
  sigwait(&set, &sig);
  std::lock_guard guard{stop.mtx};
  if (sig == SIGUSR1 && stop.exit_code != 0) {
    log->error("stopping: {}", stop.message);
    fail_line(stop.message);
    return stop.exit_code;
  }
  log->info("received {}, shutting down gracefully",
            sig == SIGINT ? "SIGINT" : "SIGTERM");
  return 0;
}

} // namespace

int run_node(const node_config& cfg, node_plan plan) {
  auto signals = stop_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  std::string err;
  if (!init_logging(cfg.node_id, cfg.log_level, cfg.log_format, err)) {
    fail_line(err);
    return 2;
  }
  auto log = logger_for("node");
  if (auto problem = check_transport(cfg); !problem.empty()) {
    fail_line(problem);
    return 2;
  }
  if (cfg.insecure)
    log->warn("--insecure: the cluster port speaks plain TCP and nobody is "
              "authenticated; use this on a development machine only");
  storage::store_error serr;
  auto store = storage::node_store::open(cfg.data_dir, serr);
  if (!store) {
    fail_line(serr.message);
    return 1;
  }
  auto incarnation = store->bump_incarnation(serr);
  if (!incarnation) {
    fail_line(serr.message);
    return 1;
  }
  int exit_code = 0;
  shutdown_watchdog watchdog;
  {
    caf::actor_system_config sys_cfg;
    configure_caf(sys_cfg, std::chrono::milliseconds{cfg.heartbeat_interval_ms},
                  std::chrono::milliseconds{cfg.connection_timeout_ms});
    configure_transport(sys_cfg, transport_of(cfg));
    caf::actor_system sys{sys_cfg};
    stop_reason stop;
    auto ctx = make_context(cfg, *incarnation);
    auto failure = add_auth(*ctx, cfg);
    running_node node{cfg, std::move(ctx), sys, stop};
    if (failure.empty())
      failure = node.start(std::move(plan), *store);
    if (!failure.empty()) {
      fail_line(failure);
      exit_code = 1;
    } else {
      exit_code = wait_for_stop(stop, log);
    }
    watchdog.arm(std::chrono::duration_cast<std::chrono::milliseconds>(
      defaults::shutdown_grace));
    node.stop(*store);
  }
  store.reset();
  log->info("stopped (exit code {})", exit_code);
  return exit_code;
}

} // namespace troupe
