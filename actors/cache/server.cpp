// Why reads continue while a write is pending: a client that pipelines
// commands without reading replies must be noticed (its unsent replies grow
// past the output-buffer limit) rather than silently stalling the thread's
// other clients or growing memory without bound. One read is at most
// read_chunk bytes, so one client cannot hold its thread for long.
#include "actors/cache/server.hpp"

#include "runtime/logging.hpp"

#include <asio.hpp>

#include <atomic>
#include <deque>
#include <map>
#include <thread>
#include <vector>

namespace troupe::cache {

namespace {

using asio::ip::tcp;

constexpr size_t read_chunk = 16 * 1024;

class connection : public std::enable_shared_from_this<connection> {
public:
  connection(tcp::socket sock, cluster& cl, const server_config& cfg) :
    sock_(std::move(sock)), cl_(cl), eng_(cl.standalone()), cfg_(cfg), parser_(cfg.limits),
    wait_timer_(sock_.get_executor()) {
    client_.id = eng_.counters().next_client_id.fetch_add(1);
    client_.connected_ms = eng_.now_ms();
    asio::error_code ec;
    auto ep = sock_.remote_endpoint(ec);
    if (!ec)
      client_.addr = ep.address().to_string() + ":" + std::to_string(ep.port());
    sock_.set_option(tcp::no_delay(true), ec);
  }

  ~connection() {
    eng_.counters().connected_clients.fetch_sub(1);
  }

  void start() {
    read();
  }

private:
  void read() {
    reading_ = true;
    auto* p = parser_.prepare(read_chunk);
    sock_.async_read_some(asio::buffer(p, read_chunk),
                          [self = shared_from_this()](const asio::error_code& ec, size_t n) {
                            self->on_read(ec, n);
                          });
  }

  void on_read(const asio::error_code& ec, size_t n) {
    reading_ = false;
    if (ec) {
      close();
      return;
    }
    parser_.commit(n);
    resume();
  }

  // Runs what is buffered, writes, and reads on unless the connection is
  // blocked: a WAIT is unanswered, or max_in_flight forwarded commands are.
  void resume() {
    process();
    if (closed_)
      return;
    flush();
    if (!closing_ && !blocked() && !reading_)
      read();
  }

  // Replies stay in the order of the commands: while a forwarded command
  // or a WAIT is unanswered, later replies queue behind its slot, and
  // drain() moves every answered slot at the front to the output.
  struct reply_slot {
    uint64_t seq;
    std::string bytes;
    bool ready;
  };
  static constexpr size_t max_in_flight = 64; // forwarded commands per connection

  bool blocked() const {
    return wait_active_ || in_flight_ >= max_in_flight;
  }

  // Where the next local reply goes.
  std::string& reply_target() {
    if (queue_.empty())
      return out_;
    if (!queue_.back().ready)
      queue_.push_back({next_seq_++, {}, true});
    return queue_.back().bytes;
  }

  uint64_t push_pending() {
    auto seq = next_seq_++;
    queue_.push_back({seq, {}, false});
    return seq;
  }

  void fill(uint64_t seq, std::string reply) {
    for (auto& slot : queue_)
      if (slot.seq == seq) {
        slot.bytes = std::move(reply);
        slot.ready = true;
        break;
      }
    while (!queue_.empty() && queue_.front().ready) {
      out_ += queue_.front().bytes;
      queue_.pop_front();
    }
  }

  size_t queued_bytes() const {
    size_t n = 0;
    for (auto& slot : queue_)
      n += slot.bytes.size();
    return n;
  }

  // A forwarded command waits in batch_ until process() has run what is
  // buffered; then each owner gets one message with all of them.
  void start_forward(const std::string& node) {
    auto seq = push_pending();
    ++in_flight_;
    auto& b = batch_[node];
    b.seqs.push_back(seq);
    b.args.emplace_back(args_.begin(), args_.end());
  }

  void send_batches() {
    if (batch_.empty())
      return;
    auto self = shared_from_this();
    auto ex = sock_.get_executor();
    for (auto& [node, b] : batch_) {
      std::vector<cluster::forward_item> items(b.seqs.size());
      for (size_t i = 0; i < items.size(); ++i) {
        items[i].args = std::move(b.args[i]);
        items[i].done = [self, ex, seq = b.seqs[i]](std::string reply) {
          asio::post(ex, [self, seq, reply = std::move(reply)]() mutable {
            self->on_forwarded(seq, std::move(reply));
          });
        };
      }
      if (!cl_.forward_batch(node, std::move(items), client_.protocol))
        for (auto seq : b.seqs) {
          --in_flight_;
          std::string reply;
          resp::reply_writer w{reply, client_.protocol};
          w.error("TRYAGAIN too many commands forwarded to other nodes are in flight (limit "
                  + std::to_string(cl_.config().max_forwards) + ")");
          fill(seq, std::move(reply));
        }
    }
    batch_.clear();
  }

  void on_forwarded(uint64_t seq, std::string reply) {
    if (closed_)
      return;
    --in_flight_;
    fill(seq, std::move(reply));
    resume();
  }

  void start_wait(const route& r) {
    wait_active_ = true;
    wait_seq_ = push_pending();
    wait_replicas_ = r.replicas;
    wait_deadline_ = r.timeout_ms > 0 ? std::chrono::steady_clock::now()
                                          + std::chrono::milliseconds{r.timeout_ms}
                                      : std::chrono::steady_clock::time_point::max();
    poll_wait();
  }

  // WAIT polls its replicas' acknowledgements every millisecond, on this
  // connection's thread, without holding it. Nothing after it runs before
  // it is answered, as in Redis.
  void poll_wait() {
    auto n = static_cast<int64_t>(cl_.acked(client_));
    if (n >= wait_replicas_ || std::chrono::steady_clock::now() >= wait_deadline_) {
      std::string reply;
      resp::reply_writer w{reply, client_.protocol};
      w.integer(n);
      wait_active_ = false;
      fill(wait_seq_, std::move(reply));
      if (!in_process_)
        resume();
      return;
    }
    wait_timer_.expires_after(std::chrono::milliseconds{1});
    wait_timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
      if (!ec && !self->closed_)
        self->poll_wait();
    });
  }

  void process() {
    in_process_ = true;
    while (!closing_ && !blocked() && !closed_) {
      auto st = parser_.next(args_);
      if (st == resp::parse_status::need_more)
        break;
      if (st == resp::parse_status::overflow) {
        close();
        break;
      }
      resp::reply_writer w{reply_target(), client_.protocol};
      if (st == resp::parse_status::error) {
        eng_.counters().protocol_errors.fetch_add(1, std::memory_order_relaxed);
        w.error(parser_.error_reply());
        closing_ = true;
        break;
      }
      auto r = cl_.execute(args_, client_, w);
      if (r.kind == route::forward)
        start_forward(r.node);
      else if (r.kind == route::wait)
        start_wait(r);
      if (client_.close_after_reply)
        closing_ = true;
      auto pending = out_.size() + sending_.size() + (queue_.empty() ? 0 : queued_bytes());
      if (pending > cfg_.output_buffer_limit_bytes) {
        eng_.counters().output_limit_disconnects.fetch_add(1, std::memory_order_relaxed);
        close();
        break;
      }
    }
    if (!closed_)
      send_batches();
    in_process_ = false;
  }

  void flush() {
    if (writing_ || closed_)
      return;
    if (out_.empty()) {
      if (closing_ && queue_.empty())
        close();
      return;
    }
    std::swap(out_, sending_);
    writing_ = true;
    asio::async_write(sock_, asio::buffer(sending_),
                      [self = shared_from_this()](const asio::error_code& ec, size_t) {
                        self->on_written(ec);
                      });
  }

  void on_written(const asio::error_code& ec) {
    writing_ = false;
    if (ec) {
      close();
      return;
    }
    // Keep a moderate buffer for reuse; drop one a huge reply left behind.
    if (sending_.capacity() > (size_t{4} << 20))
      std::string{}.swap(sending_);
    else
      sending_.clear();
    flush();
  }

  void close() {
    if (closed_)
      return;
    closed_ = true;
    asio::error_code ec;
    sock_.shutdown(tcp::socket::shutdown_both, ec);
    sock_.close(ec);
    wait_timer_.cancel();
  }

  tcp::socket sock_;
  cluster& cl_;
  engine& eng_;
  const server_config& cfg_;
  resp::request_parser parser_;
  client_state client_;
  std::vector<std::string_view> args_;
  std::string out_;
  std::string sending_;
  asio::steady_timer wait_timer_;
  int64_t wait_replicas_ = 0;
  std::chrono::steady_clock::time_point wait_deadline_;
  std::deque<reply_slot> queue_;
  struct pending_batch {
    std::vector<uint64_t> seqs;
    std::vector<std::vector<std::string>> args;
  };
  std::map<std::string, pending_batch> batch_; // by owner, until process() ends
  uint64_t next_seq_ = 0;
  size_t in_flight_ = 0;   // forwarded commands unanswered
  uint64_t wait_seq_ = 0;
  bool wait_active_ = false;
  bool in_process_ = false;
  bool writing_ = false;
  bool reading_ = false;
  bool closing_ = false; // reply pending, then close (QUIT, protocol error)
  bool closed_ = false;
};

struct io_thread {
  asio::io_context ctx{1};
  tcp::acceptor acceptor{ctx};
  asio::steady_timer expire_timer{ctx};
  std::thread thread;
};

} // namespace

struct resp_server::impl {
  server_config cfg;
  cluster& cl;
  engine& eng;
  std::vector<std::unique_ptr<io_thread>> threads;
  uint16_t port = 0;
  bool running = false;
  size_t next_thread = 0; // used on thread 0 only

  impl(server_config c, cluster& cl_) : cfg(std::move(c)), cl(cl_), eng(cl_.standalone()) {}

  std::string bind(io_thread& t, uint16_t p) {
    asio::error_code ec;
    auto addr = asio::ip::make_address(cfg.host, ec);
    if (ec)
      return "cannot parse RESP listen host '" + cfg.host + "': " + ec.message();
    tcp::endpoint ep{addr, p};
    t.acceptor.open(ep.protocol(), ec);
    if (!ec)
      t.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec)
      t.acceptor.bind(ep, ec);
    if (!ec)
      t.acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return "cannot listen for RESP on " + cfg.host + ":" + std::to_string(p) + ": "
             + ec.message();
    port = t.acceptor.local_endpoint().port();
    return {};
  }

  // One acceptor on thread 0 hands each new socket to the next thread's
  // io_context in turn. Why not one acceptor per thread with SO_REUSEPORT:
  // the kernel would also let a second troupe-node of the same user bind the
  // same port and silently take half of the connections to a different
  // keyspace; accepting is cheap next to serving, so one acceptor is enough.
  void accept() {
    auto& target = *threads[next_thread++ % threads.size()];
    threads[0]->acceptor.async_accept(
      target.ctx, [this, &target](const asio::error_code& ec, tcp::socket sock) {
        if (ec == asio::error::operation_aborted)
          return;
        if (!ec)
          admit(std::move(sock), target);
        accept();
      });
  }

  void admit(tcp::socket sock, io_thread& target) {
    auto& cnt = eng.counters();
    cnt.total_connections.fetch_add(1, std::memory_order_relaxed);
    if (cnt.connected_clients.fetch_add(1) >= cfg.max_clients) {
      cnt.connected_clients.fetch_sub(1);
      cnt.rejected_connections.fetch_add(1, std::memory_order_relaxed);
      static const char msg[] = "-ERR max number of clients reached\r\n";
      asio::error_code ec;
      sock.non_blocking(true, ec);
      sock.write_some(asio::buffer(msg, sizeof(msg) - 1), ec);
      sock.close(ec);
      return;
    }
    auto conn = std::make_shared<connection>(std::move(sock), cl, cfg);
    asio::post(target.ctx, [conn] { conn->start(); });
  }

  void expire_tick(io_thread& t, size_t index) {
    t.expire_timer.expires_after(std::chrono::milliseconds{cfg.expire_interval_ms});
    t.expire_timer.async_wait([this, &t, index](const asio::error_code& ec) {
      if (ec)
        return;
      cl.active_expire(index, threads.size());
      if (index == 0)
        cl.sweep(eng.now_ms());
      expire_tick(t, index);
    });
  }
};

resp_server::resp_server(server_config cfg, cluster& cl) :
  impl_(std::make_unique<impl>(std::move(cfg), cl)) {}

resp_server::~resp_server() {
  stop();
}

uint16_t resp_server::port() const noexcept {
  return impl_->port;
}

std::string resp_server::start() {
  auto& m = *impl_;
  auto n = std::max<uint32_t>(1, m.cfg.io_threads);
  for (uint32_t i = 0; i < n; ++i)
    m.threads.push_back(std::make_unique<io_thread>());
  if (auto err = m.bind(*m.threads[0], m.cfg.port); !err.empty()) {
    m.threads.clear();
    return err;
  }
  m.accept();
  for (size_t i = 0; i < m.threads.size(); ++i) {
    auto& t = *m.threads[i];
    m.expire_tick(t, i);
    t.thread = std::thread([&t] { t.ctx.run(); });
  }
  m.running = true;
  logger_for("cache")->info("RESP server on {}:{} with {} I/O threads", m.cfg.host, m.port, n);
  return {};
}

void resp_server::stop() {
  auto& m = *impl_;
  if (!m.running)
    return;
  m.running = false;
  for (auto& t : m.threads)
    t->ctx.stop();
  for (auto& t : m.threads)
    if (t->thread.joinable())
      t->thread.join();
  m.threads.clear(); // destroys pending handlers, so the connections close
}

} // namespace troupe::cache
