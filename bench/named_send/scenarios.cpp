// The local and remote scenarios, and how their paths take turns.
#include "scenarios.hpp"

#include "actors.hpp"
#include "drivers.hpp"
#include "server.hpp"

#include "runtime/defaults.hpp"
#include "runtime/directory.hpp"
#include "runtime/node_context.hpp"

#include <caf/actor_cast.hpp>
#include <caf/exit_reason.hpp>
#include <caf/io/middleman.hpp>
#include <caf/send.hpp>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace troupe::bench {

namespace {

// One path of a scenario: measures one block of that path.
struct path_block {
  const char* path;
  std::function<measurement()> measure;
};

// Runs one run of a scenario as `blocks` rounds; in each round every path
// measures one block, in an order rotated by round and run. Background load
// on a shared machine changes over seconds, so interleaving small blocks lets
// it hit every path alike instead of whichever path ran during a burst.
void interleaved(const char* scenario, const std::vector<path_block>& paths,
                 int run, const options& opts, report& rep) {
  std::vector<measurement> totals(paths.size());
  for (size_t round = 0; round < opts.blocks; ++round) {
    auto shift = round + static_cast<size_t>(run);
    for (size_t k = 0; k < paths.size(); ++k) {
      auto i = (k + shift) % paths.size();
      merge(totals[i], paths[i].measure());
    }
  }
  for (size_t i = 0; i < paths.size(); ++i)
    rep.add(scenario, paths[i].path, summarize(totals[i]), run, opts.runs);
}

size_t per_block(size_t n, const options& opts) {
  return std::max<size_t>(1, n / opts.blocks);
}

// -- local scenarios ---------------------------------------------------------

measurement oneway_troupe(caf::actor_system& sys, const node_context_ptr& ctx,
                          const envelope& ping, const options& opts,
                          report& rep) {
  auto counter = std::make_shared<sink_counter>();
  counter->total = per_block(opts.oneway_n, opts);
  counter->ack_every = opts.oneway_window;
  auto gate = std::make_shared<mailbox_gate>(2 * opts.oneway_window);
  auto sink = sys.spawn(troupe_sink, counter, gate);
  host_named(*ctx, "sink", sink, gate);
  auto s = measure_oneway(sys, named_send{ctx, "sink", ping}, counter, opts,
                          "local.oneway troupe");
  rep.count_drops(gate->dropped());
  ctx->table->erase_subtree("sink");
  caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
  return s;
}

measurement oneway_caf(caf::actor_system& sys, const envelope& ping,
                       const options& opts) {
  auto counter = std::make_shared<sink_counter>();
  counter->total = per_block(opts.oneway_n, opts);
  counter->ack_every = opts.oneway_window;
  auto sink = sys.spawn(bare_sink, counter);
  auto s = measure_oneway(sys, bare_send{sink, ping}, counter, opts,
                          "local.oneway caf");
  caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
  return s;
}

// -- remote scenarios --------------------------------------------------------

caf::actor connect(caf::actor_system& sys, uint16_t port) {
  auto handle = sys.middleman().remote_actor("127.0.0.1", port);
  if (!handle)
    fatal("cannot connect to 127.0.0.1:" + std::to_string(port) + ": "
          + sys.render(handle.error()));
  return *handle;
}

// A client node that knows the server only as a member: request_by_name
// resolves "echo" through the seed directory once, then uses the cache.
node_context_ptr client_context(caf::actor_system& sys,
                                const caf::actor& server_gateway) {
  auto ctx = std::make_shared<node_context>();
  ctx->self.node_id = "bench-client";
  ctx->directory = caf::actor_cast<caf::actor>(spawn_seed_directory(sys, ctx));
  member_entry server;
  server.info.set_node_id("bench-server");
  server.status = v1::MEMBER_STATUS_UP;
  server.gateway = server_gateway;
  ctx->members.upsert(std::move(server));
  return ctx;
}

struct remote_paths {
  gateway_path gateway;
  named_path named;
  bare_path caf;
};

void remote_run(caf::actor_system& sys, const remote_paths& p,
                const options& opts, report& rep, int run) {
  // The first request after the cache was cleared pays for the resolve.
  p.named.ctx->names.erase("echo");
  auto first = measure_rtt(sys, p.named, 1, opts, "remote first resolve");
  rep.add_info("first_resolve_us",
               static_cast<double>(first.latency_ns[0]) / 1e3);
  auto n = per_block(opts.remote_rtt_n, opts);
  auto rtt = [&](const auto& path,
                 const char* what) -> std::function<measurement()> {
    return [&, what] { return measure_rtt(sys, path, n, opts, what); };
  };
  interleaved("remote.rtt",
              {{"gateway", rtt(p.gateway, "remote.rtt gateway")},
               {"named", rtt(p.named, "remote.rtt named")},
               {"caf", rtt(p.caf, "remote.rtt caf")}},
              run, opts, rep);
  auto m = per_block(opts.pipelined_n, opts);
  auto piped = [&](const auto& path,
                   const char* what) -> std::function<measurement()> {
    return [&, what] { return measure_pipelined(sys, path, m, opts, what); };
  };
  interleaved("remote.pipelined",
              {{"gateway", piped(p.gateway, "remote.pipelined gateway")},
               {"named", piped(p.named, "remote.pipelined named")},
               {"caf", piped(p.caf, "remote.pipelined caf")}},
              run, opts, rep);
}

} // namespace

void run_local(caf::actor_system& sys, const options& opts, report& rep) {
  auto ping = make_ping(opts.payload_bytes);
  auto ctx = std::make_shared<node_context>();
  ctx->self.node_id = "bench-local";
  add_bystanders(*ctx, 32);
  auto gate = std::make_shared<mailbox_gate>(defaults::mailbox_capacity);
  auto echo = sys.spawn(troupe_echo, gate);
  host_named(*ctx, "echo", echo, gate);
  auto bare = sys.spawn(bare_echo);
  named_path named{ctx, "echo", ping};
  bare_path direct{bare, ping};
  measure_rtt(sys, named, opts.warmup_n, opts, "local warm-up troupe");
  measure_rtt(sys, direct, opts.warmup_n, opts, "local warm-up caf");
  auto n = per_block(opts.local_rtt_n, opts);
  std::vector<path_block> rtt{
      {"troupe",
       [&] { return measure_rtt(sys, named, n, opts, "local.rtt troupe"); }},
      {"caf",
       [&] { return measure_rtt(sys, direct, n, opts, "local.rtt caf"); }},
  };
  std::vector<path_block> oneway{
      {"troupe", [&] { return oneway_troupe(sys, ctx, ping, opts, rep); }},
      {"caf", [&] { return oneway_caf(sys, ping, opts); }},
  };
  for (int run = 0; run < opts.runs; ++run) {
    interleaved("local.rtt", rtt, run, opts, rep);
    interleaved("local.oneway", oneway, run, opts, rep);
  }
  rep.count_drops(gate->dropped());
  ctx->table->erase_subtree("echo");
  caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(bare, caf::exit_reason::user_shutdown);
}

void run_remote(caf::actor_system& sys, const options& opts, report& rep) {
  auto server = start_server(opts);
  std::printf("# server pid %d: gateway on 127.0.0.1:%u, bare echo on "
              "127.0.0.1:%u\n",
              static_cast<int>(server.pid), unsigned{server.gateway_port},
              unsigned{server.bare_port});
  auto gateway = connect(sys, server.gateway_port);
  auto bare = connect(sys, server.bare_port);
  auto ping = make_ping(opts.payload_bytes);
  auto ctx = client_context(sys, gateway);
  remote_paths paths{
      {gateway, "echo", ping}, {ctx, "echo", ping}, {bare, ping}};
  measure_rtt(sys, paths.gateway, opts.warmup_n, opts,
              "remote warm-up gateway");
  measure_rtt(sys, paths.named, opts.warmup_n, opts, "remote warm-up named");
  measure_rtt(sys, paths.caf, opts.warmup_n, opts, "remote warm-up caf");
  for (int run = 0; run < opts.runs; ++run)
    remote_run(sys, paths, opts, rep, run);
  caf::anon_send_exit(ctx->directory, caf::exit_reason::user_shutdown);
  stop_server(server);
}

} // namespace troupe::bench
