#include "daemon_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cctype>
#include <cstdlib>
#include <regex>
#include <sstream>

namespace rwtest {

struct HttpClient::Connection {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket{io};
  boost::beast::flat_buffer buffer;
};

HttpClient::HttpClient(unsigned short port) : connection_(std::make_unique<Connection>()) {
  const boost::asio::ip::tcp::endpoint endpoint(boost::asio::ip::make_address("127.0.0.1"), port);
  connection_->socket.connect(endpoint);
}

HttpClient::~HttpClient() = default;

HttpReply HttpClient::request(const std::string& method, const std::string& target,
                              const std::string& body,
                              const std::map<std::string, std::string>& headers) {
  namespace http = boost::beast::http;
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, "127.0.0.1");
  for (const auto& [name, value] : headers) req.set(name, value);
  req.body() = body;
  req.prepare_payload();
  http::write(connection_->socket, req);
  http::response<http::string_body> res;
  http::read(connection_->socket, connection_->buffer, res);
  HttpReply reply;
  reply.status = static_cast<int>(res.result_int());
  for (const auto& field : res) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    reply.headers[name] = std::string(field.value());
  }
  reply.body = res.body();
  return reply;
}

bool HttpClient::send_raw(std::string_view bytes) {
  boost::system::error_code error;
  boost::asio::write(connection_->socket, boost::asio::buffer(bytes.data(), bytes.size()), error);
  return !error;
}

std::optional<std::string> HttpClient::receive_some(std::size_t max) {
  std::string answer(max, '\0');
  boost::system::error_code error;
  const std::size_t n = connection_->socket.read_some(boost::asio::buffer(answer), error);
  if (error) return std::nullopt;
  answer.resize(n);
  return answer;
}

HttpReply http_call(unsigned short port, const std::string& method, const std::string& target,
                    const std::string& body, const std::map<std::string, std::string>& headers) {
  HttpClient client(port);
  return client.request(method, target, body, headers);
}

std::map<std::string, double> parse_metrics(const std::string& text) {
  std::map<std::string, double> samples;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    const std::size_t space = line.rfind(' ');
    samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return samples;
}

std::map<std::string, double> scrape(unsigned short admin_port) {
  const HttpReply reply = http_call(admin_port, "GET", "/metrics");
  REQUIRE(reply.status == 200);
  return parse_metrics(reply.body);
}

DaemonProcess::DaemonProcess(std::vector<std::string> args, bool wait_ready, rlim_t open_files,
                             bool ingests) {
  // REPLYWATCH_TEST_BINARY runs the tests against another build (e.g. an older one).
  const char* binary = std::getenv("REPLYWATCH_TEST_BINARY");
  args.insert(args.begin(), {binary != nullptr ? binary : REPLYWATCH_BINARY, "run"});
  if (std::find(args.begin(), args.end(), "--ingest-listen") == args.end()) {
    args.insert(args.end(), {"--ingest-listen", "127.0.0.1:0"});
  }
  if (std::find(args.begin(), args.end(), "--admin-listen") == args.end()) {
    args.insert(args.end(), {"--admin-listen", "127.0.0.1:0"});
  }
  int pipe_fds[2];
  REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
  pid_ = ::fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    ::dup2(pipe_fds[1], STDERR_FILENO);
    if (open_files != 0) {
      const rlimit limit{open_files, open_files};
      ::setrlimit(RLIMIT_NOFILE, &limit);
    }
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
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
  if (wait_ready) {
    if (ingests) {
      const std::string ingest = wait_for_log(R"(ingest listening on [0-9.]+:([0-9]+))");
      ingest_port_ = static_cast<unsigned short>(std::stoi(ingest));
    }
    const std::string admin = wait_for_log(R"(admin listening on [0-9.]+:([0-9]+))");
    admin_port_ = static_cast<unsigned short>(std::stoi(admin));
    wait_for_log(R"(; (ready))");
  }
}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0 && !exited_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (reader_.joinable()) reader_.join();
}

std::string DaemonProcess::wait_for_log(const std::string& pattern,
                                        std::chrono::milliseconds timeout) {
  const std::regex re(pattern);
  std::unique_lock lock(mutex_);
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    std::smatch match;
    if (std::regex_search(log_, match, re)) return match.size() > 1 ? match[1].str() : "";
    if (eof_ || Clock::now() >= deadline) break;
    changed_.wait_until(lock, deadline);
  }
  FAIL("no log line matching \"" << pattern << "\"; log so far:\n" << log_);
  return {};
}

void DaemonProcess::signal(int number) { ::kill(pid_, number); }

std::optional<int> DaemonProcess::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      exited_ = true;
      if (reader_.joinable()) reader_.join();
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace rwtest
