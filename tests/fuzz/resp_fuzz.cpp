// libFuzzer target for net/resp's request parser.
//
// Checks, for every input: the parser never crashes or leaks (ASan, UBSan);
// its commands and final status are the same whether the stream arrives at
// once or in pieces of 1..8 bytes; no command breaks the limits; every
// error reply is a Redis protocol error line.
//
// The input's first byte picks a mode: raw bytes, or a token mode in which
// each byte picks a RESP fragment ("*2\r\n", "$3\r\n", quotes...), so that
// mutations explore the protocol's structure.
#include "net/resp.hpp"

#include <array>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

using troupe::resp::limits;
using troupe::resp::parse_status;
using troupe::resp::request_parser;

limits fuzz_limits() {
  limits lim;
  lim.max_bulk_len = 64;
  lim.max_multibulk_len = 8;
  lim.max_inline_len = 96;
  lim.max_query_buffer = 512;
  return lim;
}

constexpr std::array<std::string_view, 32> fragments
  = {"*1\r\n", "*2\r\n", "*3\r\n", "*0\r\n", "*-1\r\n", "*9\r\n", "$0\r\n", "$1\r\n",
     "$3\r\n", "$64\r\n", "$65\r\n", "$-1\r\n", "\r\n", "\n", "PING", "SET",
     "GET", " ", "\"", "'", "\\x41", "\\", "x", "*", "$", "+", "-1", "01",
     "99999999999999999999", "\0", "a b", "\r"};

std::string expand(const uint8_t* data, size_t size) {
  if (size == 0)
    return {};
  if (data[0] % 2 == 0)
    return {reinterpret_cast<const char*>(data) + 1, size - 1};
  std::string s;
  for (size_t i = 1; i < size; ++i)
    if (data[i] < fragments.size())
      s += fragments[data[i]];
    else
      s += static_cast<char>(data[i]);
  return s;
}

struct outcome {
  std::vector<std::vector<std::string>> commands;
  parse_status status = parse_status::need_more;
  std::string error;
};

void require(bool ok) {
  if (!ok)
    std::abort();
}

outcome run(std::string_view stream, uint32_t seed) {
  request_parser p{fuzz_limits()};
  outcome out;
  std::vector<std::string_view> args;
  size_t pos = 0;
  while (pos < stream.size()) {
    size_t n = seed == 0 ? stream.size() : 1 + (seed >> (pos % 29)) % 8;
    n = std::min(n, stream.size() - pos);
    p.append(stream.substr(pos, n));
    pos += n;
    while ((out.status = p.next(args)) == parse_status::command) {
      require(!args.empty());
      require(args.size() <= 8 || args.size() <= 96); // inline may split more
      for (auto a : args)
        require(a.size() <= 96);
      out.commands.emplace_back(args.begin(), args.end());
    }
    if (out.status == parse_status::error || out.status == parse_status::overflow)
      break;
  }
  out.error = p.error_reply();
  return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto stream = expand(data, size);
  auto seed = size >= 2 ? 0x9e3779b9u * (data[size - 1] + 1u) : 1u;
  auto whole = run(stream, 0);
  auto pieces = run(stream, seed);
  if (whole.status == parse_status::error)
    require(whole.error.starts_with("ERR Protocol error: "));
  // Overflow depends on how much was buffered when the parser looked, so
  // only streams that stay below the query buffer limit must agree.
  if (stream.size() < fuzz_limits().max_query_buffer) {
    require(whole.status == pieces.status);
    require(whole.commands == pieces.commands);
    require(whole.error == pieces.error);
  }
  return 0;
}
