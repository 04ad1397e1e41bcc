#pragma once

// The daemon's state and its event loop, shared by the files that define its members:
// daemon.cc (start, listeners, timers, the commit path, the admin API, shutdown),
// daemon_state.cc (restore, reload, snapshots and retention of the local log) and
// daemon_stream.cc (log.kind jetstream: the stream and its consumers). Not a public header.

#include <systemd/sd-daemon.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <deque>
#include <mutex>
#include <thread>

#include "admin_handler.h"
#include "alertmanager_client.h"
#include "basic_auth.h"
#include "console_streams.h"
#include "daemon.h"
#include "daemon_metrics.h"
#include "data_directory_lock.h"
#include "engine_host.h"
#include "event_clock.h"
#include "heap_trim.h"
#include "http_server.h"
#include "ingest_handler.h"
#include "listener_security.h"
#include "local_event_log.h"
#include "log_retention.h"
#include "metrics_copy.h"
#include "metrics_scrapes.h"
#include "refusal_reason.h"
#include "rule_reloader.h"
#include "snapshotter.h"
#include "state_rebuild.h"
#include "stream_commit.h"
#include "stream_consumption.h"

namespace replywatch::server {

namespace daemon_detail {

constexpr Duration kRefusalLogInterval = std::chrono::seconds(10);

inline void notify_systemd(const std::string& state) { sd_notify(0, state.c_str()); }

// One listener's refusal log, at most one line per interval.
struct RefusalLog {
  LogRateLimiter limiter{kRefusalLogInterval};
};

}  // namespace daemon_detail

class Daemon::Impl final {
 public:
  Impl(DaemonConfig config, const TimeSource& time, const Logger& log)
      : config_(std::move(config)),
        time_(time),
        clock_(time),
        log_(log),
        signals_(io_, SIGINT, SIGTERM, SIGHUP),
        engine_timer_(io_),
        shutdown_timer_(io_),
        shutdown_poll_(io_),
        resend_timer_(io_),
        fsync_timer_(io_),
        snapshot_timer_(io_),
        metrics_(config_.max_shops) {}
  ~Impl() {
    if (worker_.joinable()) worker_.join();
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  int run();

 private:
  // Each listener's view of the daemon, so every refusal is counted under its own listener.
  class IngestAdapter final : public IngestBackend {
   public:
    explicit IngestAdapter(Impl& impl) : impl_(impl) {}
    bool ready() const override { return impl_.ready_; }
    Instant now() const override { return impl_.clock_.now(); }
    bool clock_suspect() const override { return impl_.clock_.suspect(); }
    bool platform_known(std::string_view platform) const override {
      return impl_.rules_->find(platform) != nullptr;
    }
    void commit(std::vector<Event> events, std::function<void(IngestCommit)> done) override {
      impl_.commit(std::move(events), std::move(done));
    }
    void count_rejected_event(RejectReason reason) override {
      impl_.metrics_.rejected(reason).Increment();
    }
    void count_refused_request(RefusalReason reason, std::string_view detail) override {
      impl_.refuse(Listener::kIngest, reason, detail, {});
    }
    void defer(std::function<void()> step) override {
      boost::asio::post(impl_.io_, std::move(step));
    }
    bool is_duplicate(const Event& event) const override {
      return impl_.host_ && impl_.host_->engine().is_duplicate(event);
    }
    void run_after(Duration delay, std::function<void()> step) override {
      auto timer = std::make_shared<boost::asio::steady_timer>(impl_.io_, delay);
      timer->async_wait(
          [timer, step = std::move(step)](const boost::system::error_code&) { step(); });
    }
    void count_adapter_request(std::string_view adapter, AdapterOutcome outcome) override {
      impl_.metrics_.count_adapter_request(adapter, outcome);
    }
    void run_off_loop(std::function<void()> work, std::function<void()> then) override {
      boost::asio::post(impl_.decode_worker_, [&io = impl_.io_, work = std::move(work),
                                               then = std::move(then)]() mutable {
        work();
        boost::asio::post(io, std::move(then));
      });
    }
    PlatformKnown platform_checker() const override {
      return [rules = impl_.rules_](std::string_view platform) {
        return rules->find(platform) != nullptr;
      };
    }

   private:
    Impl& impl_;
  };

  class AdminAdapter final : public AdminBackend {
   public:
    explicit AdminAdapter(Impl& impl) : impl_(impl) {}
    // With log.kind jetstream, not while the connection to NATS is lost (ingest answers 503).
    // A consumer, also not before every consumed partition has caught up with the stream.
    bool ready() const override {
      return impl_.ready_ && (!impl_.stream_ || impl_.stream_->connected()) &&
             (!impl_.consumption_ || impl_.consumption_->caught_up());
    }
    std::string readiness() const override {
      if (impl_.stream_ && !impl_.stream_->connected()) return "not connected to NATS\n";
      return impl_.consumption_ ? impl_.consumption_->readiness() : std::string();
    }
    std::string metrics_text() override { return impl_.metrics_text(); }
    void metrics(bool gzip, std::function<void(MetricsBody)> done) override {
      impl_.metrics(gzip, std::move(done));
    }
    void reload(std::string_view trigger, std::function<void(ReloadOutcome)> done) override {
      impl_.reload(std::string(trigger), std::move(done));
    }
    std::optional<boost::json::object> at_risk(const AtRiskQuery& query) override {
      return impl_.at_risk(query);
    }
    void count_refused_request(RefusalReason reason, std::string_view detail) override {
      impl_.refuse(Listener::kAdmin, reason, detail, {});
    }
    std::optional<boost::json::object> console(const ConsoleFilter& filter) override {
      return impl_.console(filter);
    }
    void console_stream(const ConsoleFilter& filter, const Respond& respond) override {
      impl_.console_stream(filter, respond);
    }

   private:
    Impl& impl_;
  };

  struct PendingCommit;
  void commit(std::vector<Event> events, std::function<void(IngestCommit)> done);
  void on_durable(PendingCommit& pending, const storage::AppendOutcome& outcome);
  void drain_durable();
  void without_claims(const std::function<void()>& step);
  void arm_fsync_timer();
  void update_log_metrics();
  std::string metrics_text();
  std::unique_ptr<MetricsCopy> start_metrics_copy();
  void metrics(bool gzip, std::function<void(MetricsBody)> done);
  void reload(std::string trigger, std::function<void(ReloadOutcome)> done);
  std::optional<boost::json::object> at_risk(const AtRiskQuery& query);
  std::optional<boost::json::object> console(const ConsoleFilter& filter);
  void console_stream(const ConsoleFilter& filter, const Respond& respond);
  bool secure_listeners();
  void make_reloader();
  bool start_adapters();
  void limit_descriptors(HttpLimits& ingest, HttpLimits& admin);
  bool open_data_directory();
  bool open_stream();
  void finish_stream_start();
  void start_consuming();
  void on_stream_applied();
  bool make_snapshotter();
  bool bind(HttpServer& server, const ListenAddress& address, const char* name);
  void wait_for_signal();
  bool start_rebuild(std::shared_ptr<const RuleSet> rules, std::string trigger);
  void rebuild_step(const StateRebuild* expected);
  void arm_snapshot_timer();
  void retain_log();
  void finish_snapshot_for_stop();
  void finish_restore();
  void finish_reload();
  void advance_to_now();
  void arm_engine_timer();
  void flush_alerts(bool resend);
  void arm_resend_timer();
  void go_live(EngineHost& host, EngineHost* previous);
  void shutdown(const char* why);
  void poll_shutdown();
  void refuse(Listener listener, RefusalReason reason, std::string_view detail,
              const std::string& peer);
  void on_http_refusal(Listener listener, RefusalReason reason, const std::string& detail);
  std::unique_ptr<EngineHost> new_host(std::shared_ptr<const RuleSet> rules) const;
  // Every replacement of host_ goes through here, so a scrape under way sees it.
  void set_host(std::unique_ptr<EngineHost> host) {
    host_ = std::move(host);
    ++host_generation_;
  }

  DaemonConfig config_;
  const TimeSource& time_;
  // Event time; mutable because reading it may settle a clock step.
  mutable EventClock clock_;
  const Logger& log_;
  boost::asio::io_context io_{1};
  // Writes and compresses /metrics answers off the event loop (see metrics()). Declared after
  // io_, so it is joined before io_ goes: a scrape in progress still posts its answer there.
  boost::asio::thread_pool metrics_worker_{1};
  // Decodes half of each large NDJSON body while the loop decodes the other (ingest_handler).
  boost::asio::thread_pool decode_worker_{1};
  // GET /metrics (metrics_scrapes.h): copies on the loop in slices, writes on metrics_worker_.
  MetricsScrapes scrapes_{io_.get_executor(), metrics_worker_.get_executor(),
                          [this] { return start_metrics_copy(); },
                          [this](const std::string& what) {
                            on_http_refusal(Listener::kAdmin, RefusalReason::kInternalError, what);
                          }};
  boost::asio::signal_set signals_;
  boost::asio::steady_timer engine_timer_;
  boost::asio::steady_timer shutdown_timer_;
  boost::asio::steady_timer shutdown_poll_;
  boost::asio::steady_timer resend_timer_;
  boost::asio::steady_timer fsync_timer_;  // fsync: interval
  std::unique_ptr<HttpServer> ingest_;
  std::unique_ptr<HttpServer> admin_;
  IngestSettings ingest_settings_;
  AdminSettings admin_settings_;
  IngestAdapter ingest_backend_{*this};
  AdminAdapter admin_backend_{*this};
  std::optional<RuleReloader> reloader_;
  std::thread worker_;         // parses rule files for reloads
  std::string admin_url_;      // http://the bound admin address, for links without external_url
  ListenerSecurity security_;  // from the web config files
  std::shared_ptr<BasicAuthenticator> admin_auth_;  // with basic_auth_users
  std::unique_ptr<ConsoleStreams> console_;         // the console's live streams

  std::shared_ptr<const RuleSet> rules_;
  std::unique_ptr<EngineHost> host_;
  std::uint64_t host_generation_ = 0;  // counts replacements of host_, for scrapes under way
  std::string log_path_;               // DATA/log
  std::unique_ptr<storage::DataDirectoryLock> lock_;
  std::unique_ptr<storage::EventLog> event_log_;  // log.kind local
  std::unique_ptr<StreamCommit> stream_;          // log.kind jetstream: publishes, no local log
  // log.kind jetstream with `consume`: applies the consumed partitions from the stream. After
  // stream_ and host_, so it stops reading before the connection and the host go.
  std::unique_ptr<StreamConsumption> consumption_;
  // Records before this one are in host_: the end a rebuild may read to.
  storage::Sequence applied_end_ = 1;
  // Requests handed to the log and not yet completed. While any is, the engine is not advanced
  // (timers wait): each completion advances it to its own recorded watermark before offering,
  // so the live engine sees exactly what a replay of the log sees.
  std::size_t pending_commits_ = 0;
  HeapTrimPolicy heap_trim_;  // gives a burst's memory back once it has drained
  Instant last_recorded_watermark_{};
  // Completions of appends, handed over by the log's writer thread and taken in order by one
  // handler posted per group.
  std::mutex durable_mutex_;
  std::vector<std::pair<std::shared_ptr<PendingCommit>, storage::AppendOutcome>> durable_;
  // Requests appended and not yet completed, oldest first (completions come in this order).
  std::deque<PendingCommit*> in_flight_;
  storage::LogStats reported_log_stats_;

  // A new host being built from the snapshots and the log, a bounded number of records per turn
  // of the event loop: on start (the daemon is not ready until it is done) and on reload (the
  // old host serves meanwhile). Reloads asked for meanwhile wait for it (RuleReloader).
  std::unique_ptr<StateRebuild> rebuild_;
  std::string rebuild_trigger_;  // "start", "SIGHUP", "POST /-/reload"
  SteadyInstant rebuild_started_{};
  // The identity of rules_ and the settings that shape the state, stored in every snapshot.
  RuleSetIdentity identity_;
  std::optional<Snapshotter> snapshots_;
  std::optional<LogRetention> retention_;  // from the end of the restore on
  // Nothing is deleted until a snapshot covers this record: the state since the last reload (or
  // a restore from the log alone) is in no snapshot a restart could use before that.
  storage::Sequence retention_waits_for_ = 0;
  bool snapshot_owed_ = false;  // a reload's snapshot could not start yet
  bool reloaded_ = false;       // since the start: the snapshots before it hold other rules
  boost::asio::steady_timer snapshot_timer_;

  Instant started_at_{};
  bool ready_ = false;
  bool stopping_ = false;
  int exit_code_ = 0;

  DaemonMetrics metrics_;
  std::unique_ptr<AlertmanagerClient> alertmanager_;  // only with alertmanager.urls
  std::array<daemon_detail::RefusalLog, 2> refusal_logs_;
  // Retried webhooks answered as duplicates and never logged, by platform, since start: a
  // reload's rebuild cannot count them, so they are added back.
  UnloggedCounts unjournaled_;
};

}  // namespace replywatch::server
