#include "net/websocket.hpp"

#include <algorithm>

namespace troupe {

bool ws_valid_close_code(uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011)
         || (code >= 3000 && code <= 4999);
}

// -- UTF-8 ---------------------------------------------------------------------

// Table 3-7 of the Unicode standard: the second byte's range depends on the
// lead byte (E0: A0..BF rules out overlong, ED: 80..9F rules out surrogates,
// F0: 90..BF overlong, F4: 80..8F caps at U+10FFFF); later ones are 80..BF.
bool utf8_validator::feed(std::string_view bytes) {
  for (unsigned char c : bytes) {
    if (!ok_)
      return false;
    if (need_ > 0) {
      if (c < lower_ || c > upper_) {
        ok_ = false;
        return false;
      }
      lower_ = 0x80;
      upper_ = 0xBF;
      --need_;
      continue;
    }
    if (c < 0x80)
      continue;
    if (c >= 0xC2 && c <= 0xDF) {
      need_ = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need_ = 2;
      if (c == 0xE0)
        lower_ = 0xA0;
      else if (c == 0xED)
        upper_ = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      need_ = 3;
      if (c == 0xF0)
        lower_ = 0x90;
      else if (c == 0xF4)
        upper_ = 0x8F;
    } else {
      ok_ = false; // 80..C1 (continuation or overlong lead), F5..FF
    }
  }
  return ok_;
}

// -- decoding ------------------------------------------------------------------

namespace {

constexpr size_t max_control_payload = 125;

bool is_control(ws_opcode op) {
  return (static_cast<uint8_t>(op) & 0x8) != 0;
}

bool known_opcode(uint8_t op) {
  return op <= 0x2 || (op >= 0x8 && op <= 0xA);
}

// Bytes of the header once its first two bytes are known.
size_t header_size(uint8_t second) {
  auto len7 = second & 0x7F;
  size_t n = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0);
  return n + ((second & 0x80) ? 4 : 0);
}

uint64_t read_be(const std::string& s, size_t pos, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i)
    v = (v << 8) | static_cast<unsigned char>(s[pos + i]);
  return v;
}

} // namespace

ws_decoder::ws_decoder(ws_limits limits, bool require_mask)
  : limits_(limits), require_mask_(require_mask) {
}

void ws_decoder::fail(uint16_t code, std::string reason) {
  status_ = {code, std::move(reason)};
  done_ = true;
}

// Checks what the first two bytes say; returns false after fail().
bool ws_decoder::parse_header() {
  auto b0 = static_cast<uint8_t>(header_[0]);
  auto b1 = static_cast<uint8_t>(header_[1]);
  fin_ = (b0 & 0x80) != 0;
  auto op = static_cast<uint8_t>(b0 & 0x0F);
  masked_ = (b1 & 0x80) != 0;
  if (b0 & 0x70) {
    fail(ws_close::protocol_error, "reserved bits set (no extension was negotiated)");
    return false;
  }
  if (!known_opcode(op)) {
    fail(ws_close::protocol_error, "unknown opcode " + std::to_string(op));
    return false;
  }
  opcode_ = static_cast<ws_opcode>(op);
  if (require_mask_ && !masked_) {
    fail(ws_close::protocol_error, "client frame not masked");
    return false;
  }
  if (is_control(opcode_)) {
    if (!fin_) {
      fail(ws_close::protocol_error, "fragmented control frame");
      return false;
    }
    if ((b1 & 0x7F) > max_control_payload) {
      fail(ws_close::protocol_error, "control frame longer than 125 bytes");
      return false;
    }
  } else if (opcode_ == ws_opcode::continuation && !in_message_) {
    fail(ws_close::protocol_error, "continuation frame without a message to continue");
    return false;
  } else if (opcode_ != ws_opcode::continuation && in_message_) {
    fail(ws_close::protocol_error, "new data frame inside a fragmented message");
    return false;
  }
  return true;
}

ws_decode_status ws_decoder::feed(const char* data, size_t size,
                                  std::vector<ws_event>& out) {
  while (!done_ && size > 0) {
    if (in_payload_) {
      consume_payload(data, size, out);
      continue;
    }
    // Header bytes: take only what the header needs.
    size_t want = header_.size() < 2 ? 2 : header_size(static_cast<uint8_t>(header_[1]));
    auto n = std::min(size, want - header_.size());
    header_.append(data, n);
    data += n;
    size -= n;
    if (header_.size() == 2 && !parse_header())
      break;
    if (header_.size() < 2
        || header_.size() < header_size(static_cast<uint8_t>(header_[1])))
      continue;
    auto len7 = static_cast<uint8_t>(header_[1]) & 0x7F;
    size_t len_bytes = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    uint64_t length = len_bytes ? read_be(header_, 2, len_bytes) : len7;
    if (len_bytes == 8 && (length >> 63) != 0) {
      fail(ws_close::protocol_error, "frame length has its most significant bit set");
      break;
    }
    if (!is_control(opcode_)) {
      if (length > limits_.max_frame_bytes) {
        fail(ws_close::message_too_big,
             "frame of " + std::to_string(length) + " bytes exceeds the limit of "
               + std::to_string(limits_.max_frame_bytes));
        break;
      }
      if (message_.size() + length > limits_.max_message_bytes) {
        fail(ws_close::message_too_big,
             "message exceeds the limit of " + std::to_string(limits_.max_message_bytes)
               + " bytes");
        break;
      }
      if (!in_message_) {
        in_message_ = true;
        message_opcode_ = opcode_;
        message_.clear();
        utf8_.reset();
      }
    }
    for (size_t i = 0; i < 4; ++i)
      mask_[i] = masked_ ? static_cast<uint8_t>(header_[2 + len_bytes + i]) : 0;
    mask_pos_ = 0;
    remaining_ = length;
    control_.clear();
    in_payload_ = true;
    if (remaining_ == 0)
      finish_frame(out);
  }
  return status_;
}

void ws_decoder::consume_payload(const char*& data, size_t& size,
                                 std::vector<ws_event>& out) {
  auto n = static_cast<size_t>(std::min<uint64_t>(size, remaining_));
  auto& target = is_control(opcode_) ? control_ : message_;
  auto start = target.size();
  target.append(data, n);
  for (size_t i = start; i < target.size(); ++i)
    target[i] = static_cast<char>(target[i] ^ mask_[mask_pos_++ & 3]);
  data += n;
  size -= n;
  remaining_ -= n;
  if (!is_control(opcode_) && message_opcode_ == ws_opcode::text
      && !utf8_.feed(std::string_view{target}.substr(start))) {
    fail(ws_close::invalid_data, "text message is not valid UTF-8");
    return;
  }
  if (remaining_ == 0)
    finish_frame(out);
}

void ws_decoder::finish_frame(std::vector<ws_event>& out) {
  in_payload_ = false;
  header_.clear();
  if (is_control(opcode_)) {
    finish_control(out);
    return;
  }
  if (!fin_)
    return;
  if (message_opcode_ == ws_opcode::text && !utf8_.complete()) {
    fail(ws_close::invalid_data, "text message is not valid UTF-8");
    return;
  }
  ws_event ev;
  ev.kind = message_opcode_ == ws_opcode::text ? ws_event::text : ws_event::binary;
  ev.payload = std::move(message_);
  message_.clear();
  in_message_ = false;
  out.push_back(std::move(ev));
}

void ws_decoder::finish_control(std::vector<ws_event>& out) {
  ws_event ev;
  ev.payload = std::move(control_);
  control_.clear();
  if (opcode_ == ws_opcode::ping) {
    ev.kind = ws_event::ping;
  } else if (opcode_ == ws_opcode::pong) {
    ev.kind = ws_event::pong;
  } else {
    ev.kind = ws_event::close;
    if (ev.payload.size() == 1)
      return fail(ws_close::protocol_error, "close frame with a 1-byte payload");
    ev.close_code = ws_close::no_status;
    if (ev.payload.size() >= 2) {
      ev.close_code = static_cast<uint16_t>(read_be(ev.payload, 0, 2));
      if (!ws_valid_close_code(ev.close_code))
        return fail(ws_close::protocol_error,
                    "invalid close code " + std::to_string(ev.close_code));
      ev.payload.erase(0, 2);
      utf8_validator reason;
      if (!reason.feed(ev.payload) || !reason.complete())
        return fail(ws_close::invalid_data, "close reason is not valid UTF-8");
    }
    done_ = true;
  }
  out.push_back(std::move(ev));
}

// -- encoding ------------------------------------------------------------------

namespace {

void put_header(uint8_t first, bool masked, size_t length, std::string& out) {
  out.push_back(static_cast<char>(first));
  uint8_t mask_bit = masked ? 0x80 : 0;
  if (length < 126) {
    out.push_back(static_cast<char>(mask_bit | length));
  } else if (length <= 0xFFFF) {
    out.push_back(static_cast<char>(mask_bit | 126));
    for (int shift = 8; shift >= 0; shift -= 8)
      out.push_back(static_cast<char>((length >> shift) & 0xFF));
  } else {
    out.push_back(static_cast<char>(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8)
      out.push_back(static_cast<char>((static_cast<uint64_t>(length) >> shift) & 0xFF));
  }
}

} // namespace

void ws_encode_frame(ws_opcode op, std::string_view payload, bool fin,
                     std::string& out) {
  put_header(static_cast<uint8_t>((fin ? 0x80 : 0) | static_cast<uint8_t>(op)), false,
             payload.size(), out);
  out.append(payload);
}

void ws_encode_close(uint16_t code, std::string_view reason, std::string& out) {
  // Cut on a character boundary: a close reason must be valid UTF-8.
  auto cut = std::min<size_t>(reason.size(), max_control_payload - 2);
  while (cut > 0 && cut < reason.size()
         && (static_cast<unsigned char>(reason[cut]) & 0xC0) == 0x80)
    --cut;
  std::string payload;
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code & 0xFF));
  payload.append(reason.substr(0, cut));
  ws_encode_frame(ws_opcode::close, payload, true, out);
}

void ws_encode_client_frame(ws_opcode op, std::string_view payload, bool fin,
                            uint32_t mask_key, std::string& out,
                            uint8_t reserved_bits) {
  auto first = static_cast<uint8_t>((fin ? 0x80 : 0) | ((reserved_bits & 7) << 4)
                                    | static_cast<uint8_t>(op));
  put_header(first, true, payload.size(), out);
  uint8_t mask[4] = {static_cast<uint8_t>(mask_key >> 24),
                     static_cast<uint8_t>(mask_key >> 16),
                     static_cast<uint8_t>(mask_key >> 8),
                     static_cast<uint8_t>(mask_key)};
  out.append(reinterpret_cast<const char*>(mask), 4);
  for (size_t i = 0; i < payload.size(); ++i)
    out.push_back(static_cast<char>(payload[i] ^ mask[i & 3]));
}

// -- the session ---------------------------------------------------------------

ws_session::ws_session(ws_limits limits) : decoder_(limits, true) {
}

void ws_session::on_input(const char* data, size_t size, std::string& out,
                          std::vector<ws_event>& messages) {
  if (decoder_.done())
    return;
  events_.clear();
  decoder_status_ = decoder_.feed(data, size, events_);
  for (auto& ev : events_) {
    switch (ev.kind) {
      case ws_event::ping:
        if (!closing())
          ws_encode_frame(ws_opcode::pong, ev.payload, true, out);
        break;
      case ws_event::pong:
        ++pongs_received_;
        break;
      case ws_event::close:
        close_received_ = true;
        // Echo the peer's code (RFC 6455 5.5.1); a close without one is
        // answered with 1000.
        close(ev.close_code == ws_close::no_status ? ws_close::normal : ev.close_code,
              "", out);
        break;
      default:
        if (!closing())
          messages.push_back(std::move(ev));
    }
  }
  if (!decoder_status_.ok())
    close(decoder_status_.close_code, decoder_status_.reason, out);
}

void ws_session::send_text(std::string_view text, std::string& out) {
  if (!closing())
    ws_encode_frame(ws_opcode::text, text, true, out);
}

void ws_session::send_ping(std::string_view payload, std::string& out) {
  if (!closing())
    ws_encode_frame(ws_opcode::ping, payload.substr(0, max_control_payload), true, out);
}

void ws_session::close(uint16_t code, std::string_view reason, std::string& out) {
  if (closing())
    return;
  close_sent_ = code;
  ws_encode_close(code, reason, out);
}

} // namespace troupe
