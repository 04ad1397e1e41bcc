// Compressed answers for clients that ask (RFC 9110 Accept-Encoding): a /metrics body of tens of
// megabytes at an agency's scale compresses about thirtyfold.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace replywatch::server {

// Whether an Accept-Encoding value accepts gzip: `gzip` (or `x-gzip`, or `*`) with a q-value
// above 0. An explicit `gzip;q=0` refuses it even when `*` would accept it.
bool accepts_gzip(std::string_view accept_encoding);

// `text` as a gzip member at the fastest level (the scrape is built on the event loop, so speed
// matters more than the last tenth of the size); nothing if zlib fails.
std::optional<std::string> gzip_compress(std::string_view text);

}  // namespace replywatch::server
