#include "cli/kv_command_support.hpp"

#include "cli/kv_call.hpp"
#include "cli/member_target.hpp"

namespace troupe::cli {

outcome<v1::KvReply> execute_kv(client& c, const caf::actor& gateway,
                                const options& opts, v1::KvRequest req) {
  auto target = reach_members(c, gateway, opts);
  if (!target)
    return target.error();
  kv_session session{random_client_id()};
  return session.execute(target->env, target->policy, target->endpoint_node,
                         std::move(req));
}

int print_kv(const options& opts, const v1::KvReply& reply,
             const std::string& table) {
  if (opts.json())
    return print_json(pack(reply));
  std::fputs(table.c_str(), stdout);
  return exit_ok;
}

command kv_command(v1::KvRequest req, kv_renderer table) {
  return [req = std::move(req), table = std::move(table)](
             client& c, const caf::actor& gw, const options& opts) -> int {
    auto reply = execute_kv(c, gw, opts, req);
    return reply ? print_kv(opts, *reply, table(*reply)) : fail(reply.error());
  };
}

} // namespace troupe::cli
