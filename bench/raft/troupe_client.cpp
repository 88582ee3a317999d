#include "troupe_client.hpp"

#include "runtime/defaults.hpp"

#include "troupe/kv.pb.h"
#include "troupe/raft.pb.h"

#include <caf/io/middleman.hpp>

#include <set>

namespace troupe::kvbench {

envelope make_put(uint64_t client_id, uint64_t request_id,
                  const std::string& key, const std::string& value) {
  v1::KvRequest req;
  req.set_client_id(client_id);
  req.set_request_id(request_id);
  auto* put = req.mutable_put();
  put->set_key(key);
  put->set_value(value);
  return pack(req);
}

put_reply classify_put(const envelope& reply) {
  put_reply out;
  auto msg = unpack<v1::KvReply>(reply);
  if (!msg) {
    out.error = "not a KvReply: " + describe(msg.error());
    return out;
  }
  auto status = msg->status();
  if (status == v1::KV_STATUS_OK) {
    if (msg->header().revision() > 0) {
      out.outcome = put_outcome::ok;
      out.revision = msg->header().revision();
    } else {
      out.error = "KV_STATUS_OK without a header revision";
    }
    return out;
  }
  out.error
      = v1::KvStatus_Name(status) + " " + msg->error_message()
        + (msg->leader_node().empty() ? "" : " leader=" + msg->leader_node());
  if (status == v1::KV_STATUS_NOT_LEADER && !msg->leader_node().empty()) {
    out.outcome = put_outcome::redirect;
    out.leader_node = msg->leader_node();
  } else if (status == v1::KV_STATUS_NOT_LEADER
             || status == v1::KV_STATUS_UNAVAILABLE
             || status == v1::KV_STATUS_OUTCOME_UNKNOWN
             || status == v1::KV_STATUS_OVERLOADED) {
    out.outcome = put_outcome::retry;
  }
  return out;
}

int64_t put_revision(const envelope& reply, std::string& error) {
  auto r = classify_put(reply);
  error = std::move(r.error);
  return r.revision;
}

std::string member_name(const std::string& node_id) {
  return "raft/" + node_id;
}

gateway_set::gateway_set(caf::actor_system& sys,
                         std::vector<host_port> endpoints) :
  sys_(sys),
  endpoints_(std::move(endpoints)), gateways_(endpoints_.size()), self_(sys) {}

caf::expected<caf::actor> gateway_set::gateway(size_t i) {
  if (gateways_.at(i))
    return gateways_[i];
  // The middleman actor's connect has a real timeout, unlike remote_actor()
  // (caf-0.17-notes §4).
  auto mm = sys_.middleman().actor_handle();
  caf::expected<caf::actor> result{caf::error{}};
  self_
      ->request(mm, defaults::cli_connect_timeout, caf::connect_atom::value,
                endpoints_[i].host, endpoints_[i].port)
      .receive(
          [&](const caf::node_id&, caf::strong_actor_ptr& ptr,
              const std::set<std::string>&) {
            if (ptr)
              result = caf::actor_cast<caf::actor>(ptr);
            else
              result = make_error(errc::unreachable,
                                  "no gateway published at "
                                      + endpoints_[i].to_string());
          },
          [&](caf::error& err) { result = std::move(err); });
  if (result)
    gateways_[i] = *result;
  return result;
}

void gateway_set::forget(size_t i) {
  gateways_.at(i) = caf::actor{};
}

caf::expected<v1::RaftStatus>
gateway_set::raft_status(size_t i, const std::string& node_id,
                         std::chrono::milliseconds timeout) {
  auto gw = gateway(i);
  if (!gw)
    return gw.error();
  caf::expected<v1::RaftStatus> result{caf::error{}};
  request_named(self_.ptr(), gateway_path::send, *gw, timeout,
                member_name(node_id), pack(v1::RaftStatusRequest{}))
      .receive(
          [&](envelope& reply) {
            auto status = unpack<v1::RaftStatus>(reply);
            if (status)
              result = std::move(*status);
            else
              result = status.error();
          },
          [&](caf::error& err) { result = std::move(err); });
  if (!result)
    forget(i);
  return result;
}

} // namespace troupe::kvbench
