#include "metrics_scrapes.h"

#include <boost/asio/post.hpp>
#include <exception>
#include <optional>
#include <utility>
#include <vector>

#include "gzip.h"

namespace replywatch::server {

namespace net = boost::asio;

namespace {

struct Waiter {
  bool gzip = false;
  std::function<void(MetricsBody)> done;
};

}  // namespace

struct MetricsScrapes::Core : std::enable_shared_from_this<Core> {
  net::any_io_executor loop;
  net::any_io_executor worker;
  StartCopy start;
  OnFailure on_failure;
  bool closed = false;

  // The scrapes the copy being taken (or the text being written) will answer.
  std::vector<Waiter> current;
  std::unique_ptr<ScrapeCopy> copy;  // while it is being taken
  bool writing = false;              // a text is being written for `current`
  // Scrapes that came while a text was being written: they get the next copy.
  std::vector<Waiter> next;

  void request(Waiter waiter) {
    if (writing) {
      next.push_back(std::move(waiter));
      return;
    }
    current.push_back(std::move(waiter));
    if (!copy) begin_copy();
  }

  void begin_copy() {
    try {
      copy = start();
    } catch (const std::exception& error) {
      return fail(error.what());
    }
    net::post(loop, [self = shared_from_this()] { self->step(); });
  }

  void step() {
    if (closed || !copy) return;
    bool complete = false;
    try {
      complete = copy->step();
    } catch (const std::exception& error) {
      copy.reset();
      return fail(error.what());
    }
    if (!complete) {
      net::post(loop, [self = shared_from_this()] { self->step(); });
      return;
    }
    writing = true;
    bool any_gzip = false;
    for (const Waiter& waiter : current) any_gzip = any_gzip || waiter.gzip;
    bool any_plain = false;
    for (const Waiter& waiter : current) any_plain = any_plain || !waiter.gzip;
    net::post(worker, [self = shared_from_this(),
                       done = std::shared_ptr<ScrapeCopy>(std::move(copy)), any_gzip, any_plain] {
      std::optional<std::string> text;
      std::optional<std::string> compressed;
      std::string failure;
      try {
        text = done->render();
        if (any_gzip) compressed = gzip_compress(*text);
        if (!any_plain && compressed) text.reset();
      } catch (const std::exception& error) {
        text.reset();
        compressed.reset();
        failure = error.what();
        if (failure.empty()) failure = "metrics could not be written";
      }
      net::post(self->loop, [self, text = std::move(text), compressed = std::move(compressed),
                             failure = std::move(failure)]() mutable {
        self->written(std::move(text), std::move(compressed), failure);
      });
    });
  }

  void written(std::optional<std::string> text, std::optional<std::string> compressed,
               const std::string& failure) {
    if (closed) return;
    writing = false;
    if (!failure.empty()) {
      fail(failure);
    } else {
      answer(std::move(text), std::move(compressed));
    }
    if (!next.empty()) {
      current = std::move(next);
      next.clear();
      begin_copy();
    }
  }

  // Each waiter gets its own body; the last of each kind takes the string instead of a copy.
  void answer(std::optional<std::string> text, std::optional<std::string> compressed) {
    std::vector<Waiter> waiters = std::move(current);
    current.clear();
    std::size_t plain_left = 0;
    std::size_t gzip_left = 0;
    for (const Waiter& waiter : waiters) {
      // Without a compressed text (compression failed), gzip'd scrapes get the plain one.
      if (waiter.gzip && compressed) {
        ++gzip_left;
      } else {
        ++plain_left;
      }
    }
    for (Waiter& waiter : waiters) {
      MetricsBody body;
      if (waiter.gzip && compressed) {
        body.gzipped = true;
        body.text = --gzip_left == 0 ? std::move(*compressed) : *compressed;
      } else {
        body.text = --plain_left == 0 ? std::move(*text) : *text;
      }
      waiter.done(std::move(body));
    }
  }

  void fail(const std::string& what) {
    writing = false;
    std::vector<Waiter> waiters = std::move(current);
    current.clear();
    on_failure(what);
    for (Waiter& waiter : waiters) {
      MetricsBody body;
      body.failed = true;
      waiter.done(std::move(body));
    }
  }
};

MetricsScrapes::MetricsScrapes(net::any_io_executor loop, net::any_io_executor worker,
                               StartCopy start, OnFailure on_failure)
    : core_(std::make_shared<Core>()) {
  core_->loop = std::move(loop);
  core_->worker = std::move(worker);
  core_->start = std::move(start);
  core_->on_failure = std::move(on_failure);
}

MetricsScrapes::~MetricsScrapes() {
  core_->closed = true;
  core_->copy.reset();
  core_->current.clear();
  core_->next.clear();
}

void MetricsScrapes::request(bool gzip, std::function<void(MetricsBody)> done) {
  core_->request(Waiter{gzip, std::move(done)});
}

}  // namespace replywatch::server
