// Tests for runtime/logging: line formats, JSON escaping, levels, threads.
#include "runtime/logging.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <sstream>
#include <thread>

using namespace troupe;

std::string unit_test_log_level(); // tests/unit/main.cpp

namespace {

// Routes troupe's loggers into a string for one test, then back to stderr.
struct captured_log {
  std::ostringstream out;

  captured_log(const std::string& level, const std::string& format) {
    std::string err;
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
    REQUIRE_MESSAGE(init_logging("n1", level, format, err, sink), err);
  }

  // Back to what tests/unit/main.cpp set up: quiet unless asked.
  ~captured_log() {
    std::string err;
    init_logging("-", unit_test_log_level(), "text", err);
  }

  std::vector<std::string> lines() {
    std::istringstream in{out.str()};
    std::vector<std::string> result;
    for (std::string line; std::getline(in, line);)
      result.push_back(line);
    return result;
  }
};

// Matches "2026-11-23T10:16:57.123Z". Not std::regex: with g++ 12 and the
// sanitizers, <regex> trips -Wmaybe-uninitialized.
bool is_timestamp(std::string_view x) {
  std::string_view shape = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (x.size() != shape.size())
    return false;
  for (size_t i = 0; i < x.size(); ++i)
    if (shape[i] == 'd' ? !std::isdigit(static_cast<unsigned char>(x[i]))
                        : x[i] != shape[i])
      return false;
  return true;
}

} // namespace

TEST_CASE("log: text lines carry time, level, node and actor") {
  captured_log log{"info", "text"};
  logger_for("probe/n1")->info("hello {}", 42);
  logger_for("probe/n1")->warn("careful");
  auto lines = log.lines();
  REQUIRE_EQ(lines.size(), 2u);
  CHECK(is_timestamp(lines[0].substr(0, 24)));
  CHECK_EQ(lines[0].substr(24), " info n1 probe/n1: hello 42");
  CHECK(lines[1].ends_with(" warn n1 probe/n1: careful"));
}

TEST_CASE("log: text lines escape control characters") {
  captured_log log{"info", "text"};
  logger_for("a")->info("one\ntwo\tthree\x01");
  auto lines = log.lines();
  REQUIRE_EQ(lines.size(), 1u);
  CHECK(lines[0].ends_with(" info n1 a: one\\ntwo\\tthree\\x01"));
}

TEST_CASE("log: json is one valid object per line, escaped") {
  captured_log log{"info", "json"};
  std::string nasty = "say \"hi\"\\ \nnext\r\t\x01\x1f end \xff\xfe ok";
  logger_for("probe/n1")->error("{}", nasty);
  logger_for("act\"or\n")->info("plain");
  auto lines = log.lines();
  REQUIRE_EQ(lines.size(), 2u);
  auto obj = nlohmann::json::parse(lines[0]);
  CHECK_EQ(obj.size(), 5u);
  CHECK(is_timestamp(obj.at("ts").get<std::string>()));
  CHECK_EQ(obj.at("level"), "error");
  CHECK_EQ(obj.at("node"), "n1");
  CHECK_EQ(obj.at("actor"), "probe/n1");
  CHECK_EQ(obj.at("msg"),
           "say \"hi\"\\ \nnext\r\t\x01\x1f end \xEF\xBF\xBD\xEF\xBF\xBD ok");
  CHECK(lines[0].starts_with(R"({"ts":")"));
  CHECK(lines[0].find(R"(","level":"error","node":"n1",)"
                      R"("actor":"probe/n1","msg":)")
        != std::string::npos);
  auto second = nlohmann::json::parse(lines[1]);
  CHECK_EQ(second.at("actor"), "act\"or\n");
}

TEST_CASE("log: level filters, and re-init updates existing loggers") {
  auto early = logger_for("early/logger");
  {
    captured_log log{"warn", "text"};
    early->info("dropped");
    early->warn("kept");
    logger_for("other")->debug("dropped too");
    auto lines = log.lines();
    REQUIRE_EQ(lines.size(), 1u);
    CHECK(lines[0].ends_with("warn n1 early/logger: kept"));
  }
  captured_log log{"off", "json"};
  early->error("silent");
  CHECK(log.lines().empty());
}

TEST_CASE("log: unknown level or format is an error") {
  std::string err;
  CHECK_FALSE(init_logging("n1", "verbose", "text", err));
  CHECK_EQ(err, "unknown log level 'verbose' (valid levels: trace, debug, "
                "info, warn, error, off)");
  CHECK_FALSE(init_logging("n1", "info", "xml", err));
  CHECK_EQ(err, "unknown log format 'xml' (valid formats: text, json)");
  CHECK_FALSE(make_log_formatter("n1", "xml"));
}

TEST_CASE("log: loggers are cached per name") {
  CHECK_EQ(logger_for("cache/x"), logger_for("cache/x"));
  CHECK_NE(logger_for("cache/x"), logger_for("cache/y"));
  CHECK_EQ(logger_for("cache/x")->name(), "cache/x");
}

TEST_CASE("log: many threads never interleave a line") {
  captured_log log{"info", "json"};
  constexpr int threads = 4, per_thread = 200;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([t] {
      auto name = "worker/" + std::to_string(t);
      for (int i = 0; i < per_thread; ++i)
        logger_for(name)->info("message {} from {}", i, t);
    });
  for (auto& w : workers)
    w.join();
  auto lines = log.lines();
  REQUIRE_EQ(lines.size(), size_t{threads * per_thread});
  for (auto& line : lines) {
    auto obj = nlohmann::json::parse(line); // throws on a torn line
    CHECK(obj.at("actor").get<std::string>().starts_with("worker/"));
  }
}

TEST_CASE("log: spdlog's default logger carries the node id") {
  captured_log log{"info", "text"};
  spdlog::info("stray");
  auto lines = log.lines();
  REQUIRE_EQ(lines.size(), 1u);
  CHECK(lines[0].ends_with(" info n1 node: stray"));
}
