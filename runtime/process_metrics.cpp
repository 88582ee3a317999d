#include "runtime/process_metrics.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace troupe {

namespace {

// The fields of /proc/self/stat after "(comm)", starting with field 3
// (state). comm may contain spaces and parentheses, so split after the
// last ')'. See proc(5).
std::optional<std::vector<std::string>> stat_fields() {
  std::ifstream in{"/proc/self/stat"};
  std::string line;
  if (!std::getline(in, line))
    return std::nullopt;
  auto close = line.rfind(')');
  if (close == std::string::npos)
    return std::nullopt;
  std::istringstream rest{line.substr(close + 1)};
  std::vector<std::string> fields;
  for (std::string field; rest >> field;)
    fields.push_back(field);
  if (fields.size() < 22) // up to rss, field 24
    return std::nullopt;
  return fields;
}

// Field N of proc(5) as a number.
double field(const std::vector<std::string>& fields, size_t n) {
  return std::stod(fields[n - 3]);
}

std::optional<double> boot_time_seconds() {
  std::ifstream in{"/proc/stat"};
  for (std::string key; in >> key;) {
    if (key == "btime") {
      double value = 0;
      if (in >> value)
        return value;
      return std::nullopt;
    }
    in.ignore(1 << 20, '\n');
  }
  return std::nullopt;
}

std::optional<double> open_fds() {
  auto* dir = opendir("/proc/self/fd");
  if (dir == nullptr)
    return std::nullopt;
  double count = 0;
  while (auto* entry = readdir(dir))
    if (entry->d_name[0] != '.')
      ++count;
  closedir(dir);
  return count - 1; // the descriptor opendir() itself holds
}

double max_fds() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0)
    return 0;
  return static_cast<double>(lim.rlim_cur);
}

// Registers one single-sample callback gauge or counter over
// read_process_stats(); renders no sample when /proc is unavailable.
caf::error add(metrics_registry& reg, metric_type type, std::string name,
               std::string help, double process_stats::*member) {
  return reg.callback(metric_desc{std::move(name), std::move(help)}, type,
                      [member] {
                        std::vector<metric_sample> out;
                        if (auto stats = read_process_stats())
                          out.push_back(metric_sample{{}, (*stats).*member});
                        return out;
                      });
}

} // namespace

std::optional<process_stats> read_process_stats() {
  auto fields = stat_fields();
  auto boot = boot_time_seconds();
  auto fds = open_fds();
  auto ticks = sysconf(_SC_CLK_TCK);
  auto page_bytes = sysconf(_SC_PAGESIZE);
  if (!fields || !boot || !fds || ticks <= 0 || page_bytes <= 0)
    return std::nullopt;
  auto tick_seconds = 1.0 / static_cast<double>(ticks);
  process_stats s;
  try {
    s.cpu_seconds = (field(*fields, 14) + field(*fields, 15)) * tick_seconds;
    s.threads = field(*fields, 20);
    s.start_time_seconds = *boot + field(*fields, 22) * tick_seconds;
    s.virtual_memory_bytes = field(*fields, 23);
    s.resident_memory_bytes
        = field(*fields, 24) * static_cast<double>(page_bytes);
  } catch (const std::exception&) {
    // A stat line that does not parse is a /proc we do not understand:
    // report "unavailable" rather than wrong numbers.
    return std::nullopt;
  }
  s.open_fds = *fds;
  s.max_fds = max_fds();
  return s;
}

caf::error add_process_metrics(metrics_registry& reg) {
  using ps = process_stats;
  struct spec {
    metric_type type;
    const char* name;
    const char* help;
    double ps::*member;
  };
  const spec specs[] = {
      {metric_type::counter, "process_cpu_seconds_total",
       "Total user and system CPU time spent in seconds.", &ps::cpu_seconds},
      {metric_type::gauge, "process_resident_memory_bytes",
       "Resident memory size in bytes.", &ps::resident_memory_bytes},
      {metric_type::gauge, "process_virtual_memory_bytes",
       "Virtual memory size in bytes.", &ps::virtual_memory_bytes},
      {metric_type::gauge, "process_start_time_seconds",
       "Start time of the process since unix epoch in seconds.",
       &ps::start_time_seconds},
      {metric_type::gauge, "process_open_fds",
       "Number of open file descriptors.", &ps::open_fds},
      {metric_type::gauge, "process_max_fds",
       "Maximum number of open file descriptors.", &ps::max_fds},
      {metric_type::gauge, "process_threads", "Number of OS threads.",
       &ps::threads},
  };
  for (auto& s : specs)
    if (auto err = add(reg, s.type, s.name, s.help, s.member))
      return err;
  return {};
}

} // namespace troupe
