// Validation failures of subcommand arguments, reported as usage errors.
#pragma once

#include "cli/outcome.hpp"

#include <CLI/CLI.hpp>

#include <utility>

namespace troupe::cli {

/// Returns the built request, or throws its failure as CLI11's validation
/// error, so that it is reported like any other usage error (exit 2) before
/// anything connects. Call it from a subcommand callback.
template <class T>
T checked(outcome<T> built) {
  if (!built)
    throw CLI::ValidationError(built.error().message);
  return std::move(*built);
}

} // namespace troupe::cli
