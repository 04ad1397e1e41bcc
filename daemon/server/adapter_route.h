// POST /v1/adapters/NAME on the ingest listener (docs/adapters.md): a help desk's own webhook,
// checked by its adapter's signature, mapped to events, and then the same job as
// POST /v1/events (ingest_mapped_events). Knows nothing of sockets.
//
// Help desks such as Chatwoot post once, wait 5 s and never retry, so what the daemon could
// absorb it does: while it is restoring its state, or when the events could not be made durable
// or the clock is being verified, the request is tried again every kAdapterRetryDelay, at most
// kAdapterAttempts times (well under 5 s in all), before it is answered 503.
#pragma once

#include <optional>
#include <string_view>

#include "http_server.h"
#include "ingest_handler.h"

namespace replywatch::server {

inline constexpr std::string_view kAdapterPathPrefix = "/v1/adapters/";
inline constexpr Duration kAdapterRetryDelay = std::chrono::milliseconds(250);
inline constexpr int kAdapterAttempts = 12;  // the first and 11 retries: 2.75 s of waiting

bool is_adapter_path(std::string_view path);

// Before the body is read: an unknown adapter is 404 and a request without the help desk's
// signature header (or with a stale timestamp) 401, so neither body is buffered.
std::optional<HttpResponse> check_adapter_header(const HttpRequest& header,
                                                 const IngestSettings& settings,
                                                 IngestBackend& backend);

void handle_adapter_request(HttpRequest request, const IngestSettings& settings,
                            IngestBackend& backend, Respond respond);

}  // namespace replywatch::server
