#include "rule_reloader.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace replywatch::server {
namespace {

constexpr std::uint64_t kFnvOffset = 14695981039346656037ULL;
constexpr std::uint64_t kFnvPrime = 1099511628211ULL;

void fnv1a(std::uint64_t& hash, std::string_view bytes) {
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= kFnvPrime;
  }
}

bool rule_file_name(const std::string& name) {
  return !name.starts_with('.') && (name.ends_with(".yaml") || name.ends_with(".yml"));
}

}  // namespace

std::uint64_t rule_directory_fingerprint(const std::string& directory) {
  std::vector<std::filesystem::path> files;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
    if (rule_file_name(entry.path().filename().string())) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::uint64_t hash = kFnvOffset;
  for (const auto& file : files) {
    const std::string name = file.filename().string();
    fnv1a(hash, name);
    fnv1a(hash, std::string_view("\0", 1));
    std::ifstream in(file, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    fnv1a(hash, std::to_string(bytes.size()));
    fnv1a(hash, bytes);
  }
  return hash;
}

RuleReloader::RuleReloader(Hooks hooks, std::uint64_t in_force)
    : hooks_(std::move(hooks)), in_force_(in_force) {}

std::uint64_t RuleReloader::target() const {
  if (queued_) return queued_->fingerprint;
  if (rebuilding_) return *rebuilding_;
  return in_force_;
}

void RuleReloader::request(std::string trigger, Done done) {
  if (waiting_.empty()) {
    waiting_trigger_ = std::move(trigger);
  } else if (waiting_trigger_.find(trigger) == std::string::npos) {
    waiting_trigger_ += ", " + trigger;
  }
  waiting_.push_back(std::move(done));
  if (!parsing_) start_parse();
}

void RuleReloader::start_parse() {
  parsing_ = true;
  ++parses_;
  auto waiters = std::make_shared<std::vector<Done>>(std::move(waiting_));
  waiting_.clear();
  auto trigger = std::make_shared<std::string>(std::move(waiting_trigger_));
  waiting_trigger_.clear();
  hooks_.run_on_worker([this, waiters, trigger] {
    auto parsed = std::make_shared<ParsedRules>(hooks_.parse());
    hooks_.post([this, waiters, trigger, parsed] {
      on_parsed(std::move(*parsed), *trigger, std::move(*waiters));
    });
  });
}

void RuleReloader::on_parsed(ParsedRules parsed, const std::string& trigger,
                             std::vector<Done> waiters) {
  parsing_ = false;
  ReloadOutcome outcome;
  if (!parsed.loaded.ok()) {
    for (const RuleError& error : parsed.loaded.errors) outcome.errors.push_back(error.to_string());
    hooks_.refused(parsed.loaded.errors, trigger);
  } else {
    outcome.ok = true;
    outcome.platforms = parsed.loaded.rules.platforms.size();
    if (parsed.fingerprint == target()) {
      outcome.state = "unchanged; nothing to rebuild";
      if (!rebuilding_) hooks_.unchanged(trigger);
    } else {
      auto rules = std::make_shared<const RuleSet>(std::move(parsed.loaded.rules));
      if (rebuilding_) {
        queued_ = Queued{std::move(rules), parsed.fingerprint, trigger};
        outcome.state = "queued; rebuilt from the journal after the rebuild in progress";
      } else if (hooks_.start_rebuild(std::move(rules), trigger)) {
        rebuilding_ = parsed.fingerprint;
      } else {
        outcome.ok = false;
        outcome.errors.emplace_back("cannot read the journal");
      }
    }
  }
  for (Done& done : waiters) done(outcome);
  if (!waiting_.empty()) start_parse();
}

void RuleReloader::rebuild_finished(bool swapped) {
  if (swapped && rebuilding_) in_force_ = *rebuilding_;
  rebuilding_.reset();
  if (!queued_) return;
  Queued next = std::move(*queued_);
  queued_.reset();
  if (next.fingerprint == in_force_) return;
  const std::uint64_t fingerprint = next.fingerprint;
  if (hooks_.start_rebuild(std::move(next.rules), next.trigger)) rebuilding_ = fingerprint;
}

}  // namespace replywatch::server
