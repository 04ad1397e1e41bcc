#include "forked_snapshot.h"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <exception>

namespace replywatch::server {
namespace {

// Exit statuses of the child beyond errno values.
constexpr int kExitThrew = 255;

// ioprio_set(2) has no glibc wrapper; these are its constants (linux/ioprio.h).
constexpr int kIoprioWhoProcess = 1;
constexpr int kIoprioClassBestEffort = 2;
constexpr int kIoprioClassShift = 13;
constexpr int kIoprioLowestLevel = 7;

// The child only has to finish before the next snapshot is due; the parent answers webhooks.
// So the child yields the CPU and the disk to the event loop and the log's writer: on a 2-core
// machine a child at normal priority took a core from the event loop for the seconds it
// serialised, and its writes queued level with the log's fdatasync. Lowest, but not idle
// (SCHED_IDLE, the idle I/O class): a child starved while the daemon is busy lives longer, and
// each page the event loop writes while the child lives is copied (docs/storage.md).
// Each call may fail (a container without the capability, a scheduler without classes); the
// snapshot is then written at whatever priority remains, never refused for it.
void lower_priority() {
  ::setpriority(PRIO_PROCESS, 0, 19);
  ::syscall(SYS_ioprio_set, kIoprioWhoProcess, 0,
            (kIoprioClassBestEffort << kIoprioClassShift) | kIoprioLowestLevel);
}

}  // namespace

ForkedSnapshot::~ForkedSnapshot() {
  if (running()) wait();
}

std::error_code ForkedSnapshot::start(const std::function<std::error_code()>& write) {
  if (running()) return std::make_error_code(std::errc::operation_in_progress);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return {errno, std::generic_category()};
  if (pid == 0) {
    // The child holds the data directory's lock with its parent (inherited descriptors): if
    // the parent dies, the child must not keep a restarted daemon out while it writes.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(kExitThrew);
    // The parent's signal handlers write to its event loop's pipe: a SIGTERM sent to the whole
    // process group must end the child, not reach the parent a second time.
    for (const int signal : {SIGHUP, SIGINT, SIGTERM}) std::signal(signal, SIG_DFL);
    lower_priority();
    int code = 0;
    try {
      const std::error_code error = write();
      if (error) code = error.value() > 0 && error.value() < kExitThrew ? error.value() : EIO;
    } catch (...) {
      code = kExitThrew;
    }
    ::_exit(code);
  }
  child_ = pid;
  return {};
}

void ForkedSnapshot::cancel() {
  if (!running()) return;
  ::kill(child_, SIGKILL);
  wait();
}

std::error_code ForkedSnapshot::outcome(int status) {
  child_ = -1;
  if (WIFEXITED(status)) {
    const int code = WEXITSTATUS(status);
    if (code == 0) return {};
    if (code == kExitThrew) return std::make_error_code(std::errc::state_not_recoverable);
    return {code, std::generic_category()};
  }
  return std::make_error_code(std::errc::interrupted);  // killed by a signal
}

std::optional<std::error_code> ForkedSnapshot::poll() {
  if (!running()) return std::nullopt;
  int status = 0;
  const pid_t done = ::waitpid(child_, &status, WNOHANG);
  if (done == 0) return std::nullopt;
  if (done < 0) {
    child_ = -1;
    return std::error_code{errno, std::generic_category()};
  }
  return outcome(status);
}

std::error_code ForkedSnapshot::wait() {
  if (!running()) return {};
  int status = 0;
  pid_t done = 0;
  do {
    done = ::waitpid(child_, &status, 0);
  } while (done < 0 && errno == EINTR);
  if (done < 0) {
    child_ = -1;
    return {errno, std::generic_category()};
  }
  return outcome(status);
}

}  // namespace replywatch::server
