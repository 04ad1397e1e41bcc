// The console's live updates: Server-Sent Events to each open page.
//
// Pages do not poll. While at least one stream is open, a 100 ms tick compares a cheap stamp of
// the engine (events taken, the next due instant, the host itself); when it moved, or every 5 s
// in any case (windows slide with time), the queue and shops are computed once per distinct
// filter in one pass and each page gets the parts whose text changed. A computation may take at
// most a tenth of the time since the last one, so many rounds or pages slow the updates down
// rather than the daemon. Streams are capped (503 beyond), and one that stops reading is dropped
// (ResponseStream's backlog limit) — a console can never hold the admin listener's connections.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "console_snapshot.h"
#include "http_server.h"
#include "time_source.h"

namespace replywatch::server {

class ConsoleStreams {
 public:
  struct Hooks {
    std::function<const EngineHost*()> host;  // nothing while restoring
    std::function<Instant()> now;             // the daemon's event clock
  };

  ConsoleStreams(boost::asio::io_context& io, const TimeSource& time, Hooks hooks,
                 std::size_t max_streams);
  ~ConsoleStreams();
  ConsoleStreams(const ConsoleStreams&) = delete;
  ConsoleStreams& operator=(const ConsoleStreams&) = delete;

  bool full() const { return clients_.size() >= max_streams_; }
  std::size_t size() const { return clients_.size(); }
  // Serves an opened stream until either side ends it.
  void add(std::shared_ptr<ResponseStream> stream, ConsoleFilter filter);
  // Ends every stream (shutdown).
  void stop();

  static constexpr Duration kTick = std::chrono::milliseconds(100);
  static constexpr Duration kRefresh = std::chrono::seconds(5);
  static constexpr Duration kHeartbeat = std::chrono::seconds(15);
  // The page's EventSource waits this long before reconnecting by itself.
  static constexpr int kRetryMillis = 2000;

 private:
  struct Client {
    std::shared_ptr<ResponseStream> stream;
    ConsoleFilter filter;
    std::string queue, shops, choices;  // what it was last sent
    SteadyInstant last_write{};
  };
  struct Stamp {
    const EngineHost* host = nullptr;
    std::uint64_t accepted = 0, duplicates = 0, late = 0;
    std::optional<Instant> next_due;
    std::size_t shops = 0;
    bool operator==(const Stamp&) const = default;
  };

  void arm();
  void tick();
  void publish(const EngineHost& host, SteadyInstant now);
  static bool send(Client& client, std::string_view event, const std::string& data,
                   std::string& last, SteadyInstant now);

  const TimeSource& time_;
  Hooks hooks_;
  std::size_t max_streams_;
  boost::asio::steady_timer timer_;
  std::vector<Client> clients_;
  bool armed_ = false;
  bool stopped_ = false;
  bool fresh_clients_ = false;
  std::optional<Stamp> published_;
  SteadyInstant last_publish_{};
  Duration last_cost_{0};
};

}  // namespace replywatch::server
