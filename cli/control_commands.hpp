// `troupectl events [--since S] [--follow]`, `troupectl place NAME --type T
// [--role R] | --remove`, and `troupectl placements` (docs/membership.md,
// docs/journal.md, docs/placement.md).
#pragma once

#include "cli/command.hpp"

namespace troupe::cli {

void add_control_commands(CLI::App& app, chosen_command& chosen);

/// Asks the controller on the endpoint's node, or on each consensus node,
/// and follows leader hints, within --timeout-ms.
outcome<envelope> ask_controller(client& c, const caf::actor& gw, const options& opts,
                                 const envelope& msg);

/// Parses --since: "#N" or a bare number is a journal seq, "30s", "10m",
/// "2h" a duration before now. Sets exactly one of seq or since_ms; false
/// when the text is neither.
bool parse_since(const std::string& text, std::int64_t now_ms, std::uint64_t& seq,
                 std::int64_t& since_ms);

} // namespace troupe::cli
