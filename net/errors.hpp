// troupe's error codes, carried as caf::error in the "troupe" category.
//
// Each code is named for what the caller should do about it. Errors cross
// nodes inside BASP messages, so codes are append-only: never renumber.
#pragma once

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>

#include <cstdint>
#include <string>

namespace troupe {

enum class errc : uint8_t {
  ok = 0,
  // The name is not hosted anywhere reachable: check the name.
  no_such_actor = 1,
  // The message type is not registered in this build: check the type name.
  no_such_type = 2,
  // The message could not be parsed (malformed JSON or protobuf bytes).
  bad_message = 3,
  // The receiver's bounded mailbox is full: back off and retry later.
  mailbox_full = 4,
  // The node hosting the name does not host it anymore: resolve again.
  not_hosted_here = 5,
  // Another live node already uses this --node-id: pick another id.
  duplicate_node_id = 6,
  // No node could be reached: check the endpoint and that a node runs there.
  unreachable = 7,
  // The node is shutting down: retry on another node.
  shutting_down = 8,
  // The receiver does not handle this message type: check the type.
  unexpected_message = 9,
  // The request is malformed (bad arguments): fix the request.
  invalid_argument = 10,
  // Storage failed (I/O error, full disk, corruption): fix the data dir.
  storage_failure = 11,
  // A supervisor gave up after exceeding its restart intensity.
  escalated = 12,
  // The request did not complete in time: retry, maybe elsewhere.
  timeout = 13,
  // The caller's certificate does not allow this (runtime/auth.hpp): use an
  // identity with the permission the message names; retrying cannot help.
  permission_denied = 14,
  // The feature is off on this node (e.g. fault injection without
  // --enable-fault-injection): restart the node with it on, or ask another.
  feature_disabled = 15,
};

/// The CAF error category of troupe errors.
constexpr caf::atom_value error_category = caf::atom("troupe");

/// Returns the name of `x`, e.g. "mailbox_full".
const char* to_string(errc x);

/// Builds a troupe error with a human-readable context string.
inline caf::error make_error(errc x, std::string what = {}) {
  if (what.empty())
    return caf::error{static_cast<uint8_t>(x), error_category};
  return caf::error{static_cast<uint8_t>(x), error_category,
                    caf::make_message(std::move(what))};
}

/// Returns whether `err` is the troupe error `x`.
inline bool is(const caf::error& err, errc x) {
  // An empty error has no category in CAF 0.17.6 (category() would
  // dereference null), so test for emptiness first.
  return err && err.category() == error_category
         && err.code() == static_cast<uint8_t>(x);
}

/// Renders any CAF or troupe error as one line, e.g.
/// "mailbox_full: probe/n1" or "request_timeout".
std::string describe(const caf::error& err);

/// The context text of `err` if it has one (the sentence written for a
/// user), else the same as describe().
std::string message_of(const caf::error& err);

} // namespace troupe
