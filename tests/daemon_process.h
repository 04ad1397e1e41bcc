// Integration-test support: the real `replywatch run` binary as a child process on port 0, and a
// small synchronous HTTP client. Only the integration tests use real time.
//
// The HTTP client's Boost.Beast code lives in daemon_process.cc, compiled once: every
// integration test includes this header, and parsing Beast in each of them cost about as much
// build time as the tests themselves.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "temp_dir.h"

namespace rwtest {

using Clock = std::chrono::steady_clock;

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;
};

// One HTTP/1.1 connection; requests on it use keep-alive.
class HttpClient {
 public:
  explicit HttpClient(unsigned short port);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  HttpReply request(const std::string& method, const std::string& target,
                    const std::string& body = {},
                    const std::map<std::string, std::string>& headers = {});

  // Raw bytes on the connection, for tests of malformed or trickled requests. False when the
  // write failed (e.g. the daemon closed the connection).
  bool send_raw(std::string_view bytes);
  // What one read returns (at most `max` bytes); nothing when the read failed.
  std::optional<std::string> receive_some(std::size_t max = 512);

 private:
  struct Connection;
  std::unique_ptr<Connection> connection_;
};

// Wall-clock milliseconds: events the real daemon judges against its own clock.
inline std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

HttpReply http_call(unsigned short port, const std::string& method, const std::string& target,
                    const std::string& body = {},
                    const std::map<std::string, std::string>& headers = {});

// Every sample of a scrape by its full series name, e.g. name{a="b"}.
std::map<std::string, double> parse_metrics(const std::string& text);

// GET /metrics of the admin listener on `admin_port`, parsed.
std::map<std::string, double> scrape(unsigned short admin_port);

// `replywatch run ARGS --ingest-listen 127.0.0.1:0 --admin-listen 127.0.0.1:0`, waited for
// until ready; stderr is collected for the test to read.
class DaemonProcess {
 public:
  // `open_files`: when not 0, the child's RLIMIT_NOFILE (soft and hard). `ingests`: false for a
  // daemon configured with `ingest: false` (no ingest listener; ingest_port() is 0).
  explicit DaemonProcess(std::vector<std::string> args, bool wait_ready = true,
                         rlim_t open_files = 0, bool ingests = true);
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  unsigned short ingest_port() const { return ingest_port_; }
  pid_t pid() const { return pid_; }
  unsigned short admin_port() const { return admin_port_; }

  std::string log() const {
    std::lock_guard lock(mutex_);
    return log_;
  }

  // The first capture group of the first log match; fails the test after the timeout.
  std::string wait_for_log(const std::string& pattern,
                           std::chrono::milliseconds timeout = std::chrono::seconds(30));

  void signal(int number);

  // The exit status, or nothing if the process is still running after the timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  unsigned short ingest_port_ = 0;
  unsigned short admin_port_ = 0;
  std::thread reader_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::string log_;
  bool eof_ = false;
};

// Real servers, real time: polls `done` every 20 ms until it holds or 20 s have passed.
template <typename Done>
bool eventually(Done done) {
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

inline std::map<std::string, double> scrape(const DaemonProcess& daemon) {
  return scrape(daemon.admin_port());
}

}  // namespace rwtest
