// POST /v1/events (SPEC §7): routing, signature, content type, decoding and the per-event
// answer. Knows nothing of sockets; what "durable" means is the backend's business.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http_server.h"
#include "replywatch/event.h"
#include "replywatch/event_codec.h"

namespace replywatch::server {

struct IngestCommit {
  bool durable = false;  // false: nothing was taken, answer 503
  std::uint64_t accepted = 0;
  std::uint64_t duplicates = 0;
};

class IngestBackend {
 public:
  virtual ~IngestBackend() = default;
  // False while state is being restored: requests get 503.
  virtual bool ready() const = 0;
  virtual Instant now() const = 0;
  virtual bool platform_known(std::string_view platform) const = 0;
  // Makes `events` durable, then applies them; all or nothing.
  virtual IngestCommit commit(std::vector<Event>& events) = 0;
  virtual void count_rejected_event(RejectReason reason) = 0;
  // A request refused as a whole: `reason` is a short fixed name, e.g. "bad_signature".
  virtual void count_refused_request(std::string_view reason, std::string_view detail) = 0;
};

struct IngestSettings {
  std::optional<std::string> secret;  // none: unsigned requests are taken (loopback only)
  Duration max_future_skew = std::chrono::minutes(5);
};

HttpResponse handle_ingest_request(const HttpRequest& request, const IngestSettings& settings,
                                   IngestBackend& backend);

}  // namespace replywatch::server
