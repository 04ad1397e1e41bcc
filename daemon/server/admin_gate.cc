#include "admin_gate.h"

#include "admin_handler.h"

namespace replywatch::server {

namespace http = boost::beast::http;

AdminGate::AdminGate(std::shared_ptr<BasicAuthenticator> authenticator, Counters counters,
                     Next next)
    : authenticator_(std::move(authenticator)),
      counters_(std::move(counters)),
      next_(std::move(next)) {}

HttpResponse AdminGate::unauthorized(unsigned version) {
  HttpResponse response{http::status::unauthorized, version};
  response.set(http::field::www_authenticate, R"(Basic realm="replywatch", charset="UTF-8")");
  response.set(http::field::content_type, "text/plain; charset=utf-8");
  response.set(http::field::cache_control, "no-store");
  add_admin_security_headers(response);
  response.body() = "Unauthorized\n";
  return response;
}

void AdminGate::operator()(HttpRequest request, Respond respond) const {
  if (!authenticator_) return next_(std::move(request), std::move(respond));
  const std::string authorization(request[http::field::authorization]);
  // The request moves into the callback, which may run later (after bcrypt, on this loop).
  auto held = std::make_shared<HttpRequest>(std::move(request));
  authenticator_->check(
      authorization, [this, held, respond = std::move(respond)](AuthResult result) {
        switch (result.verdict) {
          case AuthVerdict::kAllowed:
            return next_(std::move(*held), respond);
          case AuthVerdict::kBusy: {
            counters_.refused(RefusalReason::kAuthBusy, "password checks queue full");
            HttpResponse busy{http::status::service_unavailable, held->version()};
            busy.set(http::field::retry_after, "1");
            busy.set(http::field::content_type, "text/plain; charset=utf-8");
            add_admin_security_headers(busy);
            busy.body() = "too many password checks in progress; retry shortly\n";
            return respond(std::move(busy));
          }
          case AuthVerdict::kDenied:
            break;
        }
        const LoginFailure failure = result.failure.value_or(LoginFailure::kInvalid);
        counters_.login_failed(failure);
        counters_.refused(RefusalReason::kUnauthorized, login_failure_label(failure));
        respond(unauthorized(held->version()));
      });
}

}  // namespace replywatch::server
