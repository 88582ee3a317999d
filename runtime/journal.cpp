#include "runtime/journal.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <ctime>

namespace troupe::journal {

std::string key_for(std::uint64_t seq) {
  char digits[21];
  std::snprintf(digits, sizeof digits, "%020llu", static_cast<unsigned long long>(seq));
  return std::string{prefix} + digits;
}

std::optional<std::uint64_t> seq_of(std::string_view key) {
  if (key.substr(0, prefix.size()) != prefix)
    return std::nullopt;
  auto digits = key.substr(prefix.size());
  if (digits.size() != 20)
    return std::nullopt;
  std::uint64_t seq = 0;
  for (char c : digits) {
    if (c < '0' || c > '9')
      return std::nullopt;
    seq = seq * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return seq;
}

std::string to_json(const entry& e) {
  nlohmann::json j{{"seq", e.seq},   {"time_ms", e.time_ms}, {"kind", e.kind},
                   {"node", e.node}, {"by", e.by},           {"subject", e.subject},
                   {"reason", e.reason}};
  return j.dump();
}

std::optional<entry> from_json(std::string_view json) {
  auto j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return std::nullopt;
  entry e;
  try {
    e.seq = j.at("seq").get<std::uint64_t>();
    e.time_ms = j.value("time_ms", std::int64_t{0});
    e.kind = j.value("kind", std::string{});
    e.node = j.value("node", std::string{});
    e.by = j.value("by", std::string{});
    e.subject = j.value("subject", std::string{});
    e.reason = j.value("reason", std::string{});
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
  return e;
}

std::string render(const entry& e) {
  std::time_t secs = static_cast<std::time_t>(e.time_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char when[64];
  std::snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(e.time_ms % 1000));
  std::string out = std::string{when} + " #" + std::to_string(e.seq) + " " + e.kind + " "
                    + e.node;
  if (!e.subject.empty())
    out += " " + e.subject;
  if (!e.by.empty())
    out += " (by " + e.by + ")";
  return out + ": " + e.reason;
}

} // namespace troupe::journal
