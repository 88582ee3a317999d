// troupectl's entry point; everything else is in the troupe_cli library.
#include "cli/app.hpp"

int main(int argc, char** argv) {
  return troupe::cli::run_troupectl(argc, argv);
}
