#include "daemon.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "admin_gate.h"
#include "daemon_impl.h"
#include "engine_metrics.h"
#include "hmac.h"
#include "replywatch/event_codec.h"
#include "replywatch/rule_loader.h"

namespace replywatch::server {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using daemon_detail::notify_systemd;

namespace {

// How many events ahead a request's dedup claims prefetch: enough to cover a memory access.
constexpr std::size_t kClaimLookahead = 8;
// The engine's timer is re-armed at least this often, so a wall-clock step is noticed.
constexpr Duration kMaxTimerWait = std::chrono::seconds(10);
// Shutdown finishes in-flight requests for at most this long; the unit allows 5 s in all.
constexpr auto kShutdownGrace = std::chrono::milliseconds(4000);
constexpr auto kShutdownPoll = std::chrono::milliseconds(20);
// How often active conversation alerts are checked for a re-send.
constexpr Duration kMaxResendCheck = std::chrono::seconds(5);

// Descriptors kept free of the listeners' caps: log, lock, epoll, signals, rule files.
constexpr std::uint64_t kSpareDescriptors = 64;
// The admin listener's own connection cap: a few scrapers and operators, never starved by
// ingest connections.
constexpr std::uint32_t kAdminConnections = 64;

}  // namespace

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
  if (heap_trim_.drained(host_->engine().buffered_events())) trim_heap();
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
  // Keys first, so that each claim's table slot is loaded a few events ahead (Engine::prefetch).
  for (std::size_t i = 0; i < p.events.size(); ++i) p.keys[i] = engine.key_of(p.events[i]);
  for (std::size_t i = 0; i < p.events.size(); ++i) {
    if (i + kClaimLookahead < p.events.size()) engine.prefetch(p.keys[i + kClaimLookahead]);
    const Event& event = p.events[i];
    // Validation before dedup: an event of a refused shop is never a duplicate.
    const auto verdict = shops.admit(event.platform, event.shop);
    if (verdict == ShopAdmission::Verdict::kRefused) {
      p.result.rejected.emplace_back(i, RejectReason::kTooManyShops);
      continue;
    }
    if (verdict == ShopAdmission::Verdict::kAdmitted) p.newly_admitted.push_back(i);
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
void Daemon::Impl::without_claims(const std::function<void()>& step) {
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
