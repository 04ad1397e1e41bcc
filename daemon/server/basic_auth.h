// HTTP Basic authentication against bcrypt hashes (the web config's basic_auth_users).
//
// bcrypt is slow on purpose (milliseconds to a tenth of a second per check), and the daemon has
// one I/O thread that ingest shares: checks run on a worker thread of their own, a bounded
// number at a time, and their answers come back through `post`. Verified credentials are
// remembered as a keyed digest of (user, password, hash), so a browser's stream of requests costs
// one bcrypt; a different password has a different digest and is checked in full.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace replywatch::server {

// Why a request was not let in: a closed set, each value a `reason` label of
// replywatch_admin_login_failures_total.
enum class LoginFailure : std::uint8_t {
  kMissing,    // no Authorization header (a browser's first try, or a scraper not configured)
  kMalformed,  // not Basic, or not base64 of user:password
  kInvalid,    // unknown user or wrong password (not told apart, to the client or the metric)
};
inline constexpr std::size_t kLoginFailureCount = 3;
std::string_view login_failure_label(LoginFailure failure);

struct BasicCredentials {
  std::string user;
  std::string password;
};

// The credentials of an Authorization header value ("Basic BASE64(user:password)"); nothing when
// it is not Basic or not well formed.
std::optional<BasicCredentials> parse_basic_authorization(std::string_view header);

// Whether `password` hashes to `hash` under bcrypt (libcrypt's crypt_rn), compared in constant
// time. False for anything libcrypt cannot read.
bool bcrypt_matches(const std::string& password, const std::string& hash);

enum class AuthVerdict : std::uint8_t { kAllowed, kDenied, kBusy };

struct AuthResult {
  AuthVerdict verdict = AuthVerdict::kDenied;
  std::optional<LoginFailure> failure;  // with kDenied
};

class BasicAuthenticator {
 public:
  using Post = std::function<void(std::function<void()>)>;

  // `users`: user name -> bcrypt hash. `post` runs a task on the caller's event loop.
  BasicAuthenticator(std::map<std::string, std::string> users, Post post,
                     std::size_t max_pending = kDefaultMaxPending);
  ~BasicAuthenticator();
  BasicAuthenticator(const BasicAuthenticator&) = delete;
  BasicAuthenticator& operator=(const BasicAuthenticator&) = delete;

  // Calls `done` once: at once for a missing or malformed header, a remembered credential or a
  // full queue (kBusy), otherwise through `post` once bcrypt has answered.
  void check(std::string_view authorization, std::function<void(AuthResult)> done);

  // The same, synchronously (tests, and the worker itself).
  AuthResult check_now(std::string_view authorization);

  static constexpr std::size_t kDefaultMaxPending = 32;
  static constexpr std::size_t kRememberedCredentials = 256;

 private:
  using Digest = std::array<unsigned char, 32>;
  struct Job {
    BasicCredentials credentials;
    std::function<void(AuthResult)> done;
  };

  Digest digest_of(const BasicCredentials& credentials, const std::string& hash) const;
  bool remembered(const Digest& digest) const;
  void remember(const Digest& digest);
  AuthResult verify(const BasicCredentials& credentials);
  void work();

  std::map<std::string, std::string> users_;
  std::string unknown_user_hash_;  // checked for unknown users, so they take as long
  std::array<unsigned char, 32> digest_key_{};
  Post post_;
  std::size_t max_pending_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  std::vector<Digest> remembered_;  // a ring of kRememberedCredentials
  std::size_t next_slot_ = 0;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace replywatch::server
