// The protobuf bridge: one generic adapter that carries any protobuf message
// through CAF, between actors and between processes.
//
// An envelope holds the message's full protobuf name and its serialized
// bytes. CAF only ever sees the envelope (one registered type), so adding a
// .proto message never touches the CAF type list, and protobuf's own rules
// for unknown and missing fields make old and new schemas read each other.
#pragma once

#include "net/errors.hpp"

#include <caf/expected.hpp>
#include <caf/meta/type_name.hpp>

#include <google/protobuf/message.h>

#include <string>
#include <string_view>
#include <vector>

namespace troupe {

/// Maximum size of an envelope's payload. Larger messages are refused on
/// pack and on unpack; CAF's own BASP limits are far above this.
constexpr size_t max_envelope_bytes = 16 * 1024 * 1024;

struct envelope {
  std::string type;  // full protobuf name, e.g. "troupe.v1.Ping"
  std::string bytes; // the message's wire encoding

  bool empty() const noexcept { return type.empty(); }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, envelope& x) {
  return f(caf::meta::type_name("troupe.envelope"), x.type, x.bytes);
}

/// Serializes `msg` into an envelope.
caf::expected<envelope> pack_message(const google::protobuf::Message& msg);

/// Serializes `msg`; aborts only on programmer error (message over the size
/// limit or missing required fields, which proto3 does not have).
template <class T>
envelope pack(const T& msg) {
  auto res = pack_message(msg);
  if (!res)
    return envelope{T::descriptor()->full_name(), {}};
  return std::move(*res);
}

/// Parses `env` into `out`. Fails with `unexpected_message` if the envelope
/// holds another type and with `bad_message` if the bytes do not parse.
caf::error unpack_message(const envelope& env, google::protobuf::Message& out);

template <class T>
caf::expected<T> unpack(const envelope& env) {
  T result;
  if (auto err = unpack_message(env, result))
    return err;
  return result;
}

/// Returns whether `env` holds a `T`.
template <class T>
bool holds(const envelope& env) {
  return env.type == T::descriptor()->full_name();
}

// -- the JSON mapping used by troupectl -------------------------------------

/// Resolves a type name as typed by a user: a full protobuf name
/// ("troupe.v1.Ping") or a short name ("Ping") when it is unambiguous among
/// the message types linked into this program.
caf::expected<std::string> resolve_type_name(std::string_view name);

/// Parses `json` as a message of type `type` (full or short name).
caf::expected<envelope> envelope_from_json(std::string_view type,
                                           std::string_view json);

/// Renders `env` as JSON (protobuf's canonical JSON mapping, one line, with
/// fields at their default values included).
caf::expected<std::string> envelope_to_json(const envelope& env);

/// Full names of every message type linked into this program, sorted.
std::vector<std::string> known_message_types();

} // namespace troupe
