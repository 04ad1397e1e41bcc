// Integration-test support: a real `nats-server -js` on a free loopback port with its own store
// directory, stopped with the object; and a connected JetStream context. Until the shared
// launcher (tests/nats_server_process.h) is merged, the stream consumer's tests use this one.
#pragma once

#include <fcntl.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include "temp_dir.h"

namespace rwtest {

inline unsigned short free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

class NatsTestServer {
 public:
  NatsTestServer() : store_("nats-store") {
    port_ = free_loopback_port();
    const std::string port = std::to_string(port_);
    const std::string store = store_.path().string();
    pid_ = ::fork();
    if (pid_ == 0) {
      // Its banner and log would drown the test's output.
      const int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, STDOUT_FILENO);
      ::dup2(null, STDERR_FILENO);
      ::execl("/usr/sbin/nats-server", "nats-server", "-js", "-a", "127.0.0.1", "-p", port.c_str(),
              "-sd", store.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // Polled: the server is ready once it takes a connection (a process start, not a timing).
    for (int attempt = 0; attempt < 250; ++attempt) {
      natsConnection* probe = nullptr;
      if (natsConnection_ConnectTo(&probe, url().c_str()) == NATS_OK) {
        natsConnection_Destroy(probe);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    stop();
    throw std::runtime_error("nats-server did not start on " + url());
  }
  ~NatsTestServer() { stop(); }
  NatsTestServer(const NatsTestServer&) = delete;
  NatsTestServer& operator=(const NatsTestServer&) = delete;

  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

 private:
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  TempDir store_;
  unsigned short port_ = 0;
  pid_t pid_ = -1;
};

// A connection with its JetStream context.
class NatsClient {
 public:
  explicit NatsClient(const std::string& url) {
    if (natsConnection_ConnectTo(&connection_, url.c_str()) != NATS_OK ||
        natsConnection_JetStream(&js_, connection_, nullptr) != NATS_OK) {
      throw std::runtime_error("cannot connect to " + url);
    }
  }
  ~NatsClient() {
    jsCtx_Destroy(js_);
    natsConnection_Destroy(connection_);
  }
  NatsClient(const NatsClient&) = delete;
  NatsClient& operator=(const NatsClient&) = delete;

  jsCtx* js() const { return js_; }

  void add_stream(const std::string& name, const std::string& subjects) {
    jsStreamConfig config;
    jsStreamConfig_Init(&config);
    config.Name = name.c_str();
    const char* list[] = {subjects.c_str()};
    config.Subjects = list;
    config.SubjectsLen = 1;
    jsStreamInfo* info = nullptr;
    jsErrCode code{};
    if (js_AddStream(&info, js_, &config, nullptr, &code) != NATS_OK) {
      throw std::runtime_error("cannot create the stream " + name);
    }
    jsStreamInfo_Destroy(info);
  }

  // Publishes and waits for the stream's acknowledgement; returns the stream sequence.
  std::uint64_t publish(const std::string& subject, const std::string& watermark,
                        const std::string& payload) {
    natsMsg* message = nullptr;
    natsMsg_Create(&message, subject.c_str(), nullptr, payload.data(),
                   static_cast<int>(payload.size()));
    if (!watermark.empty()) natsMsgHeader_Set(message, "Replywatch-Watermark", watermark.c_str());
    jsPubAck* ack = nullptr;
    jsErrCode code{};
    const natsStatus status = js_PublishMsg(&ack, js_, message, nullptr, &code);
    natsMsg_Destroy(message);
    if (status != NATS_OK) throw std::runtime_error("publish to " + subject + " failed");
    const std::uint64_t sequence = ack->Sequence;
    jsPubAck_Destroy(ack);
    return sequence;
  }

 private:
  natsConnection* connection_ = nullptr;
  jsCtx* js_ = nullptr;
};

}  // namespace rwtest
