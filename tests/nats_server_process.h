// Integration-test support: a real `nats-server -js` (Debian's nats-server) as a child process
// on a free loopback port, with its own store directory; stopped and started again on the same
// port and store, so a client can be seen losing and regaining it. Only integration tests use it.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "temp_dir.h"

namespace rwtest {

class NatsServerProcess {
 public:
  // Starts at once on a free port (`port` 0) and waits until it takes clients.
  explicit NatsServerProcess(std::string name = "nats") : store_(name) { start(0); }
  ~NatsServerProcess() { stop(SIGKILL); }
  NatsServerProcess(const NatsServerProcess&) = delete;
  NatsServerProcess& operator=(const NatsServerProcess&) = delete;

  unsigned short port() const { return port_; }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  bool running() const { return pid_ > 0; }

  // SIGTERM stops it cleanly (JetStream flushed); SIGKILL is a crash. Waits for the exit.
  void stop(int signal_number = SIGTERM) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal_number);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    if (reader_.joinable()) reader_.join();
  }

  // Starts again on the same port with the same store (what it stored is kept).
  void restart() {
    stop();
    start(port_);
  }

  std::string log() const {
    std::lock_guard lock(mutex_);
    return log_;
  }

 private:
  void start(unsigned short port) {
    {
      std::lock_guard lock(mutex_);
      log_.clear();
      eof_ = false;
    }
    // -p -1 lets the server pick a free port (it logs which); a restart asks for the same one.
    std::vector<std::string> args = {"nats-server", "-js",
                                     "-a",          "127.0.0.1",
                                     "-p",          port == 0 ? "-1" : std::to_string(port),
                                     "-sd",         store_.str()};
    int pipe_fds[2];
    REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::dup2(pipe_fds[1], STDERR_FILENO);
      ::dup2(pipe_fds[1], STDOUT_FILENO);
      std::vector<char*> argv;
      for (auto& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      ::execvp(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(pipe_fds[1]);
    reader_ = std::thread([this, fd = pipe_fds[0]] {
      char chunk[4096];
      for (;;) {
        const ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n <= 0) break;
        std::lock_guard lock(mutex_);
        log_.append(chunk, static_cast<std::size_t>(n));
        changed_.notify_all();
      }
      ::close(fd);
      std::lock_guard lock(mutex_);
      eof_ = true;
      changed_.notify_all();
    });
    port_ = static_cast<unsigned short>(
        std::stoi(wait_for_log(R"(Listening for client connections on [0-9.]+:([0-9]+))")));
    wait_for_log(R"((Server is ready))");
  }

  std::string wait_for_log(const std::string& pattern) {
    const std::regex re(pattern);
    std::unique_lock lock(mutex_);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (;;) {
      std::smatch match;
      if (std::regex_search(log_, match, re)) return match.size() > 1 ? match[1].str() : "";
      if (eof_ || std::chrono::steady_clock::now() >= deadline) break;
      changed_.wait_until(lock, deadline);
    }
    FAIL("nats-server: no log line matching \"" << pattern << "\"; log so far:\n" << log_);
    return {};
  }

  TempDir store_;
  pid_t pid_ = -1;
  unsigned short port_ = 0;
  std::thread reader_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::string log_;
  bool eof_ = false;
};

}  // namespace rwtest
