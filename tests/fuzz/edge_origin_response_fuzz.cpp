// libFuzzer target for the edge's origin response parser
// (actors/edge/origin_parser.hpp), which reads bytes from origin servers.
//
// Checks, for every input: no crash, leak or UB (ASan, UBSan); the outcome
// and the parsed response are the same whether the bytes arrive at once or
// split at the byte the input's first byte picks; a complete response never
// breaks a limit.
#include "actors/edge/origin_parser.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

namespace {

using troupe::edge::origin_parse_limits;
using troupe::edge::origin_response_parser;

origin_parse_limits fuzz_limits() {
  origin_parse_limits lim;
  lim.max_header_bytes = 256;
  lim.max_headers = 8;
  lim.max_body_bytes = 128;
  return lim;
}

struct outcome {
  origin_response_parser::state st;
  int status = 0;
  std::string body;
  size_t headers = 0;
};

outcome run(const uint8_t* data, size_t size, size_t split, bool head) {
  origin_response_parser p{fuzz_limits(), head};
  auto* bytes = reinterpret_cast<const char*>(data);
  split = split > size ? size : split;
  auto st = p.feed(bytes, split);
  if (st == origin_response_parser::state::incomplete)
    st = p.feed(bytes + split, size - split);
  if (st == origin_response_parser::state::incomplete)
    st = p.finish();
  outcome out{st};
  if (st == origin_response_parser::state::complete) {
    out.status = p.response().status;
    out.body = *p.response().body;
    out.headers = p.response().headers.size();
  }
  return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1)
    return 0;
  bool head = (data[0] & 0x80) != 0;
  size_t split = data[0] & 0x7f;
  auto whole = run(data + 1, size - 1, size, head);
  auto parts = run(data + 1, size - 1, split, head);
  if (whole.st != parts.st || whole.status != parts.status || whole.body != parts.body
      || whole.headers != parts.headers)
    std::abort();
  auto lim = fuzz_limits();
  if (whole.st == origin_response_parser::state::complete
      && (whole.body.size() > lim.max_body_bytes || whole.headers > lim.max_headers
          || (head && !whole.body.empty())))
    std::abort();
  return 0;
}
