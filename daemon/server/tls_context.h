// An OpenSSL server context from the web config's tls_server_config.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>
#include <variant>

#include "web_config.h"

namespace replywatch::server {

// The context, or what is wrong ("FILE: message", naming the certificate or key file).
std::variant<std::shared_ptr<boost::asio::ssl::context>, std::string> make_tls_context(
    const TlsServerConfig& config);

}  // namespace replywatch::server
