#include "daemon.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <csignal>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "admin_gate.h"
#include "admin_handler.h"
#include "alertmanager_client.h"
#include "basic_auth.h"
#include "console_streams.h"
#include "daemon_metrics.h"
#include "data_directory_lock.h"
#include "engine_host.h"
#include "engine_metrics.h"
#include "event_clock.h"
#include "hmac.h"
#include "http_server.h"
#include "ingest_handler.h"
#include "journal_migration.h"
#include "listener_security.h"
#include "local_event_log.h"
#include "log_retention.h"
#include "metrics_copy.h"
#include "metrics_scrapes.h"
#include "refusal_reason.h"
#include "replywatch/event_codec.h"
#include "replywatch/rule_loader.h"
#include "rule_reloader.h"
#include "snapshotter.h"
#include "state_rebuild.h"
#include "stream_commit.h"
#include "stream_consumption.h"

namespace replywatch::server {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// Log records applied per turn of the event loop while restoring, so /-/healthy and
// /-/ready keep answering.
constexpr std::size_t kRestoreLinesPerTurn = 4'096;
// The engine's timer is re-armed at least this often, so a wall-clock step is noticed.
constexpr Duration kMaxTimerWait = std::chrono::seconds(10);
// Shutdown finishes in-flight requests for at most this long; the unit allows 5 s in all.
constexpr auto kShutdownGrace = std::chrono::milliseconds(4000);
constexpr auto kShutdownPoll = std::chrono::milliseconds(20);
constexpr Duration kRefusalLogInterval = std::chrono::seconds(10);
constexpr int kCorruptLinesLogged = 10;
// How often active conversation alerts are checked for a re-send.
constexpr Duration kMaxResendCheck = std::chrono::seconds(5);

// Descriptors kept free of the listeners' caps: log, lock, epoll, signals, rule files.
constexpr std::uint64_t kSpareDescriptors = 64;
// The admin listener's own connection cap: a few scrapers and operators, never starved by
// ingest connections.
constexpr std::uint32_t kAdminConnections = 64;

void notify_systemd(const std::string& state) { sd_notify(0, state.c_str()); }

// One listener's refusal log, at most one line per interval.
struct RefusalLog {
  LogRateLimiter limiter{kRefusalLogInterval};
};

}  // namespace

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
    void defer(std::function<void()> step) override { net::post(impl_.io_, std::move(step)); }
    bool is_duplicate(const Event& event) const override {
      return impl_.host_ && impl_.host_->engine().is_duplicate(event);
    }
    void run_after(Duration delay, std::function<void()> step) override {
      auto timer = std::make_shared<net::steady_timer>(impl_.io_, delay);
      timer->async_wait(
          [timer, step = std::move(step)](const boost::system::error_code&) { step(); });
    }
    void count_adapter_request(std::string_view adapter, AdapterOutcome outcome) override {
      impl_.metrics_.count_adapter_request(adapter, outcome);
    }
    void run_off_loop(std::function<void()> work, std::function<void()> then) override {
      net::post(impl_.decode_worker_,
                [&io = impl_.io_, work = std::move(work), then = std::move(then)]() mutable {
                  work();
                  net::post(io, std::move(then));
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
  template <typename Step>
  void without_claims(Step step);
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
  net::io_context io_{1};
  // Writes and compresses /metrics answers off the event loop (see metrics()). Declared after
  // io_, so it is joined before io_ goes: a scrape in progress still posts its answer there.
  net::thread_pool metrics_worker_{1};
  // Decodes half of each large NDJSON body while the loop decodes the other (ingest_handler).
  net::thread_pool decode_worker_{1};
  // GET /metrics (metrics_scrapes.h): copies on the loop in slices, writes on metrics_worker_.
  MetricsScrapes scrapes_{io_.get_executor(), metrics_worker_.get_executor(),
                          [this] { return start_metrics_copy(); },
                          [this](const std::string& what) {
                            on_http_refusal(Listener::kAdmin, RefusalReason::kInternalError, what);
                          }};
  net::signal_set signals_;
  net::steady_timer engine_timer_;
  net::steady_timer shutdown_timer_;
  net::steady_timer shutdown_poll_;
  net::steady_timer resend_timer_;
  net::steady_timer fsync_timer_;  // fsync: interval
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
  net::steady_timer snapshot_timer_;

  Instant started_at_{};
  bool ready_ = false;
  bool stopping_ = false;
  int exit_code_ = 0;

  DaemonMetrics metrics_;
  std::unique_ptr<AlertmanagerClient> alertmanager_;  // only with alertmanager.urls
  std::array<RefusalLog, 2> refusal_logs_;
  // Retried webhooks answered as duplicates and never logged, by platform, since start: a
  // reload's rebuild cannot count them, so they are added back.
  UnloggedCounts unjournaled_;
};

std::unique_ptr<EngineHost> Daemon::Impl::new_host(std::shared_ptr<const RuleSet> rules) const {
  EngineOptions options;
  options.dedup_retention = config_.dedup_retention;
  std::optional<NotifierSettings> alerts;
  if (!config_.alertmanager.urls.empty()) {
    alerts.emplace();
    alerts->at_risk_base_url = config_.alertmanager.external_url.value_or(admin_url_);
    alerts->resend_interval = config_.alertmanager.resend_interval;
  }
  return std::make_unique<EngineHost>(std::move(rules), options, config_.max_shops,
                                      std::move(alerts));
}

bool Daemon::Impl::open_data_directory() {
  std::error_code error;
  std::filesystem::create_directories(config_.data, error);
  if (error) {
    log_.error("cannot create the data directory {}: {}", config_.data, error.message());
    return false;
  }
  storage::LogError failure;
  lock_ = storage::DataDirectoryLock::acquire(config_.data, failure);
  if (!lock_) {
    log_.error("cannot lock the data directory: {}", failure.message);
    return false;
  }
  log_path_ = (std::filesystem::path(config_.data) / "log").string();
  storage::MigrationReport migration;
  if ((failure = storage::migrate_journal(config_.data, log_path_, migration))) {
    log_.error("cannot convert the old journal to the event log: {}", failure.message);
    return false;
  }
  if (migration.migrated) {
    log_.info(
        "converted the old journal to the event log {}: {} record(s), {} line(s) that were not "
        "records skipped, {} byte(s) of an unfinished last line dropped; the old file is kept "
        "as {}",
        log_path_, migration.records, migration.skipped_lines, migration.torn_bytes,
        migration.kept_as);
  }
  storage::LocalLogOptions options;
  options.directory = log_path_;
  options.segment_bytes = config_.log_segment_bytes;
  options.fsync = config_.fsync == FsyncMode::kAlways ? storage::FsyncPolicy::kAlways
                                                      : storage::FsyncPolicy::kInterval;
  options.repair = config_.journal_repair;
  options.also_check = [lock = lock_.get()] { return lock->check(); };
  storage::OpenReport report;
  event_log_ = storage::LocalEventLog::open(std::move(options), failure, &report);
  if (!event_log_) {
    log_.error("cannot open the event log: {}", failure.message);
    return false;
  }
  if (report.torn_bytes > 0) {
    log_.warning("{}: cut {} byte(s) of an unfinished last record (never acknowledged)",
                 report.torn_at, report.torn_bytes);
  }
  if (report.skipped_records > 0) {
    log_.warning("{}: skipping {} damaged record(s) in the newest segment (--journal-repair)",
                 log_path_, report.skipped_records);
  }
  applied_end_ = event_log_->next_sequence();
  return true;
}

// log.kind jetstream: the data directory holds the lock and snapshots only; events go to the
// stream (stream_commit.h). Ready once the stream is set up.
bool Daemon::Impl::open_stream() {
  std::error_code error;
  std::filesystem::create_directories(config_.data, error);
  storage::LogError failure;
  if (!error) lock_ = storage::DataDirectoryLock::acquire(config_.data, failure);
  if (error || !lock_) {
    log_.error("cannot lock the data directory {}: {}", config_.data,
               error ? error.message() : failure.message);
    return false;
  }
  StreamCommit::Hooks hooks;
  hooks.post = [this](std::function<void()> task) { net::post(io_, std::move(task)); };
  hooks.not_durable = [this](const std::string& detail) {
    refuse(Listener::kIngest, RefusalReason::kNotDurable, detail, {});
  };
  hooks.now = [this] { return clock_.now(); };
  stream_ = std::make_unique<StreamCommit>(config_.log, config_.allowed_lateness, time_, log_,
                                           *metrics_.registry, std::move(hooks));
  jetstream::StreamNeeds needs;
  needs.max_age = LogRetention::horizon_of(*rules_, config_.dedup_retention);
  needs.dedup_retention = config_.dedup_retention;
  return stream_->start(
      needs, [this] { finish_stream_start(); },
      [this](const std::string& why) {
        log_.error("cannot use the stream: {}", why);
        exit_code_ = 1;
        shutdown("the stream cannot be used");
      });
}

void Daemon::Impl::finish_stream_start() {
  if (stopping_) return;
  if (config_.consume.consumes_any()) return start_consuming();
  set_host(new_host(rules_));
  go_live(*host_, nullptr);
  advance_to_now();
  arm_resend_timer();
  ready_ = true;
  log_.info("publishing accepted events to the stream {}; ready", config_.log.stream);
  notify_systemd("READY=1\nSTATUS=ready");
  arm_engine_timer();
}

// The newest usable snapshot, then the consumed partitions from its stream position on, in event
// time until caught up (docs/scale-out.md). Ingest (when on) is ready at once; /-/ready waits
// for the consumer.
void Daemon::Impl::start_consuming() {
  if (!make_snapshotter()) {
    exit_code_ = 1;
    return shutdown("the snapshot directory cannot be used");
  }
  const std::vector<std::uint32_t> partitions = config_.consume.partitions(config_.log.partitions);
  if (!consumption_) {
    StreamConsumption::Hooks hooks;
    hooks.post = [this](std::function<void()> task) { net::post(io_, std::move(task)); };
    hooks.now = [this] { return clock_.now(); };
    hooks.applied = [this] { on_stream_applied(); };
    consumption_ = std::make_unique<StreamConsumption>(
        config_.log, partitions, config_.allowed_lateness, stream_->connection(), log_,
        *metrics_.registry, std::move(hooks));
  }
  StreamBounds bounds;
  std::string error;
  if (!consumption_->bounds(bounds, error)) {
    log_.warning("{}; trying again in 1 s", error);
    auto retry = std::make_shared<net::steady_timer>(io_, std::chrono::seconds(1));
    retry->async_wait([this, retry](boost::system::error_code failed) {
      if (!failed) finish_stream_start();
    });
    return;
  }
  StateRebuild::Inputs inputs;
  inputs.identity = rule_set_identity(*rules_, config_.dedup_retention, config_.max_shops);
  inputs.rules = rules_;
  inputs.new_host = [this](std::shared_ptr<const RuleSet> for_rules) {
    return new_host(std::move(for_rules));
  };
  inputs.logger = &log_;
  inputs.metrics = &metrics_;
  RebuildReport report;
  // Any older position is accepted: what the stream's max age removed after it is gone for
  // every consumer alike, and an older snapshot would miss more.
  StateRebuild::SnapshotChoice choice =
      StateRebuild::newest_snapshot(inputs, snapshots_->store(), 1, bounds.last + 1, report);
  storage::Sequence position = bounds.first;
  if (choice.host) {
    set_host(std::move(choice.host));
    unjournaled_ = std::move(choice.unlogged);
    position = choice.sequence;
    if (position < bounds.first) {
      log_.warning(
          "the stream no longer holds messages {} to {} after the snapshot {}: their events "
          "are missing from this daemon's state",
          position, bounds.first - 1, choice.path);
    }
  } else {
    set_host(new_host(rules_));
  }
  identity_ = inputs.identity;
  applied_end_ = position;
  snapshots_->restored(position, choice.host ? choice.sequence : 0);
  consumption_->start(*host_, position, bounds.last);
  go_live(*host_, nullptr);
  arm_resend_timer();
  arm_snapshot_timer();
  ready_ = true;
  log_.info(
      "{}consuming partitions {} of the stream {} from sequence {}{} ({} message(s) to "
      "catch up with); ready",
      config_.ingest ? "publishing accepted events and " : "", config_.consume.to_string(),
      config_.log.stream, position,
      choice.path.empty() ? std::string() : fmt::format(" (the snapshot {})", choice.path),
      bounds.last >= position ? bounds.last - position + 1 : 0);
  notify_systemd("READY=1\nSTATUS=ready");
  arm_engine_timer();
}

// A batch of the stream reached the engine: it may have new deadlines and alerts.
void Daemon::Impl::on_stream_applied() {
  if (stopping_) return;
  applied_end_ = consumption_->position();
  flush_alerts(false);
  engine_timer_.cancel();  // its handler does not re-arm when cancelled
  arm_engine_timer();
}

bool Daemon::Impl::bind(HttpServer& server, const ListenAddress& address, const char* name) {
  boost::system::error_code error;
  const std::string host = address.host == "localhost" ? "127.0.0.1" : address.host;
  const auto ip = net::ip::make_address(host, error);
  if (!error) error = server.listen(tcp::endpoint(ip, address.port));
  if (error) {
    log_.error("cannot listen for {} on {}: {}", name, address.to_string(), error.message());
    return false;
  }
  const tcp::endpoint bound = server.local_endpoint();
  const std::string shown = bound.address().is_v6()
                                ? fmt::format("[{}]:{}", bound.address().to_string(), bound.port())
                                : fmt::format("{}:{}", bound.address().to_string(), bound.port());
  log_.info("{} listening on {}", name, shown);
  if (std::string_view(name) == "admin") {
    admin_url_ = (server.tls() ? "https://" : "http://") + shown;
  }
  return true;
}

// Adapters name a platform of the rules loaded at start; a later reload that drops it makes
// their events unknown_platform (docs/adapters.md).
bool Daemon::Impl::start_adapters() {
  if (!config_.adapters || config_.adapters->empty()) return true;
  const auto problems = adapters::check_adapter_platforms(
      *config_.adapters,
      [this](std::string_view platform) { return rules_->find(platform) != nullptr; });
  for (const std::string& problem : problems) log_.error("{}", problem);
  if (!problems.empty()) return false;
  std::vector<std::string> names;
  for (const auto& adapter : config_.adapters->all()) {
    names.push_back(adapter.name);
    log_.info("adapter {} ({}, platform {}) at POST /v1/adapters/{}{}", adapter.name, adapter.kind,
              adapter.platform, adapter.name,
              adapter.insecure ? "; insecure: requests are not authenticated" : "");
  }
  metrics_.register_adapters(names);
  return true;
}

int Daemon::Impl::run() {
  started_at_ = time_.now();
  std::vector<std::string> problems = validate_config(config_);
  if (config_.ingest_secret_file) {
    std::string error;
    ingest_settings_.secret = adapters::read_secret_file(*config_.ingest_secret_file, error);
    if (!ingest_settings_.secret) problems.push_back(error);
  }
  ingest_settings_.max_future_skew = config_.max_future_skew;
  // Older events could no longer be recognised as retries (`too_old` in docs/events.md).
  ingest_settings_.max_event_age = config_.allowed_lateness + config_.dedup_retention;
  ingest_settings_.max_events_per_request = config_.max_events_per_request;
  ingest_settings_.adapters = config_.adapters;
  admin_settings_.allowed_hosts = config_.admin_hosts;
  if (!config_.admin_listen.host.empty()) {
    admin_settings_.allowed_hosts.push_back(config_.admin_listen.host);
  }
  for (const std::string& problem : problems) log_.error("{}", problem);
  if (!problems.empty() || !secure_listeners()) return 1;
  if (!is_loopback_host(config_.admin_listen.host) && !security_.admin_tls &&
      security_.admin_users.empty()) {
    log_.warning(
        "!!! admin_listen {} is not a loopback address and admin_insecure is set: anyone who can "
        "reach it can reload rules and read shop and conversation keys; the admin API has no "
        "TLS and no authentication. Put it behind a proxy that adds both, or listen on "
        "127.0.0.1 !!!",
        config_.admin_listen.to_string());
  }
  if (!config_.alertmanager.urls.empty()) {
    std::vector<AlertmanagerClient::Target> targets;
    for (const std::string& url : config_.alertmanager.urls) {
      AlertmanagerClient::Target target{url, *parse_http_url(url), {}};
      target.counters.sent = &metrics_.alerts_sent.Add({{"url", url}});
      target.counters.failed = &metrics_.alerts_failed.Add({{"url", url}});
      targets.push_back(std::move(target));
    }
    alertmanager_ = std::make_unique<AlertmanagerClient>(io_, std::move(targets),
                                                         metrics_.alerts_dropped, log_, time_);
    log_.info("conversation alerts go to {} Alertmanager(s)", config_.alertmanager.urls.size());
  }

  RuleLoadResult loaded = load_rule_directory(config_.rules);
  if (!loaded.ok()) {
    for (const RuleError& error : loaded.errors) log_.error("{}", error.to_string());
    log_.error("rules in {} have {} error(s); not starting", config_.rules, loaded.errors.size());
    return 1;
  }
  rules_ = std::make_shared<const RuleSet>(std::move(loaded.rules));
  metrics_.reload_successful.Set(1);
  metrics_.reload_timestamp.Set(to_seconds(time_.now().time_since_epoch()));
  log_.info("loaded {} rule file(s) from {}", rules_->platforms.size(), config_.rules);
  if (!start_adapters()) return 1;
  make_reloader();
  if (!(config_.log.jetstream() ? open_stream() : open_data_directory())) return 1;

  HttpLimits limits;
  limits.max_body_bytes = config_.max_body_bytes;
  limits.max_connections = config_.max_connections;
  limits.read_timeout = config_.read_timeout;
  limits.idle_timeout = config_.idle_timeout;
  limits.max_inflight_body_bytes = config_.max_inflight_body_bytes;
  HttpLimits admin_limits = limits;
  admin_limits.max_body_bytes =
      std::uint64_t{64} * 1024;  // the admin API takes no bodies worth the name
  admin_limits.max_connections = std::min(config_.max_connections, kAdminConnections);
  admin_limits.max_inflight_body_bytes = 0;
  limit_descriptors(limits, admin_limits);
  // At most a quarter of the admin connections serve console pages, so scrapes and the API
  // always have room (see ConsoleStreams).
  console_ = std::make_unique<ConsoleStreams>(
      io_, time_,
      ConsoleStreams::Hooks{[this]() -> const EngineHost* { return host_.get(); },
                            [this] { return clock_.now(); }},
      std::max<std::size_t>(1, std::min<std::size_t>(16, admin_limits.max_connections / 4)));
  ingest_ = std::make_unique<HttpServer>(
      io_,
      [this](HttpRequest request, Respond respond) {
        handle_ingest_request(std::move(request), ingest_settings_, ingest_backend_,
                              std::move(respond));
      },
      limits,
      [this](RefusalReason reason, const std::string& detail) {
        on_http_refusal(Listener::kIngest, reason, detail);
      },
      [this](const HttpRequest& header) {
        return check_ingest_header(header, ingest_settings_, ingest_backend_);
      });
  // Authentication comes before any route: whatever the admin listener serves is covered.
  AdminGate admin_gate(admin_auth_,
                       AdminGate::Counters{[this](LoginFailure failure) {
                                             metrics_.login_failed(failure).Increment();
                                           },
                                           [this](RefusalReason reason, std::string_view detail) {
                                             refuse(Listener::kAdmin, reason, detail, {});
                                           }},
                       [this](HttpRequest request, Respond respond) {
                         handle_admin_request(std::move(request), admin_backend_, admin_settings_,
                                              std::move(respond));
                       });
  admin_ = std::make_unique<HttpServer>(io_, std::move(admin_gate), admin_limits,
                                        [this](RefusalReason reason, const std::string& detail) {
                                          on_http_refusal(Listener::kAdmin, reason, detail);
                                        });
  if (security_.ingest_tls) ingest_->use_tls(security_.ingest_tls);
  if (security_.admin_tls) admin_->use_tls(security_.admin_tls);
  // `ingest: false` (a consume-only node of a stream) takes no webhooks at all.
  if ((config_.ingest && !bind(*ingest_, config_.ingest_listen, "ingest")) ||
      !bind(*admin_, config_.admin_listen, "admin")) {
    return 1;
  }
  if (config_.ingest) ingest_->start();
  admin_->start();
  wait_for_signal();

  if (!stream_ && !start_rebuild(rules_, "start")) return 1;

  for (;;) {
    try {
      io_.run();
      break;
    } catch (const std::exception& failure) {
      // Whatever threw is abandoned; every other connection and timer carries on.
      log_.error("internal error: {}", failure.what());
    }
  }
  if (snapshots_ && snapshots_->running()) snapshots_->wait();  // see finish_snapshot_for_stop
  if (exit_code_ == 0) log_.info("stopped");
  return exit_code_;
}

// Each connection holds a descriptor: the caps must fit the process's limit, or at the limit
// accept() fails and (before this check) the admin listener went deaf with the ingest one.
void Daemon::Impl::limit_descriptors(HttpLimits& ingest, HttpLimits& admin) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    const rlim_t old = limit.rlim_cur;
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) == 0) {
      log_.info("raised the open-file limit from {} to {}", old, limit.rlim_cur);
    } else {
      limit.rlim_cur = old;
    }
  }
  if (limit.rlim_cur == RLIM_INFINITY) return;
  const std::uint64_t available = limit.rlim_cur;
  const std::uint64_t wanted = ingest.max_connections + admin.max_connections + kSpareDescriptors;
  if (wanted <= available) return;
  if (available < kSpareDescriptors + 2) {
    log_.warning("only {} open files allowed; connections will be refused", available);
    ingest.max_connections = 1;
    admin.max_connections = 1;
    return;
  }
  const std::uint64_t for_connections = available - kSpareDescriptors;
  admin.max_connections = static_cast<std::uint32_t>(std::min<std::uint64_t>(
      admin.max_connections, std::max<std::uint64_t>(for_connections / 4, 1)));
  ingest.max_connections = static_cast<std::uint32_t>(
      std::min<std::uint64_t>(ingest.max_connections, for_connections - admin.max_connections));
  log_.warning(
      "the open-file limit ({}) is too low for max_connections {}: ingest takes at most {} and "
      "admin {} connection(s); raise LimitNOFILE to at least {}",
      available, config_.max_connections, ingest.max_connections, admin.max_connections, wanted);
}

void Daemon::Impl::make_reloader() {
  RuleReloader::Hooks hooks;
  const std::string directory = config_.rules;
  hooks.parse = [directory] {
    ParsedRules parsed;
    parsed.fingerprint = rule_directory_fingerprint(directory);
    parsed.loaded = load_rule_directory(directory);
    return parsed;
  };
  hooks.run_on_worker = [this](RuleReloader::Task task) {
    // One parse at a time (RuleReloader waits for the last): the previous thread has finished.
    if (worker_.joinable()) worker_.join();
    worker_ = std::thread(std::move(task));
  };
  hooks.post = [this](RuleReloader::Task task) { net::post(io_, std::move(task)); };
  hooks.start_rebuild = [this](std::shared_ptr<const RuleSet> rules, const std::string& trigger) {
    if (stopping_) return false;
    if (!start_rebuild(std::move(rules), trigger)) {
      metrics_.reload_successful.Set(0);
      return false;
    }
    notify_systemd("RELOADING=1");
    return true;
  };
  hooks.refused = [this](const std::vector<RuleError>& errors, const std::string& trigger) {
    for (const RuleError& error : errors) log_.error("{}", error.to_string());
    metrics_.reload_successful.Set(0);
    log_.error("reload ({}) refused: {} error(s); the old rules stay in force", trigger,
               errors.size());
  };
  hooks.unchanged = [this](const std::string& trigger) {
    metrics_.reload_successful.Set(1);
    metrics_.reload_timestamp.Set(to_seconds(time_.now().time_since_epoch()));
    log_.info("reload ({}): rule files unchanged; nothing to rebuild", trigger);
  };
  reloader_.emplace(std::move(hooks), rule_directory_fingerprint(directory));
}

bool Daemon::Impl::start_rebuild(std::shared_ptr<const RuleSet> rules, std::string trigger) {
  const bool restore = trigger == "start";
  if (!make_snapshotter()) return false;
  StateRebuild::Inputs inputs;
  inputs.identity = rule_set_identity(*rules, config_.dedup_retention, config_.max_shops);
  inputs.rules = std::move(rules);
  inputs.new_host = [this](std::shared_ptr<const RuleSet> for_rules) {
    return new_host(std::move(for_rules));
  };
  inputs.log = event_log_.get();
  inputs.read_options.now = clock_.now();
  inputs.read_options.max_future_skew = config_.max_future_skew;
  inputs.read_options.repair = config_.journal_repair;
  inputs.logger = &log_;
  inputs.metrics = &metrics_;
  storage::LogError read_error;
  // Refused when the log is no longer at its path: never rebuild from another one.
  rebuild_ = restore ? StateRebuild::restore(std::move(inputs), snapshots_->store(), read_error)
                     : StateRebuild::reload(std::move(inputs), read_error);
  if (!rebuild_) {
    log_.error("cannot read the event log {}: {}", log_path_, read_error.message);
    return false;
  }
  rebuild_trigger_ = std::move(trigger);
  rebuild_started_ = time_.steady_now();
  net::post(io_, [this, expected = rebuild_.get()] { rebuild_step(expected); });
  return true;
}

bool Daemon::Impl::make_snapshotter() {
  if (snapshots_) return true;
  SnapshotStore store((std::filesystem::path(config_.data) / "snapshots").string());
  if (const std::error_code error = store.prepare()) {
    log_.error("cannot create the snapshot directory {}: {}", store.directory(), error.message());
    return false;
  }
  SnapshotSchedule schedule;
  schedule.every_events = config_.snapshot_every_events;
  schedule.interval = config_.snapshot_interval;
  schedule.kept = config_.snapshots_kept;
  snapshots_.emplace(std::move(store), schedule, time_, log_, &metrics_);
  return true;
}

void Daemon::Impl::rebuild_step(const StateRebuild* expected) {
  if (stopping_ || rebuild_.get() != expected) return;  // superseded by a newer reload
  // Records appended meanwhile are read too, up to those already applied to the live host:
  // the rest reach the new host through their completions, after the swap, which happens in
  // the same turn as the last read.
  switch (rebuild_->step(kRestoreLinesPerTurn, applied_end_)) {
    case StateRebuild::Progress::kMore:
      net::post(io_, [this, expected] { rebuild_step(expected); });
      return;
    case StateRebuild::Progress::kDone:
      if (rebuild_trigger_ == "start") {
        finish_restore();
      } else {
        finish_reload();
      }
      return;
    case StateRebuild::Progress::kFailed:
      break;
  }
  log_.error("reading the event log failed: {}", rebuild_->error().message);
  if (rebuild_trigger_ == "start") {
    exit_code_ = 1;
    shutdown("event log unreadable");
    return;
  }
  metrics_.reload_successful.Set(0);
  log_.error("reload ({}) abandoned; the old rules stay in force", rebuild_trigger_);
  rebuild_.reset();
  notify_systemd("READY=1");
  reloader_->rebuild_finished(false);
}

void Daemon::Impl::finish_restore() {
  const RebuildReport report = rebuild_->report();
  if (report.damaged_records > 0) {
    log_.warning("skipped {} damaged record(s) of the event log (--journal-repair)",
                 report.damaged_records);
    metrics_.log_skipped.Increment(static_cast<double>(report.damaged_records));
  }
  const double seconds = to_seconds(time_.steady_now() - rebuild_started_);
  set_host(rebuild_->take_host());
  unjournaled_ = rebuild_->take_unlogged();
  identity_ = rule_set_identity(*rules_, config_.dedup_retention, config_.max_shops);
  rebuild_.reset();
  snapshots_->restored(applied_end_, report.snapshot_sequence);
  retention_.emplace(LogRetention::horizon_of(*rules_, config_.dedup_retention));
  retention_waits_for_ = report.snapshot_path.empty() ? applied_end_ : 0;
  metrics_.restore_duration.Set(seconds);
  metrics_.restore_records.Set(static_cast<double>(report.records));
  go_live(*host_, nullptr);
  advance_to_now();
  arm_resend_timer();
  arm_fsync_timer();
  arm_snapshot_timer();
  ready_ = true;
  log_.info("restored {} journal record(s){} in {:.3f} s ({} skipped); ready", report.records,
            report.snapshot_path.empty()
                ? std::string()
                : fmt::format(" after the snapshot {} (records before {})", report.snapshot_path,
                              report.snapshot_sequence),
            seconds, report.skipped);
  notify_systemd("READY=1\nSTATUS=ready");
  arm_engine_timer();
}

void Daemon::Impl::finish_reload() {
  std::unique_ptr<EngineHost> rebuilt = rebuild_->take_host();
  const std::shared_ptr<const RuleSet> rules = rebuild_->rules();
  // Unchanged SLAs keep what the old host counted, also what retention took from the log;
  // the duplicates never logged are in the old host's counts too (docs/storage.md, "Reload").
  const std::vector<CarriedSla> carried = unchanged_slas(*rules_, *rules);
  rebuilt->carry_from(*host_, carried);
  rules_ = rules;
  identity_ = rule_set_identity(*rules_, config_.dedup_retention, config_.max_shops);
  retention_->set_horizon(LogRetention::horizon_of(*rules_, config_.dedup_retention));
  retention_waits_for_ = applied_end_;
  reloaded_ = true;
  go_live(*rebuilt, host_.get());
  set_host(std::move(rebuilt));
  advance_to_now();
  metrics_.reload_successful.Set(1);
  metrics_.reload_timestamp.Set(to_seconds(time_.now().time_since_epoch()));
  const RebuildReport report = rebuild_->report();
  log_.info(
      "reloaded {} rule file(s) ({}); {} SLA(s) unchanged kept their state, the others were "
      "derived from {} log record(s) ({} skipped) in {:.3f} s",
      rules_->platforms.size(), rebuild_trigger_, carried.size(), report.records, report.skipped,
      to_seconds(time_.steady_now() - rebuild_started_));
  rebuild_.reset();
  // The snapshots on disk hold the old rules' state: take one of the new at once, so that a
  // restart does not fall back to the log (of which retention may have deleted the start).
  // One being written now holds the old rules' state: the timer starts ours after it.
  without_claims(
      [&] { snapshot_owed_ = !snapshots_->start(*host_, identity_, unjournaled_, applied_end_); });
  notify_systemd("READY=1");
  arm_engine_timer();
  reloader_->rebuild_finished(true);
}

// Reaps a finished snapshot and starts the next one when it is due. A snapshot covers the
// records applied to the host (applied_end_); those still being written reach it later and are
// read from the log after the snapshot on a restart.
void Daemon::Impl::arm_snapshot_timer() {
  if (stopping_ || !snapshots_) return;
  snapshot_timer_.expires_after(std::chrono::seconds(1));
  snapshot_timer_.async_wait([this](boost::system::error_code error) {
    if (error) return;
    try {
      snapshots_->poll();
      if (host_ && !rebuild_ && snapshot_owed_) {
        without_claims([&] {
          snapshot_owed_ = !snapshots_->start(*host_, identity_, unjournaled_, applied_end_);
        });
      } else if (host_ && !rebuild_) {
        without_claims(
            [&] { snapshots_->maybe_start(*host_, identity_, unjournaled_, applied_end_); });
      }
      retain_log();
    } catch (const std::exception& failure) {
      log_.error("internal error while taking a snapshot: {}", failure.what());
    }
    arm_snapshot_timer();
  });
}

// Deletes the log's segments that neither a reload nor a restart can need any more
// (docs/storage.md, "Retention"). Never while a rebuild reads the log: it may be on them.
void Daemon::Impl::retain_log() {
  if (!host_ || rebuild_ || !retention_) return;
  const Instant watermark = host_->engine().watermark();
  retention_->note(applied_end_, watermark);
  const storage::Sequence by_time = retention_->first_needed(watermark, applied_end_);
  if (by_time <= event_log_->first_sequence()) return;
  std::error_code error;
  const std::vector<SnapshotFile> kept = snapshots_->store().list(error);
  if (error || kept.empty()) return;
  storage::Sequence oldest = kept.front().sequence;
  storage::Sequence newest = kept.front().sequence;
  for (const SnapshotFile& file : kept) {
    oldest = std::min(oldest, file.sequence);
    newest = std::max(newest, file.sequence);
  }
  if (newest < retention_waits_for_) return;
  const storage::Sequence first = retention_->first_needed(watermark, oldest);
  if (first > event_log_->first_sequence()) event_log_->retain_from(first);
}

void Daemon::Impl::advance_to_now() {
  // Held while requests are being made durable: their completions advance the engine to their
  // recorded watermarks first (see commit).
  if (!host_ || pending_commits_ > 0) return;
  const Instant now = clock_.now();
  metrics_.clock_suspect.Set(clock_.suspect() ? 1 : 0);
  if (consumption_) {
    consumption_->tick(now);  // the wall clock's watermark once caught up, event time before
  } else {
    host_->engine().advance(now - config_.allowed_lateness);
  }
  flush_alerts(false);
}

// A rebuilt host knows the history of every alert; only the difference from what the host it
// replaces had told Alertmanager goes out (nothing but the active ones on start).
void Daemon::Impl::go_live(EngineHost& host, EngineHost* previous) {
  if (host.alerts() == nullptr) return;
  host.alerts()->go_live(previous != nullptr ? previous->alerts() : nullptr, time_.now());
}

void Daemon::Impl::flush_alerts(bool resend) {
  if (!alertmanager_ || !host_ || host_->alerts() == nullptr || stopping_) return;
  AlertNotifier& alerts = *host_->alerts();
  alertmanager_->send(alerts.collect(time_.now(), resend));
  if (const std::uint64_t dropped = alerts.take_dropped(); dropped > 0) {
    metrics_.alerts_dropped.Increment(static_cast<double>(dropped));
  }
}

void Daemon::Impl::arm_resend_timer() {
  if (!alertmanager_ || stopping_) return;
  resend_timer_.expires_after(std::min(config_.alertmanager.resend_interval, kMaxResendCheck));
  resend_timer_.async_wait([this](boost::system::error_code error) {
    if (error) return;
    try {
      advance_to_now();
      flush_alerts(true);
    } catch (const std::exception& failure) {
      log_.error("internal error while re-sending alerts: {}", failure.what());
    }
    arm_resend_timer();
  });
}

void Daemon::Impl::arm_engine_timer() {
  // While requests are being made durable the engine is held (advance_to_now); the last
  // completion re-arms. Arming now would only spin on a timer already due.
  if (!host_ || stopping_ || pending_commits_ > 0) return;
  const auto next = host_->engine().next_due();
  // The engine applies what lies strictly before its watermark (now - lateness), so the
  // watermark must pass `next` by a millisecond.
  Duration wait = kMaxTimerWait;
  if (next) {
    wait = std::clamp(*next + config_.allowed_lateness + Duration(1) - clock_.now(), Duration(0),
                      kMaxTimerWait);
  }
  engine_timer_.expires_after(wait);
  engine_timer_.async_wait([this](boost::system::error_code error) {
    if (error) return;  // cancelled: re-armed by whoever cancelled it
    try {
      advance_to_now();
    } catch (const std::exception& failure) {
      log_.error("internal error while advancing the engine: {}", failure.what());
    }
    arm_engine_timer();
  });
}

// One request between its append to the log and the completion that answers it.
struct Daemon::Impl::PendingCommit {
  enum class Kind : std::uint8_t { kRefused, kWritten, kDuplicate };
  std::vector<Event> events;
  std::vector<Kind> kinds;
  std::vector<EventKey> keys;
  std::vector<std::size_t> newly_admitted;
  const EngineHost* host = nullptr;  // the host the keys, claims and admissions belong to
  Instant watermark{};
  std::size_t written = 0;
  IngestCommit result;
  std::function<void(IngestCommit)> done;
};

// Validate, then per event one dedup probe-and-insert (Engine::claim: a copy arriving while
// the first is being written is a duplicate), append to the log; the completion (on_durable)
// offers to the engine and answers. Nothing is offered before it is durable, and the engine
// does not move past this request's watermark until then.
void Daemon::Impl::commit(std::vector<Event> events, std::function<void(IngestCommit)> done) {
  if (stream_) return stream_->commit(std::move(events), std::move(done));
  advance_to_now();
  Engine& engine = host_->engine();
  ShopAdmission& shops = host_->shops();
  auto pending = std::make_shared<PendingCommit>();
  PendingCommit& p = *pending;
  p.events = std::move(events);
  p.done = std::move(done);
  p.host = host_.get();
  p.kinds.resize(p.events.size(), PendingCommit::Kind::kRefused);
  p.keys.resize(p.events.size());
  // Never behind what an earlier request recorded, nor behind the engine: replay advances to
  // each recorded watermark in log order, as the completions do here.
  p.watermark = std::max(
      {clock_.now() - config_.allowed_lateness, last_recorded_watermark_, engine.watermark()});
  last_recorded_watermark_ = p.watermark;
  std::vector<const Event*> to_write;
  to_write.reserve(p.events.size());
  for (std::size_t i = 0; i < p.events.size(); ++i) {
    const Event& event = p.events[i];
    // Validation before dedup: an event of a refused shop is never a duplicate.
    const auto verdict = shops.admit(event.platform, event.shop);
    if (verdict == ShopAdmission::Verdict::kRefused) {
      p.result.rejected.emplace_back(i, RejectReason::kTooManyShops);
      continue;
    }
    if (verdict == ShopAdmission::Verdict::kAdmitted) p.newly_admitted.push_back(i);
    p.keys[i] = engine.key_of(event);
    // Present: accepted before, or being written by this or an earlier request.
    if (engine.claim(p.keys[i], event.ts, p.watermark)) {
      p.kinds[i] = PendingCommit::Kind::kDuplicate;
    } else {
      p.kinds[i] = PendingCommit::Kind::kWritten;
      to_write.push_back(&event);
    }
  }
  p.written = to_write.size();
  ++pending_commits_;
  in_flight_.push_back(&p);
  // An empty batch too: it completes after every earlier one, so a copy of an event still in
  // flight is answered only once that event is durable. The records are encoded on the writer
  // thread; p.events stays untouched until the completion.
  event_log_->append_unencoded(p.watermark, std::move(to_write),
                               [this, pending](storage::AppendOutcome outcome) {
                                 bool first = false;
                                 {
                                   std::lock_guard lock(durable_mutex_);
                                   first = durable_.empty();
                                   durable_.emplace_back(pending, std::move(outcome));
                                 }
                                 // One wake-up of the event loop per synced group, not one per
                                 // request.
                                 if (first) net::post(io_, [this] { drain_durable(); });
                               });
}

void Daemon::Impl::drain_durable() {
  std::vector<std::pair<std::shared_ptr<PendingCommit>, storage::AppendOutcome>> completed;
  {
    std::lock_guard lock(durable_mutex_);
    completed.swap(durable_);
  }
  for (auto& [pending, outcome] : completed) on_durable(*pending, outcome);
  if (pending_commits_ == 0) advance_to_now();
  arm_engine_timer();
  flush_alerts(false);
}

void Daemon::Impl::on_durable(PendingCommit& p, const storage::AppendOutcome& outcome) {
  --pending_commits_;
  if (!in_flight_.empty() && in_flight_.front() == &p) in_flight_.pop_front();
  const bool same_host = p.host == host_.get();
  if (outcome.error) {
    if (same_host) {
      Engine& engine = host_->engine();
      for (std::size_t i = 0; i < p.events.size(); ++i) {
        if (p.kinds[i] == PendingCommit::Kind::kWritten) engine.release(p.keys[i]);
      }
      for (const std::size_t i : p.newly_admitted) {
        host_->shops().forget(p.events[i].platform, p.events[i].shop);
      }
    }
    refuse(Listener::kIngest, RefusalReason::kNotDurable, outcome.error.message, {});
    return p.done(IngestCommit{});
  }
  applied_end_ = outcome.first + outcome.count;
  EngineHost& host = *host_;
  Engine& engine = host.engine();
  // A reload swapped the host meanwhile: keys, claims and admissions are the new host's
  // business.
  auto usable = [&](std::size_t i) {
    if (same_host) return true;
    if (host.rules().find(p.events[i].platform) == nullptr) return false;
    if (host.shops().admit(p.events[i].platform, p.events[i].shop) ==
        ShopAdmission::Verdict::kRefused) {
      return false;
    }
    p.keys[i] = engine.key_of(p.events[i]);
    return true;
  };
  if (p.written > 0) engine.advance(p.watermark);
  IngestCommit result = std::move(p.result);
  result.durable = true;
  for (std::size_t i = 0; i < p.events.size(); ++i) {
    if (p.kinds[i] != PendingCommit::Kind::kWritten || !usable(i)) continue;
    if (same_host) {
      host.offer_claimed(std::move(p.events[i]));
    } else {
      host.offer(std::move(p.events[i]), p.keys[i]);
    }
    ++result.accepted;
  }
  for (std::size_t i = 0; i < p.events.size(); ++i) {
    if (p.kinds[i] != PendingCommit::Kind::kDuplicate || !usable(i)) continue;
    if (!engine.is_duplicate(p.keys[i])) {
      // The first copy's write failed (its claim was released): this one is not durable
      // either. What this request wrote is applied; the client retries the whole request and
      // gets duplicates for it.
      result.durable = false;
      continue;
    }
    const std::string platform = p.events[i].platform;
    const auto type = static_cast<std::size_t>(p.events[i].type);
    host.offer(std::move(p.events[i]), p.keys[i]);
    ++result.duplicates;
    PlatformEventCounts& counts = unjournaled_[platform];
    ++counts.received[type];
    ++counts.duplicates;
  }
  if (!result.durable) {
    refuse(Listener::kIngest, RefusalReason::kNotDurable,
           "a copy of an event whose first copy could not be made durable", {});
    return p.done(IngestCommit{});
  }
  p.done(std::move(result));
}

// The claims of requests still being written are not state yet: a snapshot taken with them would
// make a restart take those events for duplicates when it reads them from the log after the
// snapshot. They are set aside for `step` (the fork of a snapshot) and put back after it.
template <typename Step>
void Daemon::Impl::without_claims(Step step) {
  Engine& engine = host_->engine();
  auto for_each_claim = [&](auto&& apply) {
    for (PendingCommit* p : in_flight_) {
      if (p->host != host_.get()) continue;
      for (std::size_t i = 0; i < p->events.size(); ++i) {
        if (p->kinds[i] == PendingCommit::Kind::kWritten) apply(*p, i);
      }
    }
  };
  for_each_claim([&](PendingCommit& p, std::size_t i) { engine.release(p.keys[i]); });
  step();
  for_each_claim([&](PendingCommit& p, std::size_t i) {
    engine.claim(p.keys[i], p.events[i].ts, p.watermark);
  });
}

void Daemon::Impl::arm_fsync_timer() {
  if (config_.fsync != FsyncMode::kInterval || stopping_) return;
  fsync_timer_.expires_after(config_.fsync_interval);
  fsync_timer_.async_wait([this](boost::system::error_code error) {
    if (error) return;
    event_log_->flush();
    arm_fsync_timer();
  });
}

void Daemon::Impl::update_log_metrics() {
  if (!event_log_) return;
  const storage::LogStats now = event_log_->stats();
  storage::LogStats& was = reported_log_stats_;
  metrics_.log_size.Set(static_cast<double>(now.size_bytes));
  metrics_.log_segments.Set(static_cast<double>(now.segments));
  metrics_.log_syncs.Increment(static_cast<double>(now.syncs - was.syncs));
  metrics_.log_write_errors.Increment(static_cast<double>(now.write_errors - was.write_errors));
  metrics_.log_torn_tails.Increment(static_cast<double>(now.torn_tails - was.torn_tails));
  metrics_.log_torn_bytes.Increment(static_cast<double>(now.torn_bytes - was.torn_bytes));
  was = now;
}

// What a scrape reports: the daemon's own figures now, the engine's a slice per turn after.
std::unique_ptr<MetricsCopy> Daemon::Impl::start_metrics_copy() {
  advance_to_now();
  update_log_metrics();
  if (host_) {
    for (std::size_t p = 0; p < host_->rules().platforms.size(); ++p) {
      metrics_.shops.Add({{"platform", host_->rules().platforms[p].platform}})
          .Set(static_cast<double>(host_->shops().admitted(static_cast<std::uint32_t>(p))));
    }
  }
  return std::make_unique<MetricsCopy>(
      metrics_.registry->Collect(), to_seconds(started_at_.time_since_epoch()),
      [this] {
        return std::pair<const EngineHost*, std::uint64_t>{host_.get(), host_generation_};
      },
      time_);
}

std::string Daemon::Impl::metrics_text() {
  const std::unique_ptr<MetricsCopy> copy = start_metrics_copy();
  while (!copy->step()) {
  }
  return copy->render();
}

void Daemon::Impl::metrics(bool gzip, std::function<void(MetricsBody)> done) {
  scrapes_.request(gzip, std::move(done));
}

std::optional<boost::json::object> Daemon::Impl::at_risk(const AtRiskQuery& query) {
  if (!host_) return std::nullopt;
  advance_to_now();
  return at_risk_report(*host_, clock_.now(), query);
}

std::optional<boost::json::object> Daemon::Impl::console(const ConsoleFilter& filter) {
  if (!host_) return std::nullopt;
  advance_to_now();
  const std::array<ConsoleFilter, 1> filters{filter};
  return boost::json::object{{"queue", std::move(console_queues(*host_, clock_.now(), filters)[0])},
                             {"shops", std::move(console_shops(*host_, filters)[0])},
                             {"choices", console_choices(*host_)}};
}

void Daemon::Impl::console_stream(const ConsoleFilter& filter, const Respond& respond) {
  if (!console_ || console_->full() || stopping_) {
    refuse(Listener::kAdmin, RefusalReason::kStreamCap, "console streams", {});
    HttpResponse busy{boost::beast::http::status::service_unavailable, 11};
    busy.set(boost::beast::http::field::retry_after, "5");
    busy.set(boost::beast::http::field::content_type, "text/plain; charset=utf-8");
    busy.body() = "too many console pages open; retry shortly\n";
    return respond(std::move(busy));
  }
  HttpResponse header{boost::beast::http::status::ok, 11};
  header.set(boost::beast::http::field::content_type, "text/event-stream; charset=utf-8");
  header.set(boost::beast::http::field::cache_control, "no-store");
  header.set("X-Accel-Buffering", "no");  // a proxy in front must not hold events back
  if (auto stream = respond.stream(std::move(header))) console_->add(std::move(stream), filter);
}

// The web config files: TLS for either listener, Basic authentication for admin.
bool Daemon::Impl::secure_listeners() {
  const std::vector<std::string> problems = load_listener_security(config_, security_);
  for (const std::string& problem : problems) log_.error("{}", problem);
  if (!problems.empty()) return false;
  if (!security_.admin_users.empty()) {
    admin_auth_ = std::make_shared<BasicAuthenticator>(
        security_.admin_users,
        [this](std::function<void()> task) { net::post(io_, std::move(task)); });
  }
  log_.info("{}", security_.describe_admin());
  log_.info("{}", security_.describe_ingest());
  return true;
}

void Daemon::Impl::reload(std::string trigger, std::function<void(ReloadOutcome)> done) {
  if (!ready_ || stopping_) {
    ReloadOutcome outcome;
    outcome.errors.emplace_back(stopping_ ? "shutting down" : "still restoring state");
    log_.warning("reload ({}) refused: {}", trigger, outcome.errors.back());
    return done(outcome);
  }
  if (stream_) {
    ReloadOutcome outcome;
    outcome.errors.emplace_back(
        "reloading rules with log.kind jetstream is not supported by this build; restart the "
        "daemon");
    log_.warning("reload ({}) refused: {}", trigger, outcome.errors.back());
    return done(outcome);
  }
  log_.info("reloading rules from {} ({})", config_.rules, trigger);
  reloader_->request(std::move(trigger), std::move(done));
}

void Daemon::Impl::wait_for_signal() {
  signals_.async_wait([this](boost::system::error_code error, int signal) {
    if (error) return;
    // Listening again comes first, so a reload that throws cannot leave SIGTERM unheard.
    wait_for_signal();
    if (signal == SIGHUP) {
      reload("SIGHUP", [](const ReloadOutcome&) {});
    } else {
      shutdown(signal == SIGTERM ? "SIGTERM" : "SIGINT");
    }
  });
}

void Daemon::Impl::shutdown(const char* why) {
  if (stopping_) {
    log_.warning("{} again: stopping now", why);
    if (snapshots_) snapshots_->cancel();
    io_.stop();
    return;
  }
  stopping_ = true;
  log_.info("{}: stopping; finishing requests in flight", why);
  notify_systemd("STOPPING=1");
  if (console_) console_->stop();
  if (consumption_) consumption_->stop();
  ingest_->stop();
  admin_->stop();
  engine_timer_.cancel();
  resend_timer_.cancel();
  snapshot_timer_.cancel();
  if (snapshots_) finish_snapshot_for_stop();
  fsync_timer_.cancel();
  if (event_log_) event_log_->flush();
  if (alertmanager_) alertmanager_->stop();
  shutdown_timer_.expires_after(kShutdownGrace);
  shutdown_timer_.async_wait([this](boost::system::error_code error) {
    if (error) return;
    log_.warning("requests still in flight after {} ms; closing them",
                 std::chrono::duration_cast<std::chrono::milliseconds>(kShutdownGrace).count());
    io_.stop();
  });
  poll_shutdown();
}

// After a reload, the snapshots on disk hold the old rules' state, which a restart cannot use,
// and retention may have deleted the log's start: a restart would lose the unchanged SLAs'
// counters. So a stop waits for the reload's snapshot (starting it if it could not start yet);
// any other snapshot being written is ended, the previous ones cover the log.
void Daemon::Impl::finish_snapshot_for_stop() {
  const bool owed =
      reloaded_ && host_ && !rebuild_ && snapshots_->newest_sequence() < retention_waits_for_;
  if (!owed) {
    snapshots_->cancel();
    return;
  }
  if (!snapshots_->running()) {
    without_claims([&] { snapshots_->start(*host_, identity_, unjournaled_, applied_end_); });
  }
  if (snapshots_->running()) log_.info("stopping once the reload's snapshot is written");
}

void Daemon::Impl::poll_shutdown() {
  if (ingest_->open_connections() + admin_->open_connections() == 0) {
    io_.stop();
    return;
  }
  shutdown_poll_.expires_after(kShutdownPoll);
  shutdown_poll_.async_wait([this](boost::system::error_code error) {
    if (!error) poll_shutdown();
  });
}

void Daemon::Impl::refuse(Listener listener, RefusalReason reason, std::string_view detail,
                          const std::string& peer) {
  const auto l = static_cast<std::size_t>(listener);
  metrics_.refused(listener, reason).Increment();
  std::uint64_t suppressed = 0;
  if (!refusal_logs_[l].limiter.allow(time_.now(), suppressed)) return;
  log_.warning(
      "{}: refused a request{}{}: {} ({}){}", kListenerNames[l], peer.empty() ? "" : " from ", peer,
      refusal_label(reason), detail,
      suppressed == 0 ? std::string() : fmt::format("; {} more refusal(s) not logged", suppressed));
}

void Daemon::Impl::on_http_refusal(Listener listener, RefusalReason reason,
                                   const std::string& detail) {
  if (reason == RefusalReason::kInternalError) {
    metrics_.refused(listener, reason).Increment();
    log_.error("{}: internal error while handling a request: {}",
               kListenerNames[static_cast<std::size_t>(listener)], detail);
    return;
  }
  refuse(listener, reason, refusal_text(reason), detail);
}

Daemon::Daemon(DaemonConfig config, const TimeSource& time, const Logger& log)
    : impl_(std::make_unique<Impl>(std::move(config), time, log)) {}

Daemon::~Daemon() = default;

int Daemon::run() { return impl_->run(); }

}  // namespace replywatch::server
