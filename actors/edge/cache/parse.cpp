// Header field parsers for the cache. Grammar references are to RFC 9110
// (HTTP Semantics) and RFC 9111 (HTTP Caching).
#include "actors/edge/cache/parse.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>

namespace troupe::edge::cache {

namespace {

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lowered(std::string_view s) {
  std::string out{s};
  for (auto& c : out)
    c = lower(c);
  return out;
}

bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

// tchar (RFC 9110 5.6.2).
bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
    return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ows(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back()))
    s.remove_suffix(1);
  return s;
}

// A cursor over one field value.
struct scanner {
  std::string_view in;
  size_t pos = 0;

  bool at_end() const {
    return pos >= in.size();
  }
  char peek() const {
    return at_end() ? '\0' : in[pos];
  }
  void skip_ows() {
    while (!at_end() && is_ows(in[pos]))
      ++pos;
  }
  std::string_view token() {
    size_t start = pos;
    while (!at_end() && is_tchar(in[pos]))
      ++pos;
    return in.substr(start, pos - start);
  }
  // quoted-string with quoted-pair; false if unterminated.
  bool quoted(std::string& out) {
    if (peek() != '"')
      return false;
    ++pos;
    while (!at_end()) {
      char c = in[pos++];
      if (c == '"')
        return true;
      if (c == '\\') {
        if (at_end())
          return false;
        c = in[pos++];
      }
      out.push_back(c);
    }
    return false;
  }
  // Skips to just after the next comma outside a quoted string.
  void skip_member() {
    bool in_quotes = false;
    while (!at_end()) {
      char c = in[pos++];
      if (in_quotes && c == '\\' && !at_end())
        ++pos;
      else if (c == '"')
        in_quotes = !in_quotes;
      else if (c == ',' && !in_quotes)
        return;
    }
  }
};

// A directive's argument: token or quoted-string, or none.
struct directive {
  std::string name; // lowercased
  bool has_arg = false;
  std::string arg;
  bool malformed = false;
};

directive next_directive(scanner& s) {
  directive d;
  d.name = lowered(s.token());
  if (s.peek() == '=') {
    ++s.pos;
    d.has_arg = true;
    if (s.peek() == '"')
      d.malformed = !s.quoted(d.arg);
    else
      d.arg = std::string{s.token()};
  }
  s.skip_ows();
  // Anything but a comma or the end here means the member is malformed
  // (e.g. "max-age =5", "max-age=5 x").
  if (!s.at_end() && s.peek() != ',')
    d.malformed = true;
  s.skip_member();
  return d;
}

// Sets `value` from a delta-seconds argument the first time; a later
// occurrence is ignored (RFC 9111 4.2.1 allows using the first).
void set_seconds(const directive& d, std::optional<int64_t>& value,
                 bool& invalid, bool& seen) {
  if (seen)
    return;
  seen = true;
  auto v = d.has_arg && !d.malformed ? parse_delta_seconds(d.arg)
                                     : std::nullopt;
  if (v)
    value = v;
  else
    invalid = true;
}

void set_fields(const directive& d, bool& all,
                std::vector<std::string>& fields, const parse_limits& limits) {
  if (!d.has_arg || d.malformed) {
    all = true;
    return;
  }
  for (auto& f : parse_list(d.arg, limits))
    fields.push_back(lowered(f));
  if (fields.empty())
    all = true;
}

struct seen_flags {
  bool max_age = false, s_maxage = false, max_stale = false,
       min_fresh = false, swr = false, sie = false;
};

void apply_directive(const directive& d, cache_control& cc, seen_flags& seen,
                     const parse_limits& limits) {
  bool ignored_invalid = false;
  const auto& n = d.name;
  if (n == "no-store")
    cc.no_store = true;
  else if (n == "no-cache")
    set_fields(d, cc.no_cache, cc.no_cache_fields, limits);
  else if (n == "no-transform")
    cc.no_transform = true;
  else if (n == "max-age")
    set_seconds(d, cc.max_age, cc.max_age_invalid, seen.max_age);
  else if (n == "max-stale") {
    cc.max_stale = true;
    if (d.has_arg)
      set_seconds(d, cc.max_stale_seconds, ignored_invalid, seen.max_stale);
  } else if (n == "min-fresh")
    set_seconds(d, cc.min_fresh, ignored_invalid, seen.min_fresh);
  else if (n == "only-if-cached")
    cc.only_if_cached = true;
  else if (n == "private")
    set_fields(d, cc.private_all, cc.private_fields, limits);
  else if (n == "public")
    cc.public_ = true;
  else if (n == "must-revalidate")
    cc.must_revalidate = true;
  else if (n == "proxy-revalidate")
    cc.proxy_revalidate = true;
  else if (n == "s-maxage")
    set_seconds(d, cc.s_maxage, cc.s_maxage_invalid, seen.s_maxage);
  else if (n == "must-understand")
    cc.must_understand = true;
  else if (n == "stale-while-revalidate")
    set_seconds(d, cc.stale_while_revalidate, ignored_invalid, seen.swr);
  else if (n == "stale-if-error")
    set_seconds(d, cc.stale_if_error, ignored_invalid, seen.sie);
  else if (n == "immutable")
    cc.immutable = true;
  // Unknown directives are ignored (RFC 9111 5.2.3).
  if (ignored_invalid && n == "max-stale")
    cc.max_stale = false; // max-stale=junk grants nothing
}

} // namespace

std::optional<int64_t> parse_delta_seconds(std::string_view text) {
  if (text.empty())
    return std::nullopt;
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return std::nullopt;
    if (v < max_delta_seconds)
      v = v * 10 + (c - '0');
  }
  return std::min(v, max_delta_seconds);
}

cache_control parse_cache_control(std::string_view value,
                                  const parse_limits& limits) {
  cache_control cc;
  cc.present = true;
  if (value.size() > limits.max_field_bytes) {
    value = value.substr(0, limits.max_field_bytes);
    cc.truncated = true;
  }
  scanner s{value};
  seen_flags seen;
  size_t count = 0;
  while (true) {
    s.skip_ows();
    while (s.peek() == ',') {
      ++s.pos;
      s.skip_ows();
    }
    if (s.at_end())
      break;
    if (++count > limits.max_directives) {
      cc.truncated = true;
      break;
    }
    auto d = next_directive(s);
    if (!d.name.empty())
      apply_directive(d, cc, seen, limits);
  }
  return cc;
}

cache_control cache_control_of(const header_list& headers,
                               const parse_limits& limits) {
  auto joined = joined_header(headers, "cache-control");
  if (!joined)
    return {};
  return parse_cache_control(*joined, limits);
}

// -- dates (RFC 9110 5.6.7) -------------------------------------------------

namespace {

constexpr std::array<const char*, 12> month_names{
  "Jan", "Feb", "Mar", "Apr", "May", "Jun",
  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<const char*, 7> day_names{"Sun", "Mon", "Tue", "Wed",
                                               "Thu", "Fri", "Sat"};
constexpr std::array<const char*, 7> long_day_names{
  "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
  "Saturday"};

int month_of(std::string_view s) {
  for (size_t i = 0; i < month_names.size(); ++i)
    if (iequals(s, month_names[i]))
      return static_cast<int>(i) + 1;
  return 0;
}

template <size_t N>
bool is_one_of(std::string_view s, const std::array<const char*, N>& names) {
  for (auto* n : names)
    if (iequals(s, n))
      return true;
  return false;
}

// Reads exactly `n` digits at `pos`.
bool digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size())
    return false;
  out = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9')
      return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

// "hh:mm:ss" at pos.
bool time_of_day(std::string_view s, size_t pos, int& h, int& m, int& sec) {
  return pos + 8 <= s.size() && digits(s, pos, 2, h) && s[pos + 2] == ':'
         && digits(s, pos + 3, 2, m) && s[pos + 5] == ':'
         && digits(s, pos + 6, 2, sec) && h <= 23 && m <= 59 && sec <= 60;
}

std::optional<time_point> make_time(int y, int mon, int d, int h, int m,
                                    int s) {
  using namespace std::chrono;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mon)},
                     day{static_cast<unsigned>(d)}};
  if (!ymd.ok())
    return std::nullopt;
  // system_clock counts nanoseconds in 64 bits (1678..2262): dates outside
  // 1900..2200 are clamped to those bounds, so "Expires: ... 9999" still
  // means "far in the future".
  if (y > 2200)
    return make_time(2200, 1, 1, 0, 0, 0);
  if (y < 1900)
    return make_time(1900, 1, 1, 0, 0, 0);
  // A leap second (60) is read as the last second of its minute.
  auto t = sys_days{ymd} + hours{h} + minutes{m} + seconds{std::min(s, 59)};
  return time_point{duration_cast<system_clock::duration>(t.time_since_epoch())};
}

// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" (29 bytes).
std::optional<time_point> imf_fixdate(std::string_view s) {
  int d, y, h, m, sec;
  if (s.size() != 29 || !is_one_of(s.substr(0, 3), day_names) || s[3] != ','
      || s[4] != ' ' || !digits(s, 5, 2, d) || s[7] != ' ' || s[11] != ' '
      || !digits(s, 12, 4, y) || s[16] != ' ' || !time_of_day(s, 17, h, m, sec)
      || s.substr(25) != " GMT")
    return std::nullopt;
  int mon = month_of(s.substr(8, 3));
  return mon ? make_time(y, mon, d, h, m, sec) : std::nullopt;
}

// RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT".
std::optional<time_point> rfc850(std::string_view s) {
  auto comma = s.find(',');
  if (comma == std::string_view::npos
      || !is_one_of(s.substr(0, comma), long_day_names))
    return std::nullopt;
  auto r = s.substr(comma + 1);
  int d, yy, h, m, sec;
  if (r.size() != 23 || r[0] != ' ' || !digits(r, 1, 2, d) || r[3] != '-'
      || r[7] != '-' || !digits(r, 8, 2, yy) || r[10] != ' '
      || !time_of_day(r, 11, h, m, sec) || r.substr(19) != " GMT")
    return std::nullopt;
  int mon = month_of(r.substr(4, 3));
  if (!mon)
    return std::nullopt;
  // RFC 9110 5.6.7: a two-digit year more than 50 years in the future is
  // the most recent past year with those digits. Without a clock here, a
  // fixed pivot: 70..99 are 19xx, else 20xx (the same answer as the rule
  // for any "now" from 2020 to 2069).
  int y = yy >= 70 ? 1900 + yy : 2000 + yy;
  return make_time(y, mon, d, h, m, sec);
}

// asctime: "Sun Nov  6 08:49:37 1994" (24 bytes; day space-padded).
std::optional<time_point> asctime_date(std::string_view s) {
  int d, y, h, m, sec;
  if (s.size() != 24 || !is_one_of(s.substr(0, 3), day_names) || s[3] != ' '
      || s[7] != ' ' || s[10] != ' ' || !time_of_day(s, 11, h, m, sec)
      || s[19] != ' ' || !digits(s, 20, 4, y))
    return std::nullopt;
  if (s[8] == ' ') {
    if (!digits(s, 9, 1, d))
      return std::nullopt;
  } else if (!digits(s, 8, 2, d)) {
    return std::nullopt;
  }
  int mon = month_of(s.substr(4, 3));
  return mon ? make_time(y, mon, d, h, m, sec) : std::nullopt;
}

} // namespace

std::optional<time_point> parse_http_date(std::string_view text) {
  text = trim(text);
  if (text.size() > 64)
    return std::nullopt;
  if (auto t = imf_fixdate(text))
    return t;
  if (auto t = rfc850(text))
    return t;
  return asctime_date(text);
}

std::string format_http_date(time_point t) {
  using namespace std::chrono;
  auto secs = floor<seconds>(t);
  auto days = floor<std::chrono::days>(secs);
  year_month_day ymd{days};
  hh_mm_ss hms{secs - days};
  weekday wd{days};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02u %s %04d %02d:%02d:%02d GMT",
                day_names[wd.c_encoding()], static_cast<unsigned>(ymd.day()),
                month_names[static_cast<unsigned>(ymd.month()) - 1],
                static_cast<int>(ymd.year()),
                static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buf;
}

// -- lists --------------------------------------------------------------------

std::vector<std::string> parse_list(std::string_view value,
                                    const parse_limits& limits) {
  std::vector<std::string> out;
  if (value.size() > limits.max_field_bytes)
    value = value.substr(0, limits.max_field_bytes);
  size_t start = 0;
  while (start <= value.size() && out.size() < limits.max_list_members) {
    auto comma = value.find(',', start);
    auto end = comma == std::string_view::npos ? value.size() : comma;
    auto member = trim(value.substr(start, end - start));
    if (!member.empty() && member.size() <= limits.max_member_bytes)
      out.emplace_back(member);
    if (comma == std::string_view::npos)
      break;
    start = comma + 1;
  }
  return out;
}

vary_fields parse_vary(const header_list& headers, const parse_limits& limits) {
  vary_fields v;
  auto joined = joined_header(headers, "vary");
  if (!joined)
    return v;
  if (joined->size() > limits.max_field_bytes) {
    v.too_many = true;
    return v;
  }
  auto members = parse_list(*joined, limits);
  // parse_list stops at the member limit; a list that reaches it may have
  // been cut, so it is refused rather than matched on a subset.
  if (members.size() >= limits.max_list_members)
    v.too_many = true;
  for (auto& m : members) {
    if (m == "*") {
      v.star = true;
      continue;
    }
    v.names.push_back(lowered(m));
  }
  std::sort(v.names.begin(), v.names.end());
  v.names.erase(std::unique(v.names.begin(), v.names.end()), v.names.end());
  return v;
}

std::string normalize_accept_encoding(std::string_view value,
                                      const parse_limits& limits) {
  // The codings distinguished, in output order.
  static constexpr std::array<const char*, 4> known{"br", "gzip", "zstd",
                                                    "deflate"};
  // -1: not mentioned, 0: refused (q=0), 1: accepted.
  std::array<int, known.size()> state{-1, -1, -1, -1};
  int star = -1;
  for (auto& member : parse_list(value, limits)) {
    std::string_view m = member;
    auto semi = m.find(';');
    auto coding = lowered(trim(m.substr(0, semi)));
    bool accepted = true;
    if (semi != std::string_view::npos) {
      auto params = trim(m.substr(semi + 1));
      if (params.size() >= 2 && (params[0] == 'q' || params[0] == 'Q')
          && params.find('=') != std::string_view::npos) {
        auto q = trim(params.substr(params.find('=') + 1));
        // qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
        accepted = !(q.empty() || q.find_first_not_of("0.") == std::string_view::npos);
      }
    }
    if (coding == "x-gzip")
      coding = "gzip";
    if (coding == "*") {
      star = accepted ? 1 : 0;
      continue;
    }
    for (size_t i = 0; i < known.size(); ++i)
      if (coding == known[i])
        state[i] = accepted ? 1 : 0;
  }
  std::string out;
  for (size_t i = 0; i < known.size(); ++i) {
    bool yes = state[i] == 1 || (state[i] == -1 && star == 1);
    if (!yes)
      continue;
    if (!out.empty())
      out.push_back(',');
    out += known[i];
  }
  return out;
}

// -- entity tags (RFC 9110 8.8.3) -----------------------------------------

namespace {

// etagc = %x21 / %x23-7E / obs-text
bool is_etagc(char c) {
  auto u = static_cast<unsigned char>(c);
  return u == 0x21 || (u >= 0x23 && u != 0x7f);
}

// Reads one entity-tag at s.pos; false if malformed.
bool read_etag(scanner& s, entity_tag& out) {
  out = {};
  if (s.in.substr(s.pos, 2) == "W/") {
    out.weak = true;
    s.pos += 2;
  }
  if (s.peek() != '"')
    return false;
  ++s.pos;
  size_t start = s.pos;
  while (!s.at_end() && s.peek() != '"') {
    if (!is_etagc(s.peek()))
      return false;
    ++s.pos;
  }
  if (s.at_end())
    return false;
  out.opaque = std::string{s.in.substr(start, s.pos - start)};
  ++s.pos;
  return true;
}

} // namespace

std::optional<entity_tag> parse_entity_tag(std::string_view text) {
  text = trim(text);
  if (text.size() > 1024)
    return std::nullopt;
  scanner s{text};
  entity_tag t;
  if (!read_etag(s, t) || !s.at_end())
    return std::nullopt;
  return t;
}

bool if_none_match_matches(std::string_view value, std::string_view etag,
                           const parse_limits& limits) {
  value = trim(value);
  if (value.size() > limits.max_field_bytes)
    return false;
  if (value == "*")
    return true;
  auto stored = parse_entity_tag(etag);
  if (!stored)
    return false;
  scanner s{value};
  size_t members = 0;
  while (members++ < limits.max_list_members) {
    s.skip_ows();
    while (s.peek() == ',') {
      ++s.pos;
      s.skip_ows();
    }
    if (s.at_end())
      return false;
    entity_tag t;
    if (!read_etag(s, t))
      return false;
    // Weak comparison: opaque tags equal, either or both may be weak.
    if (t.opaque == stored->opaque)
      return true;
    s.skip_ows();
    if (!s.at_end() && s.peek() != ',')
      return false;
  }
  return false;
}

std::vector<std::string> parse_surrogate_keys(std::string_view value,
                                              const parse_limits& limits) {
  std::vector<std::string> out;
  if (value.size() > limits.max_field_bytes)
    value = value.substr(0, limits.max_field_bytes);
  size_t i = 0;
  while (i < value.size() && out.size() < limits.max_list_members) {
    while (i < value.size() && (is_ows(value[i]) || value[i] == ','))
      ++i;
    size_t start = i;
    while (i < value.size() && !is_ows(value[i]) && value[i] != ',')
      ++i;
    auto key = value.substr(start, i - start);
    if (key.empty() || key.size() > limits.max_member_bytes)
      continue;
    if (std::find(out.begin(), out.end(), key) == out.end())
      out.emplace_back(key);
  }
  return out;
}

} // namespace troupe::edge::cache
