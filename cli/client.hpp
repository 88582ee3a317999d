// troupectl's connection to one node's gateway.
#pragma once

#include "net/address.hpp"
#include "net/envelope.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include <chrono>
#include <string>

namespace troupe::cli {

/// Exit codes of troupectl.
enum exit_code : int {
  exit_ok = 0,
  exit_failed = 1,       // the command reached a node and failed
  exit_usage = 2,        // bad flags or arguments
  exit_unreachable = 3,  // no node reachable at the endpoint
};

/// A failure to report: one line for stderr and the exit code.
struct failure {
  int code = exit_failed;
  std::string message;
};

class client {
public:
  client(caf::actor_system& sys, host_port endpoint,
         std::chrono::milliseconds timeout);

  /// Connects to the endpoint's gateway. Fails with exit_unreachable.
  caf::expected<caf::actor> connect();

  /// Sends `xs...` to the gateway and waits for an envelope reply.
  template <class... Ts>
  caf::expected<envelope> ask(const caf::actor& gateway, Ts&&... xs) {
    caf::expected<envelope> result{caf::error{}};
    self_->request(gateway, timeout_, std::forward<Ts>(xs)...)
      .receive([&](envelope& reply) { result = std::move(reply); },
               [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  const host_port& endpoint() const noexcept { return endpoint_; }

private:
  caf::actor_system& sys_;
  host_port endpoint_;
  std::chrono::milliseconds timeout_;
  caf::scoped_actor self_;
};

} // namespace troupe::cli
