// One connection to a NATS cluster (nats.c), for the JetStream log: it connects to the first
// server of the list that answers, and reconnects forever with a doubling pause (capped) when
// the connection is lost, also when no server answers at start. The state is reported through
// a callback (metrics, readiness). Nothing here throws: failures come back as a message.
#pragma once

#include <nats/nats.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "replywatch/time.h"

namespace replywatch::jetstream {

enum class NatsState : std::uint8_t {
  kConnecting,    // no server has answered since the start
  kConnected,     // a server answered; publishes and requests go out
  kReconnecting,  // the connection was lost; retrying
  kClosed,        // closed by this process (shutdown)
};

// "connecting", "connected", "reconnecting", "closed"
std::string_view nats_state_name(NatsState state);

struct NatsConnectionOptions {
  std::vector<std::string> servers;  // nats://HOST:PORT
  std::string name = "replywatch";   // how the servers' monitoring shows the client
  Duration connect_timeout = std::chrono::seconds(2);
  // Reconnection pauses double from 100 ms up to this (plus up to 10 % jitter).
  Duration reconnect_max_wait = std::chrono::seconds(2);
  // Called on a nats.c thread at every change of state: keep it short and thread-safe.
  std::function<void(NatsState)> on_state;
};

struct JsContextDeleter {
  void operator()(jsCtx* context) const { jsCtx_Destroy(context); }
};
using JetStreamContext = std::unique_ptr<jsCtx, JsContextDeleter>;

// The pause before reconnection attempt `attempt` (from 1): 100 ms doubling up to `max`, plus
// `jitter_fraction` (0..1) of a tenth of it. Pure, for the tests.
Duration reconnect_pause(int attempt, Duration max, double jitter_fraction);

class NatsConnection {
 public:
  // Returns null with `error` set only when the options are unusable (no server, a URL nats.c
  // refuses); a cluster that does not answer yet is retried in the background.
  static std::unique_ptr<NatsConnection> open(NatsConnectionOptions options, std::string& error);
  // Closes the connection and waits (bounded) until nats.c has delivered its last callback.
  ~NatsConnection();
  NatsConnection(const NatsConnection&) = delete;
  NatsConnection& operator=(const NatsConnection&) = delete;

  NatsState state() const { return state_.load(); }
  bool connected() const { return state() == NatsState::kConnected; }
  // The server connected to now, or empty.
  std::string connected_url() const;

  // A JetStream context on this connection (`options` may be null for the defaults); null with
  // `error` set on failure. It must be destroyed before the connection.
  JetStreamContext jetstream(jsOptions* options, std::string& error) const;

  natsConnection* handle() const { return connection_; }

 private:
  explicit NatsConnection(NatsConnectionOptions options);
  void set_state(NatsState state);
  static void on_connected(natsConnection* connection, void* closure);
  static void on_disconnected(natsConnection* connection, void* closure);
  static void on_closed(natsConnection* connection, void* closure);
  static std::int64_t on_reconnect_delay(natsConnection* connection, int attempts, void* closure);

  NatsConnectionOptions options_;
  natsConnection* connection_ = nullptr;
  std::atomic<NatsState> state_{NatsState::kConnecting};
  std::mutex closed_mutex_;
  std::condition_variable closed_signal_;
  bool closed_ = false;
};

// nats.c's text for a status, with the library's last error detail when it has one.
std::string nats_error_text(natsStatus status);

}  // namespace replywatch::jetstream
