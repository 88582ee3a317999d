// What the driver actors share outside their templates.
#include "drivers.hpp"

#include "server.hpp"

#include "net/errors.hpp"

#include "troupe/probe.pb.h"

namespace troupe::bench {

caf::error check_pong(const envelope& reply) {
  if (holds<v1::Pong>(reply))
    return caf::none;
  return make_error(errc::unexpected_message,
                    "expected a Pong, got " + reply.type);
}

measurement await(completion& done, const std::string& what,
                  const options& opts) {
  auto result = done.wait(std::chrono::seconds{opts.max_seconds});
  if (!result)
    fatal(what + " did not finish within " + std::to_string(opts.max_seconds)
          + " s; aborting");
  if (!*result)
    fatal(what + " failed: " + describe(result->error()));
  return std::move(**result);
}

} // namespace troupe::bench
