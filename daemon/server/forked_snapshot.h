// Writes a snapshot from a fork()ed child, as Redis does: the child sees the state frozen at the
// fork (copy-on-write pages) and serialises it while the event loop carries on in the parent.
// The parent's stall is the fork itself, which copies page tables only (bench/snapshot_bench
// measures it against serialising on the loop).
//
// The child runs nothing but the write: glibc makes malloc safe after fork; no other lock may be
// taken there (no logging, no other thread's objects), and it leaves with _exit, running no
// destructors or atexit handlers of the parent's objects.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <system_error>

namespace replywatch::server {

class ForkedSnapshot {
 public:
  ForkedSnapshot() = default;
  ForkedSnapshot(const ForkedSnapshot&) = delete;
  ForkedSnapshot& operator=(const ForkedSnapshot&) = delete;
  // Waits for a child still running: its file is either finished or removed.
  ~ForkedSnapshot();

  // Starts a child that runs `write` and exits with its outcome. Fails if one is running or
  // fork() fails.
  std::error_code start(const std::function<std::error_code()>& write);
  bool running() const { return child_ > 0; }

  // Without blocking: the finished child's outcome, or nothing while it runs (or none ran).
  std::optional<std::error_code> poll();
  // Blocks until the child has finished.
  std::error_code wait();
  // Ends a running child at once (shutdown): its temporary file stays until the next prune.
  void cancel();

 private:
  std::error_code outcome(int status);

  pid_t child_ = -1;
};

}  // namespace replywatch::server
