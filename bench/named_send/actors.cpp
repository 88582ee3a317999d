// The measured actors: echo and sink, in a troupe and a bare version.
#include "actors.hpp"

#include "actors/probe/probe.hpp"
#include "runtime/proto_actor.hpp"

#include <caf/result.hpp>

#include <utility>

namespace troupe::bench {

namespace {

void count_one(sink_counter& c) {
  ++c.received;
  if (c.received % c.ack_every == 0 || c.received == c.total)
    caf::anon_send(c.ack_to, c.received);
}

} // namespace

v1::Pong echo_answer(const v1::Ping& ping) {
  return probe::answer(ping, "bench", "echo", 1);
}

caf::behavior troupe_echo(caf::event_based_actor*,
                          std::shared_ptr<mailbox_gate> gate) {
  proto_handlers handlers;
  handlers.on<v1::Ping>([](const v1::Ping& ping) { return echo_answer(ping); });
  return handlers.to_behavior(std::move(gate));
}

caf::behavior bare_echo(caf::event_based_actor*) {
  return {
      [](const envelope& env) -> caf::result<envelope> {
        auto ping = unpack<v1::Ping>(env);
        if (!ping)
          return std::move(ping.error());
        return pack(echo_answer(*ping));
      },
  };
}

caf::behavior troupe_sink(caf::event_based_actor*,
                          std::shared_ptr<sink_counter> counter,
                          std::shared_ptr<mailbox_gate> gate) {
  proto_handlers handlers;
  handlers.on<v1::Ping>([counter](const v1::Ping&) {
    count_one(*counter);
    return v1::Empty{};
  });
  return handlers.to_behavior(std::move(gate));
}

caf::behavior bare_sink(caf::event_based_actor*,
                        std::shared_ptr<sink_counter> counter) {
  return {
      [counter](const envelope& env) -> caf::result<envelope> {
        auto ping = unpack<v1::Ping>(env);
        if (!ping)
          return std::move(ping.error());
        count_one(*counter);
        return pack(v1::Empty{});
      },
  };
}

void host_named(node_context& ctx, const std::string& name, caf::actor handle,
                std::shared_ptr<mailbox_gate> gate) {
  local_actor_entry entry;
  entry.name = name;
  entry.type = "bench";
  entry.handle = std::move(handle);
  entry.gate = std::move(gate);
  entry.status = "running";
  entry.kind = "permanent";
  entry.incarnation = 1;
  ctx.table->upsert(std::move(entry));
}

void add_bystanders(node_context& ctx, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    local_actor_entry entry;
    entry.name = "worker/" + std::to_string(i);
    entry.type = "bench";
    entry.status = "stopped";
    entry.gate = std::make_shared<mailbox_gate>(1);
    ctx.table->upsert(std::move(entry));
  }
}

envelope make_ping(size_t payload_bytes) {
  v1::Ping ping;
  ping.set_payload(std::string(payload_bytes, 'x'));
  return pack(ping);
}

} // namespace troupe::bench
