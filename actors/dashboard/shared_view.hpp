// What the dashboard actor shares with its HTTP handlers, which run on the
// middleman's I/O thread and must not wait for the actor: the last
// published state, the options, and counters. Thread-safe.
#pragma once

#include "net/websocket_server.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace troupe::dashboard {

struct options {
  std::string node_id;
  /// Empty: read-only, no actions.
  std::string token;
  std::vector<std::string> allow_origins;
  /// Browsers connected at once; more are refused with 503.
  size_t max_clients = 64;
  /// Failed auth attempts before a connection is closed with 1008.
  int max_auth_failures = 3;
  ws_server_options ws;
};

class shared_view {
public:
  explicit shared_view(options opts) : opts_(std::move(opts)) {}

  const options& opts() const {
    return opts_;
  }

  void publish(std::shared_ptr<const nlohmann::json> state) {
    std::lock_guard guard{mtx_};
    state_ = std::move(state);
  }

  /// The last published state (never null: empty sections before the first).
  std::shared_ptr<const nlohmann::json> state() const {
    std::lock_guard guard{mtx_};
    if (!state_)
      return std::make_shared<const nlohmann::json>(nlohmann::json::object());
    return state_;
  }

  std::atomic<size_t> clients{0};
  std::shared_ptr<ws_server_stats> ws_stats = std::make_shared<ws_server_stats>();

private:
  options opts_;
  mutable std::mutex mtx_;
  std::shared_ptr<const nlohmann::json> state_;
};

using shared_view_ptr = std::shared_ptr<shared_view>;

} // namespace troupe::dashboard
