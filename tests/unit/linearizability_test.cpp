// Tests of troupe::test::lin, the linearizability checker the integration
// tests run on recorded client histories: textbook histories, histories
// generated from a real sequential register (must pass) with injected stale
// reads (must fail), the step limit, and the JSON-lines format.
#include "tests/support/linearizability.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace lin = troupe::test::lin;
using lin::op_status;
using lin::verdict;

namespace {

lin::operation put_op(uint64_t client, lin::value v, int64_t invoke_ns,
                      int64_t return_ns, op_status status = op_status::ok,
                      std::string key = "k") {
  lin::operation op;
  op.client = client;
  op.kind = lin::op_kind::put;
  op.key = std::move(key);
  op.input = std::move(v);
  op.invoke_ns = invoke_ns;
  op.return_ns = return_ns;
  op.status = status;
  return op;
}

lin::operation get_op(uint64_t client, lin::value seen, int64_t invoke_ns,
                      int64_t return_ns, op_status status = op_status::ok,
                      std::string key = "k") {
  auto op = put_op(client, lin::absent, invoke_ns, return_ns, status,
                   std::move(key));
  op.kind = lin::op_kind::get;
  op.output = std::move(seen);
  return op;
}

lin::operation cas_op(uint64_t client, lin::value expected, lin::value v,
                      bool swapped, int64_t invoke_ns, int64_t return_ns,
                      op_status status = op_status::ok) {
  auto op = put_op(client, std::move(v), invoke_ns, return_ns, status);
  op.kind = lin::op_kind::cas;
  op.expected = std::move(expected);
  op.succeeded = swapped;
  return op;
}

verdict verdict_of(const lin::history& ops) {
  auto result = lin::check(ops);
  INFO(result.explanation);
  return result.outcome;
}

} // namespace

TEST_CASE("lin: sequential and overlapping registers") {
  SUBCASE("a sequential history") {
    CHECK(verdict_of({get_op(1, "a", 0, 10), put_op(1, "a", 20, 30)})
          == verdict::not_linearizable);
    CHECK(verdict_of({get_op(1, lin::absent, 0, 10), put_op(1, "a", 20, 30),
                      get_op(2, "a", 40, 50), put_op(2, lin::absent, 60, 70),
                      get_op(1, lin::absent, 80, 90)})
          == verdict::ok);
  }
  SUBCASE("the empty history") {
    CHECK(verdict_of({}) == verdict::ok);
  }
  SUBCASE("a read concurrent with a write may see either value") {
    CHECK(verdict_of({put_op(1, "a", 0, 10), put_op(1, "b", 20, 60),
                      get_op(2, "a", 30, 40)})
          == verdict::ok);
    CHECK(verdict_of({put_op(1, "a", 0, 10), put_op(1, "b", 20, 60),
                      get_op(2, "b", 30, 40)})
          == verdict::ok);
  }
  SUBCASE("equal stamps count as concurrent") {
    CHECK(verdict_of({put_op(1, "a", 0, 10), put_op(1, "b", 20, 30),
                      get_op(2, "a", 30, 40)})
          == verdict::ok);
  }
  SUBCASE("a read of a value never written") {
    CHECK(verdict_of({put_op(1, "a", 0, 10), get_op(2, "z", 0, 40)})
          == verdict::not_linearizable);
  }
}

TEST_CASE("lin: a stale read after a completed write is caught") {
  lin::history ops{put_op(1, "a", 0, 10), put_op(1, "b", 20, 30),
                   get_op(2, "a", 40, 50)};
  auto result = lin::check(ops, {.quick_checks = false}); // the search's
  CHECK(result.outcome == verdict::not_linearizable);     // explanation
  CHECK(result.key == "k");
  INFO(result.explanation);
  CHECK(result.explanation.find("op[2] client 2 get -> \"a\"")
        != std::string::npos);
  CHECK(result.explanation.find("holding \"b\"") != std::string::npos);
}

TEST_CASE("lin: concurrent writes must be seen in one order") {
  // Writes a and b overlap everything; each reader sees both values, so the
  // readers fix the order of the writes.
  lin::history agree{put_op(1, "a", 0, 100), put_op(2, "b", 0, 100),
                     get_op(3, "a", 10, 20), get_op(3, "b", 30, 40),
                     get_op(4, "a", 10, 20), get_op(4, "b", 30, 40)};
  CHECK(verdict_of(agree) == verdict::ok);
  lin::history disagree{put_op(1, "a", 0, 100), put_op(2, "b", 0, 100),
                        get_op(3, "a", 10, 20), get_op(3, "b", 30, 40),
                        get_op(4, "b", 10, 20), get_op(4, "a", 30, 40)};
  CHECK(verdict_of(disagree) == verdict::not_linearizable);
}

TEST_CASE("lin: cas") {
  SUBCASE("succeeds only on the expected value") {
    CHECK(verdict_of({put_op(1, "a", 0, 10), cas_op(2, "a", "b", true, 20, 30),
                      get_op(3, "b", 40, 50)})
          == verdict::ok);
    CHECK(verdict_of({put_op(1, "a", 0, 10), put_op(1, "c", 15, 18),
                      cas_op(2, "a", "b", true, 20, 30)})
          == verdict::not_linearizable);
    CHECK(verdict_of({cas_op(2, lin::absent, "b", true, 0, 10),
                      get_op(3, "b", 40, 50)})
          == verdict::ok);
  }
  SUBCASE("fails only on another value") {
    CHECK(verdict_of({put_op(1, "a", 0, 10), cas_op(2, "x", "b", false, 20, 30),
                      get_op(3, "a", 40, 50)})
          == verdict::ok);
    CHECK(
        verdict_of({put_op(1, "a", 0, 10), cas_op(2, "a", "b", false, 20, 30)})
        == verdict::not_linearizable);
  }
  SUBCASE("two concurrent swaps from the same value cannot both win") {
    CHECK(verdict_of({put_op(1, "a", 0, 10), cas_op(2, "a", "b", true, 20, 50),
                      cas_op(3, "a", "c", true, 20, 50)})
          == verdict::not_linearizable);
    CHECK(verdict_of({put_op(1, "a", 0, 10), cas_op(2, "a", "b", true, 20, 50),
                      cas_op(3, "a", "c", false, 20, 50)})
          == verdict::ok);
  }
}

TEST_CASE("lin: unknown operations may take effect late, or never") {
  auto unknown_put = put_op(2, "b", 20, 25, op_status::unknown);
  SUBCASE("never") {
    CHECK(verdict_of({put_op(1, "a", 0, 10), unknown_put,
                      get_op(3, "a", 100, 110), get_op(3, "a", 200, 210)})
          == verdict::ok);
  }
  SUBCASE("long after the client gave up") {
    CHECK(verdict_of({put_op(1, "a", 0, 10), unknown_put,
                      get_op(3, "a", 100, 110), get_op(3, "b", 200, 210)})
          == verdict::ok);
  }
  SUBCASE("but once seen, it stays") {
    CHECK(verdict_of({put_op(1, "a", 0, 10), unknown_put,
                      get_op(3, "b", 100, 110), get_op(3, "a", 200, 210)})
          == verdict::not_linearizable);
  }
  SUBCASE("and not before it was invoked") {
    CHECK(
        verdict_of({put_op(1, "a", 0, 10), get_op(3, "b", 11, 15), unknown_put})
        == verdict::not_linearizable);
  }
  SUBCASE("an unknown cas applies only to its expected value") {
    auto unknown_cas = cas_op(2, "a", "b", false, 20, 25, op_status::unknown);
    CHECK(verdict_of(
              {put_op(1, "a", 0, 10), unknown_cas, get_op(3, "b", 100, 110)})
          == verdict::ok);
    CHECK(verdict_of(
              {put_op(1, "c", 0, 10), unknown_cas, get_op(3, "b", 100, 110)})
          == verdict::not_linearizable);
  }
  SUBCASE("an unknown read constrains nothing") {
    CHECK(verdict_of({put_op(1, "a", 0, 10),
                      get_op(3, "zzz", 20, 30, op_status::unknown)})
          == verdict::ok);
  }
}

TEST_CASE("lin: failed operations are ignored") {
  auto failed_put = put_op(2, "b", 20, 30, op_status::fail);
  CHECK(verdict_of({put_op(1, "a", 0, 10), failed_put, get_op(3, "a", 40, 50)})
        == verdict::ok);
  CHECK(verdict_of({put_op(1, "a", 0, 10), failed_put, get_op(3, "b", 40, 50)})
        == verdict::not_linearizable);
  // A failed get's output means nothing.
  CHECK(verdict_of(
            {put_op(1, "a", 0, 10), get_op(3, "zzz", 20, 30, op_status::fail)})
        == verdict::ok);
}

TEST_CASE("lin: keys are independent registers") {
  lin::history ops{put_op(1, "a", 0, 10, op_status::ok, "x"),
                   put_op(1, "b", 0, 10, op_status::ok, "y"),
                   get_op(2, "a", 20, 30, op_status::ok, "x"),
                   get_op(2, "a", 20, 30, op_status::ok, "y")};
  auto result = lin::check(ops);
  CHECK(result.outcome == verdict::not_linearizable);
  CHECK(result.key == "y");
  CHECK(result.keys_checked == 2);
  ops.pop_back();
  CHECK(lin::check(ops).outcome == verdict::ok);
}

TEST_CASE("lin: an operation that returns before its invoke is bad input") {
  auto result = lin::check({put_op(1, "a", 10, 5)});
  CHECK(result.outcome == verdict::inconclusive);
  CHECK(result.explanation.find("op[0]") != std::string::npos);
}

// --- histories of a real register ---------------------------------------

namespace {

struct workload {
  int clients = 10;
  int ops = 3000;
  int keys = 1;
  double unknown_rate = 0.0;
  double fail_rate = 0.0;
};

// One planned operation and when it takes effect (never, if nullopt).
struct planned {
  lin::operation op;
  std::optional<int64_t> effect_ns;
};

// Each client issues operations one after another with random gaps. An ok
// operation takes effect at a random point of its interval; an unknown one
// at a random point up to 2000 ns after its invoke (long after the client
// gave up), or never; a failed one never.
std::vector<planned> plan_workload(const workload& w, std::mt19937_64& rng) {
  std::uniform_int_distribution<int64_t> gap_ns(0, 20), half_ns(1, 50),
      late_ns(0, 2000);
  std::uniform_real_distribution<double> coin(0, 1);
  std::vector<int64_t> free_ns(w.clients, 0);
  std::vector<planned> plan;
  int next_value = 0;
  auto fresh = [&] { return "v" + std::to_string(next_value++); };
  for (int n = 0; n < w.ops; ++n) {
    auto client
        = std::min_element(free_ns.begin(), free_ns.end()) - free_ns.begin();
    lin::operation op;
    op.client = static_cast<uint64_t>(client);
    op.key = "k" + std::to_string(rng() % w.keys);
    op.invoke_ns = free_ns[client] + gap_ns(rng);
    auto effect_ns = op.invoke_ns + half_ns(rng);
    op.return_ns = effect_ns + half_ns(rng);
    free_ns[client] = op.return_ns;
    auto kind = coin(rng);
    op.kind = kind < 0.4   ? lin::op_kind::put
              : kind < 0.8 ? lin::op_kind::get
                           : lin::op_kind::cas;
    if (op.kind != lin::op_kind::get)
      op.input = kind < 0.05 ? lin::absent : lin::value{fresh()};
    if (op.kind == lin::op_kind::cas) {
      // One of the last few values written (before this cas's own), often
      // the current one.
      auto id = next_value - 2 - static_cast<int>(rng() % 3);
      op.expected
          = id >= 0 ? lin::value{"v" + std::to_string(id)} : lin::absent;
    }
    op.status = op_status::ok;
    auto fate = coin(rng);
    std::optional<int64_t> effect{effect_ns};
    if (fate < w.fail_rate) {
      op.status = op_status::fail;
      effect.reset();
    } else if (fate < w.fail_rate + w.unknown_rate) {
      op.status = op_status::unknown;
      effect.reset();
      if (coin(rng) < 0.5)
        effect = op.invoke_ns + late_ns(rng);
    }
    plan.push_back({std::move(op), effect});
  }
  return plan;
}

// Replays the effects in time order on one register per key, filling in
// what each operation observed; operations without effect observe garbage,
// which the checker must ignore.
lin::history replay(std::vector<planned> plan) {
  std::vector<size_t> order(plan.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return plan[a].effect_ns.value_or(INT64_MAX)
           < plan[b].effect_ns.value_or(INT64_MAX);
  });
  std::map<std::string, lin::value> registers;
  for (auto i : order) {
    auto& op = plan[i].op;
    if (!plan[i].effect_ns) {
      op.output = "garbage";
      op.succeeded = true;
      continue;
    }
    auto& reg = registers[op.key];
    if (op.kind == lin::op_kind::get)
      op.output = reg;
    op.succeeded = op.kind == lin::op_kind::cas && reg == op.expected;
    if (op.kind == lin::op_kind::put || op.succeeded)
      reg = op.input;
  }
  lin::history ops;
  for (auto& p : plan)
    ops.push_back(std::move(p.op));
  return ops;
}

lin::history generate(const workload& w, uint64_t seed) {
  std::mt19937_64 rng{seed};
  return replay(plan_workload(w, rng));
}

bool is_write(const lin::operation& op) {
  return op.status == op_status::ok
         && (op.kind == lin::op_kind::put
             || (op.kind == lin::op_kind::cas && op.succeeded));
}

// Makes one ok read observe a value that a later write, completed before
// the read began, had overwritten: values are unique, so this is never
// linearizable. Returns the read's index, or nullopt if there is no
// candidate.
std::optional<size_t> inject_stale_read(lin::history& ops,
                                        std::mt19937_64& rng) {
  std::vector<size_t> reads;
  for (size_t i = 0; i < ops.size(); ++i)
    if (ops[i].kind == lin::op_kind::get && ops[i].status == op_status::ok)
      reads.push_back(i);
  std::shuffle(reads.begin(), reads.end(), rng);
  // The latest write on `key` that returned before `t_ns`, if any.
  auto latest_before = [&](const std::string& key, int64_t t_ns,
                           bool want_value) -> const lin::operation* {
    const lin::operation* best = nullptr;
    for (auto& op : ops)
      if (op.key == key && is_write(op) && op.return_ns < t_ns
          && (!want_value || op.input)
          && (!best || op.invoke_ns > best->invoke_ns))
        best = &op;
    return best;
  };
  for (auto r : reads) {
    auto* overwrite = latest_before(ops[r].key, ops[r].invoke_ns, false);
    if (!overwrite)
      continue;
    auto* stale = latest_before(ops[r].key, overwrite->invoke_ns, true);
    if (!stale)
      continue;
    ops[r].output = stale->input;
    return r;
  }
  return std::nullopt;
}

// Makes one ok read observe another value written earlier on its key
// (maybe legitimately: the mutation is not always a violation).
void mutate_read(lin::history& ops, std::mt19937_64& rng) {
  for (;;) {
    auto r = rng() % ops.size();
    if (ops[r].kind != lin::op_kind::get || ops[r].status != op_status::ok)
      continue;
    std::vector<lin::value> written;
    for (auto& op : ops)
      if (op.key == ops[r].key && op.kind != lin::op_kind::get
          && op.invoke_ns < ops[r].return_ns && op.input != ops[r].output)
        written.push_back(op.input);
    if (written.empty())
      continue;
    ops[r].output = written[rng() % written.size()];
    return;
  }
}

const workload small_faulty{.clients = 5,
                            .ops = 300,
                            .keys = 2,
                            .unknown_rate = 0.05,
                            .fail_rate = 0.05};

} // namespace

TEST_CASE("lin: histories of a real register pass") {
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    auto result = lin::check(generate(small_faulty, seed));
    INFO("seed " << seed << ": " << result.explanation);
    CHECK(result.outcome == verdict::ok);
  }
}

// The quick check and the search must each catch these on their own.
TEST_CASE("lin: injected stale reads are caught") {
  lin::check_options opts;
  SUBCASE("by the quick check") {
    opts.quick_checks = true;
  }
  SUBCASE("by the search alone") {
    opts.quick_checks = false;
  }
  int injected = 0;
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    auto ops = generate(small_faulty, seed);
    std::mt19937_64 rng{seed};
    if (!inject_stale_read(ops, rng))
      continue;
    ++injected;
    auto result = lin::check(ops, opts);
    INFO("seed " << seed);
    CHECK(result.outcome == verdict::not_linearizable);
  }
  CHECK(injected >= 40);
}

TEST_CASE("lin: most random read mutations are caught") {
  lin::check_options opts;
  SUBCASE("with the quick check") {
    opts.quick_checks = true;
  }
  SUBCASE("by the search alone") {
    opts.quick_checks = false;
  }
  int caught = 0, inconclusive = 0, runs = 100;
  for (int seed = 1; seed <= runs; ++seed) {
    auto ops = generate(small_faulty, static_cast<uint64_t>(seed));
    std::mt19937_64 rng{static_cast<uint64_t>(seed)};
    mutate_read(ops, rng);
    auto outcome = lin::check(ops, opts).outcome;
    caught += outcome == verdict::not_linearizable;
    inconclusive += outcome == verdict::inconclusive;
  }
  // 93 of 100 when measured: the rest read a value being written
  // concurrently, which is legitimate.
  INFO("random read mutations caught: " << caught << " of " << runs);
  CHECK(inconclusive == 0);
  CHECK(caught >= runs * 8 / 10);
}

TEST_CASE("lin: the quick check names the write that hid the value") {
  lin::history ops{put_op(1, "a", 0, 10), put_op(1, "b", 20, 30),
                   get_op(2, "a", 40, 50), get_op(2, "z", 60, 70)};
  auto result = lin::check(ops);
  REQUIRE(result.outcome == verdict::not_linearizable);
  INFO(result.explanation);
  CHECK(result.explanation.find("op[2] client 2 get -> \"a\"")
        != std::string::npos);
  CHECK(result.explanation.find("op[0] (client 1 put \"a\") was overwritten "
                                "by op[1] (client 1 put \"b\")")
        != std::string::npos);
  ops.erase(ops.begin() + 2);
  result = lin::check(ops);
  CHECK(result.explanation.find("no operation writes that value")
        != std::string::npos);
  // Writes of the same value by several ops, one not overwritten.
  CHECK(verdict_of({put_op(1, "a", 0, 10), put_op(1, "b", 20, 30),
                    put_op(3, "a", 25, 35), get_op(2, "a", 40, 50)})
        == verdict::ok);
}

TEST_CASE("lin: the step limit gives inconclusive, never a pass") {
  lin::check_options tiny{.max_steps_per_key = 20, .quick_checks = false};
  auto ops = generate(small_faulty, 7);
  auto result = lin::check(ops, tiny);
  CHECK(result.outcome == verdict::inconclusive);
  CHECK(result.explanation.find("gave up") != std::string::npos);
  std::mt19937_64 rng{7};
  REQUIRE(inject_stale_read(ops, rng));
  CHECK(lin::check(ops, tiny).outcome == verdict::inconclusive);
}

double elapsed_ms(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - start)
      .count();
}

TEST_CASE("lin: 10 clients and 3000 operations on one key check quickly") {
  // Measured (RelWithDebInfo, g++ 12, 2-core dev box), seeds 1-3 and 42:
  // linearizable, 1% unknown ops: 10-20 k steps, 3-20 ms (5% unknown:
  // 15-50 k steps, 10-40 ms). With one stale read, search alone, no
  // unknown ops: 20-270 k steps, 5-100 ms; 1% unknown ops: 26 k-2.7 M
  // steps, up to about 2 s (unknown ops multiply the orders to rule out);
  // the quick check finds it in under 5 ms. The bounds below leave room
  // for sanitizer builds and a busy box.
  workload busy{.clients = 10,
                .ops = 3000,
                .keys = 1,
                .unknown_rate = 0.01,
                .fail_rate = 0.01};
  auto ops = generate(busy, 42);
  auto start = std::chrono::steady_clock::now();
  auto result = lin::check(ops);
  auto pass_ms = elapsed_ms(start);
  CHECK(result.outcome == verdict::ok);
  CHECK(result.steps < 100'000);
  CHECK(pass_ms < 5000);

  busy.unknown_rate = 0;
  ops = generate(busy, 42);
  std::mt19937_64 rng{42};
  REQUIRE(inject_stale_read(ops, rng));
  start = std::chrono::steady_clock::now();
  auto failed = lin::check(ops, {.quick_checks = false});
  auto fail_ms = elapsed_ms(start);
  CHECK(failed.outcome == verdict::not_linearizable);
  CHECK(fail_ms < 5000);
  INFO("pass " << pass_ms << " ms (" << result.steps << " steps), stale read "
               << fail_ms << " ms (" << failed.steps << " steps)");
  CHECK(lin::check(ops).outcome == verdict::not_linearizable);
}

// --- JSON lines ---------------------------------------------------------

TEST_CASE("lin: histories survive a round trip through JSON lines") {
  auto ops = generate(small_faulty, 3);
  ops.push_back(cas_op(9, lin::absent, "quote\" and \\ slash", true, 5, 6));
  std::stringstream file;
  lin::write_history(file, ops);
  lin::history back;
  std::string error;
  REQUIRE(lin::read_history(file, &back, &error));
  REQUIRE(back.size() == ops.size());
  for (size_t i = 0; i < ops.size(); ++i)
    CHECK(lin::to_json_line(back[i]) == lin::to_json_line(ops[i]));
  CHECK(lin::check(back).outcome == lin::check(ops).outcome);
}

TEST_CASE("lin: reading JSON lines") {
  std::string error;
  SUBCASE("the documented examples") {
    std::stringstream file{
        "# a comment, then a blank line\n\n"
        R"({"client":1,"op":"put","key":"k","value":"v1",)"
        R"("invoke_ns":100,"return_ns":250,"status":"ok"})"
        "\n"
        R"({"client":2,"op":"get","key":"k","output":null,)"
        R"("invoke_ns":120,"return_ns":300,"status":"ok"})"
        "\n"
        R"({"client":3,"op":"cas","key":"k","expected":"v1","value":"v2",)"
        R"("succeeded":true,"invoke_ns":400,"return_ns":500,"status":"ok"})"
        "\n"
        R"({"client":4,"op":"put","key":"k","value":null,)"
        R"("invoke_ns":600,"status":"unknown"})"
        "\n"};
    lin::history ops;
    REQUIRE(lin::read_history(file, &ops, &error));
    REQUIRE(ops.size() == 4);
    CHECK(ops[1].output == lin::absent);
    CHECK(ops[2].kind == lin::op_kind::cas);
    CHECK(ops[2].succeeded);
    CHECK(ops[3].status == op_status::unknown);
    CHECK(lin::check(ops).outcome == verdict::ok);
  }
  SUBCASE("bad lines name their line number") {
    std::stringstream file{R"({"client":1,"op":"put","key":"k","value":"v1",)"
                           R"("invoke_ns":100,"return_ns":250,"status":"ok"})"
                           "\n"
                           R"({"client":2,"op":"get","key":"k",)"
                           R"("invoke_ns":120,"return_ns":300,"status":"ok"})"
                           "\n"};
    lin::history ops;
    CHECK_FALSE(lin::read_history(file, &ops, &error));
    CHECK(error == "line 2: \"output\" must be a string or null");
  }
  SUBCASE("not JSON") {
    CHECK_FALSE(lin::from_json_line("{\"client\":", &error));
    CHECK(error == "not a JSON object");
    CHECK_FALSE(lin::from_json_line(R"({"client":-1})", &error));
    CHECK(error == "\"client\" must be an unsigned integer");
    CHECK_FALSE(lin::from_json_line(
        R"({"client":1,"key":"k","op":"swap","status":"ok"})", &error));
    CHECK(error == R"("op" must be one of "put" "get" "cas")");
  }
}
