#include "tests/support/edge_origin.hpp"

#include "tests/support/process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#ifndef TROUPE_SOURCE_DIR
#  define TROUPE_SOURCE_DIR "."
#endif

namespace troupe::test {

namespace {

bool iequal(const std::string& a, const std::string& b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i]))
        != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

int connect_to(const std::string& host, uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int read_port_file(const std::string& path) {
  std::ifstream in{path};
  int port = 0;
  in >> port;
  return port;
}

} // namespace

const std::string* http_reply::header(const std::string& name) const {
  for (auto& [k, v] : headers)
    if (iequal(k, name))
      return &v;
  return nullptr;
}

test_origin::test_origin(std::string host) : host_(std::move(host)) {
  char tmpl[] = "/tmp/troupe-origin-XXXXXX";
  dir_ = mkdtemp(tmpl);
  start();
}

test_origin::~test_origin() {
  stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void test_origin::stop() {
  if (pid_ <= 0)
    return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

bool test_origin::start() {
  stop();
  auto port_file = dir_ + "/port";
  std::filesystem::remove(port_file);
  auto script = (std::filesystem::path{TROUPE_SOURCE_DIR} / "tests" / "origin" / "test_origin.py")
                  .string();
  auto port_text = std::to_string(port_);
  int pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    execl("/usr/bin/python3", "python3", script.c_str(), "--host", host_.c_str(), "--port",
          port_text.c_str(), "--port-file", port_file.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  pid_ = pid;
  auto ok = eventually([&] { return read_port_file(port_file) > 0; }, std::chrono::seconds{10});
  if (!ok)
    return false;
  port_ = static_cast<uint16_t>(read_port_file(port_file));
  return true;
}

std::string test_origin::url() const {
  return "http://" + host_ + ":" + std::to_string(port_);
}

bool test_origin::route(const std::string& json) {
  auto r = http_call(host_, port_, "POST", "/__control/route",
                     {"Content-Type: application/json"}, json);
  return r && r->status == 200;
}

int test_origin::count(const std::string& path) {
  auto r = http_call(host_, port_, "GET", "/__control/count?path=" + path);
  if (!r || r->status != 200)
    return -1;
  auto colon = r->body.find(':');
  return colon == std::string::npos ? -1 : std::atoi(r->body.c_str() + colon + 1);
}

std::string test_origin::last(const std::string& path) {
  auto r = http_call(host_, port_, "GET", "/__control/last?path=" + path);
  return r ? r->body : std::string{};
}

bool test_origin::reset() {
  auto r = http_call(host_, port_, "POST", "/__control/reset");
  return r && r->status == 200;
}

std::string raw_exchange(const std::string& host, uint16_t port, const std::string& bytes,
                         std::chrono::milliseconds timeout) {
  int fd = connect_to(host, port);
  if (fd < 0)
    return {};
  size_t sent = 0;
  while (sent < bytes.size()) {
    auto n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0)
      break;
    sent += static_cast<size_t>(n);
  }
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
      break;
    auto n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0)
      break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

std::vector<http_reply> parse_replies(const std::string& s, const std::vector<bool>& heads) {
  std::vector<http_reply> out;
  size_t pos = 0;
  while (pos < s.size()) {
    auto end = s.find("\r\n\r\n", pos);
    if (end == std::string::npos)
      break;
    http_reply r;
    auto head = s.substr(pos, end - pos);
    pos = end + 4;
    auto line_end = head.find("\r\n");
    auto status_line = head.substr(0, line_end);
    if (status_line.size() >= 12)
      r.status = std::atoi(status_line.c_str() + 9);
    size_t at = line_end == std::string::npos ? head.size() : line_end + 2;
    while (at < head.size()) {
      auto next = head.find("\r\n", at);
      auto line = head.substr(at, next == std::string::npos ? std::string::npos : next - at);
      auto colon = line.find(':');
      if (colon != std::string::npos) {
        auto v = line.substr(colon + 1);
        v.erase(0, v.find_first_not_of(' '));
        r.headers.emplace_back(line.substr(0, colon), v);
      }
      if (next == std::string::npos)
        break;
      at = next + 2;
    }
    bool is_head = out.size() < heads.size() && heads[out.size()];
    bool bodyless = is_head || r.status < 200 || r.status == 204 || r.status == 304;
    if (!bodyless) {
      if (auto* te = r.header("transfer-encoding"); te && *te == "chunked") {
        for (;;) {
          auto le = s.find("\r\n", pos);
          if (le == std::string::npos)
            return out;
          auto n = std::strtoul(s.c_str() + pos, nullptr, 16);
          pos = le + 2;
          if (n == 0) {
            pos = s.find("\r\n", pos) + 2;
            break;
          }
          r.body += s.substr(pos, n);
          pos += n + 2;
        }
      } else if (auto* cl = r.header("content-length")) {
        auto n = std::strtoul(cl->c_str(), nullptr, 10);
        r.body = s.substr(pos, n);
        pos += n;
      } else {
        r.body = s.substr(pos);
        pos = s.size();
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

std::optional<http_reply> http_call(const std::string& host, uint16_t port,
                                    const std::string& method, const std::string& target,
                                    const std::vector<std::string>& extra_headers,
                                    const std::string& body, std::chrono::milliseconds timeout) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: " + host + ":"
                    + std::to_string(port) + "\r\n";
  for (auto& h : extra_headers)
    req += h + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT")
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "Connection: close\r\n\r\n" + body;
  auto replies = parse_replies(raw_exchange(host, port, req, timeout), {method == "HEAD"});
  if (replies.empty())
    return std::nullopt;
  return replies.front();
}

} // namespace troupe::test
