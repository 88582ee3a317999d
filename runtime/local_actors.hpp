// The node-local table of supervised actors: who they are, where they sit in
// the supervision tree, and how to reach them by name.
//
// Supervisors write it (on start, exit, restart, escalation); the router reads
// it to deliver messages by name; `troupectl actors` and /readyz read
// snapshots of it. All members are thread-safe.
#pragma once

#include <caf/actor.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

namespace troupe {

/// A bounded mailbox for messages delivered by name.
///
/// CAF 0.17's mailbox is an unbounded lock-free stack whose enqueue cannot
/// refuse, so the bound is enforced one step earlier: every delivery by name
/// (local or from another node) enters the gate before it is enqueued and
/// leaves it when the actor starts handling it. A full gate rejects the
/// message with `errc::mailbox_full` and counts it as dropped. Messages that
/// bypass naming (supervision signals, plain in-node structs) are not gated.
class mailbox_gate {
public:
  explicit mailbox_gate(uint64_t capacity) : capacity_(capacity) {}

  /// Reserves one slot. Returns false (and counts a drop) when full.
  bool try_enter() noexcept {
    auto cur = size_.load(std::memory_order_relaxed);
    do {
      if (cur >= capacity_) {
        dropped_.fetch_add(1, std::memory_order_relaxed);
        return false;
      }
    } while (!size_.compare_exchange_weak(cur, cur + 1,
                                          std::memory_order_relaxed));
    accepted_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  /// Releases one slot; called by the actor when it starts on a message.
  /// Saturates at zero, so a stray leave cannot wrap the counter.
  void leave() noexcept {
    auto cur = size_.load(std::memory_order_relaxed);
    while (cur > 0 && !size_.compare_exchange_weak(cur, cur - 1,
                                                   std::memory_order_relaxed)) {
    }
  }

  /// Releases every slot; called when an incarnation dies with messages
  /// still queued (they are lost with it and their senders time out).
  void reset() noexcept { size_.store(0, std::memory_order_relaxed); }

  uint64_t size() const noexcept { return size_.load(std::memory_order_relaxed); }
  uint64_t capacity() const noexcept { return capacity_; }
  uint64_t dropped() const noexcept {
    return dropped_.load(std::memory_order_relaxed);
  }
  /// Messages let in since the gate was made (across restarts): the
  /// dashboard's and /metrics' message rate.
  uint64_t accepted() const noexcept {
    return accepted_.load(std::memory_order_relaxed);
  }

private:
  const uint64_t capacity_;
  std::atomic<uint64_t> size_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> accepted_{0};
};

/// One actor in the node's supervision tree.
struct local_actor_entry {
  std::string name;        // logical name, unique per cluster: "probe/n1", "sup/node"
  std::string type;        // "supervisor" or the worker's type, e.g. "probe"
  std::string parent;      // the supervisor's name; empty for the root
  uint32_t order = 0;      // start position among its siblings
  caf::actor handle;       // current incarnation; invalid while restarting/stopped
  std::shared_ptr<mailbox_gate> gate; // null for actors not reachable by name
  std::string status;      // running, restarting, stopped, escalated
  std::string kind;        // permanent, transient, temporary
  std::string strategy;    // supervisors only
  uint32_t restarts = 0;   // restarts by its supervisor since the supervisor started
  uint32_t escalations = 0;
  uint64_t incarnation = 0; // 1 on first start, +1 per restart
  std::string last_exit;   // rendered reason of the last exit
};

/// A thread-safe table of local_actor_entry, keyed by name.
class local_actors {
public:
  /// Inserts or replaces the entry with the same name.
  void upsert(local_actor_entry entry);

  /// Applies `fn` to the entry named `name`, if any. Returns whether it existed.
  bool update(const std::string& name,
              const std::function<void(local_actor_entry&)>& fn);

  /// Removes the entry named `name`, and every entry below it in the tree.
  void erase_subtree(const std::string& name);

  /// The current handle and gate of a name reachable by name, if any.
  struct route {
    caf::actor handle;
    std::shared_ptr<mailbox_gate> gate;
  };
  std::optional<route> find_route(const std::string& name) const;

  std::optional<local_actor_entry> find(const std::string& name) const;

  /// A consistent copy of every entry, ordered by name.
  std::vector<local_actor_entry> snapshot() const;

  /// Names of every entry reachable by name.
  std::vector<std::string> routable_names() const;

private:
  mutable std::shared_mutex mtx_;
  std::map<std::string, local_actor_entry> entries_;
};

} // namespace troupe
