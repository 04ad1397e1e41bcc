// Answers GET /metrics without holding the event loop: the figures are copied on the loop a
// bounded slice per turn (ingest and timers run between slices), the text is written and
// compressed on a worker thread, and the body goes back to the loop. Scrapes that arrive while
// a copy is being taken share it; one that arrives while a text is being written waits for it
// and takes a fresh copy after, so at most one copy and one text exist at a time and no answer
// holds figures older than its request.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <memory>
#include <string>

#include "admin_handler.h"

namespace replywatch::server {

// One scrape's figures.
class ScrapeCopy {
 public:
  virtual ~ScrapeCopy() = default;
  // On the event loop: copies a bounded part more; true once everything is copied.
  virtual bool step() = 0;
  // On the worker, after the last step: the Prometheus text. May throw.
  virtual std::string render() const = 0;
};

class MetricsScrapes {
 public:
  // Called on the event loop to begin a copy.
  using StartCopy = std::function<std::unique_ptr<ScrapeCopy>()>;
  // Called on the event loop when a text could not be written (the scrapes get a 500).
  using OnFailure = std::function<void(const std::string& what)>;

  MetricsScrapes(boost::asio::any_io_executor loop, boost::asio::any_io_executor worker,
                 StartCopy start, OnFailure on_failure);
  // Scrapes not answered yet never are; work already handed out finds nothing to do.
  ~MetricsScrapes();
  MetricsScrapes(const MetricsScrapes&) = delete;
  MetricsScrapes& operator=(const MetricsScrapes&) = delete;

  // On the event loop. `done` is called once, on the event loop, later (never from here).
  void request(bool gzip, std::function<void(MetricsBody)> done);

 private:
  struct Core;
  std::shared_ptr<Core> core_;
};

}  // namespace replywatch::server
