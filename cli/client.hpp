// troupectl's connection to one node's gateway.
#pragma once

#include "cli/outcome.hpp"
#include "net/address.hpp"
#include "net/envelope.hpp"
#include "runtime/auth.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include <chrono>
#include <string>

namespace troupe::cli {

class client {
public:
  client(caf::actor_system& sys, host_port endpoint,
         std::chrono::milliseconds timeout);

  /// Connects to the endpoint's gateway. Fails with exit_unreachable.
  caf::expected<caf::actor> connect();

  /// Proves this client's certificate identity to `gateway`
  /// (runtime/auth.hpp); returns the granted role.
  caf::expected<std::string> prove(const caf::actor& gateway,
                                   const auth::signer& me);

  /// Sends `xs...` to the gateway and waits up to the client's timeout for
  /// an envelope reply.
  template <class... Ts>
  caf::expected<envelope> ask(const caf::actor& gateway, Ts&&... xs) {
    return ask_within(gateway, timeout_, std::forward<Ts>(xs)...);
  }

  /// As ask(), waiting at most `timeout` (retry loops pass what is left of
  /// their deadline).
  template <class... Ts>
  caf::expected<envelope> ask_within(const caf::actor& gateway,
                                     std::chrono::milliseconds timeout,
                                     Ts&&... xs) {
    caf::expected<envelope> result{caf::error{}};
    self_->request(gateway, timeout, std::forward<Ts>(xs)...)
        .receive([&](envelope& reply) { result = std::move(reply); },
                 [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  const host_port& endpoint() const noexcept {
    return endpoint_;
  }
  std::chrono::milliseconds timeout() const noexcept {
    return timeout_;
  }

private:
  caf::actor_system& sys_;
  host_port endpoint_;
  std::chrono::milliseconds timeout_;
  caf::scoped_actor self_;
};

} // namespace troupe::cli
