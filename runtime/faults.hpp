// Built-in fault injection (docs/faults.md): a per-node table of link
// faults, consulted on every cross-node send the runtime makes, and the
// actor pieces that apply them.
//
// Faults are applied on the sending node: a send from A to B is dropped or
// delayed on A, from A's table entry for B. A partition is a drop rate of 1
// on every link across, set on every node involved. The table is off (and
// costs one atomic load per send) unless the node started with
// --enable-fault-injection.
//
// Consulted by: request_by_name / send_by_name (runtime/named.cpp) for
// every remote delivery, which includes every Raft message (the Raft
// shell's send_message goes through named_transport -> send_by_name), and
// by any other runtime sender through fault_table::on_send.
//
// Control traffic for faults (troupectl fault ..., the coordinator's
// requests to the nodes involved) goes gateway to gateway and is never
// subject to the table, so a partitioned node can always be healed.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

namespace troupe {

/// One directed link fault held by the sending node.
struct link_fault {
  double drop_rate = 0;               // [0, 1]
  std::chrono::milliseconds delay{0}; // added to every delivered message
  bool partitioned = false;           // drop everything (a cut)
  std::uint64_t dropped = 0;
  std::uint64_t delayed = 0;
};

/// What to do with one send.
struct send_verdict {
  bool drop = false;
  std::chrono::milliseconds delay{0}; // 0: send now
};

/// Thread-safe. Every call is cheap; on_send takes a lock only while at
/// least one fault is set.
class fault_table {
public:
  /// Longest delay a link may get, and most messages waiting in delays at
  /// once per node; beyond the latter a delayed message is dropped and
  /// counted (a delay must never grow memory without bound).
  static constexpr std::chrono::milliseconds max_delay{10'000};
  static constexpr std::size_t max_delayed_in_flight = 10'000;

  fault_table(bool enabled, std::uint64_t seed) :
    enabled_(enabled), rng_(seed) {}

  bool enabled() const {
    return enabled_;
  }

  /// The verdict for one message to node `to`. Counts drops and delays.
  send_verdict on_send(const std::string& to);

  /// Setters; each replaces that aspect of the link to `to`. Rates are
  /// clamped to [0, 1], delays to [0, max_delay]. A link with no fault left
  /// is removed.
  void set_drop(const std::string& to, double rate);
  void set_delay(const std::string& to, std::chrono::milliseconds delay);
  void set_partitioned(const std::string& to, bool cut);
  /// Removes every link fault; returns how many links had one.
  std::size_t heal();

  /// The links with a fault, by destination node.
  std::map<std::string, link_fault> links() const;

  /// Delayed messages now waiting (see max_delayed_in_flight).
  bool try_start_delay();
  void end_delay();

  std::uint64_t dropped_total() const {
    return dropped_total_.load();
  }
  std::uint64_t delayed_total() const {
    return delayed_total_.load();
  }

private:
  void prune(const std::string& to);

  const bool enabled_;
  mutable std::mutex mtx_;
  std::map<std::string, link_fault> links_;
  std::atomic<bool> any_{false};
  std::mt19937_64 rng_;
  std::atomic<std::size_t> delayed_in_flight_{0};
  std::atomic<std::uint64_t> dropped_total_{0};
  std::atomic<std::uint64_t> delayed_total_{0};
};

/// Parses `troupectl fault partition` groups: "A,B/C,D" -> {{A,B},{C,D}}.
/// Errors (empty side, a node on both sides, more than two sides, more
/// than 64 nodes) return false and say why in `error`.
bool parse_partition(const std::string& text, std::vector<std::string>& side_a,
                     std::vector<std::string>& side_b, std::string& error);

} // namespace troupe
