// troupe-node: one troupe cluster member. See README.md and
// docs/configuration.md for its flags.
#include "actors/node/roles.hpp"
#include "runtime/config.hpp"
#include "runtime/node.hpp"
#include "net/errors.hpp"

#include <cstdio>

int main(int argc, char** argv) {
  using namespace troupe;
  auto outcome = load_node_config(argc, argv, troupe_environment());
  if (!outcome.output.empty())
    std::fputs(outcome.output.c_str(), stdout);
  if (!outcome.config) {
    if (!outcome.error.empty())
      std::fprintf(stderr, "troupe-node: %s\n", outcome.error.c_str());
    return outcome.exit_code;
  }
  auto plan = plan_for(*outcome.config);
  if (!plan) {
    std::fprintf(stderr, "troupe-node: %s\n", message_of(plan.error()).c_str());
    return 2;
  }
  return run_node(*outcome.config, std::move(*plan));
}
