#include "runtime/tls.hpp"

#include "net/errors.hpp"
#include "runtime/tls_util.hpp"

#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>
#include <caf/send.hpp>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace troupe {

namespace {

caf::error bad(const std::string& flag, const std::string& path,
               const std::string& problem) {
  return make_error(errc::invalid_argument, flag + " " + path + ": " + problem);
}

// Refuses missing or unreadable files with the OS's reason, before OpenSSL
// turns them into "no start line".
caf::error readable(const std::string& flag, const std::string& path) {
  if (path.empty())
    return make_error(errc::invalid_argument, flag + " is not set");
  std::unique_ptr<FILE, int (*)(FILE*)> f{std::fopen(path.c_str(), "r"),
                                          &std::fclose};
  if (!f)
    return bad(flag, path, std::strerror(errno));
  return caf::none;
}

// A passphrase callback that refuses, so an encrypted key fails to load
// instead of OpenSSL prompting on the terminal.
int no_passphrase(char*, int, int, void*) {
  return 0;
}

caf::error load_into(SSL_CTX* ctx, const tls_files& files,
                     const std::string& prefix) {
  if (SSL_CTX_use_certificate_chain_file(ctx, files.cert.c_str()) != 1)
    return bad(prefix + "cert", files.cert,
               "not a PEM certificate (chain): " + ssl_error_text());
  SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
  if (SSL_CTX_use_PrivateKey_file(ctx, files.key.c_str(), SSL_FILETYPE_PEM) != 1)
    return bad(prefix + "key", files.key,
               "cannot load the private key (troupe needs an unencrypted PEM "
               "key; keep it mode 0600): "
                 + ssl_error_text());
  if (SSL_CTX_check_private_key(ctx) != 1)
    return bad(prefix + "key", files.key,
               "does not match the certificate " + files.cert);
  if (SSL_CTX_load_verify_locations(ctx, files.ca.c_str(), nullptr) != 1)
    return bad(prefix + "ca", files.ca,
               "not a PEM CA certificate: " + ssl_error_text());
  return caf::none;
}

} // namespace

caf::expected<tls_identity> check_tls_files(const tls_files& files,
                                            const std::string& prefix) {
  for (auto [flag, path] : {std::pair{"ca", &files.ca}, {"cert", &files.cert},
                            {"key", &files.key}})
    if (auto err = readable(prefix + flag, *path))
      return err;
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> ctx{SSL_CTX_new(TLS_method()),
                                                   &SSL_CTX_free};
  if (!ctx)
    return make_error(errc::invalid_argument,
                      "cannot create an OpenSSL context: " + ssl_error_text());
  if (auto err = load_into(ctx.get(), files, prefix))
    return err;
  auto* leaf = SSL_CTX_get0_certificate(ctx.get());
  STACK_OF(X509)* chain = nullptr;
  SSL_CTX_get0_chain_certs(ctx.get(), &chain);
  auto verdict = verify_against(SSL_CTX_get_cert_store(ctx.get()), leaf, chain);
  if (!verdict.empty())
    return bad(prefix + "cert", files.cert,
               "is not valid for " + prefix + "ca " + files.ca + ": " + verdict);
  return identity_of(leaf);
}

caf::error check_transport_choice(const transport_security& sec,
                                  const std::string& program) {
  const auto& f = sec.files;
  bool any = !f.ca.empty() || !f.cert.empty() || !f.key.empty();
  bool all = !f.ca.empty() && !f.cert.empty() && !f.key.empty();
  if (sec.insecure && any)
    return make_error(errc::invalid_argument,
                      "--insecure and --tls-* are mutually exclusive; choose "
                      "TLS (--tls-ca, --tls-cert, --tls-key) or --insecure");
  if (sec.insecure || all)
    return caf::none;
  if (any)
    return make_error(errc::invalid_argument,
                      "TLS needs all of --tls-ca, --tls-cert and --tls-key "
                      "(missing: "
                        + std::string{f.ca.empty() ? "--tls-ca " : ""}
                        + (f.cert.empty() ? "--tls-cert " : "")
                        + (f.key.empty() ? "--tls-key" : "") + ")");
  return make_error(
    errc::invalid_argument,
    program + " needs TLS files (--tls-ca, --tls-cert, --tls-key; "
              "deploy/tls/make-certs.sh makes development ones) or an explicit "
              "--insecure for plain TCP on a development machine "
              "(docs/security.md)");
}

void configure_transport(caf::actor_system_config& cfg,
                         const transport_security& sec) {
  if (sec.insecure)
    return;
  enable_tls_diagnostics();
  cfg.load<caf::openssl::manager>();
  // All three are always set: any openssl.* key turns on peer verification
  // (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, no anonymous cipher).
  cfg.openssl_certificate = sec.files.cert;
  cfg.openssl_key = sec.files.key;
  cfg.openssl_cafile = sec.files.ca;
}

bool tls_enabled(caf::actor_system& sys) {
  return sys.has_openssl_manager();
}

caf::io::middleman_actor connection_manager(caf::actor_system& sys) {
  if (tls_enabled(sys))
    return sys.openssl_manager().actor_handle();
  return sys.middleman().actor_handle();
}

caf::expected<uint16_t> publish_actor(caf::actor_system& sys,
                                      const caf::actor& whom,
                                      const std::string& host, uint16_t port) {
  if (tls_enabled(sys))
    return caf::openssl::publish(whom, port, host.c_str(), true);
  return sys.middleman().publish(whom, port, host.c_str(), true);
}

void unpublish_actor(caf::actor_system& sys, const caf::actor& whom,
                     uint16_t port) {
  // caf/openssl/unpublish.hpp does not compile in 0.17.6 (its function
  // view asks for a reply the interface does not declare), so the close
  // request goes to the openssl module's actor directly.
  if (tls_enabled(sys))
    caf::anon_send(sys.openssl_manager().actor_handle(),
                   caf::unpublish_atom::value, whom.address(), port);
  else
    sys.middleman().unpublish(whom, port);
}

} // namespace troupe
