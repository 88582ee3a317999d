#include "actors/edge/edge_io.hpp"

#include "net/errors.hpp"

#include <algorithm>

namespace troupe::edge {

// -- client connections --------------------------------------------------------

namespace {

// Requests parsed but not yet answered on one connection; past this the
// connection stops reading until answers drain (pipelining depth).
constexpr size_t max_pipeline = 64;
constexpr size_t read_chunk = 16 * 1024;

} // namespace

client_connection::client_connection(worker& w, tcp::socket s)
  : w_(w), sock_(std::move(s)), parser_(w.shared->limits), rbuf_(read_chunk),
    idle_(w.io) {
  asio::error_code ec;
  auto ep = sock_.remote_endpoint(ec);
  peer_ip_ = ec ? std::string{"unknown"} : ep.address().to_string();
  sock_.set_option(tcp::no_delay(true), ec);
  w_.shared->stats->connections_open.fetch_add(1, std::memory_order_relaxed);
}

client_connection::~client_connection() {
  w_.shared->stats->connections_open.fetch_sub(1, std::memory_order_relaxed);
}

void client_connection::start() {
  arm_idle();
  read();
}

bool client_connection::may_read() const {
  return !closed_ && !input_done_ && !reading_ && slots_.size() < max_pipeline;
}

void client_connection::read() {
  if (!may_read())
    return;
  reading_ = true;
  sock_.async_read_some(asio::buffer(rbuf_),
                        [self = shared_from_this()](const asio::error_code& ec,
                                                    size_t n) {
                          self->on_read(ec, n);
                        });
}

void client_connection::on_read(const asio::error_code& ec, size_t n) {
  reading_ = false;
  if (closed_)
    return;
  if (ec) {
    // The peer closed or reset: answers still owed cannot be delivered.
    close();
    return;
  }
  arm_idle();
  parsed_.clear();
  auto status = parser_.feed(rbuf_.data(), n, parsed_);
  auto self = shared_from_this();
  for (auto& req : parsed_) {
    auto seq = next_seq_++;
    slots_.emplace_back();
    handle_request(w_, self, seq, std::move(req));
    if (closed_)
      return;
  }
  if (!status.ok()) {
    w_.shared->stats->bad_requests.fetch_add(1, std::memory_order_relaxed);
    auto seq = next_seq_++;
    slots_.emplace_back();
    deliver(seq, error_reply(w_, status.code, status.reason));
  }
  if (parser_.done())
    input_done_ = true;
  read();
}

void client_connection::deliver(uint64_t seq, reply r) {
  if (closed_ || seq < first_seq_ || seq - first_seq_ >= slots_.size())
    return;
  auto& s = slots_[seq - first_seq_];
  s.ready = true;
  s.r = std::move(r);
  write();
}

void client_connection::write() {
  if (writing_ || closed_)
    return;
  in_write_.clear();
  buffers_.clear();
  while (!slots_.empty() && slots_.front().ready && in_write_.size() < 16) {
    in_write_.push_back(std::move(slots_.front().r));
    slots_.pop_front();
    ++first_seq_;
    if (in_write_.back().close)
      break;
  }
  if (in_write_.empty())
    return;
  uint64_t body_bytes = 0;
  for (auto& r : in_write_) {
    buffers_.push_back(asio::buffer(r.head));
    if (r.send_body && r.body && !r.body->empty()) {
      buffers_.push_back(asio::buffer(*r.body));
      body_bytes += r.body->size();
    }
  }
  w_.shared->stats->bytes_out.fetch_add(body_bytes, std::memory_order_relaxed);
  writing_ = true;
  asio::async_write(sock_, buffers_,
                    [self = shared_from_this()](const asio::error_code& ec,
                                                size_t) { self->on_written(ec); });
}

void client_connection::on_written(const asio::error_code& ec) {
  writing_ = false;
  if (ec) {
    close();
    return;
  }
  arm_idle();
  bool close_now = !in_write_.empty() && in_write_.back().close;
  in_write_.clear();
  if (close_now) {
    asio::error_code ignored;
    sock_.shutdown(tcp::socket::shutdown_send, ignored);
    close();
    return;
  }
  if (input_done_ && slots_.empty()) {
    close();
    return;
  }
  write();
  read();
}

void client_connection::arm_idle() {
  idle_.expires_after(w_.shared->limits.idle_timeout);
  idle_.async_wait([weak = weak_from_this()](const asio::error_code& ec) {
    auto self = weak.lock();
    if (!ec && self && !self->closed_)
      self->close();
  });
}

void client_connection::close() {
  if (closed_)
    return;
  closed_ = true;
  asio::error_code ignored;
  idle_.cancel();
  sock_.close(ignored);
}

// -- workers and the server ------------------------------------------------------

worker::worker(std::shared_ptr<edge_shared> s, size_t i)
  : shared(std::move(s)), io(1), index(i), origins(io, *shared),
    events(shared->events, shared->stats->events),
    rng(static_cast<unsigned>(0x9e3779b9u * (i + 1))) {}

struct edge_server::impl {
  std::shared_ptr<edge_shared> shared;
  std::vector<std::unique_ptr<worker>> workers;
  uint16_t port = 0;
  bool stopped = false;

  caf::error bind(worker& w, const tcp::endpoint& ep) {
    asio::error_code ec;
    w.acceptor.emplace(w.io);
    w.acceptor->open(ep.protocol(), ec);
    if (!ec)
      w.acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) {
      int one = 1;
      if (::setsockopt(w.acceptor->native_handle(), SOL_SOCKET, SO_REUSEPORT,
                       &one, sizeof(one))
          != 0)
        ec = asio::error_code(errno, asio::system_category());
    }
    if (!ec)
      w.acceptor->bind(ep, ec);
    if (!ec)
      w.acceptor->listen(1024, ec);
    if (ec)
      return make_error(errc::invalid_argument,
                        "edge: cannot listen on " + shared->cfg.http_listen.to_string()
                          + ": " + ec.message()
                          + "; stop the other process or choose another "
                            "--http-listen");
    return caf::none;
  }

  void accept(worker& w) {
    w.acceptor->async_accept([this, &w](const asio::error_code& ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted || !w.acceptor->is_open())
        return;
      if (!ec) {
        auto& st = *shared->stats;
        st.connections_total.fetch_add(1, std::memory_order_relaxed);
        if (st.connections_open.load(std::memory_order_relaxed)
            >= shared->limits.max_connections) {
          st.connections_rejected.fetch_add(1, std::memory_order_relaxed);
          asio::error_code ignored;
          s.close(ignored);
        } else {
          std::make_shared<client_connection>(w, std::move(s))->start();
        }
      }
      accept(w);
    });
  }
};

edge_server::edge_server(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

edge_server::~edge_server() {
  stop();
}

caf::expected<std::unique_ptr<edge_server>>
edge_server::start(std::shared_ptr<edge_shared> shared) {
  auto p = std::make_unique<impl>();
  p->shared = shared;
  const auto& listen = shared->cfg.http_listen;
  asio::error_code ec;
  auto addr = asio::ip::make_address(listen.host, ec);
  if (ec) {
    asio::io_context tmp;
    tcp::resolver resolver{tmp};
    auto found = resolver.resolve(listen.host, std::to_string(listen.port), ec);
    if (ec || found.empty())
      return make_error(errc::invalid_argument,
                        "edge: cannot resolve --http-listen host '" + listen.host
                          + "': " + ec.message());
    addr = found.begin()->endpoint().address();
  }
  tcp::endpoint ep{addr, listen.port};
  auto n = shared->cfg.threads != 0 ? shared->cfg.threads
                                    : std::max(1u, std::thread::hardware_concurrency());
  for (size_t i = 0; i < n; ++i) {
    p->workers.push_back(std::make_unique<worker>(shared, i));
    auto& w = *p->workers.back();
    if (auto err = p->bind(w, ep))
      return err;
    // Port 0: every further listener joins the port the first one got.
    if (i == 0) {
      p->port = w.acceptor->local_endpoint().port();
      ep.port(p->port);
    }
  }
  for (auto& w : p->workers)
    p->accept(*w);
  start_health_checks(*p->workers.front());
  for (auto& w : p->workers) {
    auto* raw = w.get();
    w->thread = std::thread([raw] {
      auto guard = asio::make_work_guard(raw->io);
      raw->io.run();
    });
  }
  return std::unique_ptr<edge_server>{new edge_server(std::move(p))};
}

void edge_server::stop() {
  if (!impl_ || impl_->stopped)
    return;
  impl_->stopped = true;
  for (auto& w : impl_->workers) {
    auto* raw = w.get();
    asio::post(raw->io, [raw] {
      asio::error_code ignored;
      if (raw->acceptor)
        raw->acceptor->close(ignored);
      if (raw->health_timer)
        raw->health_timer->cancel();
      raw->origins.close_all();
      raw->events.flush();
      raw->io.stop();
    });
  }
  for (auto& w : impl_->workers)
    if (w->thread.joinable())
      w->thread.join();
  // Pending handlers (and the connections they hold) go with the contexts.
  impl_->workers.clear();
}

uint16_t edge_server::port() const {
  return impl_->port;
}

size_t edge_server::threads() const {
  return impl_->workers.size();
}

} // namespace troupe::edge
