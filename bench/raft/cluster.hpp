// One three-member cluster under test, etcd or troupe, behind one interface
// so that every scenario (throughput, idle, failover) runs both the same way.
// A cluster owns its member processes: it starts them, kills and restarts
// them by PID, and stops them all in stop() (and in its destructor).
#pragma once

#include "load.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace troupe::kvbench {

/// One member's view of the cluster, from its own status API.
struct member_view {
  bool reachable = false;
  std::string id;     // this member (troupe: node id; etcd: member id)
  std::string leader; // the leader it knows, "" = none
  uint64_t term = 0;
  uint64_t applied = 0; // applied log index
  uint32_t voters = 0;  // voting members it knows, 0 = not reported
  std::string error;    // why it is unreachable
};

class cluster {
public:
  virtual ~cluster() = default;

  /// "etcd" or "troupe".
  virtual std::string name() const = 0;
  virtual size_t size() const = 0;
  /// Version and command line of member 0, for the report.
  virtual std::string command_line() const = 0;

  /// Starts every member with empty data dirs; fatal on failure.
  virtual void start() = 0;
  /// Stops every running member by PID (SIGTERM, SIGKILL after a grace).
  virtual void stop() = 0;
  /// SIGKILLs member `i` and reaps it.
  virtual void kill_member(size_t i) = 0;
  /// Starts member `i` again on its existing data dir.
  virtual void restart_member(size_t i) = 0;

  virtual member_view status(size_t i, std::chrono::milliseconds timeout) = 0;

  /// Runs the load against member `i`.
  virtual load_result run_load(size_t i, const load_shape& shape) = 0;

  /// Puts through every member in `targets` as `timing` says until one put
  /// succeeds; returns when its reply arrived, or nothing at `deadline`.
  /// Every put is sent after the call began.
  virtual std::optional<bench_clock::time_point>
  first_write(const std::vector<size_t>& targets, const probe_timing& timing,
              bench_clock::time_point deadline)
      = 0;

  /// A short name of member `i` for the report: e1, n2...
  virtual std::string member_label(size_t i) const = 0;
};

/// Polls every member until all are reachable and agree on one leader and
/// term, and the leader counts every member as a voter (a troupe member
/// joins as a learner first); returns the leader's index, nothing after
/// `timeout`.
std::optional<size_t> wait_for_leader(cluster& c,
                                      std::chrono::milliseconds timeout);

/// Like wait_for_leader, and also waits until every member applied the
/// same index (a restarted member caught up).
std::optional<size_t> wait_until_healthy(cluster& c,
                                         std::chrono::milliseconds timeout);

/// Every member's view, for the report and for term counting.
std::vector<member_view> status_all(cluster& c,
                                    std::chrono::milliseconds timeout);

/// The highest term any reachable member reports.
uint64_t max_term(const std::vector<member_view>& views);

} // namespace troupe::kvbench
