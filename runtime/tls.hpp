// Transport security for troupe's BASP connections (cluster port, troupectl):
// mutual TLS through CAF's openssl module, or plain TCP only when the
// operator says --insecure. docs/security.md explains the model.
//
// CAF 0.17's openssl module loads certificates lazily, once per connection,
// and reports a bad file as an exception (abort) or a hang, and without any
// openssl.* key it silently falls back to an anonymous cipher
// (caf-0.17-notes §5). So a process checks its files with check_tls_files()
// before it starts its actor system, and configure_transport() always sets
// the certificate, key and CA when TLS is on.
#pragma once

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/expected.hpp>
#include <caf/io/middleman_actor.hpp>

#include <cstdint>
#include <string>

namespace troupe {

/// The PEM files of one process: the CA that signs every cluster
/// certificate, this process's certificate (chain) and its private key.
struct tls_files {
  std::string ca;
  std::string cert;
  std::string key;

  bool empty() const {
    return ca.empty() && cert.empty() && key.empty();
  }
};

/// How a process talks BASP: TLS with `files`, or plain TCP if `insecure`.
struct transport_security {
  bool insecure = false;
  tls_files files;
};

/// What check_tls_files() learned about the certificate.
struct tls_identity {
  std::string subject;     // one line, e.g. "CN=n1, OU=node, O=troupe"
  std::string common_name; // CN, may be empty
  std::string unit;        // OU, else O; may be empty
};

/// Loads the three files into a throw-away SSL_CTX and checks that each
/// parses, that the key matches the certificate and that the certificate
/// chains to the CA and is valid now. `flag_prefix` names the options in
/// errors ("--tls-" gives "--tls-cert /x.pem: ..."). Errors:
/// errc::invalid_argument with one line naming the file and the problem.
caf::expected<tls_identity> check_tls_files(const tls_files& files,
                                            const std::string& flag_prefix
                                            = "--tls-");

/// Errors unless exactly one of "TLS files" or "insecure" is chosen: all
/// three files, or none of them with `insecure`. `program` starts the hint
/// ("troupe-node" or "troupectl").
caf::error check_transport_choice(const transport_security& sec,
                                  const std::string& program);

/// Loads CAF's openssl module and sets openssl.certificate, .key and .cafile
/// when TLS is on; does nothing for insecure. Call after configure_caf().
void configure_transport(caf::actor_system_config& cfg,
                         const transport_security& sec);

/// True if `sys` talks TLS (its config loaded the openssl module).
bool tls_enabled(caf::actor_system& sys);

/// The actor that opens BASP connections (connect_atom): the openssl
/// module's when TLS is on, else the middleman's. Use it for every
/// outgoing connection, so a TLS node never dials plain TCP.
caf::io::middleman_actor connection_manager(caf::actor_system& sys);

/// Publishes `whom` on host:port (TLS or plain, as the system is
/// configured). Returns the bound port.
caf::expected<uint16_t> publish_actor(caf::actor_system& sys,
                                      const caf::actor& whom,
                                      const std::string& host, uint16_t port);

/// Closes `port` again.
void unpublish_actor(caf::actor_system& sys, const caf::actor& whom,
                     uint16_t port);

/// Installs the logging of refused TLS handshakes (see tls_diagnostics.cpp):
/// every failed peer verification and every fatal TLS alert, with the peer
/// address, is logged through the "tls" logger. Idempotent.
void enable_tls_diagnostics();

} // namespace troupe
