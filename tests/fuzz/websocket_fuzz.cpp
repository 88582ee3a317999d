// libFuzzer target for the WebSocket codec (net/websocket.hpp).
//
// Checks, for every input: the decoder never crashes or leaks (ASan,
// UBSan); its outcome (events and close code) is the same whether the
// stream arrives at once or in pieces; no event breaks a limit; text events
// are valid UTF-8; every error is one of the documented close codes; and
// what a session writes back decodes as well-formed server frames.
//
// The first byte picks a mode: raw bytes, or "frames", in which the input is
// read as a list of (flags, length, payload) records that are encoded as
// masked client frames, so that mutations explore sequences of frames
// (fragments, control frames in between, closes) rather than headers alone.
#include "net/websocket.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

using namespace troupe;

ws_limits fuzz_limits() {
  ws_limits limits;
  limits.max_frame_bytes = 64;
  limits.max_message_bytes = 128;
  return limits;
}

void require(bool ok) {
  if (!ok)
    std::abort();
}

std::string expand(const uint8_t* data, size_t size) {
  if (size == 0 || data[0] % 2 == 0)
    return std::string(reinterpret_cast<const char*>(data), size);
  std::string out;
  size_t pos = 1;
  while (pos + 2 <= size) {
    auto flags = data[pos];
    auto len = std::min<size_t>(data[pos + 1] % 80, size - pos - 2);
    std::string payload(reinterpret_cast<const char*>(data + pos + 2), len);
    pos += 2 + len;
    auto op = static_cast<ws_opcode>(flags & 0x0F);
    // Reserved bits only rarely (they end the stream at once).
    uint8_t rsv = (flags & 0x70) == 0x70 ? 1 : 0;
    ws_encode_client_frame(op, payload, (flags & 0x80) != 0, 0xA5C3E1F7u * (flags + 1u),
                           out, rsv);
  }
  return out;
}

struct outcome {
  std::vector<ws_event> events;
  ws_decode_status status;
};

outcome decode(const std::string& stream, uint32_t seed) {
  ws_decoder dec{fuzz_limits()};
  outcome out;
  size_t pos = 0;
  while (pos < stream.size() && out.status.ok()) {
    size_t n = seed == 0 ? stream.size() : 1 + (seed = seed * 1103515245u + 12345u) % 9;
    n = std::min(n, stream.size() - pos);
    out.status = dec.feed(stream.data() + pos, n, out.events);
    pos += n;
  }
  return out;
}

bool documented(uint16_t code) {
  return code == 0 || code == ws_close::protocol_error || code == ws_close::invalid_data
         || code == ws_close::message_too_big;
}

void check_events(const outcome& o) {
  require(documented(o.status.close_code));
  for (auto& ev : o.events) {
    if (ev.kind == ws_event::text || ev.kind == ws_event::binary)
      require(ev.payload.size() <= fuzz_limits().max_message_bytes);
    else
      require(ev.payload.size() <= 125);
    if (ev.kind == ws_event::text) {
      utf8_validator v;
      require(v.feed(ev.payload) && v.complete());
    }
  }
}

// The session's output must decode as unmasked frames without errors.
void check_session(const std::string& stream) {
  ws_session session{fuzz_limits()};
  std::string out;
  std::vector<ws_event> messages;
  session.on_input(stream.data(), stream.size(), out, messages);
  ws_limits server_side;
  server_side.max_frame_bytes = server_side.max_message_bytes = 1 << 16;
  ws_decoder reader{server_side, false};
  std::vector<ws_event> frames;
  auto status = reader.feed(out.data(), out.size(), frames);
  require(status.ok());
  for (auto& f : frames)
    require(f.kind == ws_event::pong || f.kind == ws_event::close);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto stream = expand(data, size);
  auto seed = size >= 2 ? 0x9e3779b9u * (data[size - 1] + 1u) : 1u;
  auto whole = decode(stream, 0);
  auto pieces = decode(stream, seed);
  check_events(whole);
  require(whole.status.close_code == pieces.status.close_code);
  require(whole.events.size() == pieces.events.size());
  for (size_t i = 0; i < whole.events.size(); ++i)
    require(whole.events[i].payload == pieces.events[i].payload
            && whole.events[i].kind == pieces.events[i].kind);
  check_session(stream);
  return 0;
}
