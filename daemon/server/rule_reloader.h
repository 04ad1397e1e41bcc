// Reloads of the rule files, kept off the event loop and coalesced (docs/operations.md, "Reloading
// rules"; the daemon rebuilds its state from the journal under new rules).
//
// A reload parses and validates every file on a worker thread. Files identical to the rules that
// are (or are about to be) in force change nothing. Requests that come while a parse runs share
// the next parse; rules that come while a rebuild runs wait for it and replace each other, so
// however often reloads are asked for, at most one more rebuild follows the running one and the
// newest files always take effect.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "admin_handler.h"
#include "replywatch/rule_loader.h"

namespace replywatch::server {

struct ParsedRules {
  RuleLoadResult loaded;
  std::uint64_t fingerprint = 0;  // of the files' names and bytes
};

// FNV-1a over the name and bytes of every rule file of `directory`, in name order (the files
// load_rule_directory reads).
std::uint64_t rule_directory_fingerprint(const std::string& directory);

class RuleReloader {
 public:
  using Task = std::function<void()>;
  using Done = std::function<void(ReloadOutcome)>;

  struct Hooks {
    std::function<ParsedRules()> parse;       // called on the worker
    std::function<void(Task)> run_on_worker;  // runs a task off the event loop
    std::function<void(Task)> post;           // runs a task on the event loop
    // Starts rebuilding the state under `rules`; false when it cannot start.
    std::function<bool(std::shared_ptr<const RuleSet> rules, const std::string& trigger)>
        start_rebuild;
    // A parse found errors (for logs and the reload metric).
    std::function<void(const std::vector<RuleError>& errors, const std::string& trigger)> refused;
    // The files are those in force: nothing to do, but the last reload succeeded.
    std::function<void(const std::string& trigger)> unchanged;
  };

  RuleReloader(Hooks hooks, std::uint64_t in_force);

  void request(std::string trigger, Done done);
  // The daemon's rebuild ended (swapped in, or abandoned): starts the queued one, if any.
  void rebuild_finished(bool swapped);

  bool parsing() const { return parsing_; }
  bool rebuilding() const { return rebuilding_.has_value(); }
  std::uint64_t parses() const { return parses_; }

 private:
  void start_parse();
  void on_parsed(ParsedRules parsed, const std::string& trigger, std::vector<Done> waiters);
  std::uint64_t target() const;

  struct Queued {
    std::shared_ptr<const RuleSet> rules;
    std::uint64_t fingerprint = 0;
    std::string trigger;
  };

  Hooks hooks_;
  std::uint64_t in_force_;
  std::optional<std::uint64_t> rebuilding_;  // the fingerprint being rebuilt
  std::optional<Queued> queued_;             // to rebuild once the running one is done
  bool parsing_ = false;
  std::vector<Done> waiting_;  // for the parse after the running one
  std::string waiting_trigger_;
  std::uint64_t parses_ = 0;
};

}  // namespace replywatch::server
