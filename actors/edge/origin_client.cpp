// The origin side of a worker. One exchange = one request and one response
// on one connection; connections are kept per origin while the origin
// allows keep-alive, at most max_idle_per_origin per worker.
#include "actors/edge/edge_io.hpp"

namespace troupe::edge {

struct origin_client::conn {
  conn(asio::io_context& io, size_t o) : sock(io), buf(16 * 1024), origin(o) {}
  tcp::socket sock;
  std::vector<char> buf;
  size_t origin;
  bool reused = false;
};

struct origin_client::exchange : std::enable_shared_from_this<exchange> {
  exchange(origin_client& c, size_t o, std::shared_ptr<const std::string> b,
           bool h, bool p, fetch_callback d)
    : client(c), origin(o), bytes(std::move(b)), head(h), pooled(p),
      done(std::move(d)), parser(limits(c), h), timer(c.io) {}

  static origin_parse_limits limits(const origin_client& c) {
    origin_parse_limits lim;
    lim.max_body_bytes = c.shared.cfg.max_object_bytes;
    return lim;
  }

  origin_client& client;
  size_t origin;
  std::shared_ptr<const std::string> bytes;
  bool head;
  bool pooled;
  fetch_callback done;
  origin_response_parser parser;
  asio::steady_timer timer;
  std::shared_ptr<conn> c;
  bool finished = false;
  bool got_bytes = false;
  bool retried = false;
  fetch_result result;

  std::chrono::milliseconds ms(uint32_t x) const {
    return std::chrono::milliseconds{x};
  }

  void begin() {
    auto& pool = client.idle[origin];
    if (pooled && !pool.empty()) {
      c = std::move(pool.back());
      pool.pop_back();
      c->reused = true;
      arm(ms(client.shared.cfg.origin_timeout_ms), "origin timed out");
      send();
      return;
    }
    connect();
  }

  void arm(std::chrono::milliseconds after, const char* what, bool connecting = false) {
    timer.expires_after(after);
    timer.async_wait([self = shared_from_this(), what, connecting](const asio::error_code& ec) {
      if (ec || self->finished)
        return;
      (connecting ? self->result.connect_failed : self->result.timed_out) = true;
      self->fail(what + std::string{" after "}
                   + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::steady_clock::now() - self->result.sent)
                                      .count())
                   + " ms");
    });
  }

  void connect() {
    const auto& eps = client.endpoints[origin];
    if (eps.empty()) {
      result.connect_failed = true;
      fail("cannot resolve origin: " + client.resolve_errors[origin]);
      return;
    }
    c = std::make_shared<conn>(client.io, origin);
    result.sent = std::chrono::steady_clock::now();
    arm(ms(client.shared.cfg.connect_timeout_ms), "connect timed out", true);
    asio::async_connect(c->sock, eps,
                        [self = shared_from_this(), cc = c](const asio::error_code& ec,
                                                            const tcp::endpoint&) {
                          if (self->finished || cc != self->c)
                            return;
                          if (ec) {
                            self->result.connect_failed = true;
                            self->fail("connect failed: " + ec.message());
                            return;
                          }
                          asio::error_code ignored;
                          cc->sock.set_option(tcp::no_delay(true), ignored);
                          self->arm(self->ms(self->client.shared.cfg.origin_timeout_ms),
                                    "origin timed out");
                          self->send();
                        });
  }

  void send() {
    result.sent = std::chrono::steady_clock::now();
    result.sent_wall = std::chrono::system_clock::now();
    asio::async_write(c->sock, asio::buffer(*bytes),
                      [self = shared_from_this(), cc = c](const asio::error_code& ec, size_t) {
                        if (self->finished || cc != self->c)
                          return;
                        if (ec) {
                          self->io_error("write failed: " + ec.message());
                          return;
                        }
                        self->read();
                      });
  }

  void read() {
    c->sock.async_read_some(asio::buffer(c->buf),
                            [self = shared_from_this(), cc = c](const asio::error_code& ec,
                                                                size_t n) {
                              if (self->finished || cc != self->c)
                                return;
                              self->on_read(ec, n);
                            });
  }

  void on_read(const asio::error_code& ec, size_t n) {
    using st = origin_response_parser::state;
    if (ec) {
      if (ec == asio::error::eof && got_bytes && parser.finish() == st::complete) {
        succeed();
        return;
      }
      io_error(ec == asio::error::eof ? std::string{"origin closed the connection"}
                                      : "read failed: " + ec.message());
      return;
    }
    if (!got_bytes)
      result.received = std::chrono::steady_clock::now();
    got_bytes = true;
    switch (parser.feed(c->buf.data(), n)) {
      case st::complete: succeed(); return;
      case st::failed: fail(parser.error()); return;
      default: read();
    }
  }

  // A reused connection that breaks before the first response byte was most
  // likely closed by the origin while idle: try once more on a new one.
  void io_error(std::string why) {
    if (c->reused && !got_bytes && !retried) {
      retried = true;
      asio::error_code ignored;
      c->sock.close(ignored);
      c.reset();
      parser = origin_response_parser{limits(client), head};
      connect();
      return;
    }
    fail(std::move(why));
  }

  void succeed() {
    finished = true;
    timer.cancel();
    result.ok = true;
    result.received_wall = std::chrono::system_clock::now();
    if (result.received == std::chrono::steady_clock::time_point{})
      result.received = std::chrono::steady_clock::now();
    result.res = std::move(parser.response());
    auto& pool = client.idle[origin];
    if (pooled && parser.keep_alive() && pool.size() < max_idle_per_origin) {
      pool.push_back(std::move(c));
    } else {
      asio::error_code ignored;
      c->sock.close(ignored);
    }
    c.reset();
    auto cb = std::move(done);
    cb(std::move(result));
  }

  void fail(std::string why) {
    if (finished)
      return;
    finished = true;
    timer.cancel();
    if (c) {
      asio::error_code ignored;
      c->sock.close(ignored);
      c.reset();
    }
    result.ok = false;
    result.error = std::move(why);
    result.received = std::chrono::steady_clock::now();
    if (result.sent == std::chrono::steady_clock::time_point{})
      result.sent = result.received;
    auto cb = std::move(done);
    cb(std::move(result));
  }
};

origin_client::origin_client(asio::io_context& ctx, const edge_shared& s)
  : io(ctx), shared(s) {
  auto n = shared.origins ? shared.origins->size() : 0;
  endpoints.resize(n);
  resolve_errors.resize(n);
  idle.resize(n);
  // Resolved once, at start (the role starts before serving): a name that
  // does not resolve makes that origin fail every exchange with the reason.
  tcp::resolver resolver{io};
  for (size_t i = 0; i < n; ++i) {
    const auto& addr = shared.origins->address(i);
    asio::error_code ec;
    auto found = resolver.resolve(addr.host, std::to_string(addr.port), ec);
    if (ec) {
      resolve_errors[i] = addr.host + ": " + ec.message();
      continue;
    }
    for (auto& entry : found)
      endpoints[i].push_back(entry.endpoint());
  }
}

origin_client::~origin_client() = default;

void origin_client::fetch(size_t i, std::shared_ptr<const std::string> request_bytes,
                          bool head, bool pooled, fetch_callback done) {
  auto x = std::make_shared<exchange>(*this, i, std::move(request_bytes), head,
                                      pooled, std::move(done));
  // Started from the loop, so `done` never runs inside the caller.
  asio::post(io, [x] { x->begin(); });
}

void origin_client::close_all() {
  for (auto& pool : idle) {
    for (auto& c : pool) {
      asio::error_code ignored;
      c->sock.close(ignored);
    }
    pool.clear();
  }
}

} // namespace troupe::edge
