#include "http_client.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace troupe::kvbench {

std::string http_endpoint::to_string() const {
  return host + ":" + std::to_string(port);
}

std::string format_post(const http_endpoint& to, const std::string& path,
                        const std::string& json) {
  std::string out;
  out.reserve(160 + json.size());
  out += "POST " + path + " HTTP/1.1\r\nHost: " + to.to_string()
         + "\r\nContent-Type: application/json\r\nContent-Length: "
         + std::to_string(json.size()) + "\r\n\r\n";
  out += json;
  return out;
}

response_reader::response_reader() {
  http_parser_settings_init(&settings_);
  settings_.on_body = on_body;
  settings_.on_message_complete = on_complete;
  reset();
}

void response_reader::reset() {
  http_parser_init(&parser_, HTTP_RESPONSE);
  parser_.data = this;
  body_.clear();
  status_ = 0;
  done_ = false;
  keep_alive_ = false;
}

int response_reader::on_body(http_parser* p, const char* at, size_t size) {
  auto* self = static_cast<response_reader*>(p->data);
  // etcd's replies are a few hundred bytes; a huge body means we are not
  // talking to the server we think.
  if (self->body_.size() + size > (1u << 20))
    return 1;
  self->body_.append(at, size);
  return 0;
}

int response_reader::on_complete(http_parser* p) {
  auto* self = static_cast<response_reader*>(p->data);
  self->done_ = true;
  self->status_ = static_cast<int>(p->status_code);
  self->keep_alive_ = http_should_keep_alive(p) != 0;
  // Stop here: one response per request, nothing may follow it.
  http_parser_pause(p, 1);
  return 0;
}

bool response_reader::feed(const char* data, size_t size) {
  if (done_)
    return false; // bytes after a complete response: not ours
  auto used = http_parser_execute(&parser_, &settings_, data, size);
  auto err = HTTP_PARSER_ERRNO(&parser_);
  if (err == HPE_PAUSED)
    return used == size;
  return err == HPE_OK && used == size;
}

int start_connect(const http_endpoint& to, std::string& error) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(to.port);
  if (::inet_pton(AF_INET, to.host.c_str(), &addr.sin_addr) != 1) {
    error = "not an IPv4 address: " + to.host;
    return -1;
  }
  auto fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::string{"socket: "} + std::strerror(errno);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0
      && errno != EINPROGRESS) {
    error = "connect " + to.to_string() + ": " + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

namespace {

using std::chrono::milliseconds;
using clock_type = std::chrono::steady_clock;

// Waits for `events` on `fd` until `deadline`; false on timeout or error.
bool wait_for(int fd, short events, clock_type::time_point deadline) {
  auto left
      = std::chrono::duration_cast<milliseconds>(deadline - clock_type::now());
  if (left.count() <= 0)
    return false;
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, static_cast<int>(left.count())) == 1
         && (p.revents & events) != 0;
}

std::string send_all(int fd, const std::string& bytes,
                     clock_type::time_point deadline) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    if (!wait_for(fd, POLLOUT, deadline))
      return "timeout or error while connecting or sending";
    auto n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR)
      return std::string{"send: "} + std::strerror(errno);
    if (n > 0)
      sent += static_cast<size_t>(n);
  }
  return {};
}

std::string read_response(int fd, response_reader& reader,
                          clock_type::time_point deadline) {
  char buf[4096];
  while (!reader.done()) {
    if (!wait_for(fd, POLLIN, deadline))
      return "timeout waiting for the response";
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0)
      return "connection closed before the response";
    if (n < 0 && errno != EAGAIN && errno != EINTR)
      return std::string{"recv: "} + std::strerror(errno);
    if (n > 0 && !reader.feed(buf, static_cast<size_t>(n)))
      return "malformed HTTP response";
  }
  return {};
}

} // namespace

http_reply http_post(const http_endpoint& to, const std::string& path,
                     const std::string& json, milliseconds timeout) {
  http_reply reply;
  auto deadline = clock_type::now() + timeout;
  auto fd = start_connect(to, reply.error);
  if (fd < 0)
    return reply;
  reply.error = send_all(fd, format_post(to, path, json), deadline);
  if (reply.error.empty()) {
    response_reader reader;
    reply.error = read_response(fd, reader, deadline);
    reply.status = reader.status();
    reply.body = reader.body();
  }
  ::close(fd);
  return reply;
}

int64_t etcd_header_revision(const std::string& body) {
  // The gateway renders int64 fields as JSON strings: "revision":"123".
  // Only the header carries "revision" in a put reply (no prev_kv asked).
  static constexpr char tag[] = "\"revision\":\"";
  auto pos = body.find(tag);
  if (pos == std::string::npos)
    return 0;
  return std::strtoll(body.c_str() + pos + sizeof tag - 1, nullptr, 10);
}

} // namespace troupe::kvbench
