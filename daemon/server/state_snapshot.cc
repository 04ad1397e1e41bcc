#include "state_snapshot.h"

namespace replywatch::server {
namespace {

constexpr std::uint32_t kIdentitySection = 0x49444e31;  // "IDN1"
constexpr std::uint32_t kUnloggedSection = 0x554e4c31;  // "UNL1"
constexpr std::uint32_t kStateEnd = 0x53454e44;         // "SEND"

void save_counts(SnapshotWriter& out, const PlatformEventCounts& counts) {
  for (const std::uint64_t received : counts.received) out.u64(received);
  out.u64(counts.duplicates);
  out.u64(counts.late);
}

PlatformEventCounts load_counts(SnapshotReader& in) {
  PlatformEventCounts counts;
  for (std::uint64_t& received : counts.received) received = in.u64();
  counts.duplicates = in.u64();
  counts.late = in.u64();
  return counts;
}

}  // namespace

void save_state(SnapshotWriter& out, const EngineHost& host, const RuleSetIdentity& identity,
                const UnloggedCounts& unlogged) {
  out.tag(kIdentitySection);
  out.i64(identity.dedup_retention_ms);
  out.u32(identity.max_shops);
  out.u64(identity.platforms.size());
  for (const PlatformIdentity& platform : identity.platforms) {
    out.string(platform.platform);
    out.u64(platform.platform_fingerprint);
    out.u64(platform.slas.size());
    for (std::size_t s = 0; s < platform.slas.size(); ++s) {
      out.string(platform.slas[s]);
      out.u64(platform.fingerprints[s]);
    }
  }
  host.save(out);
  out.tag(kUnloggedSection);
  out.u64(unlogged.size());
  for (const auto& [platform, counts] : unlogged) {
    out.string(platform);
    save_counts(out, counts);
  }
  out.tag(kStateEnd);
}

RuleSetIdentity read_identity(SnapshotReader& in) {
  in.tag(kIdentitySection);
  RuleSetIdentity identity;
  identity.dedup_retention_ms = in.i64();
  identity.max_shops = in.u32();
  identity.platforms.resize(in.count(24));
  for (PlatformIdentity& platform : identity.platforms) {
    platform.platform = in.string();
    platform.platform_fingerprint = in.u64();
    const std::size_t slas = in.count(16);
    for (std::size_t s = 0; s < slas; ++s) {
      platform.slas.push_back(in.string());
      platform.fingerprints.push_back(in.u64());
    }
  }
  return identity;
}

StateLoad load_state(SnapshotReader& in, EngineHost& host, const RuleSetIdentity& identity,
                     UnloggedCounts& unlogged) {
  if (read_identity(in) != identity) return StateLoad::kOtherRules;
  host.load(in);
  in.tag(kUnloggedSection);
  UnloggedCounts loaded;
  const std::size_t n = in.count(64);
  for (std::size_t i = 0; i < n; ++i) {
    std::string platform = in.string();
    loaded[std::move(platform)] = load_counts(in);
  }
  in.tag(kStateEnd);
  in.expect_end();
  unlogged = std::move(loaded);
  return StateLoad::kLoaded;
}

}  // namespace replywatch::server
