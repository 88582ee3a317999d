#include "cli/kv_render.hpp"

#include <cstdio>

namespace troupe::cli {

namespace {

using uchar = unsigned char;

void append_hex(std::string& out, uchar c) {
  char buf[5];
  std::snprintf(buf, sizeof(buf), "\\x%02x", c);
  out += buf;
}

bool continuation(uchar c) {
  return (c & 0xc0) == 0x80;
}

// Length of the well-formed UTF-8 sequence at bytes[i] (Unicode's table 3-7:
// no overlong forms, no surrogates, nothing above U+10FFFF), 0 if none.
size_t utf8_length(std::string_view bytes, size_t i) {
  auto at = [&](size_t k) { return static_cast<uchar>(bytes[i + k]); };
  auto left = bytes.size() - i;
  uchar c = at(0);
  size_t len = c >= 0xc2 && c <= 0xdf   ? 2
               : c >= 0xe0 && c <= 0xef ? 3
               : c >= 0xf0 && c <= 0xf4 ? 4
                                        : 0;
  if (len == 0 || left < len)
    return 0;
  uchar lo = 0x80, hi = 0xbf;
  if (c == 0xe0)
    lo = 0xa0;
  if (c == 0xed)
    hi = 0x9f;
  if (c == 0xf0)
    lo = 0x90;
  if (c == 0xf4)
    hi = 0x8f;
  if (at(1) < lo || at(1) > hi)
    return 0;
  for (size_t k = 2; k < len; ++k)
    if (!continuation(at(k)))
      return 0;
  return len;
}

void append_ascii(std::string& out, uchar c) {
  switch (c) {
  case '\n':
    out += "\\n";
    return;
  case '\r':
    out += "\\r";
    return;
  case '\t':
    out += "\\t";
    return;
  case '\\':
    out += "\\\\";
    return;
  default:
    if (c < 0x20 || c == 0x7f)
      append_hex(out, c);
    else
      out += static_cast<char>(c);
  }
}

void append_kv(std::string& out, const v1::KeyValue& kv, bool with_value) {
  out += escape_bytes(kv.key()) + "\n";
  if (with_value)
    out += escape_bytes(kv.value()) + "\n";
}

std::string ok_line(const v1::KvReply& reply) {
  return "OK (revision " + std::to_string(reply.header().revision()) + ")\n";
}

} // namespace

std::string escape_bytes(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    auto c = static_cast<uchar>(bytes[i]);
    if (c < 0x80) {
      append_ascii(out, c);
      ++i;
      continue;
    }
    auto len = utf8_length(bytes, i);
    // U+0080..U+009F (C2 80..C2 9F) are C1 controls: escape them too.
    bool c1 = len == 2 && c == 0xc2 && static_cast<uchar>(bytes[i + 1]) < 0xa0;
    if (len == 0 || c1) {
      for (size_t k = 0; k < (c1 ? 2 : 1); ++k)
        append_hex(out, static_cast<uchar>(bytes[i + k]));
      i += c1 ? 2 : 1;
      continue;
    }
    out.append(bytes.substr(i, len));
    i += len;
  }
  return out;
}

std::string render_put(const v1::KvReply& reply, bool prev_kv) {
  auto out = ok_line(reply);
  if (prev_kv && reply.put().has_prev_kv())
    append_kv(out, reply.put().prev_kv(), true);
  return out;
}

std::string render_range(const v1::KvReply& reply, bool keys_only,
                         bool count_only) {
  if (count_only)
    return std::to_string(reply.range().count()) + "\n";
  std::string out;
  for (auto& kv : reply.range().kvs())
    append_kv(out, kv, !keys_only);
  return out;
}

std::string render_delete(const v1::KvReply& reply, bool prev_kv) {
  auto out = std::to_string(reply.delete_range().deleted()) + "\n";
  if (prev_kv)
    for (auto& kv : reply.delete_range().prev_kvs())
      append_kv(out, kv, true);
  return out;
}

std::string render_event(const v1::Event& event) {
  auto& kv = event.kv();
  auto rev = std::to_string(kv.mod_revision());
  if (event.type() == v1::Event::DELETE)
    return "DELETE " + escape_bytes(kv.key()) + " " + rev + "\n";
  return "PUT " + escape_bytes(kv.key()) + " " + escape_bytes(kv.value()) + " "
         + rev + "\n";
}

std::string render_cas(const cas_result& result, bool create) {
  if (result.succeeded)
    return "OK (revision " + std::to_string(result.revision) + ")\n";
  if (!result.current_exists)
    return "FAILED: key is absent\n";
  return std::string{create ? "FAILED: key exists, current value is "
                            : "FAILED: current value is "}
         + escape_bytes(result.current_value) + "\n";
}

} // namespace troupe::cli
