// troupectl cache create|slots|shards: a cache cluster's shards are
// placements (docs/cache-cluster.md), so these talk to the controller.
#include "cli/cache_commands.hpp"
#include "cli/control_commands.hpp"
#include "cli/table.hpp"

#include "troupe/control.pb.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <map>
#include <memory>

namespace troupe::cli {

namespace {

constexpr uint32_t slots_total = 16384;

struct create_args {
  uint32_t shards = 0; // 0: two per cache node that is up
  uint32_t replicas = 1;
};

outcome<v1::ControlReply> place(client& c, const caf::actor& gw, const options& opts,
                                const v1::PlacementSpec& spec) {
  v1::PlaceRequest req;
  *req.mutable_spec() = spec;
  auto reply = ask_controller(c, gw, opts, pack(req));
  if (!reply)
    return reply.error();
  auto r = unpack<v1::ControlReply>(*reply);
  if (!r)
    return failure{exit_failed, "unexpected reply: " + describe(r.error())};
  if (!r->ok())
    return failure{exit_failed, spec.name() + ": " + r->error()};
  return *r;
}

outcome<v1::ControlStatus> status(client& c, const caf::actor& gw, const options& opts) {
  auto reply = ask_controller(c, gw, opts, pack(v1::ControlStatusRequest{}));
  if (!reply)
    return reply.error();
  auto s = unpack<v1::ControlStatus>(*reply);
  if (!s)
    return failure{exit_failed, "unexpected reply: " + describe(s.error())};
  return *s;
}

std::string shard_of(const std::string& placement) {
  auto first = placement.find('/'), last = placement.rfind('/');
  return placement.substr(first + 1, last - first - 1);
}

bool runs_cache(const v1::MemberInfo& info) {
  for (auto& r : info.roles())
    if (r == "cache" || r == "all")
      return true;
  return false;
}

int run_create(client& c, const caf::actor& gw, const options& opts, create_args a) {
  auto st = status(c, gw, opts);
  if (!st)
    return fail(st.error());
  if (a.shards == 0) {
    for (auto& m : st->members())
      if (m.status() == v1::MEMBER_STATUS_UP && runs_cache(m.info()))
        a.shards += 2;
    if (a.shards == 0)
      return fail({exit_failed, "no cache node is up (start nodes with --role cache)"});
  }
  for (auto& p : st->placements())
    if (p.spec().type() == "cache-primary")
      return fail({exit_failed, "the cache cluster exists already (" + p.spec().name()
                                  + "); troupectl cache shards lists it. Resharding an "
                                    "existing cluster is not built yet"});
  // Primaries first, so that they spread over the nodes before any replica
  // takes a place; each replica stays apart from its primary.
  for (uint32_t i = 0; i < a.shards; ++i) {
    auto name = "shard-" + std::to_string(i);
    v1::PlacementSpec spec;
    spec.set_name("cache/" + name + "/primary");
    spec.set_type("cache-primary");
    spec.set_role("cache");
    auto* r = spec.add_slots();
    r->set_start(i * slots_total / a.shards);
    r->set_end((i + 1) * slots_total / a.shards - 1);
    if (a.replicas > 0)
      spec.set_standby("cache/" + name + "/replica");
    if (auto rc = place(c, gw, opts, spec); !rc)
      return fail(rc.error());
  }
  for (uint32_t i = 0; a.replicas > 0 && i < a.shards; ++i) {
    auto name = "shard-" + std::to_string(i);
    v1::PlacementSpec spec;
    spec.set_name("cache/" + name + "/replica");
    spec.set_type("cache-replica");
    spec.set_role("cache");
    spec.add_apart_from("cache/" + name + "/primary");
    if (auto rc = place(c, gw, opts, spec); !rc)
      return fail(rc.error());
  }
  if (opts.json()) {
    std::printf("%s\n", nlohmann::json{{"shards", a.shards}, {"replicas", a.replicas}}.dump().c_str());
    return exit_ok;
  }
  std::printf("OK: %u shards over 16384 slots, %u replica each (troupectl cache shards "
              "shows where they run)\n",
              a.shards, a.replicas);
  return exit_ok;
}

struct shard_row {
  std::string name;
  std::string slots;
  std::string primary, primary_address, replica, replica_address;
  uint64_t epoch = 0;
  std::string reason;
  nlohmann::json ranges = nlohmann::json::array();
};

std::map<std::string, shard_row> shard_rows(const v1::ControlStatus& s) {
  std::map<std::string, std::string> addr;
  for (auto& m : s.members())
    addr[m.info().node_id()] = m.info().resp_address();
  std::map<std::string, shard_row> rows;
  for (auto& p : s.placements()) {
    bool primary = p.spec().type() == "cache-primary";
    if (!primary && p.spec().type() != "cache-replica")
      continue;
    auto& row = rows[shard_of(p.spec().name())];
    row.name = shard_of(p.spec().name());
    if (primary) {
      row.primary = p.node_id();
      row.primary_address = addr[p.node_id()];
      row.epoch = p.epoch();
      row.reason = p.reason();
      for (auto& r : p.spec().slots()) {
        row.slots += (row.slots.empty() ? "" : ",") + std::to_string(r.start()) + "-"
                     + std::to_string(r.end());
        row.ranges.push_back({r.start(), r.end()});
      }
    } else {
      row.replica = p.node_id();
      row.replica_address = addr[p.node_id()];
    }
  }
  return rows;
}

int run_shards(client& c, const caf::actor& gw, const options& opts, bool slots_only) {
  auto st = status(c, gw, opts);
  if (!st)
    return fail(st.error());
  auto rows = shard_rows(*st);
  if (rows.empty())
    return fail({exit_failed, "no cache cluster: create one with troupectl cache create "
                              "--shards N --replicas 1"});
  if (opts.json()) {
    auto out = nlohmann::json::array();
    for (auto& [name, r] : rows)
      out.push_back({{"shard", name}, {"slots", r.ranges}, {"primary", r.primary},
                     {"primary_address", r.primary_address}, {"replica", r.replica},
                     {"replica_address", r.replica_address}, {"epoch", r.epoch},
                     {"reason", r.reason}});
    std::printf("%s\n", out.dump().c_str());
    return exit_ok;
  }
  std::vector<table_row> table;
  if (slots_only) {
    table.push_back({"SLOTS", "SHARD", "PRIMARY", "RESP"});
    for (auto& [name, r] : rows)
      table.push_back({r.slots, name, r.primary.empty() ? "-" : r.primary,
                       r.primary_address.empty() ? "-" : r.primary_address});
  } else {
    table.push_back({"SHARD", "SLOTS", "PRIMARY", "REPLICA", "EPOCH", "REASON"});
    for (auto& [name, r] : rows)
      table.push_back({name, r.slots, r.primary.empty() ? "-" : r.primary,
                       r.replica.empty() ? "-" : r.replica, std::to_string(r.epoch),
                       r.reason});
  }
  std::fputs(render_table(table).c_str(), stdout);
  return exit_ok;
}

} // namespace

void add_cache_cluster_commands(CLI::App& cache, chosen_command& chosen) {
  auto ca = std::make_shared<create_args>();
  auto* create = cache.add_subcommand(
    "create", "make this cluster a cache cluster: N shards over the 16384 hash slots, each "
              "a primary and a replica on different nodes, placed and failed over by the "
              "control plane");
  create->add_option("--shards", ca->shards,
                     "number of shards (default: two per cache node that is up, so that "
                     "every node serves primaries while the Raft leader's serves fewer)")
    ->check(CLI::Range(1u, 1024u));
  create->add_option("--replicas", ca->replicas,
                     "replicas per shard: 0 or 1 (default 1; more is not built)")
    ->check(CLI::Range(0u, 1u));
  create->callback([&chosen, ca] {
    chosen.online = [ca](client& c, const caf::actor& gw, const options& o) {
      return run_create(c, gw, o, *ca);
    };
  });
  cache.add_subcommand("slots", "the slot map: which node serves each range")
    ->callback([&chosen] {
      chosen.online = [](client& c, const caf::actor& gw, const options& o) {
        return run_shards(c, gw, o, true);
      };
    });
  cache.add_subcommand("shards", "every shard: slots, primary, replica, epoch, last move")
    ->callback([&chosen] {
      chosen.online = [](client& c, const caf::actor& gw, const options& o) {
        return run_shards(c, gw, o, false);
      };
    });
}

} // namespace troupe::cli
