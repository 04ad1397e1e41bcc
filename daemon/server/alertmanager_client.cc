#include "alertmanager_client.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <charconv>
#include <deque>

namespace replywatch::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {
constexpr Duration kFailureLogInterval = std::chrono::seconds(10);
constexpr std::size_t kMaxResponseBytes = 64 * 1024;
}  // namespace

std::optional<HttpUrl> parse_http_url(std::string_view text) {
  constexpr std::string_view kScheme = "http://";
  if (!text.starts_with(kScheme)) return std::nullopt;
  text.remove_prefix(kScheme.size());
  const std::size_t slash = text.find('/');
  std::string_view authority = text.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view{} : text.substr(slash);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.find_first_of("?# ") != std::string_view::npos) return std::nullopt;
  HttpUrl url;
  url.path = std::string(path);
  std::string_view port;
  if (authority.starts_with('[')) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    url.host = std::string(authority.substr(1, close - 1));
    const std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
    }
  } else {
    const std::size_t colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (url.host.empty() || url.host.find_first_of("@ ") != std::string::npos) return std::nullopt;
  if (!port.empty() || authority.ends_with(':')) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc{} || ptr != port.data() + port.size() || value == 0 ||
        value > 65535) {
      return std::nullopt;
    }
    url.port = std::string(port);
  }
  return url;
}

struct AlertmanagerClient::Peer : std::enable_shared_from_this<AlertmanagerClient::Peer> {
  Peer(net::io_context& io_context, Target target_in, prometheus::Counter& dropped_counter,
       const Logger& logger, const TimeSource& time_source, AlertmanagerClientSettings config)
      : io(io_context),
        target(std::move(target_in)),
        dropped(dropped_counter),
        log(logger),
        time(time_source),
        settings(config),
        resolver(io_context),
        backoff(io_context) {}

  void enqueue(const std::vector<std::string>& alerts) {
    if (stopped) return;
    for (const std::string& alert : alerts) {
      if (queue.size() >= settings.max_queued_alerts) {
        dropped.Increment();
        continue;
      }
      queue.push_back(alert);
    }
    start();
  }

  void start() {
    if (busy || stopped) return;
    if (batch.empty()) {
      while (!queue.empty() && batch.size() < settings.max_batch) {
        batch.push_back(std::move(queue.front()));
        queue.pop_front();
      }
    }
    if (batch.empty()) return;
    busy = true;
    attempt();
  }

  void attempt() {
    std::string body = "[";
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (i > 0) body.push_back(',');
      body += batch[i];
    }
    body.push_back(']');
    request = {};
    request.method(http::verb::post);
    request.target(target.parsed.path + "/api/v2/alerts");
    request.version(11);
    request.set(http::field::host, target.parsed.host + ":" + target.parsed.port);
    request.set(http::field::content_type, "application/json");
    request.set(http::field::user_agent, "replywatch");
    request.keep_alive(false);
    request.body() = std::move(body);
    request.prepare_payload();
    resolver.async_resolve(
        target.parsed.host, target.parsed.port,
        [self = shared_from_this()](beast::error_code error, tcp::resolver::results_type results) {
          if (error) return self->failed("cannot resolve: " + error.message());
          self->connect(results);
        });
  }

  void connect(const tcp::resolver::results_type& results) {
    if (stopped) return;
    stream.emplace(io);
    stream->expires_after(settings.request_timeout);
    stream->async_connect(
        results, [self = shared_from_this()](beast::error_code error, const tcp::endpoint&) {
          if (error) return self->failed("cannot connect: " + error.message());
          http::async_write(*self->stream, self->request,
                            [self](beast::error_code write_error, std::size_t) {
                              if (write_error) return self->failed(write_error.message());
                              self->read();
                            });
        });
  }

  void read() {
    buffer.clear();
    parser.emplace();
    parser->body_limit(kMaxResponseBytes);
    http::async_read(*stream, buffer, *parser,
                     [self = shared_from_this()](beast::error_code error, std::size_t) {
                       if (error) return self->failed(error.message());
                       const auto& response = self->parser->get();
                       beast::error_code ignored;
                       self->stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
                       self->stream.reset();
                       if (response.result_int() / 100 == 2) return self->succeeded();
                       self->failed(fmt::format("HTTP {}: {}", response.result_int(),
                                                response.body().substr(0, 200)));
                     });
  }

  void succeeded() {
    target.counters.sent->Increment(static_cast<double>(batch.size()));
    batch.clear();
    attempts = 0;
    busy = false;
    start();
  }

  void failed(const std::string& reason) {
    stream.reset();
    if (stopped) return;
    target.counters.failed->Increment(static_cast<double>(batch.size()));
    ++attempts;
    const bool give_up = attempts >= settings.max_attempts;
    std::uint64_t suppressed = 0;
    if (log_limit.allow(time.now(), suppressed)) {
      log.warning("alertmanager {}: sending {} alert(s) failed (attempt {} of {}{}): {}{}",
                  target.url, batch.size(), attempts, settings.max_attempts,
                  give_up ? ", given up" : "", reason,
                  suppressed == 0 ? std::string()
                                  : fmt::format("; {} more failure(s) not logged", suppressed));
    }
    if (give_up) {
      batch.clear();
      attempts = 0;
      busy = false;
      start();
      return;
    }
    Duration wait = settings.first_backoff;
    for (int i = 1; i < attempts && wait < settings.max_backoff; ++i) wait *= 2;
    backoff.expires_after(std::min(wait, settings.max_backoff));
    backoff.async_wait([self = shared_from_this()](beast::error_code error) {
      if (error || self->stopped) return;
      self->attempt();
    });
  }

  void stop() {
    stopped = true;
    resolver.cancel();
    backoff.cancel();
    if (stream) stream->cancel();
  }

  net::io_context& io;
  Target target;
  prometheus::Counter& dropped;
  const Logger& log;
  const TimeSource& time;
  AlertmanagerClientSettings settings;
  tcp::resolver resolver;
  net::steady_timer backoff;
  std::optional<beast::tcp_stream> stream;
  http::request<http::string_body> request;
  std::optional<http::response_parser<http::string_body>> parser;
  beast::flat_buffer buffer;
  std::deque<std::string> queue;
  std::vector<std::string> batch;  // in flight or waiting for a retry
  int attempts = 0;
  bool busy = false;
  bool stopped = false;
  LogRateLimiter log_limit{kFailureLogInterval};
};

AlertmanagerClient::AlertmanagerClient(net::io_context& io, std::vector<Target> targets,
                                       prometheus::Counter& dropped, const Logger& log,
                                       const TimeSource& time,
                                       AlertmanagerClientSettings settings) {
  for (Target& target : targets) {
    peers_.push_back(std::make_shared<Peer>(io, std::move(target), dropped, log, time, settings));
  }
}

AlertmanagerClient::~AlertmanagerClient() { stop(); }

void AlertmanagerClient::send(const std::vector<std::string>& alerts) {
  if (alerts.empty()) return;
  for (const auto& peer : peers_) peer->enqueue(alerts);
}

void AlertmanagerClient::stop() {
  for (const auto& peer : peers_) peer->stop();
}

std::size_t AlertmanagerClient::queued() const {
  std::size_t total = 0;
  for (const auto& peer : peers_) total += peer->queue.size() + peer->batch.size();
  return total;
}

}  // namespace replywatch::server
