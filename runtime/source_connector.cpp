#include "runtime/source_connector.hpp"

#include <caf/io/basp_broker.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor_impl.hpp>
#include <caf/io/network/default_multiplexer.hpp>
#include <caf/io/network/native_socket.hpp>
#include <caf/io/network/stream_impl.hpp>
#include <caf/io/scribe.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/session.hpp>
#include <caf/sec.hpp>

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace troupe {

namespace {

namespace net = caf::io::network;
using caf::io::network::native_socket;

// -- sockets ------------------------------------------------------------------

// An IPv4 or IPv6 literal with a port; the family comes from the literal.
struct socket_address {
  sockaddr_storage storage{};
  socklen_t size = 0;
  int family = AF_UNSPEC;
};

bool parse_address(const std::string& host, uint16_t port,
                   socket_address& out) {
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    out.size = sizeof(sockaddr_in);
    out.family = AF_INET;
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    out.size = sizeof(sockaddr_in6);
    out.family = AF_INET6;
    return true;
  }
  return false;
}

caf::error connect_error(const char* what, const std::string& host,
                         uint16_t port) {
  return caf::make_error(caf::sec::cannot_connect_to_node, what, host, port);
}

// Waits for a non-blocking connect to finish; false on timeout or failure.
bool finish_connect(int fd, std::chrono::milliseconds timeout,
                    const char*& what) {
  pollfd p{fd, POLLOUT, 0};
  auto n = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (n == 0) {
    what = "connect timed out";
    return false;
  }
  int err = 0;
  socklen_t len = sizeof(err);
  if (n < 0 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0
      || err != 0) {
    what = "connect failed";
    return false;
  }
  return true;
}

// socket(), bind(source, port 0), connect() with a timeout. The socket is
// left non-blocking, as CAF's multiplexer wants it.
caf::expected<native_socket> bound_connect(const std::string& source,
                                           const std::string& host,
                                           uint16_t port,
                                           std::chrono::milliseconds timeout) {
  socket_address local, remote;
  if (!parse_address(host, port, remote))
    return connect_error("not an IP address", host, port);
  if (!parse_address(source, 0, local) || local.family != remote.family)
    return connect_error("bad source address", source, 0);
  int fd
      = ::socket(remote.family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return connect_error("socket failed", host, port);
  const char* what = nullptr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local.storage), local.size)
      != 0) {
    what = "bind failed";
  } else if (::connect(fd, reinterpret_cast<sockaddr*>(&remote.storage),
                       remote.size)
                 != 0
             && (errno != EINPROGRESS || !finish_connect(fd, timeout, what))) {
    what = what ? what : "connect failed";
  }
  if (what) {
    ::close(fd);
    return connect_error(what, host, port);
  }
  return fd;
}

// -- TLS
// ------------------------------------------------------------------------

// The protocol policy of a TLS stream: every read and write goes through
// the OpenSSL session, which also drives the handshake.
class tls_policy {
public:
  explicit tls_policy(caf::openssl::session_ptr session) :
    session_(std::move(session)) {}

  net::rw_state read_some(size_t& result, native_socket fd, void* buf,
                          size_t len) {
    return session_->read_some(result, fd, buf, len);
  }
  net::rw_state write_some(size_t& result, native_socket fd, const void* buf,
                           size_t len) {
    return session_->write_some(result, fd, buf, len);
  }
  bool must_read_more(native_socket fd, size_t threshold) {
    return session_->must_read_more(fd, threshold);
  }

private:
  caf::openssl::session_ptr session_;
};

// A scribe over a TLS stream. The first configure_read starts the stream and
// forces one empty write, so that SSL_connect runs even before BASP has
// anything to send.
class tls_scribe : public caf::io::scribe {
public:
  tls_scribe(net::default_multiplexer& mpx, native_socket fd,
             caf::openssl::session_ptr session) :
    scribe(net::conn_hdl_from_socket(fd)),
    stream_(mpx, fd, std::move(session)) {}

  void configure_read(caf::io::receive_policy::config config) override {
    stream_.configure_read(config);
    if (!launched_) {
      launched_ = true;
      stream_.start(this);
      stream_.force_empty_write(this);
    }
  }
  void ack_writes(bool enable) override {
    stream_.ack_writes(enable);
  }
  std::vector<char>& wr_buf() override {
    return stream_.wr_buf();
  }
  std::vector<char>& rd_buf() override {
    return stream_.rd_buf();
  }
  void graceful_shutdown() override {
    stream_.graceful_shutdown();
    detach(&stream_.backend(), false);
  }
  void flush() override {
    stream_.flush(this);
  }
  std::string addr() const override {
    auto x = net::remote_addr_of_fd(stream_.fd());
    return x ? *x : std::string{};
  }
  uint16_t port() const override {
    auto x = net::remote_port_of_fd(stream_.fd());
    return x ? *x : 0;
  }
  void add_to_loop() override {
    stream_.activate(this);
  }
  void remove_from_loop() override {
    stream_.passivate();
  }

private:
  bool launched_ = false;
  net::stream_impl<tls_policy> stream_;
};

// -- the actor
// --------------------------------------------------------------------

class source_connector : public caf::io::middleman_actor_impl {
public:
  source_connector(caf::actor_config& cfg, caf::actor broker,
                   std::string source, std::chrono::milliseconds timeout) :
    caf::io::middleman_actor_impl(cfg, std::move(broker)),
    source_(std::move(source)), timeout_(timeout) {}

  const char* name() const override {
    return "troupe.source_connector";
  }

protected:
  caf::expected<caf::io::scribe_ptr> connect(const std::string& host,
                                             uint16_t port) override {
    auto fd = bound_connect(source_, host, port, timeout_);
    if (!fd)
      return std::move(fd.error());
    auto& mpx = static_cast<net::default_multiplexer&>(
        system().middleman().backend());
    if (!system().has_openssl_manager())
      return mpx.new_scribe(*fd);
    auto session = caf::openssl::make_session(system(), *fd, false);
    if (!session) {
      ::close(*fd);
      return connect_error("cannot create a TLS session", host, port);
    }
    return caf::make_counted<tls_scribe>(mpx, *fd, std::move(session));
  }

private:
  std::string source_;
  std::chrono::milliseconds timeout_;
};

} // namespace

caf::io::middleman_actor
spawn_source_connector(caf::actor_system& sys, std::string source_host,
                       std::chrono::milliseconds connect_timeout) {
  auto broker
      = sys.middleman().named_broker<caf::io::basp_broker>(caf::atom("BASP"));
  return sys.spawn<source_connector, caf::detached + caf::hidden>(
      std::move(broker), std::move(source_host), connect_timeout);
}

} // namespace troupe
