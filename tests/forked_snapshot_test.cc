// ForkedSnapshot: the child runs the write at the lowest CPU and I/O priority and reports its
// outcome to the parent, whose own priority is left alone.
#include "forked_snapshot.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>

using replywatch::server::ForkedSnapshot;

namespace {

constexpr int kIoprioWhoProcess = 1;

int io_priority() { return static_cast<int>(::syscall(SYS_ioprio_get, kIoprioWhoProcess, 0)); }

}  // namespace

TEST_CASE("forked_snapshot: the child writes at the lowest priority, the parent keeps its own",
          "[forked_snapshot]") {
  errno = 0;
  const int parent_nice = ::getpriority(PRIO_PROCESS, 0);
  const int parent_io = io_priority();
  ForkedSnapshot child;
  // The child's outcome carries what it saw: 0 when both priorities were lowered.
  REQUIRE_FALSE(child.start([]() -> std::error_code {
    errno = 0;
    if (::getpriority(PRIO_PROCESS, 0) != 19) return std::make_error_code(std::errc::bad_message);
    // Best effort (class 2), level 7: the lowest that is never starved.
    const int io = io_priority();
    if (io >= 0 && io != ((2 << 13) | 7)) return std::make_error_code(std::errc::bad_address);
    return {};
  }));
  CHECK(child.wait() == std::error_code{});
  CHECK(::getpriority(PRIO_PROCESS, 0) == parent_nice);
  CHECK(io_priority() == parent_io);
}

TEST_CASE("forked_snapshot: a failed or throwing write is reported, not hidden",
          "[forked_snapshot]") {
  ForkedSnapshot child;
  REQUIRE_FALSE(child.start([] { return std::make_error_code(std::errc::no_space_on_device); }));
  CHECK(child.wait() == std::make_error_code(std::errc::no_space_on_device));
  REQUIRE_FALSE(child.start([]() -> std::error_code { throw std::runtime_error("bug"); }));
  CHECK(child.wait() == std::make_error_code(std::errc::state_not_recoverable));
  CHECK_FALSE(child.running());
}
