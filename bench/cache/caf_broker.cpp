// The figure behind the cache's I/O design (docs/cache.md, "Data path"):
// how fast CAF 0.17's single multiplexer thread serves RESP. A CAF
// io::broker parses RESP with net/resp.hpp and answers every command with
// +PONG itself (--actor: with a request/then round trip to an actor, as a
// cache shard actor would). Run redis-benchmark against it:
//
//   cache_caf_broker_bench --port 16392 [--actor] &
//   redis-benchmark -h 127.0.0.1 -p 16392 -c 50 -n 200000 -P 1 -t ping_mbulk -q
#include "net/resp.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>

namespace {

using namespace caf;

struct conn {
  troupe::resp::request_parser parser;
  std::vector<std::string_view> args;
};

behavior pong_actor(event_based_actor*) {
  return {[](const std::string&) { return std::string{"+PONG\r\n"}; }};
}

void send_str(io::broker* self, io::connection_handle h, const std::string& s) {
  self->write(h, s.size(), s.data());
  self->flush(h);
}

behavior resp_broker(io::broker* self, uint16_t port, actor backend) {
  auto res = self->add_tcp_doorman(port, "127.0.0.1", true);
  if (!res) {
    std::fprintf(stderr, "cannot listen on %u\n", port);
    self->quit();
  }
  auto conns = std::make_shared<std::unordered_map<io::connection_handle, conn>>();
  return {
    [=](const io::new_connection_msg& m) {
      (*conns)[m.handle];
      self->configure_read(m.handle, io::receive_policy::at_most(16384));
    },
    [=](const io::new_data_msg& m) {
      auto& c = (*conns)[m.handle];
      c.parser.append({m.buf.data(), m.buf.size()});
      std::string out;
      size_t n = 0;
      while (c.parser.next(c.args) == troupe::resp::parse_status::command)
        ++n;
      if (!backend) {
        for (size_t i = 0; i < n; ++i)
          out += "+PONG\r\n";
        send_str(self, m.handle, out);
        return;
      }
      auto h = m.handle;
      for (size_t i = 0; i < n; ++i)
        self->request(backend, std::chrono::seconds{5}, std::string{"ping"})
          .then([=](const std::string& r) { send_str(self, h, r); });
    },
    [=](const io::connection_closed_msg& m) { conns->erase(m.handle); },
    [=](const io::acceptor_closed_msg&) { self->quit(); },
  };
}

struct config : actor_system_config {
  uint16_t port = 16392;
  bool use_actor = false;
  config() {
    opt_group{custom_options_, "global"}
      .add(port, "port", "RESP port")
      .add(use_actor, "actor", "answer through an actor's request/then");
  }
};

void caf_main(actor_system& sys, const config& cfg) {
  actor backend;
  if (cfg.use_actor)
    backend = sys.spawn(pong_actor);
  sys.middleman().spawn_broker(resp_broker, cfg.port, backend);
}

} // namespace

CAF_MAIN(io::middleman)
