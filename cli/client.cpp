#include "cli/client.hpp"

#include "runtime/auth_client.hpp"
#include "runtime/defaults.hpp"
#include "runtime/tls.hpp"

#include <caf/io/middleman.hpp>

#include <set>

namespace troupe::cli {

client::client(caf::actor_system& sys, host_port endpoint,
               std::chrono::milliseconds timeout) :
  sys_(sys),
  endpoint_(std::move(endpoint)), timeout_(timeout), self_(sys) {}

caf::expected<caf::actor> client::connect() {
  // The middleman actor's connect has a real timeout; the blocking
  // remote_actor() would hang on a peer that accepts TCP but never answers.
  auto mm = connection_manager(sys_);
  caf::expected<caf::actor> result{caf::error{}};
  self_
      ->request(mm, defaults::cli_connect_timeout, caf::connect_atom::value,
                endpoint_.host, endpoint_.port)
      .receive(
          [&](const caf::node_id&, caf::strong_actor_ptr& ptr,
              const std::set<std::string>&) {
            if (ptr)
              result = caf::actor_cast<caf::actor>(ptr);
            else
              result
                  = make_error(errc::unreachable, "no gateway published at "
                                                      + endpoint_.to_string());
          },
          [&](caf::error& err) { result = std::move(err); });
  return result;
}

caf::expected<std::string> client::prove(const caf::actor& gateway,
                                         const auth::signer& me) {
  return auth::prove_blocking(self_, gateway, me, defaults::cli_connect_timeout);
}

} // namespace troupe::cli
