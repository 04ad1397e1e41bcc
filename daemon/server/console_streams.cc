#include "console_streams.h"

#include <algorithm>
#include <boost/json/serialize.hpp>

namespace replywatch::server {

namespace {

std::chrono::steady_clock::duration steady(Duration duration) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(duration);
}

// A computation may use at most 1/kDutyShare of the event loop's time.
constexpr int kDutyShare = 10;

}  // namespace

ConsoleStreams::ConsoleStreams(boost::asio::io_context& io, const TimeSource& time, Hooks hooks,
                               std::size_t max_streams)
    : time_(time), hooks_(std::move(hooks)), max_streams_(max_streams), timer_(io) {}

ConsoleStreams::~ConsoleStreams() { stop(); }

void ConsoleStreams::add(std::shared_ptr<ResponseStream> stream, ConsoleFilter filter) {
  if (stopped_ || !stream) return;
  Client client{std::move(stream), std::move(filter), {}, {}, {}, time_.steady_now()};
  // Reconnecting by itself (the daemon restarted) the page waits kRetryMillis.
  client.stream->write("retry: " + std::to_string(kRetryMillis) + "\n\n");
  clients_.push_back(std::move(client));
  fresh_clients_ = true;
  if (!armed_) {
    // The first page need not wait for a tick.
    timer_.cancel();
    armed_ = true;
    timer_.expires_after(std::chrono::milliseconds(0));
    timer_.async_wait([this](boost::system::error_code error) {
      armed_ = false;
      if (!error) tick();
    });
  }
}

void ConsoleStreams::stop() {
  stopped_ = true;
  timer_.cancel();
  for (Client& client : clients_) client.stream->end();
  clients_.clear();
}

void ConsoleStreams::arm() {
  if (armed_ || stopped_ || clients_.empty()) return;
  armed_ = true;
  timer_.expires_after(steady(kTick));
  timer_.async_wait([this](boost::system::error_code error) {
    armed_ = false;
    if (!error) tick();
  });
}

void ConsoleStreams::tick() {
  std::erase_if(clients_, [](const Client& client) { return client.stream->ended(); });
  if (clients_.empty()) {
    published_.reset();
    return;
  }
  const SteadyInstant now = time_.steady_now();
  if (const EngineHost* host = hooks_.host()) {
    const Engine& engine = host->engine();
    const Stamp stamp{host,
                      engine.counters().accepted,
                      engine.counters().duplicates,
                      engine.counters().late,
                      engine.next_due(),
                      engine.shop_count()};
    const bool due =
        fresh_clients_ || !published_ || *published_ != stamp || now - last_publish_ >= kRefresh;
    const bool allowed = now - last_publish_ >= last_cost_ * kDutyShare;
    if (due && allowed) {
      publish(*host, now);
      published_ = stamp;
      last_publish_ = now;
      last_cost_ = time_.steady_now() - now;
      fresh_clients_ = false;
    }
  }
  for (Client& client : clients_) {
    // A comment line: proxies keep the connection, and a dead peer shows as a failed write.
    if (now - client.last_write >= kHeartbeat) {
      client.stream->write(": keep-alive\n\n");
      client.last_write = now;
    }
  }
  arm();
}

bool ConsoleStreams::send(Client& client, std::string_view event, const std::string& data,
                          std::string& last, SteadyInstant now) {
  if (data == last) return true;
  last = data;
  client.last_write = now;
  std::string message = "event: ";
  message += event;
  message += "\ndata: ";
  message += data;  // serialized JSON holds no raw newline
  message += "\n\n";
  return client.stream->write(std::move(message));
}

void ConsoleStreams::publish(const EngineHost& host, SteadyInstant now) {
  std::vector<ConsoleFilter> filters;
  std::vector<std::size_t> filter_of(clients_.size());
  for (std::size_t c = 0; c < clients_.size(); ++c) {
    const auto found = std::find(filters.begin(), filters.end(), clients_[c].filter);
    filter_of[c] = static_cast<std::size_t>(found - filters.begin());
    if (found == filters.end()) filters.push_back(clients_[c].filter);
  }
  const std::vector<boost::json::object> queues = console_queues(host, hooks_.now(), filters);
  const std::vector<boost::json::object> shops = console_shops(host, filters);
  const std::string choices = boost::json::serialize(console_choices(host));
  std::vector<std::string> queue_text, shops_text;
  for (std::size_t f = 0; f < filters.size(); ++f) {
    queue_text.push_back(boost::json::serialize(queues[f]));
    shops_text.push_back(boost::json::serialize(shops[f]));
  }
  for (std::size_t c = 0; c < clients_.size(); ++c) {
    Client& client = clients_[c];
    send(client, "choices", choices, client.choices, now);
    send(client, "shops", shops_text[filter_of[c]], client.shops, now);
    // The queue carries `now`, so it is new every time: the page re-syncs its clock with it.
    send(client, "queue", queue_text[filter_of[c]], client.queue, now);
  }
}

}  // namespace replywatch::server
