#include "actors/edge/cache/http_types.hpp"

#include <algorithm>

namespace troupe::edge::cache {

namespace {

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

} // namespace

body_ptr empty_body() {
  // One shared empty string: responses without a body allocate nothing.
  static const body_ptr empty = std::make_shared<const std::string>();
  return empty;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i]))
      return false;
  return true;
}

const std::string* find_header(const header_list& headers,
                               std::string_view name) {
  for (const auto& [k, v] : headers)
    if (iequals(k, name))
      return &v;
  return nullptr;
}

bool has_header(const header_list& headers, std::string_view name) {
  return find_header(headers, name) != nullptr;
}

std::optional<std::string> joined_header(const header_list& headers,
                                         std::string_view name) {
  std::optional<std::string> out;
  for (const auto& [k, v] : headers) {
    if (!iequals(k, name))
      continue;
    if (!out)
      out = v;
    else
      out->append(", ").append(v);
  }
  return out;
}

size_t remove_header(header_list& headers, std::string_view name) {
  size_t before = headers.size();
  std::erase_if(headers, [&](const auto& h) { return iequals(h.first, name); });
  return before - headers.size();
}

void set_header(header_list& headers, std::string_view name,
                std::string_view value) {
  for (auto i = headers.begin(); i != headers.end(); ++i) {
    if (!iequals(i->first, name))
      continue;
    i->second = std::string{value};
    auto rest = i + 1;
    headers.erase(std::remove_if(rest, headers.end(),
                                 [&](const auto& h) {
                                   return iequals(h.first, name);
                                 }),
                  headers.end());
    return;
  }
  headers.emplace_back(std::string{name}, std::string{value});
}

} // namespace troupe::edge::cache
