#include "process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace replywatch::server {
namespace {

prometheus::MetricFamily single(const char* name, const char* help, prometheus::MetricType type,
                                double value) {
  prometheus::MetricFamily family{name, help, type, {}};
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(metric);
  return family;
}

std::optional<double> boot_time_seconds() {
  std::ifstream in("/proc/stat");
  std::string key;
  while (in >> key) {
    if (key == "btime") {
      double seconds = 0;
      if (in >> seconds) return seconds;
      return std::nullopt;
    }
    in.ignore(1 << 16, '\n');
  }
  return std::nullopt;
}

std::optional<double> open_fds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return std::nullopt;
  double count = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  ::closedir(dir);
  return count - 1;  // the descriptor opendir itself holds
}

}  // namespace

std::vector<prometheus::MetricFamily> collect_process_metrics(double started_at_seconds) {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> families;
  std::ifstream in("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name may hold spaces and parentheses; the fields start after the last ')'.
  const std::size_t paren = stat.rfind(')');
  const auto ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const auto page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  if (paren != std::string::npos && ticks > 0 && page > 0) {
    std::istringstream fields(stat.substr(paren + 2));
    std::string field;
    std::vector<std::string> values;
    while (fields >> field) values.push_back(field);
    // Field numbers of proc(5), counted from 3 ("state") at index 0.
    constexpr std::size_t kUtime = 14 - 3;
    constexpr std::size_t kStime = 15 - 3;
    constexpr std::size_t kStart = 22 - 3;
    constexpr std::size_t kVsize = 23 - 3;
    constexpr std::size_t kRss = 24 - 3;
    if (values.size() > kRss) {
      families.push_back(single(
          "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
          MetricType::Counter, (std::stod(values[kUtime]) + std::stod(values[kStime])) / ticks));
      families.push_back(single("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                                MetricType::Gauge, std::stod(values[kVsize])));
      families.push_back(single("process_resident_memory_bytes", "Resident memory size in bytes.",
                                MetricType::Gauge, std::stod(values[kRss]) * page));
      const auto boot = boot_time_seconds();
      families.push_back(
          single("process_start_time_seconds",
                 "Start time of the process since unix epoch in seconds.", MetricType::Gauge,
                 boot ? *boot + std::stod(values[kStart]) / ticks : started_at_seconds));
    }
  }
  if (const auto fds = open_fds()) {
    families.push_back(
        single("process_open_fds", "Number of open file descriptors.", MetricType::Gauge, *fds));
  }
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    families.push_back(single("process_max_fds", "Maximum number of open file descriptors.",
                              MetricType::Gauge, static_cast<double>(limit.rlim_cur)));
  }
  return families;
}

}  // namespace replywatch::server
