// Who may do what on a node: certificate identities mapped to permissions,
// proven at the application level (docs/security.md, "Permissions").
//
// CAF's openssl module checks that a peer's certificate chains to the CA but
// never tells the application which certificate it was. So a client proves
// its identity over the (already mutually authenticated) BASP connection:
//   1. (auth_atom, challenge_atom) -> (std::string node_id, std::string nonce)
//      The gateway answers its node id and a fresh random nonce bound to
//      the caller's CAF node id (one pending nonce per caller, 30 s).
//   2. (auth_atom, prove_atom, std::string cert_pem, std::string signature)
//      -> std::string role ("viewer", "admin" or "node")
//      `signature` is the caller's private key over proof_payload(node_id,
//      nonce). The gateway verifies the certificate chain against its CA and
//      the signature with the certificate's key, maps the subject to a role
//      and records a session for the caller's CAF node id, until the proving
//      actor goes down (connection lost) or the node restarts.
//      Errors: errc::permission_denied (bad chain, signature, nonce or
//      subject; too many sessions).
//
// Roles come from the certificate subject's OU (else O): "viewer", "admin"
// or "node" (deploy/tls/make-certs.sh). Any other value gets no role, and
// the proof is refused. A node certificate must also have CN = the node id
// it joins as. Permissions (the contract of this session's work streams):
//   viewer: read-only requests (status, members, actors, events, raft
//           status, kv reads);
//   admin:  additionally send, kill, fault, purge and dashboard actions;
//   node:   everything admin may, plus the internal cluster messages.
// With --insecure there is no TLS and no proof: every caller may do
// everything (session_table::enforcing() is false).
//
// Guarding a new gateway message: call `caller_may(self, permission::admin)`
// from runtime/gateway.hpp, or `ctx->auth->check(caller_node, ...)`, before
// acting, and return its error.
#pragma once

#include "runtime/tls.hpp"

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/node_id.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace troupe::auth {

/// What a request needs.
enum class permission : uint8_t { viewer, admin };

/// What a proven certificate is.
enum class role : uint8_t { viewer, admin, node };

/// "viewer", "admin", "node".
std::string_view name_of(role r);

/// The role of a certificate whose subject OU (else O) is `unit`.
std::optional<role> role_of_unit(std::string_view unit);

/// Whether `r` may do what needs `p`.
bool grants(role r, permission p);

/// A proven identity.
struct principal {
  std::string name;    // subject CN: node id or user name
  std::string subject; // whole subject, one line, for logs and errors
  role r = role::viewer;
};

/// The bytes a client signs: a context string, the gateway's node id and
/// the nonce, so a proof is good for one gateway and one challenge only.
std::string proof_payload(std::string_view node_id, std::string_view nonce);

/// A process's own certificate and key, loaded once, for proving.
class signer {
public:
  /// Reads `files.cert` and `files.key`. Errors: errc::invalid_argument.
  static caf::expected<std::shared_ptr<const signer>> load(const tls_files& files);

  /// The certificate (chain) as PEM, as sent in the proof.
  const std::string& cert_pem() const { return cert_pem_; }

  /// Signs `payload` (SHA-256, or the key's own scheme for Ed25519).
  caf::expected<std::string> sign(const std::string& payload) const;

  struct key;
  signer(std::string cert_pem, std::shared_ptr<key> k)
    : cert_pem_(std::move(cert_pem)), key_(std::move(k)) {}

private:
  std::string cert_pem_;
  std::shared_ptr<key> key_;
};

/// Checks proofs against the cluster's CA. Thread-safe.
class verifier {
public:
  /// Loads the CA certificate(s) of `ca_file`. Errors: invalid_argument.
  static caf::expected<std::shared_ptr<const verifier>> load(const std::string& ca_file);

  /// Verifies that `cert_pem` (at most 64 KiB) chains to the CA for client
  /// use, that `signature` is its key's signature over `payload`, and that
  /// its subject maps to a role. Errors: errc::permission_denied, saying why.
  caf::expected<principal> verify(const std::string& cert_pem,
                                  const std::string& payload,
                                  const std::string& signature) const;

  struct store;
  explicit verifier(std::shared_ptr<store> s) : store_(std::move(s)) {}

private:
  std::shared_ptr<store> store_;
};

/// The proven callers of one node, keyed by their CAF node id. Bounded:
/// max_sessions sessions and max_pending nonces. Thread-safe.
class session_table {
public:
  static constexpr size_t max_sessions = 4096;
  static constexpr size_t max_pending = 1024;
  static constexpr std::chrono::seconds nonce_ttl{30};

  /// `checker` null: --insecure, every caller may do everything.
  session_table(std::string self_node_id, std::shared_ptr<const verifier> checker);

  bool enforcing() const { return checker_ != nullptr; }

  /// A fresh nonce for `caller` (replacing its previous one).
  std::string challenge(const caf::node_id& caller);

  /// Checks a proof from `caller` against its pending nonce (consumed
  /// either way) and records the session.
  caf::expected<principal> prove(const caf::node_id& caller,
                                 const std::string& cert_pem,
                                 const std::string& signature);

  /// The session of `caller`, if it proved itself.
  std::optional<principal> find(const caf::node_id& caller) const;

  /// Drops the session of `caller` (its proving actor went down).
  void forget(const caf::node_id& caller);

  /// none if `caller` may do `what` (for messages: "send", "kill"), else
  /// errc::permission_denied naming what is needed and who the caller is.
  caf::error check(const caf::node_id& caller, permission needed,
                   const std::string& what) const;

  /// The number of refused proofs and requests, for metrics and tests.
  uint64_t refused() const;

private:
  struct pending {
    std::string nonce;
    std::chrono::steady_clock::time_point expires;
  };

  std::string self_;
  std::shared_ptr<const verifier> checker_;
  mutable std::mutex mtx_;
  std::map<std::string, pending> pending_;      // caller node id -> nonce
  std::map<std::string, principal> sessions_;   // caller node id -> who
  mutable uint64_t refused_ = 0;
};

} // namespace troupe::auth
