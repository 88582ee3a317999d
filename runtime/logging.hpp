// Logging for troupe: spdlog loggers, one per actor name, that all write
// through one shared sink (stderr unless a test passes another).
//
// Every line carries the node id and the actor name (the logger's name).
//   text: 2026-11-23T10:16:57.123Z info n1 probe/n1: message
//   json: {"ts":"2026-11-23T10:16:57.123Z","level":"info","node":"n1",
//          "actor":"probe/n1","msg":"message"}          (one object per line)
// Timestamps are UTC with milliseconds. Level names are trace, debug, info,
// warn, error, critical. In text lines, control characters in the message
// are escaped (\n, \t, \xNN) so one record is always one line. JSON lines are
// valid JSON, with invalid UTF-8 replaced by U+FFFD.
//
// All functions are thread-safe.
#pragma once

#include <spdlog/common.h>
#include <spdlog/formatter.h>
#include <spdlog/logger.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace troupe {

/// The accepted values of --log-level: trace, debug, info, warn, error, off.
const std::vector<std::string>& known_log_levels();

/// The accepted values of --log-format: text, json.
const std::vector<std::string>& known_log_formats();

/// Builds the formatter troupe uses, for `format` "text" or "json", stamping
/// `node_id` on every line. Returns nullptr for an unknown format.
std::unique_ptr<spdlog::formatter> make_log_formatter(std::string node_id,
                                                      std::string_view format);

/// Sets the node id, level and format of all troupe loggers, including ones
/// handed out earlier, and routes them to `sink` (stderr when null). Also makes
/// the logger named "node" spdlog's default logger, so stray `spdlog::info`
/// calls carry the node id too. Returns false and sets `error` (one line
/// naming the valid values) when `level` or `format` is unknown; logging is
/// then unchanged. Before the first call, loggers write text to stderr at
/// level info with node id "-".
bool init_logging(const std::string& node_id, const std::string& level,
                  const std::string& format, std::string& error,
                  spdlog::sink_ptr sink = nullptr);

/// The logger for `actor_name` (e.g. "probe/n1"), created on first use and
/// cached. The cache holds at most 4096 names; beyond that, loggers are still
/// returned but created anew each call, so unbounded name churn (one name per
/// connection, say) cannot grow memory without limit. Uncached loggers follow
/// later init_logging calls in node id, format and sink, but keep their level.
std::shared_ptr<spdlog::logger> logger_for(const std::string& actor_name);

} // namespace troupe
