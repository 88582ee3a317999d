#include "runtime/proto_actor.hpp"

namespace troupe {

caf::expected<envelope> proto_handlers::dispatch(const envelope& env) const {
  auto i = handlers_.find(env.type);
  if (i != handlers_.end())
    return i->second(env);
  std::string known;
  for (auto& [type, fn] : handlers_)
    known += (known.empty() ? "" : ", ") + type;
  return make_error(errc::unexpected_message,
                    "this actor does not handle " + env.type + " (it handles "
                      + known + ")");
}

caf::result<envelope> proto_handlers::handle(const envelope& env,
                                             const std::shared_ptr<mailbox_gate>& gate) const {
  if (gate)
    gate->leave();
  auto res = dispatch(env);
  if (!res)
    return std::move(res.error());
  return std::move(*res);
}

caf::behavior
proto_handlers::to_behavior(std::shared_ptr<mailbox_gate> gate) const {
  auto self_copy = *this;
  return {
    [self_copy, gate](const envelope& env) -> caf::result<envelope> {
      return self_copy.handle(env, gate);
    },
  };
}

} // namespace troupe
