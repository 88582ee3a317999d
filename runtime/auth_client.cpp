#include "runtime/auth_client.hpp"

#include "net/errors.hpp"

namespace troupe::auth {

caf::expected<std::string> prove_blocking(caf::scoped_actor& self,
                                          const caf::actor& gateway,
                                          const signer& me,
                                          std::chrono::milliseconds timeout) {
  caf::expected<std::string> result{caf::error{}};
  std::string node_id;
  std::string nonce;
  self->request(gateway, timeout, auth_atom_v, challenge_atom_v)
    .receive(
      [&](std::string& id, std::string& n) {
        node_id = std::move(id);
        nonce = std::move(n);
      },
      [&](caf::error& err) { result = std::move(err); });
  if (nonce.empty())
    return result ? caf::expected<std::string>{make_error(
             errc::unexpected_message, "the gateway sent an empty challenge")}
                  : result;
  auto sig = me.sign(proof_payload(node_id, nonce));
  if (!sig)
    return sig.error();
  self->request(gateway, timeout, auth_atom_v, prove_atom_v, me.cert_pem(), *sig)
    .receive([&](std::string& role) { result = std::move(role); },
             [&](caf::error& err) { result = std::move(err); });
  return result;
}

} // namespace troupe::auth
