// Logging why a TLS handshake failed, on the side that refused it; and a
// fix for CAF's use of OpenSSL's error queue.
//
// CAF's openssl module builds one SSL_CTX per connection, calls
// SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | ..._FAIL_IF_NO_PEER_CERT, nullptr)
// and, when the handshake fails, closes the socket without a word: the
// application never learns that a peer was refused, nor why
// ("TODO: Log somehow?" in its session.cpp). There is no hook in CAF's API.
//
// So troupe defines SSL_CTX_set_verify itself. The dynamic linker binds
// libcaf_openssl's call to this definition (an executable's symbols come
// first; the linker exports it because a shared library on the link line
// references it). It forwards to OpenSSL's real function (dlsym RTLD_NEXT)
// with the same mode, adding a verify callback that never changes
// OpenSSL's decision (it returns preverify_ok as given) and an info
// callback; both only log. Only when enable_tls_diagnostics() was called and
// CAF passes no callback of its own; otherwise the call is forwarded as is.
//
// Logged (logger "tls", rate-limited to 20 lines a second so a scanner cannot
// flood the log), each with the peer address: a peer certificate that fails
// verification (reason, depth, subject); a handshake that ends in an error
// (OpenSSL's reason, e.g. "peer did not return a certificate", "wrong
// version number" for plain TCP, "tlsv1 alert unknown ca" when the peer
// refused ours). Alerts are not logged on their own: a client that exits
// right after its last request makes the server send "decode error" on an
// accepted connection, once per troupectl call.
//
// The error queue. OpenSSL keeps errors in a per-thread queue and requires
// it to be empty before each SSL_read/SSL_write/SSL_accept/SSL_connect,
// because SSL_get_error() reports SSL_ERROR_SSL whenever the queue holds
// anything. CAF never clears it. So one refused handshake (a rogue peer, a
// plain-TCP node) leaves its errors on the multiplexer thread, and the next
// healthy connection whose read merely would block is taken for broken and
// closed: a good node's connection dropped ("member n4 down: connection lost
// (remote_link_unreachable)") each time a rogue node retried its join,
// found by tests/integration/tls_test.cpp. So troupe also defines those four
// functions, clearing the queue and then calling OpenSSL's own, which is
// what OpenSSL's documentation asks of every caller.
#include "runtime/tls.hpp"

#include "runtime/logging.hpp"
#include "runtime/tls_util.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <chrono>

namespace troupe {

namespace {

std::atomic<bool> diagnostics_on{false};

constexpr int64_t max_lines_per_second = 20;
std::atomic<int64_t> window_second{0};
std::atomic<int64_t> window_lines{0};

bool may_log() {
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::steady_clock::now().time_since_epoch())
               .count();
  auto seen = window_second.load();
  if (seen != now && window_second.compare_exchange_strong(seen, now))
    window_lines = 0;
  return ++window_lines <= max_lines_per_second;
}

std::string socket_peer(const SSL* ssl) {
  int fd = ssl ? SSL_get_fd(ssl) : -1;
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (fd < 0 || getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return "unknown peer";
  char host[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  if (addr.ss_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
    port = ntohs(in->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    port = ntohs(in6->sin6_port);
  }
  return std::string{host} + ":" + std::to_string(port);
}

// The peer address, remembered when the handshake starts: once the peer
// has closed its end, getpeername() fails.
void free_address(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<std::string*>(ptr);
}

int address_index() {
  static int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr,
                                          free_address);
  return index;
}

void remember_peer(const SSL* ssl) {
  auto* s = const_cast<SSL*>(ssl);
  if (SSL_get_ex_data(s, address_index()) == nullptr)
    SSL_set_ex_data(s, address_index(), new std::string{socket_peer(ssl)});
}

std::string peer_address(const SSL* ssl) {
  if (ssl != nullptr)
    if (auto* known = static_cast<std::string*>(
          SSL_get_ex_data(const_cast<SSL*>(ssl), address_index())))
      return *known;
  return socket_peer(ssl);
}

const char* side(const SSL* ssl) {
  return SSL_is_server(const_cast<SSL*>(ssl)) ? "incoming" : "outgoing";
}

int log_verify(int preverify_ok, X509_STORE_CTX* store) {
  if (preverify_ok == 1 || !may_log())
    return preverify_ok;
  auto* ssl = static_cast<SSL*>(
    X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto id = identity_of(X509_STORE_CTX_get_current_cert(store));
  logger_for("tls")->warn(
    "refused the certificate of {} TLS peer {}: {} (depth {}, subject {})",
    side(ssl), peer_address(ssl),
    X509_verify_cert_error_string(X509_STORE_CTX_get_error(store)),
    X509_STORE_CTX_get_error_depth(store), id.subject);
  return preverify_ok;
}

// A fatal alert, sent or received, ends a handshake; warnings do not.
// SSL_CB_EXIT with ret <= 0 also fires when a non-blocking handshake merely
// waits for the socket; only an error on the queue means it failed.
void log_handshake(const SSL* ssl, int where, int ret) {
  if ((where & SSL_CB_HANDSHAKE_START) != 0) {
    remember_peer(ssl);
    return;
  }
  if ((where & SSL_CB_EXIT) == 0 || ret > 0 || SSL_is_init_finished(ssl))
    return;
  auto code = ERR_peek_last_error();
  if (code == 0 || !may_log())
    return;
  char reason[256];
  ERR_error_string_n(code, reason, sizeof(reason));
  logger_for("tls")->warn("TLS handshake with {} peer {} failed: {}",
                          side(ssl), peer_address(ssl), reason);
}

} // namespace

void enable_tls_diagnostics() {
  diagnostics_on = true;
}

} // namespace troupe

namespace {

// OpenSSL's definition of `name`, the next one after this executable's.
template <class Fn>
Fn real_function(const char* name) {
  auto fn = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
  if (fn == nullptr) {
    // Cannot happen with libssl loaded; there is no safe way to go on.
    std::fprintf(stderr, "troupe: cannot find OpenSSL's %s\n", name);
    std::abort();
  }
  return fn;
}

} // namespace

extern "C" int SSL_read(SSL* ssl, void* buf, int num) {
  static auto real = real_function<int (*)(SSL*, void*, int)>("SSL_read");
  ERR_clear_error();
  return real(ssl, buf, num);
}

extern "C" int SSL_write(SSL* ssl, const void* buf, int num) {
  static auto real = real_function<int (*)(SSL*, const void*, int)>("SSL_write");
  ERR_clear_error();
  return real(ssl, buf, num);
}

extern "C" int SSL_accept(SSL* ssl) {
  static auto real = real_function<int (*)(SSL*)>("SSL_accept");
  ERR_clear_error();
  return real(ssl);
}

extern "C" int SSL_connect(SSL* ssl) {
  static auto real = real_function<int (*)(SSL*)>("SSL_connect");
  ERR_clear_error();
  return real(ssl);
}

extern "C" void SSL_CTX_set_verify(SSL_CTX* ctx, int mode,
                                   SSL_verify_cb callback) {
  // Never return without setting the verify mode: that would turn peer
  // verification off; real_function() aborts rather than return null.
  static auto real = real_function<void (*)(SSL_CTX*, int, SSL_verify_cb)>(
    "SSL_CTX_set_verify");
  if (!troupe::diagnostics_on || callback != nullptr
      || (mode & SSL_VERIFY_PEER) == 0) {
    real(ctx, mode, callback);
    return;
  }
  real(ctx, mode, troupe::log_verify);
  SSL_CTX_set_info_callback(ctx, troupe::log_handshake);
}
