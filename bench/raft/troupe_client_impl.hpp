// Template definitions of troupe_client.hpp.
#pragma once

#include "runtime/type_ids.hpp"

namespace troupe::kvbench {

template <class Self>
auto request_named(Self* self, gateway_path path, const caf::actor& gateway,
                   std::chrono::milliseconds timeout, const std::string& name,
                   envelope msg) {
  // Both message forms have the same reply type, so the two request handles
  // have the same type and can be returned from one function.
  if (path == gateway_path::route)
    return self->request(gateway, timeout, route_atom_v, name, std::move(msg));
  return self->request(gateway, timeout, send_atom_v, name, std::move(msg));
}

} // namespace troupe::kvbench
