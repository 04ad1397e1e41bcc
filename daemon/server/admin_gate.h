// In front of every admin route (console, API, /metrics, whatever is added later): with
// basic_auth_users in the web config, a request goes on only with valid credentials.
#pragma once

#include <functional>
#include <memory>

#include "basic_auth.h"
#include "http_server.h"
#include "refusal_reason.h"

namespace replywatch::server {

class AdminGate {
 public:
  using Next = std::function<void(HttpRequest request, Respond respond)>;
  struct Counters {
    std::function<void(LoginFailure)> login_failed;
    std::function<void(RefusalReason, std::string_view detail)> refused;
  };

  // Without an authenticator every request goes through.
  AdminGate(std::shared_ptr<BasicAuthenticator> authenticator, Counters counters, Next next);

  void operator()(HttpRequest request, Respond respond) const;

  // 401 with the challenge browsers and Prometheus answer with credentials.
  static HttpResponse unauthorized(unsigned version);

 private:
  std::shared_ptr<BasicAuthenticator> authenticator_;
  Counters counters_;
  Next next_;
};

}  // namespace replywatch::server
