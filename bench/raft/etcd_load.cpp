#include "etcd_load.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace troupe::kvbench {

namespace {

using namespace std::chrono_literals;

// After a broken connection a client waits this long before reconnecting,
// so a dead member does not turn the loop into a busy spin.
constexpr auto reconnect_delay = 10ms;
// A put that failed (an error reply, a timeout, a broken connection) is
// resent after this pause, at most max_attempts times, as the troupe
// backend does; its latency runs from the first attempt.
constexpr auto retry_pause = 5ms;
constexpr uint32_t max_attempts = 50;

struct connection {
  connection(const load_shape& shape, uint32_t id) : keys(shape, id) {}

  int fd = -1;
  bool connected = false;
  bool busy = false;    // a request is on the wire
  bool pending = false; // a put not yet confirmed, maybe waiting to resend
  uint32_t attempts = 0;
  std::string out;
  size_t out_sent = 0;
  response_reader reader;
  key_source keys;
  uint64_t op = 0;
  bench_clock::time_point start;         // the put's first attempt
  bench_clock::time_point attempt_start; // this attempt
  bench_clock::time_point retry_at;      // reconnect
  bench_clock::time_point resend_at;     // resend the pending put
};

class etcd_driver {
public:
  etcd_driver(const http_endpoint& member, const load_shape& shape) :
    member_(member), shape_(shape) {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    for (uint32_t i = 0; i < shape.clients; ++i)
      conns_.push_back(std::make_unique<connection>(shape, i));
  }

  ~etcd_driver() {
    for (auto& c : conns_)
      if (c->fd >= 0)
        ::close(c->fd);
    ::close(epoll_fd_);
  }

  load_result run();

private:
  bool issuing(bench_clock::time_point now) const {
    return now < win_.end && tally_.ok_total < shape_.max_ops
           && tally_.errors <= shape_.max_errors;
  }
  void open(connection& c);
  void close_after_error(connection& c, const std::string& what);
  void begin_put(connection& c);
  void send_current(connection& c);
  void after_failure(connection& c);
  void flush(connection& c);
  void on_readable(connection& c);
  void on_event(connection& c, uint32_t events);
  void finish_put(connection& c);
  void check_timers(bench_clock::time_point now);
  void watch(connection& c, uint32_t events, int op);

  http_endpoint member_;
  load_shape shape_;
  int epoll_fd_ = -1;
  std::vector<std::unique_ptr<connection>> conns_;
  window win_;
  load_result tally_;
};

void etcd_driver::watch(connection& c, uint32_t events, int op) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = &c;
  ::epoll_ctl(epoll_fd_, op, c.fd, &ev);
}

void etcd_driver::open(connection& c) {
  std::string error;
  c.fd = start_connect(member_, error);
  c.connected = false;
  if (c.fd < 0) {
    record_error(tally_, error);
    c.retry_at = bench_clock::now() + reconnect_delay;
    return;
  }
  watch(c, EPOLLOUT, EPOLL_CTL_ADD);
}

void etcd_driver::close_after_error(connection& c, const std::string& what) {
  record_error(tally_, what);
  if (c.fd >= 0)
    ::close(c.fd); // also removes it from the epoll set
  c.fd = -1;
  c.connected = false;
  c.busy = false;
  c.retry_at = bench_clock::now() + reconnect_delay;
  after_failure(c);
}

// The pending put failed: resend it later, or give up on it.
void etcd_driver::after_failure(connection& c) {
  c.busy = false;
  c.resend_at = bench_clock::now() + retry_pause;
  if (c.attempts >= max_attempts)
    c.pending = false;
}

void etcd_driver::begin_put(connection& c) {
  auto key = c.keys.next_key();
  c.out = format_post(member_, "/v3/kv/put",
                      etcd_put_json(key, c.keys.value_for(c.op++)));
  c.start = bench_clock::now();
  c.attempts = 0;
  c.pending = true;
  send_current(c);
}

void etcd_driver::send_current(connection& c) {
  ++c.attempts;
  c.out_sent = 0;
  c.reader.reset();
  c.busy = true;
  c.attempt_start = bench_clock::now();
  flush(c);
}

void etcd_driver::flush(connection& c) {
  while (c.out_sent < c.out.size()) {
    auto n = ::send(c.fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent,
                    MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      watch(c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
      return;
    }
    if (n < 0)
      return close_after_error(c, std::string{"send: "} + std::strerror(errno));
    c.out_sent += static_cast<size_t>(n);
  }
  watch(c, EPOLLIN, EPOLL_CTL_MOD);
}

void etcd_driver::finish_put(connection& c) {
  auto done = bench_clock::now();
  c.busy = false;
  auto revision = etcd_header_revision(c.reader.body());
  bool ok = c.reader.status() == 200 && revision > 0;
  if (ok) {
    c.pending = false;
    record_ok(tally_, win_, c.start, done, revision);
  } else {
    record_error(tally_, "HTTP " + std::to_string(c.reader.status()) + ": "
                             + c.reader.body().substr(0, 200));
    after_failure(c);
  }
  if (!c.reader.keep_alive()) {
    ::close(c.fd);
    c.fd = -1;
    c.connected = false;
    c.retry_at = done;
    return;
  }
  // A failed put waits for check_timers to resend it.
  if (ok && issuing(done))
    begin_put(c);
}

void etcd_driver::on_readable(connection& c) {
  char buf[4096];
  for (;;) {
    auto n = ::recv(c.fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
      return;
    if (n <= 0)
      return close_after_error(c, n == 0 ? "connection closed by etcd"
                                         : std::string{"recv: "}
                                               + std::strerror(errno));
    if (!c.busy || !c.reader.feed(buf, static_cast<size_t>(n)))
      return close_after_error(c, "unexpected or malformed HTTP response");
    if (c.reader.done())
      return finish_put(c);
  }
}

void etcd_driver::on_event(connection& c, uint32_t events) {
  if (!c.connected) {
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0 || (events & (EPOLLERR | EPOLLHUP)) != 0)
      return close_after_error(c, "connect " + member_.to_string() + ": "
                                      + std::strerror(err));
    c.connected = true;
    if (!issuing(bench_clock::now()))
      watch(c, EPOLLIN, EPOLL_CTL_MOD);
    else if (c.pending)
      send_current(c);
    else
      begin_put(c);
    return;
  }
  if ((events & EPOLLOUT) != 0 && c.busy)
    flush(c);
  if (c.fd >= 0 && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0)
    on_readable(c);
}

void etcd_driver::check_timers(bench_clock::time_point now) {
  for (auto& c : conns_) {
    if (c->busy && now - c->attempt_start > shape_.op_timeout)
      close_after_error(*c, "no reply within the op timeout");
    else if (c->fd < 0 && now >= c->retry_at && issuing(now))
      open(*c);
    else if (c->connected && !c->busy && now >= c->resend_at && issuing(now))
      c->pending ? send_current(*c) : begin_put(*c);
  }
}

load_result etcd_driver::run() {
  tally_.system = "etcd";
  tally_.clients = shape_.clients;
  auto t0 = bench_clock::now();
  win_ = {t0 + shape_.warmup, t0 + shape_.warmup + shape_.measure};
  for (auto& c : conns_)
    open(*c);
  epoll_event events[64];
  auto hard_end = win_.end + shape_.op_timeout + 1s;
  for (;;) {
    auto now = bench_clock::now();
    bool any_busy = std::any_of(conns_.begin(), conns_.end(),
                                [](auto& c) { return c->busy; });
    if ((!issuing(now) && !any_busy) || now > hard_end)
      break;
    auto n = ::epoll_wait(epoll_fd_, events, 64, 5);
    for (int i = 0; i < n; ++i)
      on_event(*static_cast<connection*>(events[i].data.ptr), events[i].events);
    check_timers(bench_clock::now());
  }
  // A run cut short by max_ops or max_errors measured less than the window.
  auto end = std::min(bench_clock::now(), win_.end);
  tally_.seconds = std::chrono::duration<double>(end - win_.begin).count();
  return std::move(tally_);
}

} // namespace

std::string etcd_put_json(const std::string& key, const std::string& value) {
  return "{\"key\":\"" + base64(key) + "\",\"value\":\"" + base64(value)
         + "\"}";
}

load_result run_etcd_load(const http_endpoint& member,
                          const load_shape& shape) {
  etcd_driver driver{member, shape};
  return driver.run();
}

} // namespace troupe::kvbench
