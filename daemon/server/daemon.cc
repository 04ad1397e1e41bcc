#include "daemon.h"

#include <fcntl.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
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
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "admin_handler.h"
#include "alertmanager_client.h"
#include "engine_host.h"
#include "engine_metrics.h"
#include "event_clock.h"
#include "gzip.h"
#include "http_server.h"
#include "ingest_handler.h"
#include "journal.h"
#include "process_metrics.h"
#include "refusal_reason.h"
#include "replywatch/event_codec.h"
#include "replywatch/rule_loader.h"
#include "rule_reloader.h"

#ifndef REPLYWATCH_VERSION
#define REPLYWATCH_VERSION "unknown"
#endif
#ifndef REPLYWATCH_REVISION
#define REPLYWATCH_REVISION "unknown"
#endif

namespace replywatch::server {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// Journal lines applied per turn of the event loop while restoring, so /-/healthy and
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

// Descriptors kept free of the listeners' caps: journal, lock, epoll, signals, rule files.
constexpr std::uint64_t kSpareDescriptors = 64;
// The admin listener's own connection cap: a few scrapers and operators, never starved by
// ingest connections.
constexpr std::uint32_t kAdminConnections = 64;

enum class Listener : std::uint8_t { kIngest, kAdmin };
constexpr std::array<const char*, 2> kListenerNames = {"ingest", "admin"};

std::optional<std::string> read_secret(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = fmt::format("cannot read the ingest secret file {}", path);
    return std::nullopt;
  }
  std::string secret((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!secret.empty() && std::isspace(static_cast<unsigned char>(secret.back())) != 0) {
    secret.pop_back();
  }
  if (secret.empty()) {
    error = fmt::format("the ingest secret file {} is empty", path);
    return std::nullopt;
  }
  return secret;
}

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
        registry_(std::make_shared<prometheus::Registry>()),
        rejected_(prometheus::BuildCounter()
                      .Name("replywatch_events_rejected_total")
                      .Help("Events rejected as invalid, by reason.")
                      .Register(*registry_)),
        refused_(prometheus::BuildCounter()
                     .Name("replywatch_http_requests_refused_total")
                     .Help("Requests refused as a whole (no event taken), by listener and "
                           "reason.")
                     .Register(*registry_)),
        reload_successful_(prometheus::BuildGauge()
                               .Name("replywatch_rules_last_reload_successful")
                               .Help("1 if the last rule (re)load succeeded.")
                               .Register(*registry_)
                               .Add({})),
        reload_timestamp_(prometheus::BuildGauge()
                              .Name("replywatch_rules_last_reload_success_timestamp_seconds")
                              .Help("When the rules were last loaded successfully.")
                              .Register(*registry_)
                              .Add({})),
        shops_(prometheus::BuildGauge()
                   .Name("replywatch_shops")
                   .Help("Shops admitted per platform (see max_shops and the rule file's shops).")
                   .Register(*registry_)),
        clock_suspect_(prometheus::BuildGauge()
                           .Name("replywatch_clock_suspect")
                           .Help("1 while the wall clock disagrees with elapsed time and the "
                                 "disagreement is not yet believed.")
                           .Register(*registry_)
                           .Add({})),
        alerts_sent_(prometheus::BuildCounter()
                         .Name("replywatch_alertmanager_notifications_total")
                         .Help("Conversation alerts accepted by an Alertmanager, by URL.")
                         .Register(*registry_)),
        alerts_failed_(prometheus::BuildCounter()
                           .Name("replywatch_alertmanager_notifications_failed_total")
                           .Help("Conversation alerts in failed attempts to post them to an "
                                 "Alertmanager, by URL.")
                           .Register(*registry_)),
        alerts_dropped_(prometheus::BuildCounter()
                            .Name("replywatch_alertmanager_notifications_dropped_total")
                            .Help("Conversation alerts dropped because a queue was full.")
                            .Register(*registry_)
                            .Add({})) {
    prometheus::BuildGauge()
        .Name("replywatch_shops_limit")
        .Help("max_shops: admitted shops per platform without an allow-list (0: no limit).")
        .Register(*registry_)
        .Add({})
        .Set(config_.max_shops);
    prometheus::BuildGauge()
        .Name("replywatch_build_info")
        .Help("A metric with a constant 1 labelled with the version and revision.")
        .Register(*registry_)
        .Add({{"version", REPLYWATCH_VERSION}, {"revision", REPLYWATCH_REVISION}})
        .Set(1);
    for (int r = 0; r < kRejectReasonCount; ++r) {
      rejected_counters_[r] = &rejected_.Add(
          {{"reason", std::string(reject_reason_name(static_cast<RejectReason>(r)))}});
    }
    for (std::size_t l = 0; l < kListenerNames.size(); ++l) {
      for (std::size_t r = 0; r < kRefusalReasonCount; ++r) {
        refused_counters_[l][r] =
            &refused_.Add({{"listener", kListenerNames[l]},
                           {"reason", std::string(refusal_label(static_cast<RefusalReason>(r)))}});
      }
    }
  }
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
    IngestCommit commit(std::vector<Event>& events) override { return impl_.commit(events); }
    void count_rejected_event(RejectReason reason) override {
      impl_.rejected_counters_[static_cast<std::size_t>(reason)]->Increment();
    }
    void count_refused_request(RefusalReason reason, std::string_view detail) override {
      impl_.refuse(Listener::kIngest, reason, detail, {});
    }
    void defer(std::function<void()> step) override { net::post(impl_.io_, std::move(step)); }

   private:
    Impl& impl_;
  };

  class AdminAdapter final : public AdminBackend {
   public:
    explicit AdminAdapter(Impl& impl) : impl_(impl) {}
    bool ready() const override { return impl_.ready_; }
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

   private:
    Impl& impl_;
  };

  IngestCommit commit(std::vector<Event>& events);
  std::string metrics_text();
  struct MetricsCopy;
  MetricsCopy copy_metrics();
  static std::string render_metrics(const MetricsCopy& copy);
  void metrics(bool gzip, std::function<void(MetricsBody)> done);
  void reload(std::string trigger, std::function<void(ReloadOutcome)> done);
  std::optional<boost::json::object> at_risk(const AtRiskQuery& query);
  void make_reloader();
  void limit_descriptors(HttpLimits& ingest, HttpLimits& admin);
  bool open_data_directory();
  bool bind(HttpServer& server, const ListenAddress& address, const char* name);
  void wait_for_signal();
  struct Rebuild;
  bool start_rebuild(std::shared_ptr<const RuleSet> rules, std::string trigger);
  void rebuild_step(const Rebuild* expected);
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

  DaemonConfig config_;
  const TimeSource& time_;
  // Event time; mutable because reading it may settle a clock step.
  mutable EventClock clock_;
  const Logger& log_;
  net::io_context io_{1};
  // Writes and compresses /metrics answers off the event loop (see metrics()). Declared after
  // io_, so it is joined before io_ goes: a scrape in progress still posts its answer there.
  net::thread_pool metrics_worker_{1};
  net::signal_set signals_;
  net::steady_timer engine_timer_;
  net::steady_timer shutdown_timer_;
  net::steady_timer shutdown_poll_;
  net::steady_timer resend_timer_;
  std::unique_ptr<HttpServer> ingest_;
  std::unique_ptr<HttpServer> admin_;
  IngestSettings ingest_settings_;
  AdminSettings admin_settings_;
  IngestAdapter ingest_backend_{*this};
  AdminAdapter admin_backend_{*this};
  std::optional<RuleReloader> reloader_;
  std::thread worker_;     // parses rule files for reloads
  std::string admin_url_;  // http://the bound admin address, for links without external_url

  std::shared_ptr<const RuleSet> rules_;
  std::unique_ptr<EngineHost> host_;
  std::string journal_path_;
  int lock_fd_ = -1;
  JournalWriter journal_;

  // A new host being built from the journal, a bounded number of lines per turn of the event
  // loop: on start (the daemon is not ready until it is done) and on reload (the old host serves
  // meanwhile). Reloads asked for meanwhile wait for it (RuleReloader).
  struct Rebuild {
    std::shared_ptr<const RuleSet> rules;
    std::unique_ptr<EngineHost> host;
    JournalReader reader;
    std::string trigger;  // "start", "SIGHUP", "POST /-/reload"
    Instant started{};
    std::uint64_t skipped = 0;
  };
  std::unique_ptr<Rebuild> rebuild_;

  Instant started_at_{};
  bool ready_ = false;
  bool stopping_ = false;
  int exit_code_ = 0;

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& rejected_;
  prometheus::Family<prometheus::Counter>& refused_;
  prometheus::Gauge& reload_successful_;
  prometheus::Gauge& reload_timestamp_;
  prometheus::Family<prometheus::Gauge>& shops_;
  prometheus::Gauge& clock_suspect_;
  prometheus::Family<prometheus::Counter>& alerts_sent_;
  prometheus::Family<prometheus::Counter>& alerts_failed_;
  prometheus::Counter& alerts_dropped_;
  std::unique_ptr<AlertmanagerClient> alertmanager_;  // only with alertmanager.urls
  std::array<prometheus::Counter*, kRejectReasonCount> rejected_counters_{};
  std::array<std::array<prometheus::Counter*, kRefusalReasonCount>, 2> refused_counters_{};
  std::array<RefusalLog, 2> refusal_logs_;
  // Retried webhooks answered as duplicates and never journaled, by platform, since start: a
  // reload's rebuild cannot count them, so they are added back.
  std::unordered_map<std::string, PlatformEventCounts> unjournaled_;
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
  const std::string lock_path = (std::filesystem::path(config_.data) / "lock").string();
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0 || ::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    log_.error("cannot lock {}: another replywatch is using the data directory {}", lock_path,
               config_.data);
    return false;
  }
  journal_path_ = (std::filesystem::path(config_.data) / "events.journal").string();
  return true;
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
  if (std::string_view(name) == "admin") admin_url_ = "http://" + shown;
  return true;
}

int Daemon::Impl::run() {
  started_at_ = time_.now();
  std::vector<std::string> problems = validate_config(config_);
  if (config_.ingest_secret_file) {
    std::string error;
    ingest_settings_.secret = read_secret(*config_.ingest_secret_file, error);
    if (!ingest_settings_.secret) problems.push_back(error);
  }
  ingest_settings_.max_future_skew = config_.max_future_skew;
  // Older events could no longer be recognised as retries (SPEC §6 too_old).
  ingest_settings_.max_event_age = config_.allowed_lateness + config_.dedup_retention;
  ingest_settings_.max_events_per_request = config_.max_events_per_request;
  admin_settings_.allowed_hosts = config_.admin_hosts;
  if (!config_.admin_listen.host.empty()) {
    admin_settings_.allowed_hosts.push_back(config_.admin_listen.host);
  }
  for (const std::string& problem : problems) log_.error("{}", problem);
  if (!problems.empty()) return 1;
  if (!is_loopback_host(config_.admin_listen.host)) {
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
      target.counters.sent = &alerts_sent_.Add({{"url", url}});
      target.counters.failed = &alerts_failed_.Add({{"url", url}});
      targets.push_back(std::move(target));
    }
    alertmanager_ =
        std::make_unique<AlertmanagerClient>(io_, std::move(targets), alerts_dropped_, log_, time_);
    log_.info("conversation alerts go to {} Alertmanager(s)", config_.alertmanager.urls.size());
  }

  RuleLoadResult loaded = load_rule_directory(config_.rules);
  if (!loaded.ok()) {
    for (const RuleError& error : loaded.errors) log_.error("{}", error.to_string());
    log_.error("rules in {} have {} error(s); not starting", config_.rules, loaded.errors.size());
    return 1;
  }
  rules_ = std::make_shared<const RuleSet>(std::move(loaded.rules));
  reload_successful_.Set(1);
  reload_timestamp_.Set(to_seconds(time_.now().time_since_epoch()));
  log_.info("loaded {} rule file(s) from {}", rules_->platforms.size(), config_.rules);
  make_reloader();
  if (!open_data_directory()) return 1;

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
  admin_ = std::make_unique<HttpServer>(
      io_,
      [this](HttpRequest request, Respond respond) {
        handle_admin_request(std::move(request), admin_backend_, admin_settings_,
                             std::move(respond));
      },
      admin_limits,
      [this](RefusalReason reason, const std::string& detail) {
        on_http_refusal(Listener::kAdmin, reason, detail);
      });
  if (!bind(*ingest_, config_.ingest_listen, "ingest") ||
      !bind(*admin_, config_.admin_listen, "admin")) {
    return 1;
  }
  ingest_->start();
  admin_->start();
  wait_for_signal();

  if (!start_rebuild(rules_, "start")) return 1;

  for (;;) {
    try {
      io_.run();
      break;
    } catch (const std::exception& failure) {
      // Whatever threw is abandoned; every other connection and timer carries on.
      log_.error("internal error: {}", failure.what());
    }
  }
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
      reload_successful_.Set(0);
      return false;
    }
    notify_systemd("RELOADING=1");
    return true;
  };
  hooks.refused = [this](const std::vector<RuleError>& errors, const std::string& trigger) {
    for (const RuleError& error : errors) log_.error("{}", error.to_string());
    reload_successful_.Set(0);
    log_.error("reload ({}) refused: {} error(s); the old rules stay in force", trigger,
               errors.size());
  };
  hooks.unchanged = [this](const std::string& trigger) {
    reload_successful_.Set(1);
    reload_timestamp_.Set(to_seconds(time_.now().time_since_epoch()));
    log_.info("reload ({}): rule files unchanged; nothing to rebuild", trigger);
  };
  reloader_.emplace(std::move(hooks), rule_directory_fingerprint(directory));
}

bool Daemon::Impl::start_rebuild(std::shared_ptr<const RuleSet> rules, std::string trigger) {
  auto rebuild = std::make_unique<Rebuild>();
  if (const std::error_code error = rebuild->reader.open(journal_path_)) {
    log_.error("cannot read the journal {}: {}", journal_path_, error.message());
    return false;
  }
  rebuild->host = new_host(rules);
  rebuild->rules = std::move(rules);
  rebuild->trigger = std::move(trigger);
  rebuild->started = time_.now();
  rebuild_ = std::move(rebuild);
  net::post(io_, [this, expected = rebuild_.get()] { rebuild_step(expected); });
  return true;
}

void Daemon::Impl::rebuild_step(const Rebuild* expected) {
  if (stopping_ || rebuild_.get() != expected) return;  // superseded by a newer reload
  Rebuild& rebuild = *rebuild_;
  std::error_code error;
  // Lines appended meanwhile are read too: the end is the file's end at the last turn, and
  // nothing is appended between that read and the swap, which happen in the same turn.
  const bool more = rebuild.reader.read(
      kRestoreLinesPerTurn,
      [&](std::string_view line, std::uint64_t number) {
        const JournalLineResult result = rebuild.host->replay_journal_line(line);
        if (result == JournalLineResult::kCorrupt) {
          if (++rebuild.skipped <= kCorruptLinesLogged) {
            log_.warning("{}:{}: not a journal record; skipped", journal_path_, number);
          }
        } else if (result == JournalLineResult::kUnknownPlatform ||
                   result == JournalLineResult::kShopRefused) {
          ++rebuild.skipped;
        }
      },
      error);
  if (error) {
    log_.error("reading the journal {} failed: {}", journal_path_, error.message());
    if (rebuild.trigger == "start") {
      exit_code_ = 1;
      shutdown("journal unreadable");
    } else {
      reload_successful_.Set(0);
      log_.error("reload ({}) abandoned; the old rules stay in force", rebuild.trigger);
      rebuild_.reset();
      notify_systemd("READY=1");
      reloader_->rebuild_finished(false);
    }
    return;
  }
  if (more) {
    net::post(io_, [this, expected] { rebuild_step(expected); });
    return;
  }
  if (rebuild.trigger == "start") {
    finish_restore();
  } else {
    finish_reload();
  }
}

void Daemon::Impl::finish_restore() {
  Rebuild& rebuild = *rebuild_;
  // A line cut short by a crash was never acknowledged; cut it off so the next append starts
  // on a line of its own.
  std::error_code size_error;
  const std::uintmax_t size = std::filesystem::file_size(journal_path_, size_error);
  if (!size_error && size > rebuild.reader.complete_bytes()) {
    log_.warning("{}: dropping {} byte(s) of an unfinished last record", journal_path_,
                 size - rebuild.reader.complete_bytes());
    if (const std::error_code error =
            truncate_journal(journal_path_, rebuild.reader.complete_bytes())) {
      log_.error("cannot truncate {}: {}", journal_path_, error.message());
      exit_code_ = 1;
      shutdown("journal unwritable");
      return;
    }
  }
  if (const std::error_code error = journal_.open(journal_path_)) {
    log_.error("cannot open the journal {} for writing: {}", journal_path_, error.message());
    exit_code_ = 1;
    shutdown("journal unwritable");
    return;
  }
  const std::uint64_t lines = rebuild.reader.lines_read();
  const std::uint64_t skipped = rebuild.skipped;
  const double seconds = to_seconds(time_.now() - rebuild.started);
  host_ = std::move(rebuild.host);
  rebuild_.reset();
  go_live(*host_, nullptr);
  advance_to_now();
  arm_resend_timer();
  ready_ = true;
  log_.info("restored {} journal record(s) in {:.3f} s ({} skipped); ready", lines, seconds,
            skipped);
  notify_systemd("READY=1\nSTATUS=ready");
  arm_engine_timer();
}

void Daemon::Impl::finish_reload() {
  Rebuild& rebuild = *rebuild_;
  for (const auto& [platform, counts] : unjournaled_) {
    if (const PlatformRules* kept = rebuild.rules->find(platform)) {
      rebuild.host->add_counts(static_cast<std::uint32_t>(kept - rebuild.rules->platforms.data()),
                               counts);
    }
  }
  rules_ = rebuild.rules;
  go_live(*rebuild.host, host_.get());
  host_ = std::move(rebuild.host);
  advance_to_now();
  reload_successful_.Set(1);
  reload_timestamp_.Set(to_seconds(time_.now().time_since_epoch()));
  log_.info(
      "reloaded {} rule file(s) ({}); state rebuilt from {} journal record(s) ({} skipped) "
      "in {:.3f} s",
      rules_->platforms.size(), rebuild.trigger, rebuild.reader.lines_read(), rebuild.skipped,
      to_seconds(time_.now() - rebuild.started));
  rebuild_.reset();
  notify_systemd("READY=1");
  arm_engine_timer();
  reloader_->rebuild_finished(true);
}

void Daemon::Impl::advance_to_now() {
  if (!host_) return;
  const Instant now = clock_.now();
  clock_suspect_.Set(clock_.suspect() ? 1 : 0);
  host_->engine().advance(now - config_.allowed_lateness);
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
    alerts_dropped_.Increment(static_cast<double>(dropped));
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
  if (!host_ || stopping_) return;
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

IngestCommit Daemon::Impl::commit(std::vector<Event>& events) {
  advance_to_now();
  Engine& engine = host_->engine();
  const Instant watermark = engine.watermark();
  ShopAdmission& shops = host_->shops();
  IngestCommit result;
  std::string records;
  std::vector<bool> journaled(events.size(), false);
  std::vector<EventKey> keys(events.size());  // each event hashed once, for both dedup probes
  std::vector<bool> refused(events.size(), false);
  std::vector<std::size_t> newly_admitted;
  for (std::size_t i = 0; i < events.size(); ++i) {
    // Validation before dedup: an event of a refused shop is never a duplicate.
    const auto verdict = shops.admit(events[i].platform, events[i].shop);
    if (verdict == ShopAdmission::Verdict::kRefused) {
      refused[i] = true;
      result.rejected.emplace_back(i, RejectReason::kTooManyShops);
      continue;
    }
    if (verdict == ShopAdmission::Verdict::kAdmitted) newly_admitted.push_back(i);
    keys[i] = engine.key_of(events[i]);
    if (!engine.is_duplicate(keys[i])) {
      append_journal_record(records, watermark, encode_event(events[i]), !records.empty());
      journaled[i] = true;
    }
  }
  if (!records.empty()) {
    if (const std::error_code error = journal_.append(records)) {
      for (const std::size_t i : newly_admitted) shops.forget(events[i].platform, events[i].shop);
      refuse(Listener::kIngest, RefusalReason::kNotDurable, error.message(), {});
      return IngestCommit{};
    }
  }
  result.durable = true;
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (refused[i]) continue;
    const std::string platform = events[i].platform;
    const auto type = static_cast<std::size_t>(events[i].type);
    if (!host_->offer(std::move(events[i]), keys[i]).duplicate) {
      ++result.accepted;
      continue;
    }
    ++result.duplicates;
    if (!journaled[i]) {
      PlatformEventCounts& counts = unjournaled_[platform];
      ++counts.received[type];
      ++counts.duplicates;
    }
  }
  arm_engine_timer();
  flush_alerts(false);
  return result;
}

// What a scrape reports, copied on the event loop at one instant; written out from there on.
struct Daemon::Impl::MetricsCopy {
  std::vector<prometheus::MetricFamily> own;  // the daemon's registry: a few dozen samples
  std::optional<EngineMetricsSnapshot> engine;
  double started_at_seconds = 0.0;
};

Daemon::Impl::MetricsCopy Daemon::Impl::copy_metrics() {
  advance_to_now();
  if (host_) {
    for (std::size_t p = 0; p < host_->rules().platforms.size(); ++p) {
      shops_.Add({{"platform", host_->rules().platforms[p].platform}})
          .Set(static_cast<double>(host_->shops().admitted(static_cast<std::uint32_t>(p))));
    }
  }
  MetricsCopy copy;
  copy.own = registry_->Collect();
  if (host_) copy.engine = snapshot_engine_metrics(*host_, host_->engine().watermark());
  copy.started_at_seconds = to_seconds(started_at_.time_since_epoch());
  return copy;
}

std::string Daemon::Impl::render_metrics(const MetricsCopy& copy) {
  std::string text = prometheus::TextSerializer().Serialize(copy.own);
  if (copy.engine) write_engine_metrics(*copy.engine, text);
  text += prometheus::TextSerializer().Serialize(collect_process_metrics(copy.started_at_seconds));
  return text;
}

std::string Daemon::Impl::metrics_text() { return render_metrics(copy_metrics()); }

// Only the copy is taken on the loop; writing tens of megabytes of text and compressing them
// happen on the worker, so ingest and timers wait milliseconds for a scrape, not its whole time.
void Daemon::Impl::metrics(bool gzip, std::function<void(MetricsBody)> done) {
  auto copy = std::make_shared<const MetricsCopy>(copy_metrics());
  net::post(metrics_worker_, [this, copy = std::move(copy), gzip, done = std::move(done)] {
    MetricsBody body;
    std::string failure;
    try {
      body.text = render_metrics(*copy);
      if (gzip) {
        if (auto compressed = gzip_compress(body.text)) {
          body.text = std::move(*compressed);
          body.gzipped = true;
        }
      }
    } catch (const std::exception& error) {
      body = MetricsBody{};
      body.failed = true;
      failure = error.what();
    }
    net::post(io_, [this, done, body = std::move(body), failure = std::move(failure)]() mutable {
      if (body.failed) on_http_refusal(Listener::kAdmin, RefusalReason::kInternalError, failure);
      done(std::move(body));
    });
  });
}

std::optional<boost::json::object> Daemon::Impl::at_risk(const AtRiskQuery& query) {
  if (!host_) return std::nullopt;
  advance_to_now();
  return at_risk_report(*host_, clock_.now(), query);
}

void Daemon::Impl::reload(std::string trigger, std::function<void(ReloadOutcome)> done) {
  if (!ready_ || stopping_) {
    ReloadOutcome outcome;
    outcome.errors.emplace_back(stopping_ ? "shutting down" : "still restoring state");
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
    io_.stop();
    return;
  }
  stopping_ = true;
  log_.info("{}: stopping; finishing requests in flight", why);
  notify_systemd("STOPPING=1");
  ingest_->stop();
  admin_->stop();
  engine_timer_.cancel();
  resend_timer_.cancel();
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
  refused_counters_[l][static_cast<std::size_t>(reason)]->Increment();
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
    refused_counters_[static_cast<std::size_t>(listener)][static_cast<std::size_t>(reason)]
        ->Increment();
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
