// Basic authentication: header parsing, bcrypt through libcrypt with a hash from htpasswd, and
// the authenticator's verdicts, remembered credentials and queue bound.
#include "basic_auth.h"

#include <catch2/catch.hpp>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>

using replywatch::server::AuthResult;
using replywatch::server::AuthVerdict;
using replywatch::server::BasicAuthenticator;
using replywatch::server::bcrypt_matches;
using replywatch::server::LoginFailure;
using replywatch::server::parse_basic_authorization;

namespace {

// `htpasswd -nbB -C 5 alice s3cret` (cost 5 keeps the test fast; the format is the same).
const std::string kHash = "$2y$05$6a6HSBMhpufdQ6AatQhqhOmu.041wVniLK5H4yEHEVIe1cUHvZHlm";
// "alice:s3cret", "alice:wrong", "mallory:s3cret" in base64.
constexpr const char* kGood = "Basic YWxpY2U6czNjcmV0";
constexpr const char* kWrong = "Basic YWxpY2U6d3Jvbmc=";
constexpr const char* kUnknown = "Basic bWFsbG9yeTpzM2NyZXQ=";

}  // namespace

TEST_CASE("basic auth: the Authorization header", "[basic_auth]") {
  auto parsed = parse_basic_authorization(kGood);
  REQUIRE(parsed);
  CHECK(parsed->user == "alice");
  CHECK(parsed->password == "s3cret");
  parsed = parse_basic_authorization("basic   YTpiOmM=");  // scheme in any case; ':' in password
  REQUIRE(parsed);
  CHECK(parsed->user == "a");
  CHECK(parsed->password == "b:c");
  parsed = parse_basic_authorization("Basic Og==");  // ":" — both empty
  REQUIRE(parsed);
  CHECK(parsed->user.empty());
  CHECK_FALSE(parse_basic_authorization("Bearer YWxpY2U6czNjcmV0"));
  CHECK_FALSE(parse_basic_authorization("Basic"));
  CHECK_FALSE(parse_basic_authorization("Basic YWxpY2U"));       // not a multiple of 4
  CHECK_FALSE(parse_basic_authorization("Basic YWxp!2U6czNj"));  // not base64
  CHECK_FALSE(parse_basic_authorization("Basic YWxpY2U="));      // no ':'
  CHECK_FALSE(parse_basic_authorization("Basic YQ==YWFh"));      // data after padding
}

TEST_CASE("basic auth: bcrypt hashes from htpasswd are checked by libcrypt", "[basic_auth]") {
  CHECK(bcrypt_matches("s3cret", kHash));
  CHECK_FALSE(bcrypt_matches("s3cret ", kHash));
  CHECK_FALSE(bcrypt_matches("", kHash));
  std::string b_variant = kHash;
  b_variant[2] = 'b';  // $2b$ is the same algorithm
  CHECK(bcrypt_matches("s3cret", b_variant));
  CHECK_FALSE(bcrypt_matches("s3cret", "not a hash"));
  CHECK_FALSE(bcrypt_matches("s3cret", ""));
}

TEST_CASE("basic auth: verdicts, remembered credentials never admit another password",
          "[basic_auth]") {
  std::deque<std::function<void()>> posted;
  BasicAuthenticator auth({{"alice", kHash}},
                          [&](std::function<void()> task) { posted.push_back(std::move(task)); });
  CHECK(auth.check_now(kGood).verdict == AuthVerdict::kAllowed);
  // Remembered now: the same credentials are answered at once...
  std::optional<AuthResult> answer;
  auth.check(kGood, [&](AuthResult result) { answer = result; });
  REQUIRE(answer);
  CHECK(answer->verdict == AuthVerdict::kAllowed);
  // ...but a wrong password for the same user is still checked (and refused).
  const AuthResult wrong = auth.check_now(kWrong);
  CHECK(wrong.verdict == AuthVerdict::kDenied);
  CHECK(wrong.failure == LoginFailure::kInvalid);
  const AuthResult unknown = auth.check_now(kUnknown);
  CHECK(unknown.verdict == AuthVerdict::kDenied);
  CHECK(unknown.failure == LoginFailure::kInvalid);
  CHECK(auth.check_now("").failure == LoginFailure::kMissing);
  CHECK(auth.check_now("Basic !!!!").failure == LoginFailure::kMalformed);
}

TEST_CASE("basic auth: checks run on the worker and come back through post", "[basic_auth]") {
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<std::function<void()>> posted;
  BasicAuthenticator auth({{"alice", kHash}}, [&](std::function<void()> task) {
    std::lock_guard lock(mutex);
    posted.push_back(std::move(task));
    changed.notify_all();
  });
  std::vector<AuthVerdict> verdicts;
  auth.check(kWrong, [&](AuthResult result) { verdicts.push_back(result.verdict); });
  auth.check(kGood, [&](AuthResult result) { verdicts.push_back(result.verdict); });
  CHECK(verdicts.empty());  // nothing answered on the caller's thread
  {
    std::unique_lock lock(mutex);
    REQUIRE(changed.wait_for(lock, std::chrono::seconds(20), [&] { return posted.size() == 2; }));
  }
  for (auto& task : posted) task();
  CHECK(verdicts == std::vector<AuthVerdict>{AuthVerdict::kDenied, AuthVerdict::kAllowed});
}

TEST_CASE("basic auth: a full queue answers busy at once", "[basic_auth]") {
  std::mutex mutex;
  std::deque<std::function<void()>> posted;
  BasicAuthenticator auth(
      {{"alice", kHash}},
      [&](std::function<void()> task) {
        std::lock_guard lock(mutex);
        posted.push_back(std::move(task));
      },
      0);
  std::optional<AuthResult> answer;
  auth.check(kWrong, [&](AuthResult result) { answer = result; });
  REQUIRE(answer);
  CHECK(answer->verdict == AuthVerdict::kBusy);
}

TEST_CASE("basic auth: a hash htpasswd makes now, at its default cost", "[basic_auth]") {
  FILE* pipe = ::popen("htpasswd -nbB bob 'pa ss:word' 2>&1", "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  char chunk[256];
  while (const std::size_t n = std::fread(chunk, 1, sizeof chunk, pipe)) output.append(chunk, n);
  REQUIRE(::pclose(pipe) == 0);
  const std::size_t colon = output.find(':');
  REQUIRE(colon != std::string::npos);
  std::string hash = output.substr(colon + 1);
  while (!hash.empty() && (hash.back() == '\n' || hash.back() == '\r')) hash.pop_back();
  CHECK_THAT(hash, Catch::StartsWith("$2y$"));
  CHECK(bcrypt_matches("pa ss:word", hash));
  CHECK_FALSE(bcrypt_matches("pa ss:wore", hash));
}
