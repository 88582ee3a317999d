#include "cli/kv_lease_commands.hpp"

#include "cli/kv_command_support.hpp"
#include "cli/kv_requests.hpp"

#include <memory>

namespace troupe::cli {

namespace {

struct lease_args {
  int64_t ttl_seconds = 0;
  int64_t id = 0;
  int64_t revision = 0;
};

std::string granted(const v1::KvReply& r) {
  return "lease " + std::to_string(r.lease_grant().id()) + " granted with TTL "
         + std::to_string(r.lease_grant().ttl_seconds()) + "s\n";
}

std::string renewed(const v1::KvReply& r) {
  return "lease " + std::to_string(r.lease_keep_alive().id())
         + " renewed with TTL "
         + std::to_string(r.lease_keep_alive().ttl_seconds()) + "s\n";
}

void add_grant(CLI::App& lease, chosen_command& chosen) {
  auto args = std::make_shared<lease_args>();
  auto* sub = lease.add_subcommand("grant", "create a lease; prints its id");
  sub->add_option("TTL", args->ttl_seconds, "seconds until it expires")
      ->required();
  sub->add_option("--id", args->id, "this id (default: the next free one)");
  sub->callback([&chosen, args] {
    chosen.online = kv_command(
        checked(build_lease_grant(args->ttl_seconds, args->id)), granted);
  });
}

void add_revoke(CLI::App& lease, chosen_command& chosen) {
  auto args = std::make_shared<lease_args>();
  auto* sub = lease.add_subcommand("revoke", "delete a lease and every key "
                                             "attached to it");
  sub->add_option("ID", args->id, "the lease id")->required();
  sub->callback([&chosen, args] {
    auto id = args->id;
    chosen.online
        = kv_command(checked(build_lease_revoke(id)), [id](const v1::KvReply&) {
            return "lease " + std::to_string(id) + " revoked\n";
          });
  });
}

void add_keep_alive(CLI::App& lease, chosen_command& chosen) {
  auto args = std::make_shared<lease_args>();
  auto* sub = lease.add_subcommand("keep-alive", "renew a lease once");
  sub->add_option("ID", args->id, "the lease id")->required();
  sub->callback([&chosen, args] {
    chosen.online
        = kv_command(checked(build_lease_keep_alive(args->id)), renewed);
  });
}

void add_compact(CLI::App& kv, chosen_command& chosen) {
  auto args = std::make_shared<lease_args>();
  auto* sub = kv.add_subcommand("compact", "drop the history before REV "
                                           "(reads and watches below it fail)");
  sub->add_option("REV", args->revision, "the revision")->required();
  sub->callback([&chosen, args] {
    auto rev = args->revision;
    chosen.online
        = kv_command(checked(build_compaction(rev)), [rev](const v1::KvReply&) {
            return "compacted revision " + std::to_string(rev) + "\n";
          });
  });
}

} // namespace

void add_kv_lease_commands(CLI::App& kv, chosen_command& chosen) {
  auto* lease = kv.add_subcommand("lease", "leases: keys that expire together");
  lease->require_subcommand(1);
  add_grant(*lease, chosen);
  add_revoke(*lease, chosen);
  add_keep_alive(*lease, chosen);
  add_compact(kv, chosen);
}

} // namespace troupe::cli
