// MetricsScrapes: a copy taken a step per turn of the event loop, the text written on the
// worker, scrapes during a copy sharing it, scrapes during a write waiting for a fresh copy.
// Both the loop and the worker are io_contexts this test runs by hand: nothing sleeps.
#include "metrics_scrapes.h"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "gunzip.h"

using replywatch::server::MetricsBody;
using replywatch::server::MetricsScrapes;
using replywatch::server::ScrapeCopy;
using rwtest::gunzip;

namespace {

namespace net = boost::asio;

struct Counts {
  int copies = 0;  // begun
  int live = 0;    // copies in existence
  int max_live = 0;
  int steps = 0;
  int renders = 0;
  int failures = 0;
  bool fail_render = false;
  std::string figure = "a";  // what a copy reads at each step
};

class FakeCopy final : public ScrapeCopy {
 public:
  FakeCopy(Counts& counts, int steps) : counts_(counts), steps_left_(steps) {
    ++counts_.copies;
    counts_.max_live = std::max(counts_.max_live, ++counts_.live);
  }
  ~FakeCopy() override { --counts_.live; }
  bool step() override {
    ++counts_.steps;
    text_ += counts_.figure;
    return --steps_left_ == 0;
  }
  std::string render() const override {
    ++counts_.renders;
    if (counts_.fail_render) throw std::runtime_error("cannot write");
    return "copy " + std::to_string(counts_.copies) + ": " + text_ + "\n";
  }

 private:
  Counts& counts_;
  int steps_left_;
  std::string text_;
};

struct Harness {
  Counts counts;  // before the io_contexts: handlers they still hold may own a copy
  net::io_context loop;
  net::io_context worker;
  int steps_per_copy = 3;
  std::vector<std::string> failures;
  MetricsScrapes scrapes{loop.get_executor(), worker.get_executor(),
                         [this] { return std::make_unique<FakeCopy>(counts, steps_per_copy); },
                         [this](const std::string& what) { failures.push_back(what); }};

  // Runs what is ready on the loop, one handler at a time.
  std::size_t loop_turns() {
    std::size_t turns = 0;
    while (loop.poll_one() != 0) ++turns;
    loop.restart();
    return turns;
  }
  std::size_t work() {
    const std::size_t done = worker.poll();
    worker.restart();
    return done;
  }
};

}  // namespace

TEST_CASE("metrics_scrapes: the copy is taken a step per turn, other work runs between",
          "[metrics_scrapes]") {
  Harness h;
  std::vector<MetricsBody> answers;
  h.scrapes.request(false, [&](MetricsBody body) { answers.push_back(std::move(body)); });
  CHECK(h.counts.copies == 1);
  CHECK(h.counts.steps == 0);  // nothing copied inside the request's own turn
  CHECK(answers.empty());

  // A handler queued meanwhile (a POST, a timer) runs after the first step, before the second.
  int steps_seen_by_other = -1;
  net::post(h.loop, [&] { steps_seen_by_other = h.counts.steps; });
  CHECK(h.loop.poll_one() == 1);
  CHECK(h.counts.steps == 1);
  CHECK(h.loop.poll_one() == 1);
  CHECK(steps_seen_by_other == 1);
  CHECK(h.counts.steps == 1);
  h.loop_turns();
  CHECK(h.counts.steps == 3);
  CHECK(h.counts.renders == 0);  // the text is the worker's
  CHECK(answers.empty());

  CHECK(h.work() == 1);
  CHECK(h.counts.renders == 1);
  CHECK(answers.empty());  // answered on the loop
  h.loop_turns();
  REQUIRE(answers.size() == 1);
  CHECK_FALSE(answers[0].failed);
  CHECK_FALSE(answers[0].gzipped);
  CHECK(answers[0].text == "copy 1: aaa\n");
  CHECK(h.counts.live == 0);
}

TEST_CASE("metrics_scrapes: scrapes during a copy share it, plain and gzip'd from one text",
          "[metrics_scrapes]") {
  Harness h;
  std::vector<MetricsBody> answers;
  auto answer = [&](MetricsBody body) { answers.push_back(std::move(body)); };
  h.scrapes.request(true, answer);
  h.loop.poll_one();  // one step taken
  h.counts.figure = "b";
  h.scrapes.request(false, answer);
  h.scrapes.request(true, answer);
  h.loop_turns();
  h.work();
  h.loop_turns();
  CHECK(h.counts.copies == 1);
  CHECK(h.counts.renders == 1);
  REQUIRE(answers.size() == 3);
  CHECK(answers[0].gzipped);
  CHECK(gunzip(answers[0].text) == "copy 1: abb\n");
  CHECK_FALSE(answers[1].gzipped);
  CHECK(answers[1].text == "copy 1: abb\n");
  CHECK(answers[2].gzipped);
  CHECK(gunzip(answers[2].text) == "copy 1: abb\n");
}

TEST_CASE("metrics_scrapes: a scrape during a write waits for a fresh copy, one at a time",
          "[metrics_scrapes]") {
  Harness h;
  std::vector<MetricsBody> answers;
  auto answer = [&](MetricsBody body) { answers.push_back(std::move(body)); };
  h.scrapes.request(false, answer);
  h.loop_turns();  // copied; now being written
  h.counts.figure = "c";
  h.scrapes.request(false, answer);
  h.scrapes.request(true, answer);
  h.loop_turns();
  CHECK(h.counts.copies == 1);  // no second copy while the first text is written
  h.work();
  h.loop_turns();  // the first answered, the second copy taken
  REQUIRE(answers.size() == 1);
  CHECK(answers[0].text == "copy 1: aaa\n");
  CHECK(h.counts.copies == 2);
  h.work();
  h.loop_turns();
  REQUIRE(answers.size() == 3);
  CHECK(answers[1].text == "copy 2: ccc\n");
  CHECK(gunzip(answers[2].text) == "copy 2: ccc\n");
  CHECK(h.counts.max_live == 1);
  CHECK(h.counts.renders == 2);

  // Idle again: the next scrape starts at once.
  h.scrapes.request(false, answer);
  h.loop_turns();
  h.work();
  h.loop_turns();
  REQUIRE(answers.size() == 4);
  CHECK(answers[3].text == "copy 3: ccc\n");
}

TEST_CASE("metrics_scrapes: a text that cannot be written fails every scrape sharing it",
          "[metrics_scrapes]") {
  Harness h;
  h.counts.fail_render = true;
  std::vector<MetricsBody> answers;
  auto answer = [&](MetricsBody body) { answers.push_back(std::move(body)); };
  h.scrapes.request(false, answer);
  h.scrapes.request(true, answer);
  h.loop_turns();
  h.work();
  h.loop_turns();
  REQUIRE(answers.size() == 2);
  CHECK(answers[0].failed);
  CHECK(answers[1].failed);
  CHECK(h.failures == std::vector<std::string>{"cannot write"});

  // The next scrape is served normally.
  h.counts.fail_render = false;
  h.scrapes.request(false, answer);
  h.loop_turns();
  h.work();
  h.loop_turns();
  REQUIRE(answers.size() == 3);
  CHECK_FALSE(answers[2].failed);
}

TEST_CASE("metrics_scrapes: gone with a scrape half-way, nothing is answered or touched",
          "[metrics_scrapes]") {
  net::io_context loop;
  net::io_context worker;
  Counts counts;
  int answered = 0;
  {
    MetricsScrapes scrapes{loop.get_executor(), worker.get_executor(),
                           [&] { return std::make_unique<FakeCopy>(counts, 2); },
                           [](const std::string&) {}};
    scrapes.request(false, [&](MetricsBody) { ++answered; });
    loop.poll_one();
  }
  CHECK(counts.live == 0);  // the copy under way went with it
  loop.poll();
  worker.poll();
  CHECK(answered == 0);
  CHECK(counts.steps == 1);

  // The same while the text is being written.
  {
    MetricsScrapes scrapes{loop.get_executor(), worker.get_executor(),
                           [&] { return std::make_unique<FakeCopy>(counts, 1); },
                           [](const std::string&) {}};
    scrapes.request(false, [&](MetricsBody) { ++answered; });
    loop.restart();
    loop.poll();
  }
  worker.restart();
  worker.poll();
  loop.restart();
  loop.poll();
  CHECK(answered == 0);
  CHECK(counts.live == 0);
}
