#include "etcd_probe.hpp"

#include "etcd_load.hpp"

#include <cerrno>
#include <list>
#include <memory>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace troupe::kvbench {

namespace {

// One put on its own connection: connect, send, read one response.
struct attempt {
  int fd = -1;
  std::string out;
  size_t sent = 0;
  bool connected = false;
  bool failed = false;
  response_reader reader;
  bench_clock::time_point deadline;

  ~attempt() {
    if (fd >= 0)
      ::close(fd);
  }
};

enum class outcome { pending, failed, succeeded };

outcome on_writable(attempt& a) {
  if (!a.connected) {
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(a.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0)
      return outcome::failed; // refused: the member is down
    a.connected = true;
  }
  auto n = ::send(a.fd, a.out.data() + a.sent, a.out.size() - a.sent,
                  MSG_NOSIGNAL);
  if (n < 0 && errno != EAGAIN && errno != EINTR)
    return outcome::failed;
  if (n > 0)
    a.sent += static_cast<size_t>(n);
  return outcome::pending;
}

outcome on_readable(attempt& a) {
  char buf[4096];
  auto n = ::recv(a.fd, buf, sizeof buf, 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return outcome::pending;
  if (n <= 0 || !a.reader.feed(buf, static_cast<size_t>(n)))
    return outcome::failed;
  if (!a.reader.done())
    return outcome::pending;
  return a.reader.status() == 200 && etcd_header_revision(a.reader.body()) > 0
             ? outcome::succeeded
             : outcome::failed;
}

outcome step(attempt& a, short revents) {
  if ((revents & POLLOUT) != 0 || (!a.connected && revents != 0)) {
    if (auto o = on_writable(a); o != outcome::pending)
      return o;
  }
  if ((revents & (POLLIN | POLLHUP | POLLERR)) != 0 && a.connected)
    return on_readable(a);
  return outcome::pending;
}

} // namespace

std::optional<bench_clock::time_point>
etcd_first_write(const std::vector<http_endpoint>& targets,
                 const probe_timing& timing, bench_clock::time_point deadline) {
  auto max_in_flight = timing.max_in_flight();
  std::vector<std::list<std::unique_ptr<attempt>>> in_flight(targets.size());
  key_source keys{load_shape{}, 999};
  uint64_t op = 0;
  auto next_launch = bench_clock::now();
  while (bench_clock::now() < deadline) {
    auto now = bench_clock::now();
    if (now >= next_launch) {
      next_launch = now + timing.interval;
      for (size_t t = 0; t < targets.size(); ++t) {
        if (in_flight[t].size() >= max_in_flight)
          continue;
        auto a = std::make_unique<attempt>();
        std::string error;
        a->fd = start_connect(targets[t], error);
        if (a->fd < 0)
          continue;
        a->out
            = format_post(targets[t], "/v3/kv/put",
                          etcd_put_json(keys.next_key(), keys.value_for(op++)));
        a->deadline = now + timing.attempt_timeout;
        in_flight[t].push_back(std::move(a));
      }
    }
    std::vector<pollfd> fds;
    std::vector<attempt*> owners;
    for (auto& list : in_flight)
      for (auto& a : list) {
        short events = POLLIN;
        if (!a->connected || a->sent < a->out.size())
          events |= POLLOUT;
        fds.push_back({a->fd, events, 0});
        owners.push_back(a.get());
      }
    ::poll(fds.data(), fds.size(), 1);
    for (size_t i = 0; i < fds.size(); ++i) {
      auto o = step(*owners[i], fds[i].revents);
      if (o == outcome::succeeded)
        return bench_clock::now();
      owners[i]->failed = o == outcome::failed;
    }
    // Failed attempts (refused, error reply) and expired ones make room for
    // new launches.
    now = bench_clock::now();
    for (auto& list : in_flight)
      list.remove_if([&](const std::unique_ptr<attempt>& a) {
        return a->failed || a->deadline <= now;
      });
  }
  return std::nullopt;
}

} // namespace troupe::kvbench
