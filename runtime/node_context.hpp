// What every runtime actor of one node shares: the node's identity, its
// local actor table, its membership view, the name cache and its readiness.
// Created once by the node bootstrap; every member is thread-safe.
#pragma once

#include "runtime/faults.hpp"
#include "net/http_server.hpp"
#include "runtime/local_actors.hpp"
#include "runtime/members.hpp"
#include "runtime/metrics.hpp"

#include <caf/actor.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace troupe::v1 {
class HeartbeatAck;
} // namespace troupe::v1

namespace troupe::auth {
class session_table; // runtime/auth.hpp
class signer;
} // namespace troupe::auth

namespace troupe {

/// Where a name was last seen: the hosting node and its gateway.
struct placement {
  std::string node_id;
  caf::actor gateway;
};

/// Caller-side cache of name -> placement, filled by the directory and read
/// synchronously by named sends so that a hot path never asks an actor.
/// Bounded: when full, the oldest insertions are evicted first.
class name_cache {
public:
  explicit name_cache(size_t capacity) : capacity_(capacity) {}

  std::optional<placement> find(const std::string& name) const;
  void put(const std::string& name, placement where);
  void erase(const std::string& name);
  /// Drops every name placed on `node_id` (the node went down or left).
  void erase_node(const std::string& node_id);

private:
  size_t capacity_;
  mutable std::mutex mtx_;
  std::map<std::string, placement> entries_;
  std::vector<std::string> insertion_order_;
};

/// Named readiness checks for /readyz.
class readiness {
public:
  void set(const std::string& check, bool ok, std::string detail);
  struct check_result {
    std::string name;
    bool ok;
    std::string detail;
  };
  /// A check evaluated at every results()/ready() call, e.g. from atomics a
  /// role publishes. Must be fast, thread-safe and must not block. A probe
  /// replaces a set() check of the same name.
  using probe = std::function<check_result()>;
  void add_probe(const std::string& check, probe fn);
  void remove_probe(const std::string& check);
  std::vector<check_result> results() const;
  bool ready() const;

private:
  mutable std::mutex mtx_;
  std::map<std::string, check_result> checks_;
  std::map<std::string, probe> probes_;
};

/// The committed member and placement records as this node learns them
/// (the member agent publishes every full heartbeat ack). A listener is
/// called on the agent's thread, once at once with the last records if any,
/// then after every change; it must not block (the cache's slot map).
class placement_feed {
public:
  using listener = std::function<void(const v1::HeartbeatAck&)>;
  void subscribe(listener fn);
  void publish(const v1::HeartbeatAck& ack);

  /// A placed actor here says whether it is in step with its partner (a
  /// cache replica streaming from its primary); heartbeats report the set.
  void set_synced(const std::string& name, bool synced);
  std::vector<std::string> synced() const;

private:
  mutable std::mutex mtx_;
  std::set<std::string> synced_;
  std::vector<listener> listeners_;
  std::shared_ptr<const v1::HeartbeatAck> last_;
};

struct node_settings {
  std::string node_id;
  std::vector<std::string> roles;
  std::string cluster_address; // advertised
  std::string admin_address;
  std::string resp_address;    // the cache role's RESP port, "" without it
  std::vector<std::string> seeds;
  std::map<std::string, std::string> labels; // e.g. region, zone
  uint64_t incarnation = 0;
  int64_t started_at_ms = 0;
  std::chrono::steady_clock::time_point started_at;
  uint64_t mailbox_capacity = 0;
  uint32_t max_restarts = 0;
  std::chrono::milliseconds restart_period{0};
};

/// An admin HTTP route that a role adds (the dashboard: /, /ws, /api/).
/// Requests whose path equals `path`, or starts with it when it ends in
/// '/' (other than "/" itself, which matches only "/"), go to `handler`; a request it answers with 101 Switching Protocols
/// goes on to `upgrade`.
struct admin_route {
  std::string path;
  http_handler handler;
  http_upgrade_handler upgrade;
};

struct node_context {
  node_settings self;
  std::shared_ptr<local_actors> table = std::make_shared<local_actors>();
  member_table members;
  name_cache names{4096};
  readiness ready;
  /// The node's metrics; every component registers here, /metrics renders it.
  metrics_registry_ptr metrics = std::make_shared<metrics_registry>();
  std::atomic<bool> shutting_down{false};
  caf::actor gateway;   // this node's published gateway
  caf::actor directory; // a directory_actor (runtime/directory.hpp), untyped here
                        // so this header does not pull in the interface
  caf::actor membership;
  /// Proven callers and their permissions (runtime/auth.hpp); set before
  /// the gateway starts. Does not enforce anything with --insecure.
  std::shared_ptr<auth::session_table> auth;
  /// This node's certificate and key, for proving itself to the peers it
  /// joins; null with --insecure.
  std::shared_ptr<const auth::signer> credentials;
  /// The member agent (runtime/member_agent.hpp). Send it a packed
  /// v1::JournalAppend (an envelope) to record an event in the decision
  /// journal, e.g. an injected fault; it forwards it to the controller.
  caf::actor agent;
  /// Link faults this node applies to its own sends (runtime/faults.hpp);
  /// disabled unless --enable-fault-injection.
  std::shared_ptr<fault_table> faults = std::make_shared<fault_table>(false, 0);
  caf::actor fault_agent; // runtime/fault_agent.hpp
  /// Outgoing cluster connections (runtime/source_connector.hpp); empty:
  /// CAF's own middleman actor.
  caf::actor connector;
  placement_feed placements;
  /// Routes added by role factories; read-only once the admin port opens.
  std::vector<admin_route> admin_routes;
};

using node_context_ptr = std::shared_ptr<node_context>;

/// Milliseconds since the epoch (wall clock, for display only).
int64_t wall_clock_ms();

} // namespace troupe
