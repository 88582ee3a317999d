#include "cli/fault_commands.hpp"

#include "cli/table.hpp"
#include "runtime/faults.hpp"
#include "runtime/type_ids.hpp"

#include "troupe/faults.pb.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

namespace troupe::cli {

namespace {

struct fault_args {
  std::string name;     // kill-actor NAME, crash-node ID
  std::string from, to; // drop/delay
  double rate = 1.0;    // drop --rate
  uint32_t ms = 0;      // delay --ms
  std::string groups;   // partition A,B/C
};

std::string render_links(const v1::FaultReply& r) {
  std::string out;
  if (!r.summary().empty())
    out += r.summary() + "\n";
  if (r.links_size() == 0 && r.summary().empty())
    out += "no link faults\n";
  if (r.links_size() > 0) {
    std::vector<table_row> rows{{"FROM", "TO", "FAULT", "DROPPED", "DELAYED"}};
    for (auto& l : r.links()) {
      std::string what;
      if (l.drop_rate() > 0)
        what = "drop " + std::to_string(l.drop_rate()).substr(0, 5);
      if (l.delay_ms() > 0)
        what += (what.empty() ? "" : ", ") + std::string{"delay "}
                + std::to_string(l.delay_ms()) + " ms";
      if (l.partitioned())
        what = "partition";
      rows.push_back({l.from_node(), l.to_node(), what,
                      std::to_string(l.dropped()),
                      std::to_string(l.delayed())});
    }
    out += render_table(rows);
  }
  for (auto& n : r.unreachable())
    out += "unreachable: " + n + " (did not answer; its faults are unknown)\n";
  return out;
}

int run(client& c, const caf::actor& gw, const options& opts,
        const v1::FaultRequest& req) {
  auto reply = c.ask(gw, fault_atom_v, pack(req));
  int code = print_reply<v1::FaultReply>(reply, opts, render_links);
  if (code != exit_ok)
    return code;
  auto r = unpack<v1::FaultReply>(*reply);
  // A fault that did not reach every node involved is not in place.
  return r && r->unreachable_size() > 0 ? exit_failed : exit_ok;
}

void set(chosen_command& chosen, v1::FaultRequest req) {
  chosen.online = [req](client& c, const caf::actor& gw, const options& opts) {
    return run(c, gw, opts, req);
  };
}

void add_link_commands(CLI::App& fault, chosen_command& chosen,
                       const std::shared_ptr<fault_args>& a) {
  auto* drop = fault.add_subcommand(
      "drop", "drop messages sent from one node to another");
  drop->add_option("--from", a->from, "sending node id")->required();
  drop->add_option("--to", a->to, "receiving node id")->required();
  drop->add_option("--rate", a->rate, "fraction dropped, 0 to 1 (0 removes it)")
      ->check(CLI::Range(0.0, 1.0));
  drop->callback([&chosen, a] {
    v1::FaultRequest req;
    req.set_kind(v1::FAULT_KIND_DROP);
    req.set_from_node(a->from);
    req.set_to_node(a->to);
    req.set_drop_rate(a->rate);
    set(chosen, req);
  });
  auto* delay = fault.add_subcommand(
      "delay", "delay messages sent from one node to another");
  delay->add_option("--from", a->from, "sending node id")->required();
  delay->add_option("--to", a->to, "receiving node id")->required();
  delay->add_option("--ms", a->ms, "added delay in ms (0 removes it)")
      ->required()
      ->check(CLI::Range(0, static_cast<int>(fault_table::max_delay.count())));
  delay->callback([&chosen, a] {
    v1::FaultRequest req;
    req.set_kind(v1::FAULT_KIND_DELAY);
    req.set_from_node(a->from);
    req.set_to_node(a->to);
    req.set_delay_ms(a->ms);
    set(chosen, req);
  });
}

void add_partition(CLI::App& fault, chosen_command& chosen,
                   const std::shared_ptr<fault_args>& a) {
  auto* sub
      = fault.add_subcommand("partition", "cut every link between two groups");
  sub->add_option("GROUPS", a->groups, "e.g. n1,n2/n3,n4,n5")->required();
  sub->callback([&chosen, a] {
    v1::FaultRequest req;
    req.set_kind(v1::FAULT_KIND_PARTITION);
    std::vector<std::string> x, y;
    std::string error;
    if (!parse_partition(a->groups, x, y, error))
      throw CLI::ValidationError(error);
    for (auto& n : x)
      req.add_side_a(n);
    for (auto& n : y)
      req.add_side_b(n);
    set(chosen, req);
  });
}

void add_simple(CLI::App& fault, chosen_command& chosen,
                const std::shared_ptr<fault_args>& a) {
  auto* kill = fault.add_subcommand(
      "kill-actor", "kill a named actor (its supervisor reacts)");
  kill->add_option("NAME", a->name, "actor name, e.g. probe/n2")->required();
  kill->callback([&chosen, a] {
    v1::FaultRequest req;
    req.set_kind(v1::FAULT_KIND_KILL_ACTOR);
    req.set_actor_name(a->name);
    set(chosen, req);
  });
  auto* crash = fault.add_subcommand("crash-node",
                                     "make a node exit at once, as kill -9");
  crash->add_option("ID", a->name, "node id")->required();
  crash->callback([&chosen, a] {
    v1::FaultRequest req;
    req.set_kind(v1::FAULT_KIND_CRASH_NODE);
    req.set_node_id(a->name);
    set(chosen, req);
  });
  fault.add_subcommand("heal", "remove every link fault on every node")
      ->callback([&chosen] {
        v1::FaultRequest req;
        req.set_kind(v1::FAULT_KIND_HEAL);
        set(chosen, req);
      });
  fault.add_subcommand("list", "every node's link faults")->callback([&chosen] {
    v1::FaultRequest req;
    req.set_kind(v1::FAULT_KIND_LIST);
    set(chosen, req);
  });
}

} // namespace

void add_fault_commands(CLI::App& app, chosen_command& chosen) {
  auto args = std::make_shared<fault_args>();
  auto* fault = app.add_subcommand(
      "fault", "inject faults (nodes need --enable-fault-injection)");
  fault->require_subcommand(1);
  add_simple(*fault, chosen, args);
  add_link_commands(*fault, chosen, args);
  add_partition(*fault, chosen, args);
}

} // namespace troupe::cli
