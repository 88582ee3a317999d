#include "cli/kv_commands.hpp"

#include "cli/kv_call.hpp"
#include "cli/kv_command_support.hpp"
#include "cli/kv_lease_commands.hpp"
#include "cli/kv_render.hpp"
#include "cli/kv_requests.hpp"
#include "cli/kv_watch.hpp"
#include "cli/member_target.hpp"

#include <memory>

namespace troupe::cli {

namespace {

void add_put(CLI::App& kv, chosen_command& chosen) {
  auto args = std::make_shared<put_args>();
  auto* sub = kv.add_subcommand(
      "put", "write KEY = VALUE; prints OK and the revision");
  sub->add_option("KEY", args->key, "the key")->required();
  sub->add_option("VALUE", args->value, "the value")->required();
  sub->add_option("--lease", args->lease, "attach to this lease id");
  sub->add_flag("--prev-kv", args->prev_kv, "also print the previous value");
  sub->callback([&chosen, args] {
    chosen.online
        = kv_command(checked(build_put(*args)), [args](const v1::KvReply& r) {
            return render_put(r, args->prev_kv);
          });
  });
}

void strip_values(v1::KvReply& reply) {
  for (auto& kv : *reply.mutable_range()->mutable_kvs())
    kv.clear_value();
}

void add_get(CLI::App& kv, chosen_command& chosen) {
  auto args = std::make_shared<get_args>();
  auto* sub = kv.add_subcommand("get", "read KEY, or every key under a prefix");
  sub->add_option("KEY", args->key, "the key (the prefix with --prefix)")
      ->required();
  sub->add_flag("--prefix", args->prefix, "every key that starts with KEY");
  sub->add_option("--rev", args->revision,
                  "read at this revision (0 = latest)");
  sub->add_option("--limit", args->limit,
                  "at most this many keys (0 = no limit)");
  sub->add_flag(
      "--serializable", args->serializable,
      "read the endpoint's replica without asking the leader (may be stale)");
  sub->add_flag("--keys-only", args->keys_only, "print keys without values");
  sub->add_flag("--count-only", args->count_only,
                "print only the number of keys");
  sub->callback([&chosen, args] {
    chosen.online
        = [args, req = checked(build_get(*args))](
              client& c, const caf::actor& gw, const options& opts) -> int {
      auto reply = execute_kv(c, gw, opts, req);
      if (!reply)
        return fail(reply.error());
      if (args->keys_only)
        strip_values(*reply);
      return print_kv(opts, *reply,
                      render_range(*reply, args->keys_only, args->count_only));
    };
  });
}

void add_del(CLI::App& kv, chosen_command& chosen) {
  auto args = std::make_shared<del_args>();
  auto* sub = kv.add_subcommand("del", "delete KEY, or every key under a "
                                       "prefix; prints the number deleted");
  sub->add_option("KEY", args->key, "the key (the prefix with --prefix)")
      ->required();
  sub->add_flag("--prefix", args->prefix, "every key that starts with KEY");
  sub->add_flag("--prev-kv", args->prev_kv, "also print what was deleted");
  sub->callback([&chosen, args] {
    chosen.online = kv_command(checked(build_delete(*args)),
                               [args](const v1::KvReply& r) {
                                 return render_delete(r, args->prev_kv);
                               });
  });
}

void add_range(CLI::App& kv, chosen_command& chosen) {
  auto args = std::make_shared<range_args>();
  auto* sub = kv.add_subcommand("range", "read the keys in [START, END), or "
                                         "from START on with --to-end");
  sub->add_option("START", args->start, "first key (\"\" = the first key)")
      ->required();
  sub->add_option("END", args->end, "end key, exclusive");
  sub->add_flag("--to-end", args->to_end,
                "every key >= START (instead of END)");
  sub->add_option("--limit", args->limit,
                  "at most this many keys (0 = no limit)");
  sub->add_option("--rev", args->revision,
                  "read at this revision (0 = latest)");
  sub->callback([&chosen, args] {
    chosen.online
        = kv_command(checked(build_range(*args)), [](const v1::KvReply& r) {
            return render_range(r, false, false);
          });
  });
}

int run_cas(client& c, const caf::actor& gw, const options& opts,
            const v1::KvRequest& req, bool create) {
  auto reply = execute_kv(c, gw, opts, req);
  if (!reply)
    return fail(reply.error());
  auto result = read_cas_reply(*reply);
  if (!result)
    return fail(result.error());
  if (auto rc = print_kv(opts, *reply, render_cas(*result, create));
      rc != exit_ok)
    return rc;
  return result->succeeded ? exit_ok : exit_failed;
}

void add_cas(CLI::App& kv, chosen_command& chosen) {
  auto args = std::make_shared<cas_args>();
  auto* sub = kv.add_subcommand(
      "cas", "compare-and-set: KEY EXPECTED NEW puts NEW if KEY's value is "
             "EXPECTED; KEY NEW --create puts NEW if KEY is absent; exits 1 "
             "if the compare failed");
  sub->add_option("KEY", args->key, "the key")->required();
  sub->add_option("VALUES", args->values, "EXPECTED NEW, or NEW with --create")
      ->required()
      ->expected(1, 2);
  sub->add_flag("--create", args->create, "succeed only if KEY is absent");
  sub->callback([&chosen, args] {
    chosen.online
        = [req = checked(build_cas(*args)), create = args->create](
              client& c, const caf::actor& gw, const options& opts) -> int {
      return run_cas(c, gw, opts, req, create);
    };
  });
}

int run_watch_command(client& c, const caf::actor& gw, const options& opts,
                      const v1::WatchRequest& req, bool follow) {
  auto target = reach_members(c, gw, opts);
  if (!target)
    return fail(target.error());
  std::optional<failure> print_error;
  auto on_event = [&](const v1::Event& event) {
    if (!opts.json()) {
      std::fputs(render_event(event).c_str(), stdout);
    } else if (auto line = to_json_line(pack(event))) {
      std::printf("%s\n", line->c_str());
    } else if (!print_error) {
      print_error = line.error();
    }
    // Lines must reach a pipe as they happen, not when the buffer fills.
    std::fflush(stdout);
  };
  auto done = run_watch(target->env, target->policy, target->endpoint_node, req,
                        follow, on_event);
  if (!done)
    return fail(done.error());
  return print_error ? fail(*print_error) : exit_ok;
}

void add_watch(CLI::App& kv, chosen_command& chosen) {
  auto args = std::make_shared<watch_args>();
  auto* sub = kv.add_subcommand(
      "watch", "print the writes to KEY (or a prefix): since --rev N, or with "
               "--follow as they happen until interrupted");
  sub->add_option("KEY", args->key, "the key (the prefix with --prefix)")
      ->required();
  sub->add_flag("--prefix", args->prefix, "every key that starts with KEY");
  sub->add_option("--rev", args->revision, "start at this revision");
  sub->add_flag("--follow", args->follow, "keep watching until interrupted");
  sub->callback([&chosen, args] {
    chosen.online
        = [req = checked(build_watch(*args)), follow = args->follow](
              client& c, const caf::actor& gw, const options& opts) -> int {
      return run_watch_command(c, gw, opts, req, follow);
    };
  });
}

} // namespace

void add_kv_commands(CLI::App& app, chosen_command& chosen) {
  auto* kv = app.add_subcommand("kv", "the replicated key-value store "
                                      "(consensus role), etcdctl-style");
  kv->require_subcommand(1);
  add_put(*kv, chosen);
  add_get(*kv, chosen);
  add_del(*kv, chosen);
  add_range(*kv, chosen);
  add_watch(*kv, chosen);
  add_cas(*kv, chosen);
  add_kv_lease_commands(*kv, chosen);
}

} // namespace troupe::cli
