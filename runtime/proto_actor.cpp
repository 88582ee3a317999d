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

caf::behavior
proto_handlers::to_behavior(std::shared_ptr<mailbox_gate> gate) const {
  auto self_copy = *this;
  return {
    [self_copy, gate](const envelope& env) -> caf::result<envelope> {
      if (gate)
        gate->leave();
      auto res = self_copy.dispatch(env);
      if (!res)
        return std::move(res.error());
      return std::move(*res);
    },
  };
}

} // namespace troupe
