// Tests for net/resp: the request parser (multibulk, inline, limits, errors
// as Redis writes them, input split at every byte) and the reply writer.
#include "net/resp.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace troupe::resp;

namespace {

struct parsed {
  std::vector<std::vector<std::string>> commands;
  parse_status last = parse_status::need_more;
  std::string error;
};

parsed parse(std::string_view input, size_t piece = 0, limits lim = {}) {
  request_parser p{lim};
  parsed out;
  std::vector<std::string_view> args;
  size_t pos = 0;
  auto drain = [&] {
    while (true) {
      out.last = p.next(args);
      if (out.last != parse_status::command)
        break;
      out.commands.emplace_back(args.begin(), args.end());
    }
  };
  while (pos < input.size()) {
    auto n = piece == 0 ? input.size() : std::min(piece, input.size() - pos);
    p.append(input.substr(pos, n));
    pos += n;
    drain();
    if (out.last == parse_status::error || out.last == parse_status::overflow)
      break;
  }
  out.error = p.error_reply();
  return out;
}

using cmds = std::vector<std::vector<std::string>>;

} // namespace

TEST_CASE("resp: multibulk commands, whole and split at every byte") {
  std::string in = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n*1\r\n$4\r\nPING\r\n";
  for (size_t piece : {0, 1, 2, 3, 7}) {
    auto r = parse(in, piece);
    CHECK_EQ(r.commands, cmds{{"SET", "k", "hello"}, {"PING"}});
    CHECK(r.last == parse_status::need_more);
  }
}

TEST_CASE("resp: binary-safe bulk strings and empty arguments") {
  std::string in{"*2\r\n$3\r\na\0b\r\n$0\r\n\r\n", 20};
  auto r = parse(in);
  REQUIRE_EQ(r.commands.size(), 1u);
  CHECK_EQ(r.commands[0][0], std::string{"a\0b", 3});
  CHECK_EQ(r.commands[0][1], "");
}

TEST_CASE("resp: inline commands with quotes, as redis-cli and telnet send them") {
  auto r = parse("PING\r\nset k \"a b\\x41\\n\"\nECHO 'it\\'s'\r\n\r\n");
  CHECK_EQ(r.commands, cmds{{"PING"}, {"set", "k", "a bA\n"}, {"ECHO", "it's"}});
  auto bad = parse("SET k \"unterminated\r\n");
  CHECK(bad.last == parse_status::error);
  CHECK_EQ(bad.error, "ERR Protocol error: unbalanced quotes in request");
}

TEST_CASE("resp: empty multibulk counts are skipped, as Redis does") {
  auto r = parse("*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n");
  CHECK_EQ(r.commands, cmds{{"PING"}});
}

TEST_CASE("resp: protocol errors carry Redis's texts") {
  CHECK_EQ(parse("*x\r\n").error, "ERR Protocol error: invalid multibulk length");
  CHECK_EQ(parse("*1\r\n+PING\r\n").error, "ERR Protocol error: expected '$', got '+'");
  CHECK_EQ(parse("*1\r\n$-1\r\n").error, "ERR Protocol error: invalid bulk length");
  CHECK_EQ(parse("*1\r\n$01\r\n").error, "ERR Protocol error: invalid bulk length");
  limits small;
  small.max_inline_len = 16;
  CHECK_EQ(parse(std::string(40, 'a'), 0, small).error,
           "ERR Protocol error: too big inline request");
  CHECK_EQ(parse("*" + std::string(40, '1'), 0, small).error,
           "ERR Protocol error: too big mbulk count string");
  CHECK_EQ(parse("*1\r\n$" + std::string(40, '1'), 0, small).error,
           "ERR Protocol error: too big bulk count string");
}

// Two inputs the fuzzer (tests/fuzz/resp_fuzz.cpp) found: the verdict on a
// bad header line used to depend on where the reads split it.
TEST_CASE("resp: a bad header line gets the same error however the reads split it") {
  limits small;
  small.max_inline_len = 16;
  // A bulk header that is not '$': known from its first byte.
  std::string not_bulk = "*2\r\n$1\r\na\r\n" + std::string(40, '9') + "\r\n";
  // A count line exactly at the limit, with its '\r' as the 17th byte.
  std::string at_limit = "*" + std::string(14, '7') + "x\r\n";
  for (size_t piece : {0, 1, 2, 3, 5, 16, 17}) {
    CAPTURE(piece);
    CHECK_EQ(parse(not_bulk, piece, small).error, "ERR Protocol error: expected '$', got '9'");
    CHECK_EQ(parse(at_limit, piece, small).error, "ERR Protocol error: invalid multibulk length");
  }
}

TEST_CASE("resp: the bulk length limit (proto-max-bulk-len) and multibulk limit") {
  limits lim;
  lim.max_bulk_len = 10;
  lim.max_multibulk_len = 4;
  CHECK(parse("*1\r\n$10\r\n0123456789\r\n", 0, lim).commands.size() == 1);
  CHECK_EQ(parse("*1\r\n$11\r\n", 0, lim).error, "ERR Protocol error: invalid bulk length");
  CHECK_EQ(parse("*5\r\n", 0, lim).error, "ERR Protocol error: invalid multibulk length");
  // The default is Redis's 512 MB: one byte more is refused before any data.
  CHECK_EQ(parse("*1\r\n$536870913\r\n").error, "ERR Protocol error: invalid bulk length");
  CHECK(parse("*1\r\n$536870912\r\n").last == parse_status::need_more);
}

TEST_CASE("resp: a stuck query buffer over its limit overflows") {
  limits lim;
  lim.max_query_buffer = 64;
  auto r = parse("*1\r\n$50\r\n" + std::string(60, 'x'), 0, lim);
  CHECK_EQ(r.commands.size(), 1u); // 50 bytes + 2 skipped: complete
  CHECK(r.last == parse_status::need_more);
  auto big = parse("*2\r\n$50\r\n" + std::string(52, 'x') + "$30\r\n" + std::string(20, 'y'), 0, lim);
  CHECK(big.last == parse_status::overflow);
}

TEST_CASE("resp: reply writer in RESP2 and RESP3") {
  std::string out;
  reply_writer w{out};
  w.ok();
  w.error("ERR x\ny");
  w.integer(-5);
  w.bulk("hi");
  w.null();
  w.null_array();
  w.map(1);
  w.dbl(1.5);
  w.boolean(true);
  CHECK_EQ(out, "+OK\r\n-ERR x y\r\n:-5\r\n$2\r\nhi\r\n$-1\r\n*-1\r\n*2\r\n$3\r\n1.5\r\n:1\r\n");
  out.clear();
  w.set_protocol(3);
  w.null();
  w.map(1);
  w.dbl(1.5);
  w.boolean(false);
  w.set(2);
  w.verbatim("ab");
  CHECK_EQ(out, "_\r\n%1\r\n,1.5\r\n#f\r\n~2\r\n=6\r\ntxt:ab\r\n");
  CHECK_EQ(format_double(3), "3");
  CHECK_EQ(format_double(0.1), "0.10000000000000001");
  CHECK_EQ(format_double(-1.0 / 0.0), "-inf");
}
