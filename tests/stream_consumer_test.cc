// StreamConsumer + StreamFeed against a real `nats-server -js`: events published are applied to
// the engine host, only the consumed partitions' shops, once each across a restart of the
// consumer, and a backlog is caught up in event time.
#include "stream_consumer.h"

#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>

#include "engine_test_support.h"
#include "nats_test_client.h"
#include "partitioning.h"
#include "stream_feed.h"

using namespace rwtest;
using replywatch::jetstream::partition_of;
using replywatch::jetstream::StreamConsumer;
using replywatch::jetstream::StreamDelivery;
using replywatch::jetstream::StreamReaderOptions;
using replywatch::server::EngineHost;
using replywatch::server::StreamFeed;

namespace {

constexpr std::uint32_t kPartitions = 4;
constexpr Duration kLateness = std::chrono::seconds(2);

constexpr const char* kRules = R"(
platform: tmall
timezone: UTC
slas:
  - name: reply_1m
    kind: reply_time
    deadline: 1m
)";

// What the consumer's thread delivers, taken by the test's thread (the daemon's event loop in
// production).
class Inbox {
 public:
  void put(StreamDelivery delivery) {
    std::lock_guard lock(mutex_);
    deliveries_.push_back(std::move(delivery));
    ready_.notify_one();
  }
  // Applies deliveries until the feed has read up to `sequence` (inclusive), or fails after 10 s.
  void apply_until(StreamFeed& feed, std::uint64_t sequence, Instant now) {
    std::unique_lock lock(mutex_);
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (feed.position() <= sequence) {
      if (deliveries_.empty() &&
          !ready_.wait_until(lock, give_up, [&] { return !deliveries_.empty(); })) {
        FAIL("the consumer did not deliver up to sequence " << sequence);
      }
      StreamDelivery delivery = std::move(deliveries_.front());
      deliveries_.pop_front();
      feed.clock().set_connected(delivery.connected);
      for (const auto& [partition, last] : delivery.partition_lasts) {
        feed.clock().partition_last(partition, last);
      }
      feed.apply(delivery.records, delivery.pending, delivery.next, now);
    }
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<StreamDelivery> deliveries_;
};

StreamReaderOptions options(std::vector<std::uint32_t> consumed) {
  StreamReaderOptions out;
  out.stream = "RWTEST";
  out.subject_prefix = "rw.ev";
  out.partitions = kPartitions;
  out.consumed = std::move(consumed);
  return out;
}

std::string event_json(const std::string& id, const std::string& type, const std::string& shop,
                       const std::string& conversation, Instant ts) {
  return fmt::format(
      R"({{"id":"{}","platform":"tmall","shop":"{}","conversation":"{}","type":"{}",)"
      R"("agent":"a1","ts":"{}"}})",
      id, shop, conversation, type, replywatch::format_rfc3339(ts));
}

std::uint64_t publish(NatsClient& client, const std::string& id, const std::string& type,
                      const std::string& shop, const std::string& conversation, Instant ts,
                      Instant watermark) {
  const std::uint32_t partition = partition_of("tmall", shop, kPartitions);
  return client.publish(fmt::format("rw.ev.{}", partition),
                        std::to_string(watermark.time_since_epoch().count()),
                        event_json(id, type, shop, conversation, ts));
}

std::set<std::string> shops_of(const EngineHost& host) {
  std::set<std::string> out;
  for (std::uint32_t shop = 0; shop < host.engine().shop_count(); ++shop) {
    out.insert(std::string(host.engine().shop_name(shop)));
  }
  return out;
}

std::uint64_t received(const EngineHost& host) {
  std::uint64_t sum = 0;
  for (const std::uint64_t n : host.platform_counts(0).received) sum += n;
  return sum;
}

}  // namespace

TEST_CASE("stream_consumer: half the partitions' events are applied once, across a restart",
          "[stream_consumer][jetstream]") {
  NatsServerProcess server;
  NatsClient client(server.url());
  client.add_stream("RWTEST", "rw.ev.>");
  const Instant t = T("2026-11-29T10:00:00Z");
  std::set<std::string> mine;
  std::uint64_t last = 0;
  std::uint64_t my_events = 0;
  for (int n = 0; n < 40; ++n) {
    const std::string shop = "shop-" + std::to_string(n % 10);
    last = publish(client, "b" + std::to_string(n), "buyer_message", shop, "c" + std::to_string(n),
                   t + sec(n), t + sec(n) - kLateness);
    if (partition_of("tmall", shop, kPartitions) < 2) {
      mine.insert(shop);
      ++my_events;
    }
  }
  REQUIRE(!mine.empty());
  REQUIRE(mine.size() < 10);

  EngineHost host(rules_from_yaml(kRules), {});
  StreamFeed feed({0, 1}, kLateness);
  feed.start(host, 1, last);
  const Instant now = t + sec(60);
  {
    Inbox inbox;
    NatsClient consumer_client(server.url());
    StreamConsumer consumer(nullptr, consumer_client.js(), options({0, 1}), 1,
                            [&](StreamDelivery d) { inbox.put(std::move(d)); });
    inbox.apply_until(feed, last, now);
  }
  CHECK(shops_of(host) == mine);
  CHECK(received(host) == my_events);
  CHECK(feed.clock().caught_up());

  // Restarted at the feed's position (what a snapshot records): the ten new events only.
  for (int n = 40; n < 50; ++n) {
    const std::string shop = "shop-" + std::to_string(n % 10);
    last = publish(client, "b" + std::to_string(n), "buyer_message", shop, "c" + std::to_string(n),
                   t + sec(n), t + sec(n) - kLateness);
    if (partition_of("tmall", shop, kPartitions) < 2) ++my_events;
  }
  Inbox inbox;
  NatsClient consumer_client(server.url());
  StreamConsumer consumer(nullptr, consumer_client.js(), options({0, 1}), feed.position(),
                          [&](StreamDelivery d) { inbox.put(std::move(d)); });
  inbox.apply_until(feed, last, now);
  CHECK(received(host) == my_events);
  CHECK(host.platform_counts(0).duplicates == 0);
}

TEST_CASE("stream_consumer: a consumer started on a backlog catches up in event time",
          "[stream_consumer][jetstream][catch_up_clock]") {
  NatsServerProcess server;
  NatsClient client(server.url());
  client.add_stream("RWTEST", "rw.ev.>");
  // An hour ago: a round answered in 30 s (met) and one answered in 90 s (breached).
  const Instant t = T("2026-11-29T10:00:00Z");
  publish(client, "b1", "buyer_message", "s1", "c1", t, t - kLateness);
  publish(client, "a1", "agent_message", "s1", "c1", t + sec(30), t + sec(28));
  publish(client, "b2", "buyer_message", "s1", "c2", t + sec(60), t + sec(58));
  const std::uint64_t last =
      publish(client, "a2", "agent_message", "s1", "c2", t + sec(150), t + sec(148));

  EngineHost host(rules_from_yaml(kRules), {});
  StreamFeed feed({0, 1, 2, 3}, kLateness);
  feed.start(host, 1, last);
  Inbox inbox;
  NatsClient consumer_client(server.url());
  StreamConsumer consumer(nullptr, consumer_client.js(), options({0, 1, 2, 3}), 1,
                          [&](StreamDelivery d) { inbox.put(std::move(d)); });
  const Instant now = t + std::chrono::hours(1);
  inbox.apply_until(feed, last, now);
  CHECK(host.platform_counts(0).late == 0);
  std::uint64_t breaches = 0;
  std::uint64_t rounds = 0;
  for (const auto& f : host.engine().figures(now)) {
    breaches += f.breaches;
    rounds += f.rounds;
  }
  CHECK(rounds == 2);
  CHECK(breaches == 1);
  CHECK(feed.clock().caught_up());
  CHECK(host.engine().watermark() == now - kLateness);
}
