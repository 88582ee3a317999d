// The benchmark's client side of troupe: connections to the nodes' gateways
// (as troupectl makes them), the KvRequest/KvReply and RaftStatus messages,
// and the path a request takes into raft/<node>.
#pragma once

#include "net/address.hpp"
#include "net/envelope.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace troupe::v1 {
class RaftStatus;
} // namespace troupe::v1

namespace troupe::kvbench {

/// How a request enters the node: `send` is (send_atom, name, envelope),
/// the request-by-name path troupectl uses; `route` is (route_atom, name,
/// envelope), the gateway's direct delivery to a local name, one actor hop
/// less.
enum class gateway_path { send, route };

/// Sends `msg` to `name` through `gateway` as a request on `self` (any
/// actor type with request()); returns the request handle.
template <class Self>
auto request_named(Self* self, gateway_path path, const caf::actor& gateway,
                   std::chrono::milliseconds timeout, const std::string& name,
                   envelope msg);

/// A put of `key` = `value` as client `client_id`'s request `request_id`.
envelope make_put(uint64_t client_id, uint64_t request_id,
                  const std::string& key, const std::string& value);

/// What a client should do after a put's reply (proto/troupe/kv.proto,
/// KvStatus).
enum class put_outcome {
  ok,       // KV_STATUS_OK with a header revision
  redirect, // NOT_LEADER naming the leader: resend there
  retry,    // NOT_LEADER without a leader, UNAVAILABLE, OUTCOME_UNKNOWN,
            // OVERLOADED: resend the same request (same ids) after a pause
  fail,     // anything else: the request itself is wrong
};

struct put_reply {
  put_outcome outcome = put_outcome::fail;
  int64_t revision = 0;    // ok only
  std::string leader_node; // redirect only
  std::string error;       // all but ok
};

put_reply classify_put(const envelope& reply);

/// The header revision of `reply` if it is a KvReply with KV_STATUS_OK and
/// a positive revision; otherwise 0 and `error` says what it was.
int64_t put_revision(const envelope& reply, std::string& error);

/// The consensus member's name on node `node_id`: "raft/<node-id>".
std::string member_name(const std::string& node_id);

/// Blocking connections to a fixed list of gateways, for status polls and
/// setup. A handle is dropped on any error and made again on next use,
/// because a restarted node is a new CAF node with a new gateway.
class gateway_set {
public:
  gateway_set(caf::actor_system& sys, std::vector<host_port> endpoints);

  /// The gateway of endpoint `i`, connecting if needed.
  caf::expected<caf::actor> gateway(size_t i);
  void forget(size_t i);

  /// Asks raft/<node_id> through gateway `i` for its RaftStatus.
  caf::expected<v1::RaftStatus> raft_status(size_t i,
                                            const std::string& node_id,
                                            std::chrono::milliseconds timeout);

  caf::actor_system& system() noexcept {
    return sys_;
  }

private:
  caf::actor_system& sys_;
  std::vector<host_port> endpoints_;
  std::vector<caf::actor> gateways_;
  caf::scoped_actor self_;
};

} // namespace troupe::kvbench

#include "troupe_client_impl.hpp"
