#include "tests/support/kv_client.hpp"

#include "net/address.hpp"
#include "runtime/auth_client.hpp"
#include "runtime/tls.hpp"
#include "tests/support/process.hpp"
#include "runtime/type_ids.hpp"

#include <caf/io/middleman.hpp>

#include <set>
#include <thread>

namespace troupe::test {

using namespace std::chrono;

namespace {

// kv::prefix_end, without linking the consensus library into test support.
std::string prefix_end(std::string p) {
  while (!p.empty() && static_cast<unsigned char>(p.back()) == 0xff)
    p.pop_back();
  if (p.empty())
    return std::string(1, '\0');
  p.back() = static_cast<char>(static_cast<unsigned char>(p.back()) + 1);
  return p;
}

} // namespace

kv_client::kv_client(caf::actor_system& sys, std::map<std::string, std::string> nodes,
                     std::uint64_t client_id)
  : sys_(sys), self_(sys), nodes_(std::move(nodes)), client_id_(client_id) {
}

std::optional<caf::actor> kv_client::gateway(const std::string& node) {
  if (auto i = gateways_.find(node); i != gateways_.end())
    return i->second;
  auto j = nodes_.find(node);
  if (j == nodes_.end())
    return std::nullopt;
  auto addr = parse_host_port(j->second, 7400);
  if (!addr)
    return std::nullopt;
  std::optional<caf::actor> result;
  auto mm = connection_manager(sys_);
  self_->request(mm, seconds{1}, caf::connect_atom::value, addr->host, addr->port)
    .receive(
      [&](const caf::node_id&, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
        if (ptr)
          result = caf::actor_cast<caf::actor>(ptr);
      },
      [&](caf::error&) {});
  // Over TLS, prove the harness's admin certificate (runtime/auth.hpp).
  if (result && tls_enabled(sys_)) {
    static auto me = auth::signer::load(test_client_tls());
    if (!me || !auth::prove_blocking(self_, *result, **me, seconds{2}))
      return std::nullopt;
  }
  if (result)
    gateways_[node] = *result;
  return result;
}

std::optional<envelope> kv_client::ask(const std::string& node, const envelope& msg,
                                       milliseconds timeout, std::string& error) {
  auto gw = gateway(node);
  if (!gw) {
    error = "cannot connect to " + node;
    return std::nullopt;
  }
  std::optional<envelope> reply;
  self_->request(*gw, timeout, send_atom_v, "raft/" + node, msg)
    .receive([&](envelope& r) { reply = std::move(r); },
             [&](caf::error& err) {
               error = node + ": " + to_string(err);
               if (err == caf::sec::request_timeout)
                 error = "timeout: " + error;
               gateways_.erase(node); // reconnect next time
             });
  return reply;
}

std::optional<v1::KvReply> kv_client::call(const v1::KvRequest& req, milliseconds timeout,
                                           std::string& error) {
  auto deadline = steady_clock::now() + timeout;
  auto msg = pack(req);
  std::vector<std::string> order;
  for (auto& [id, addr] : nodes_)
    order.push_back(id);
  while (steady_clock::now() < deadline) {
    auto node = leader_.empty() ? order[rotate_++ % order.size()] : leader_;
    auto left = duration_cast<milliseconds>(deadline - steady_clock::now());
    auto reply = ask(node, msg, std::max(left, milliseconds{1}), error);
    if (!reply) {
      leader_.clear();
      if (error.rfind("timeout: ", 0) == 0)
        return std::nullopt; // the request may be in the leader's log
      std::this_thread::sleep_for(milliseconds{20});
      continue;
    }
    auto r = unpack<v1::KvReply>(*reply);
    if (!r) {
      error = "bad reply: " + to_string(r.error());
      return std::nullopt;
    }
    if (r->status() == v1::KV_STATUS_NOT_LEADER) {
      leader_ = nodes_.count(r->leader_node()) ? r->leader_node() : std::string{};
      if (leader_.empty())
        std::this_thread::sleep_for(milliseconds{20});
      continue;
    }
    leader_ = node;
    return std::move(*r);
  }
  error = "no answer within " + std::to_string(timeout.count()) + " ms";
  return std::nullopt;
}

put_result kv_client::put(const std::string& key, const std::string& value,
                          milliseconds timeout) {
  v1::KvRequest req;
  req.set_client_id(client_id_);
  req.set_request_id(next_request_++);
  req.mutable_put()->set_key(key);
  req.mutable_put()->set_value(value);
  put_result out;
  auto reply = call(req, timeout, out.error);
  if (!reply)
    return out; // unknown: a timeout may hide an applied write
  switch (reply->status()) {
    case v1::KV_STATUS_OK:
      out.result = outcome::ok;
      out.revision = reply->header().revision();
      break;
    case v1::KV_STATUS_OUTCOME_UNKNOWN:
      out.error = reply->error_message();
      break;
    default:
      out.result = outcome::fail;
      out.error = reply->error_message();
      break;
  }
  return out;
}

get_result kv_client::get(const std::string& key, bool serializable, milliseconds timeout) {
  v1::KvRequest req;
  req.mutable_range()->set_key(key);
  req.mutable_range()->set_serializable(serializable);
  get_result out;
  auto reply = call(req, timeout, out.error);
  if (!reply || reply->status() != v1::KV_STATUS_OK) {
    // A read changes nothing: whatever went wrong, it did not happen.
    out.result = outcome::fail;
    if (reply)
      out.error = reply->error_message();
    return out;
  }
  out.result = outcome::ok;
  if (reply->range().kvs_size() > 0)
    out.value = reply->range().kvs(0).value();
  return out;
}

std::optional<std::map<std::string, std::string>>
kv_client::range_prefix(const std::string& prefix, milliseconds timeout) {
  v1::KvRequest req;
  req.mutable_range()->set_key(prefix);
  req.mutable_range()->set_range_end(prefix_end(prefix));
  std::string error;
  auto reply = call(req, timeout, error);
  if (!reply || reply->status() != v1::KV_STATUS_OK)
    return std::nullopt;
  std::map<std::string, std::string> out;
  for (auto& kv : reply->range().kvs())
    out[kv.key()] = kv.value();
  return out;
}

} // namespace troupe::test
