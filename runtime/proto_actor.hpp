// Building the behavior of an actor that is reachable by name.
//
// Named actors receive protobuf messages in envelopes (net/envelope.hpp). A
// proto_handlers table maps each request type to a handler; to_behavior()
// turns it into a CAF behavior that leaves the mailbox gate, dispatches on the
// envelope's type and answers with an envelope or a troupe error.
#pragma once

#include "net/envelope.hpp"
#include "runtime/local_actors.hpp"
#include "runtime/type_ids.hpp"

#include <caf/behavior.hpp>
#include <caf/result.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <type_traits>

namespace troupe {

class proto_handlers {
public:
  using handler = std::function<caf::expected<envelope>(const envelope&)>;

  /// Adds a handler for requests of type Req. `f` takes `const Req&` and
  /// returns a protobuf message or a caf::expected of one.
  template <class Req, class F>
  proto_handlers& on(F f) {
    handlers_[Req::descriptor()->full_name()]
      = [f = std::move(f)](const envelope& env) -> caf::expected<envelope> {
      auto req = unpack<Req>(env);
      if (!req)
        return req.error();
      return wrap(f(*req));
    };
    return *this;
  }

  /// The behavior: `(envelope) -> envelope`. `gate` may be null for actors
  /// that are not gated. Unknown types are answered with
  /// errc::unexpected_message naming the types this actor handles.
  caf::behavior to_behavior(std::shared_ptr<mailbox_gate> gate) const;

  /// Leaves the gate (if any) and dispatches: the envelope handler of an
  /// actor that also takes other messages (to_behavior is this alone).
  caf::result<envelope> handle(const envelope& env,
                               const std::shared_ptr<mailbox_gate>& gate) const;

  /// Dispatches one envelope (used by to_behavior and by tests).
  caf::expected<envelope> dispatch(const envelope& env) const;

private:
  template <class T>
  static caf::expected<envelope> wrap(caf::expected<T> x) {
    if (!x)
      return x.error();
    return pack_message(*x);
  }

  template <class T>
  static caf::expected<envelope> wrap(T x) {
    return pack_message(x);
  }

  std::map<std::string, handler> handlers_;
};

} // namespace troupe
