// Tests for runtime/faults (the link-fault table and the partition parser)
// and the fault-injection and bind-source settings.
#include "runtime/config.hpp"
#include "runtime/faults.hpp"

#include <doctest/doctest.h>

using namespace troupe;
using namespace std::chrono_literals;

TEST_CASE("faults: a disabled table never drops or delays") {
  fault_table t{false, 1};
  t.set_partitioned("n2", true);
  auto v = t.on_send("n2");
  CHECK_FALSE(v.drop);
  CHECK(v.delay == 0ms);
  CHECK(t.dropped_total() == 0);
}

TEST_CASE("faults: a partition drops everything to that node only") {
  fault_table t{true, 1};
  t.set_partitioned("n2", true);
  for (int i = 0; i < 100; ++i) {
    CHECK(t.on_send("n2").drop);
    CHECK_FALSE(t.on_send("n3").drop);
  }
  CHECK(t.links().at("n2").dropped == 100);
  CHECK(t.dropped_total() == 100);
  CHECK(t.heal() == 1);
  CHECK_FALSE(t.on_send("n2").drop);
  CHECK(t.links().empty());
}

TEST_CASE("faults: a drop rate drops about that fraction") {
  fault_table t{true, 42};
  t.set_drop("n2", 0.3);
  int dropped = 0;
  for (int i = 0; i < 10000; ++i)
    dropped += t.on_send("n2").drop;
  CHECK(dropped > 2700);
  CHECK(dropped < 3300);
  t.set_drop("n2", 0);
  CHECK(t.links().empty()); // a link with no fault left is removed
}

TEST_CASE("faults: delays are clamped and counted, rates are clamped") {
  fault_table t{true, 1};
  t.set_delay("n3", 50ms);
  auto v = t.on_send("n3");
  CHECK_FALSE(v.drop);
  CHECK(v.delay == 50ms);
  CHECK(t.links().at("n3").delayed == 1);
  t.set_delay("n3", 10min);
  CHECK(t.on_send("n3").delay == fault_table::max_delay);
  t.set_drop("n4", 7.0);
  CHECK(t.links().at("n4").drop_rate == 1.0);
}

TEST_CASE("faults: delayed messages in flight are bounded") {
  fault_table t{true, 1};
  for (std::size_t i = 0; i < fault_table::max_delayed_in_flight; ++i)
    REQUIRE(t.try_start_delay());
  CHECK_FALSE(t.try_start_delay());
  t.end_delay();
  CHECK(t.try_start_delay());
}

TEST_CASE("faults: partition groups parse and bad ones say why") {
  std::vector<std::string> a, b;
  std::string err;
  REQUIRE(parse_partition("n1,n2/n3,n4,n5", a, b, err));
  CHECK(a == std::vector<std::string>{"n1", "n2"});
  CHECK(b == std::vector<std::string>{"n3", "n4", "n5"});
  CHECK_FALSE(parse_partition("n1,n2", a, b, err));
  CHECK(err.find("two sides") != std::string::npos);
  CHECK_FALSE(parse_partition("n1/n2/n3", a, b, err));
  CHECK_FALSE(parse_partition("/n2", a, b, err));
  CHECK(err.find("at least one") != std::string::npos);
  CHECK_FALSE(parse_partition("n1,,n2/n3", a, b, err));
  CHECK(err.find("empty node id") != std::string::npos);
  CHECK_FALSE(parse_partition("n1,n2/n2", a, b, err));
  CHECK(err.find("twice") != std::string::npos);
  CHECK_FALSE(parse_partition("n1,n2/n3,", a, b, err));
}

TEST_CASE("config: --enable-fault-injection and --bind-source") {
  auto out = load_node_config({"--node-id", "n1"}, {});
  REQUIRE(out.config);
  CHECK_FALSE(out.config->enable_fault_injection);
  CHECK(out.config->bind_source.empty());
  out = load_node_config({"--node-id", "n1", "--enable-fault-injection",
                          "--bind-source", "127.0.0.12"},
                         {});
  REQUIRE_MESSAGE(out.config, out.error);
  CHECK(out.config->enable_fault_injection);
  CHECK(out.config->bind_source == "127.0.0.12");
  out = load_node_config({"--node-id", "n1"},
                         {{"TROUPE_ENABLE_FAULT_INJECTION", "true"}});
  REQUIRE(out.config);
  CHECK(out.config->enable_fault_injection);
  out = load_node_config({"--node-id", "n1"},
                         {{"TROUPE_ENABLE_FAULT_INJECTION", "maybe"}});
  CHECK_FALSE(out.config);
  CHECK(out.error.find("true or false") != std::string::npos);
  out = load_node_config({"--node-id", "n1", "--bind-source", "localhost"}, {});
  CHECK_FALSE(out.config);
  CHECK(out.error.find("IPv4 or IPv6") != std::string::npos);
}
