#include "runtime/logging.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/fmt/fmt.h>
#include <spdlog/sinks/dist_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <iterator>
#include <map>
#include <mutex>

namespace troupe {

namespace {

// Bounds the logger cache; see logger_for's contract.
constexpr size_t max_cached_loggers = 4096;

std::string_view level_name(spdlog::level::level_enum x) {
  switch (x) {
    case spdlog::level::trace: return "trace";
    case spdlog::level::debug: return "debug";
    case spdlog::level::info: return "info";
    case spdlog::level::warn: return "warn";
    case spdlog::level::err: return "error";
    case spdlog::level::critical: return "critical";
    default: return "off";
  }
}

// spdlog spells "warn" as "warning" and "error" as "err"; troupe uses the
// names operators type on the command line.
bool parse_level(std::string_view name, spdlog::level::level_enum& out) {
  using namespace spdlog::level;
  for (auto x : {trace, debug, info, warn, err, off})
    if (level_name(x) == name) {
      out = x;
      return true;
    }
  return false;
}

void append(spdlog::memory_buf_t& dest, std::string_view x) {
  dest.append(x.data(), x.data() + x.size());
}

void append_timestamp(spdlog::memory_buf_t& dest,
                      spdlog::log_clock::time_point tp) {
  using namespace std::chrono;
  auto secs = time_point_cast<seconds>(tp);
  auto ms = duration_cast<milliseconds>(tp - secs).count();
  std::time_t t = spdlog::log_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm); // gmtime_r, not gmtime: loggers run on many threads
  fmt::format_to(std::back_inserter(dest),
                 "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, ms);
}

// Keeps one record on one line, so a message with a newline cannot forge a
// second, fake log record.
void append_escaped_text(spdlog::memory_buf_t& dest, std::string_view x) {
  for (char c : x) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7f)
      dest.push_back(c);
    else if (c == '\n')
      append(dest, "\\n");
    else if (c == '\t')
      append(dest, "\\t");
    else if (c == '\r')
      append(dest, "\\r");
    else
      fmt::format_to(std::back_inserter(dest), "\\x{:02x}", u);
  }
}

// nlohmann-json escapes quotes, backslashes and control characters, and
// `replace` turns invalid UTF-8 into U+FFFD instead of throwing, so a log
// call can never fail on its payload.
std::string json_string(std::string_view x) {
  return nlohmann::json(std::string{x})
    .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string_view as_view(spdlog::string_view_t x) {
  return {x.data(), x.size()};
}

class line_formatter : public spdlog::formatter {
public:
  line_formatter(std::string node_id, bool json)
    : node_id_(std::move(node_id)),
      node_json_(json_string(node_id_)),
      json_(json) {
    // nop
  }

  void format(const spdlog::details::log_msg& msg,
              spdlog::memory_buf_t& dest) override {
    if (json_)
      format_json(msg, dest);
    else
      format_text(msg, dest);
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<line_formatter>(node_id_, json_);
  }

private:
  void format_text(const spdlog::details::log_msg& msg,
                   spdlog::memory_buf_t& dest) {
    append_timestamp(dest, msg.time);
    dest.push_back(' ');
    append(dest, level_name(msg.level));
    dest.push_back(' ');
    append_escaped_text(dest, node_id_);
    dest.push_back(' ');
    auto actor = as_view(msg.logger_name);
    append_escaped_text(dest, actor.empty() ? "-" : actor);
    append(dest, ": ");
    append_escaped_text(dest, as_view(msg.payload));
    dest.push_back('\n');
  }

  void format_json(const spdlog::details::log_msg& msg,
                   spdlog::memory_buf_t& dest) {
    append(dest, "{\"ts\":\"");
    append_timestamp(dest, msg.time);
    append(dest, "\",\"level\":\"");
    append(dest, level_name(msg.level));
    append(dest, "\",\"node\":");
    append(dest, node_json_);
    append(dest, ",\"actor\":");
    append(dest, json_string(as_view(msg.logger_name)));
    append(dest, ",\"msg\":");
    append(dest, json_string(as_view(msg.payload)));
    append(dest, "}\n");
  }

  std::string node_id_;
  std::string node_json_; // node_id_ as a JSON string, computed once
  bool json_;
};

spdlog::sink_ptr make_stderr_sink(std::unique_ptr<spdlog::formatter> f) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  sink->set_formatter(std::move(f));
  return sink;
}

// Every logger writes to `root`, which never changes; init_logging swaps what
// is behind it. That way loggers handed out before init_logging (or cached
// in actor state) follow the new node id, format and destination.
struct log_state {
  std::mutex mtx;
  std::shared_ptr<spdlog::sinks::dist_sink_mt> root;
  spdlog::level::level_enum level = spdlog::level::info;
  std::map<std::string, std::shared_ptr<spdlog::logger>> cache;

  log_state() {
    root = std::make_shared<spdlog::sinks::dist_sink_mt>();
    root->add_sink(make_stderr_sink(make_log_formatter("-", "text")));
  }
};

log_state& state() {
  static log_state instance;
  return instance;
}

std::string join(const std::vector<std::string>& xs) {
  std::string out;
  for (const auto& x : xs)
    out += (out.empty() ? "" : ", ") + x;
  return out;
}

} // namespace

const std::vector<std::string>& known_log_levels() {
  static const std::vector<std::string> levels{"trace", "debug", "info",
                                               "warn",  "error", "off"};
  return levels;
}

const std::vector<std::string>& known_log_formats() {
  static const std::vector<std::string> formats{"text", "json"};
  return formats;
}

std::unique_ptr<spdlog::formatter> make_log_formatter(std::string node_id,
                                                      std::string_view format) {
  if (format != "text" && format != "json")
    return nullptr;
  return std::make_unique<line_formatter>(std::move(node_id),
                                          format == "json");
}

bool init_logging(const std::string& node_id, const std::string& level,
                  const std::string& format, std::string& error,
                  spdlog::sink_ptr sink) {
  spdlog::level::level_enum lvl;
  if (!parse_level(level, lvl)) {
    error = "unknown log level '" + level + "' (valid levels: "
            + join(known_log_levels()) + ")";
    return false;
  }
  auto formatter = make_log_formatter(node_id, format);
  if (!formatter) {
    error = "unknown log format '" + format + "' (valid formats: "
            + join(known_log_formats()) + ")";
    return false;
  }
  if (sink)
    sink->set_formatter(std::move(formatter));
  else
    sink = make_stderr_sink(std::move(formatter));
  auto& st = state();
  {
    std::lock_guard<std::mutex> guard{st.mtx};
    st.root->set_sinks({std::move(sink)});
    st.level = lvl;
    for (auto& [name, logger] : st.cache)
      logger->set_level(lvl);
  }
  spdlog::set_default_logger(logger_for("node"));
  return true;
}

std::shared_ptr<spdlog::logger> logger_for(const std::string& actor_name) {
  auto& st = state();
  std::lock_guard<std::mutex> guard{st.mtx};
  if (auto i = st.cache.find(actor_name); i != st.cache.end())
    return i->second;
  auto logger = std::make_shared<spdlog::logger>(actor_name, st.root);
  logger->set_level(st.level);
  if (st.cache.size() < max_cached_loggers)
    st.cache.emplace(actor_name, logger);
  return logger;
}

} // namespace troupe
