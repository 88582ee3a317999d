#include "actors/probe/probe.hpp"

#include "runtime/proto_actor.hpp"

#include <caf/event_based_actor.hpp>

namespace troupe::probe {

v1::Pong answer(const v1::Ping& ping, const std::string& node_id,
                const std::string& actor_name, uint64_t incarnation) {
  v1::Pong pong;
  pong.set_node_id(node_id);
  pong.set_payload(ping.payload());
  pong.set_incarnation(incarnation);
  pong.set_actor(actor_name);
  return pong;
}

std::string name_for(const std::string& node_id) {
  return "probe/" + node_id;
}

namespace {

caf::behavior probe_actor(caf::event_based_actor*, std::string node_id,
                          child_context ctx) {
  proto_handlers handlers;
  handlers.on<v1::Ping>([=](const v1::Ping& ping) {
    return answer(ping, node_id, ctx.name, ctx.incarnation);
  });
  return handlers.to_behavior(ctx.gate);
}

} // namespace

child_spec child(const std::string& node_id) {
  child_spec spec;
  spec.name = name_for(node_id);
  spec.type = "probe";
  spec.kind = child_kind::permanent;
  spec.start = [node_id](caf::local_actor* sup, const child_context& ctx) {
    return sup->spawn(probe_actor, node_id, ctx);
  };
  return spec;
}

} // namespace troupe::probe
