// The payload of a daemon snapshot: the rule set's identity, the host (engine, shops,
// histograms, event counts, alert state) and the counts the daemon keeps beside it that the log
// cannot reproduce (duplicates answered without a record).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "engine_host.h"
#include "replywatch/rule_fingerprint.h"
#include "replywatch/snapshot_codec.h"

namespace replywatch::server {

// By platform name, since start (or since the snapshot they came from).
using UnloggedCounts = std::map<std::string, PlatformEventCounts>;

void save_state(SnapshotWriter& out, const EngineHost& host, const RuleSetIdentity& identity,
                const UnloggedCounts& unlogged);

// Only the identity, without decoding the rest.
RuleSetIdentity read_identity(SnapshotReader& in);

enum class StateLoad { kLoaded, kOtherRules };

// Loads into `host`, built with the rules and settings of `identity` and fresh. A snapshot of
// another identity is left alone (kOtherRules, nothing loaded); damage throws SnapshotError.
StateLoad load_state(SnapshotReader& in, EngineHost& host, const RuleSetIdentity& identity,
                     UnloggedCounts& unlogged);

}  // namespace replywatch::server
