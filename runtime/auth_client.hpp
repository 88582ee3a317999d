// The client side of the identity proof (runtime/auth.hpp): ask a gateway
// for a challenge, sign it with this process's key, send the proof. Used by
// troupectl and test clients (blocking) and by the membership actor when a
// node joins a peer (asynchronous).
#pragma once

#include "runtime/auth.hpp"
#include "runtime/type_ids.hpp"

#include <caf/actor.hpp>
#include <caf/scoped_actor.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace troupe::auth {

/// Proves `me` to `gateway`, waiting at most `timeout` per step. Returns
/// the role the gateway granted ("viewer", "admin" or "node"). Errors: the
/// gateway's errc::permission_denied, or a transport error.
caf::expected<std::string> prove_blocking(caf::scoped_actor& self,
                                          const caf::actor& gateway,
                                          const signer& me,
                                          std::chrono::milliseconds timeout);

/// The same from an event-based actor: calls on_ok() or on_error(error).
template <class Self, class OnOk, class OnError>
void prove_async(Self* self, const caf::actor& gateway,
                 std::shared_ptr<const signer> me,
                 std::chrono::milliseconds timeout, OnOk on_ok,
                 OnError on_error) {
  self->request(gateway, timeout, auth_atom_v, challenge_atom_v)
    .then(
      [=](const std::string& node_id, const std::string& nonce) {
        auto sig = me->sign(proof_payload(node_id, nonce));
        if (!sig) {
          on_error(sig.error());
          return;
        }
        self->request(gateway, timeout, auth_atom_v, prove_atom_v,
                      me->cert_pem(), *sig)
          .then([=](const std::string&) { on_ok(); },
                [=](caf::error& err) { on_error(err); });
      },
      [=](caf::error& err) { on_error(err); });
}

} // namespace troupe::auth
