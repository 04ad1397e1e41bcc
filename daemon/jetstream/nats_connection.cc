#include "nats_connection.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <random>

namespace replywatch::jetstream {
namespace {

constexpr Duration kFirstPause = std::chrono::milliseconds(100);
// How long the destructor waits for nats.c's closed callback (it comes within milliseconds).
constexpr auto kCloseWait = std::chrono::seconds(5);

struct OptionsDeleter {
  void operator()(natsOptions* options) const { natsOptions_Destroy(options); }
};

}  // namespace

std::string_view nats_state_name(NatsState state) {
  switch (state) {
    case NatsState::kConnecting:
      return "connecting";
    case NatsState::kConnected:
      return "connected";
    case NatsState::kReconnecting:
      return "reconnecting";
    case NatsState::kClosed:
      return "closed";
  }
  return "unknown";
}

std::string nats_error_text(natsStatus status) {
  std::string text = natsStatus_GetText(status);
  natsStatus last = NATS_OK;
  const char* detail = nats_GetLastError(&last);
  if (detail != nullptr && *detail != '\0' && last == status && text != detail) {
    text += fmt::format(" ({})", detail);
  }
  return text;
}

Duration reconnect_pause(int attempt, Duration max, double jitter_fraction) {
  Duration pause = kFirstPause;
  for (int i = 1; i < attempt && pause < max; ++i) pause *= 2;
  pause = std::min(pause, max);
  const auto jitter = static_cast<Duration::rep>(static_cast<double>(pause.count()) / 10.0 *
                                                 std::clamp(jitter_fraction, 0.0, 1.0));
  return pause + Duration(jitter);
}

NatsConnection::NatsConnection(NatsConnectionOptions options) : options_(std::move(options)) {}

std::unique_ptr<NatsConnection> NatsConnection::open(NatsConnectionOptions options,
                                                     std::string& error) {
  if (options.servers.empty()) {
    error = "no NATS server given (log.servers)";
    return nullptr;
  }
  std::unique_ptr<NatsConnection> self(new NatsConnection(std::move(options)));
  natsOptions* raw = nullptr;
  natsStatus status = natsOptions_Create(&raw);
  std::unique_ptr<natsOptions, OptionsDeleter> nats_options(raw);
  std::vector<const char*> urls;
  for (const std::string& url : self->options_.servers) urls.push_back(url.c_str());
  auto ms = [](Duration d) { return static_cast<std::int64_t>(d.count()); };
  if (status == NATS_OK) {
    status = natsOptions_SetServers(raw, urls.data(), static_cast<int>(urls.size()));
  }
  // The configured order is the operator's preference (e.g. the nearest server first).
  if (status == NATS_OK) status = natsOptions_SetNoRandomize(raw, true);
  if (status == NATS_OK) status = natsOptions_SetName(raw, self->options_.name.c_str());
  if (status == NATS_OK) status = natsOptions_SetTimeout(raw, ms(self->options_.connect_timeout));
  if (status == NATS_OK) status = natsOptions_SetMaxReconnect(raw, -1);  // forever
  if (status == NATS_OK) {
    status =
        natsOptions_SetCustomReconnectDelay(raw, &NatsConnection::on_reconnect_delay, self.get());
  }
  if (status == NATS_OK) {
    status = natsOptions_SetDisconnectedCB(raw, &NatsConnection::on_disconnected, self.get());
  }
  if (status == NATS_OK) {
    status = natsOptions_SetReconnectedCB(raw, &NatsConnection::on_connected, self.get());
  }
  if (status == NATS_OK) {
    status = natsOptions_SetClosedCB(raw, &NatsConnection::on_closed, self.get());
  }
  // A cluster that is not up yet is waited for in the background, as a lost one is.
  if (status == NATS_OK) {
    status =
        natsOptions_SetRetryOnFailedConnect(raw, true, &NatsConnection::on_connected, self.get());
  }
  if (status != NATS_OK) {
    error = fmt::format("cannot set up the NATS connection: {}", nats_error_text(status));
    return nullptr;
  }
  status = natsConnection_Connect(&self->connection_, raw);
  if (status == NATS_OK) {
    self->set_state(NatsState::kConnected);
  } else if (status == NATS_NOT_YET_CONNECTED) {
    self->set_state(NatsState::kConnecting);
  } else {
    error = fmt::format("cannot connect to NATS ({}): {}", fmt::join(self->options_.servers, ", "),
                        nats_error_text(status));
    if (self->connection_ != nullptr) {
      natsConnection_Destroy(self->connection_);
      self->connection_ = nullptr;
    }
    return nullptr;
  }
  return self;
}

NatsConnection::~NatsConnection() {
  if (connection_ == nullptr) return;
  natsConnection_Close(connection_);
  std::unique_lock lock(closed_mutex_);
  // nats.c delivers the closed callback once the close is done; none comes after it.
  closed_signal_.wait_for(lock, kCloseWait, [this] { return closed_; });
  lock.unlock();
  natsConnection_Destroy(connection_);
}

std::string NatsConnection::connected_url() const {
  char buffer[512] = {};
  if (connection_ == nullptr ||
      natsConnection_GetConnectedUrl(connection_, buffer, sizeof buffer) != NATS_OK) {
    return {};
  }
  return buffer;
}

JetStreamContext NatsConnection::jetstream(jsOptions* options, std::string& error) const {
  jsCtx* context = nullptr;
  const natsStatus status = natsConnection_JetStream(&context, connection_, options);
  if (status != NATS_OK) {
    error = fmt::format("cannot open a JetStream context: {}", nats_error_text(status));
    return nullptr;
  }
  return JetStreamContext(context);
}

void NatsConnection::set_state(NatsState state) {
  const NatsState was = state_.exchange(state);
  if (was == NatsState::kClosed) {
    state_.store(NatsState::kClosed);
    return;
  }
  if (was != state && options_.on_state) options_.on_state(state);
}

void NatsConnection::on_connected(natsConnection* /*connection*/, void* closure) {
  static_cast<NatsConnection*>(closure)->set_state(NatsState::kConnected);
}

void NatsConnection::on_disconnected(natsConnection* connection, void* closure) {
  auto* self = static_cast<NatsConnection*>(closure);
  if (self->state() == NatsState::kConnecting) return;  // still trying the first time
  if (natsConnection_IsClosed(connection)) return;      // our own close: on_closed follows
  self->set_state(NatsState::kReconnecting);
}

void NatsConnection::on_closed(natsConnection* /*connection*/, void* closure) {
  auto* self = static_cast<NatsConnection*>(closure);
  self->set_state(NatsState::kClosed);
  {
    std::lock_guard lock(self->closed_mutex_);
    self->closed_ = true;
  }
  self->closed_signal_.notify_all();
}

std::int64_t NatsConnection::on_reconnect_delay(natsConnection* /*connection*/, int attempts,
                                                void* closure) {
  const auto* self = static_cast<const NatsConnection*>(closure);
  thread_local std::minstd_rand random{std::random_device{}()};
  const double jitter = std::uniform_real_distribution<double>(0.0, 1.0)(random);
  return static_cast<std::int64_t>(
      reconnect_pause(attempts, self->options_.reconnect_max_wait, jitter).count());
}

}  // namespace replywatch::jetstream
