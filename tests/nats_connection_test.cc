// The NATS connection (daemon/jetstream/nats_connection.h) against a real nats-server on a free
// loopback port: connected, lost when the server stops, regained by itself when it is back, and
// a server that is not up at start is waited for. The reconnection pause is pure.
#include "nats_connection.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "nats_server_process.h"

using replywatch::Duration;
using replywatch::jetstream::NatsConnection;
using replywatch::jetstream::NatsConnectionOptions;
using replywatch::jetstream::NatsState;

namespace {

// The states a connection reported, in order.
struct StateLog {
  std::mutex mutex;
  std::vector<NatsState> states;

  void add(NatsState state) {
    std::lock_guard lock(mutex);
    states.push_back(state);
  }
};

// Polls (this is an integration test: real servers, real time) until `done` or 20 s.
template <typename Done>
bool eventually(Done done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

NatsConnectionOptions options_for(const std::string& url, StateLog& log) {
  NatsConnectionOptions options;
  options.servers = {url};
  options.reconnect_max_wait = std::chrono::milliseconds(200);
  options.on_state = [&log](NatsState state) { log.add(state); };
  return options;
}

}  // namespace

TEST_CASE("nats_connection: the reconnection pause doubles up to its cap, with jitter",
          "[nats_connection]") {
  using replywatch::jetstream::reconnect_pause;
  using std::chrono::milliseconds;
  CHECK(reconnect_pause(1, std::chrono::seconds(2), 0.0) == milliseconds(100));
  CHECK(reconnect_pause(2, std::chrono::seconds(2), 0.0) == milliseconds(200));
  CHECK(reconnect_pause(5, std::chrono::seconds(2), 0.0) == milliseconds(1600));
  CHECK(reconnect_pause(6, std::chrono::seconds(2), 0.0) == milliseconds(2000));
  CHECK(reconnect_pause(1000, std::chrono::seconds(2), 0.0) == milliseconds(2000));
  CHECK(reconnect_pause(1000, std::chrono::seconds(2), 1.0) == milliseconds(2200));
  CHECK(reconnect_pause(1, milliseconds(50), 0.5) == milliseconds(52));
}

TEST_CASE("nats_connection: no server is an error, not a connection", "[nats_connection]") {
  std::string error;
  CHECK(NatsConnection::open(NatsConnectionOptions{}, error) == nullptr);
  CHECK(error == "no NATS server given (log.servers)");
}

TEST_CASE("nats_connection: connects, is lost with the server, and comes back by itself",
          "[nats_connection][integration]") {
  rwtest::NatsServerProcess server;
  StateLog log;
  std::string error;
  auto connection = NatsConnection::open(options_for(server.url(), log), error);
  REQUIRE(connection != nullptr);
  CHECK(connection->connected());
  CHECK(connection->connected_url() == server.url());
  std::string js_error;
  CHECK(connection->jetstream(nullptr, js_error) != nullptr);

  server.stop();
  CHECK(eventually([&] { return connection->state() == NatsState::kReconnecting; }));
  CHECK(connection->connected_url().empty());
  server.restart();
  CHECK(eventually([&] { return connection->connected(); }));
  connection.reset();
  std::lock_guard lock(log.mutex);
  // Connected at open, lost, regained, closed by the destructor: in that order.
  const std::vector<NatsState> expected = {NatsState::kConnected, NatsState::kReconnecting,
                                           NatsState::kConnected, NatsState::kClosed};
  CHECK(log.states == expected);
}

TEST_CASE("nats_connection: a server that is not up yet is waited for",
          "[nats_connection][integration]") {
  rwtest::NatsServerProcess server;
  const std::string url = server.url();
  server.stop();
  StateLog log;
  std::string error;
  auto connection = NatsConnection::open(options_for(url, log), error);
  REQUIRE(connection != nullptr);
  CHECK(connection->state() == NatsState::kConnecting);
  server.restart();
  CHECK(eventually([&] { return connection->connected(); }));
}
