// Integration-test support: a nats.c client of the test's own (a connection and its JetStream
// context) to set streams up and publish as an ingest node would. The server itself is
// tests/nats_server_process.h's.
#pragma once

#include <nats/nats.h>

#include <stdexcept>
#include <string>

#include "nats_server_process.h"

namespace rwtest {

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
