// The standard process_* metrics, read from /proc/self as Prometheus' own client libraries do.
#pragma once

#include <prometheus/metric_family.h>

#include <vector>

namespace replywatch::server {

// process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
// process_start_time_seconds, process_open_fds, process_max_fds. A value that cannot be read is
// left out rather than reported wrong. The start time comes from /proc/stat's boot time where it
// is readable and from `started_at_seconds` where it is not (systemd's ProcSubset=pid hides it).
std::vector<prometheus::MetricFamily> collect_process_metrics(double started_at_seconds);

}  // namespace replywatch::server
