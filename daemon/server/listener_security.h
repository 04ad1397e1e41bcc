// What the web config files make of the two listeners: TLS contexts, and the admin listener's
// users. Read once at start; a problem stops the daemon before it listens.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "daemon_config.h"
#include "web_config.h"

namespace replywatch::server {

struct ListenerSecurity {
  std::shared_ptr<boost::asio::ssl::context> admin_tls;   // none: plain HTTP
  std::shared_ptr<boost::asio::ssl::context> ingest_tls;  // none: plain HTTP
  std::map<std::string, std::string> admin_users;         // none: no Basic authentication
  bool admin_client_certificates = false;                 // RequireAndVerifyClientCert

  // One line per listener for the start-up log.
  std::string describe_admin() const;
  std::string describe_ingest() const;
};

// Reads web_config_file (admin) and ingest_web_config_file (ingest; only tls_server_config may
// be set there: webhooks authenticate by signature). A non-loopback admin_listen needs TLS and
// a way to authenticate (users, or verified client certificates) unless admin_insecure is set.
// Returns every problem; `out` is meaningful only when there is none.
std::vector<std::string> load_listener_security(const DaemonConfig& config, ListenerSecurity& out);

}  // namespace replywatch::server
