#include "stream_commit.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace replywatch::server {
namespace {

// Pause between attempts to set the stream up while the cluster does not answer.
constexpr auto kSetupRetry = std::chrono::milliseconds(500);
// A "still waiting for the stream" line at most this often.
constexpr Duration kSetupLogInterval = std::chrono::seconds(30);

}  // namespace

StreamCommit::StreamCommit(jetstream::LogConfig config, Duration allowed_lateness,
                           const TimeSource& time, const Logger& log,
                           prometheus::Registry& registry, Hooks hooks)
    : config_(std::move(config)),
      allowed_lateness_(allowed_lateness),
      time_(time),
      logger_(log),
      hooks_(std::move(hooks)),
      metrics_(registry) {}

StreamCommit::~StreamCommit() {
  {
    std::lock_guard lock(stop_mutex_);
    stopping_ = true;
  }
  stop_signal_.notify_all();
  if (setup_.joinable()) setup_.join();
  stream_log_.reset();  // before the connection it publishes on
  connection_.reset();
}

bool StreamCommit::start(const jetstream::StreamNeeds& needs, std::function<void()> ready,
                         std::function<void(const std::string&)> fatal) {
  jetstream::NatsConnectionOptions options;
  options.servers = config_.servers;
  options.reconnect_max_wait = config_.reconnect_max_wait;
  options.on_state = [this](jetstream::NatsState state) {
    metrics_.state(state);
    // The logger writes whole lines and may be called from any thread.
    if (state == jetstream::NatsState::kConnected) {
      logger_.info("connected to NATS");
    } else if (state == jetstream::NatsState::kReconnecting) {
      logger_.warning("lost the connection to NATS; reconnecting (ingest answers 503 meanwhile)");
    }
  };
  std::string error;
  connection_ = jetstream::NatsConnection::open(std::move(options), error);
  if (!connection_) {
    logger_.error("{}", error);
    return false;
  }
  metrics_.state(connection_->state());
  if (!connection_->connected()) {
    logger_.warning("no NATS server of {} answers yet; retrying", fmt::join(config_.servers, ", "));
  }
  setup_ = std::thread([this, needs, ready = std::move(ready), fatal = std::move(fatal)] {
    set_up(needs, ready, fatal);
  });
  return true;
}

// On the set-up thread: until the stream answers, or the daemon stops.
void StreamCommit::set_up(jetstream::StreamNeeds needs, std::function<void()> ready,
                          std::function<void(const std::string&)> fatal) {
  SteadyInstant logged_at{};
  bool logged = false;
  for (;;) {
    {
      std::unique_lock lock(stop_mutex_);
      if (stopping_) return;
    }
    std::string problem;
    if (connection_->connected()) {
      std::string error;
      jetstream::JetStreamContext context = connection_->jetstream(nullptr, error);
      if (context) {
        const jetstream::StreamSetupResult result =
            jetstream::ensure_stream(context.get(), config_, needs, config_.publish_timeout);
        context.reset();
        for (const std::string& warning : result.warnings) logger_.warning("{}", warning);
        if (result.status == jetstream::StreamSetupStatus::kRefused) {
          hooks_.post([fatal, message = result.message] { fatal(message); });
          return;
        }
        if (result.usable()) {
          jetstream::PublishHooks hooks;
          hooks.monotonic_now = [this] { return time_.steady_now().time_since_epoch(); };
          hooks.published = [this](Duration latency) { metrics_.published(latency); };
          hooks.failed = [this](jetstream::PublishFailure failure, std::size_t events) {
            metrics_.failed(failure, events);
          };
          auto log = jetstream::JetStreamEventLog::open(connection_, config_, hooks, error);
          if (log) {
            logger_.info(
                "{} the stream {} ({} partitions, subjects {}.*)",
                result.status == jetstream::StreamSetupStatus::kCreated ? "created" : "using",
                config_.stream, config_.partitions, config_.subject_prefix);
            // std::function must be copyable: the log travels in a shared holder.
            auto holder =
                std::make_shared<std::unique_ptr<jetstream::JetStreamEventLog>>(std::move(log));
            hooks_.post([this, holder, ready] {
              stream_log_ =
                  std::move(*holder);  // handed over on the event loop, which alone uses it
              ready();
            });
            return;
          }
        }
        problem = result.message.empty() ? error : result.message;
      } else {
        problem = error;
      }
    } else {
      problem = "not connected to NATS";
    }
    const SteadyInstant now = time_.steady_now();
    if (!logged || now - logged_at >= kSetupLogInterval) {
      logger_.warning("waiting for the stream {}: {}", config_.stream, problem);
      logged = true;
      logged_at = now;
    }
    std::unique_lock lock(stop_mutex_);
    stop_signal_.wait_for(lock, kSetupRetry, [this] { return stopping_; });
  }
}

void StreamCommit::commit(std::vector<Event> events, std::function<void(IngestCommit)> done) {
  // Non-decreasing per node, so consumers can take the largest header seen as this node's
  // progress in time.
  if (!stream_log_) {
    hooks_.not_durable("the stream is not set up yet");
    return done(IngestCommit{});
  }
  last_watermark_ = std::max(hooks_.now() - allowed_lateness_, last_watermark_);
  auto shared = std::make_shared<std::vector<Event>>(std::move(events));
  std::vector<const Event*> pointers;
  pointers.reserve(shared->size());
  for (const Event& event : *shared) pointers.push_back(&event);
  stream_log_->append_unencoded(
      last_watermark_, std::move(pointers),
      [this, shared, done = std::move(done)](storage::AppendOutcome outcome) mutable {
        hooks_.post([this, shared = std::move(shared), done = std::move(done),
                     outcome = std::move(outcome)] {
          if (outcome.error) {
            hooks_.not_durable(outcome.error.message);
            return done(IngestCommit{});
          }
          IngestCommit result;
          result.durable = true;
          result.duplicates = outcome.duplicates.size();
          result.accepted = shared->size() - outcome.duplicates.size();
          done(std::move(result));
        });
      });
}

}  // namespace replywatch::server
