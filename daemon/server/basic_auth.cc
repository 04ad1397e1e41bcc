#include "basic_auth.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstring>
#include <memory>
#include <stdexcept>

namespace replywatch::server {
namespace {

struct LoginFailureEntry {
  LoginFailure failure;
  std::string_view label;
};

constexpr std::array<LoginFailureEntry, kLoginFailureCount> kLoginFailures = {{
    {LoginFailure::kMissing, "missing"},
    {LoginFailure::kMalformed, "malformed"},
    {LoginFailure::kInvalid, "invalid"},
}};

constexpr bool login_table_in_enum_order() {
  for (std::size_t i = 0; i < kLoginFailures.size(); ++i) {
    if (static_cast<std::size_t>(kLoginFailures[i].failure) != i) return false;
  }
  return true;
}
static_assert(login_table_in_enum_order(), "kLoginFailures must list every LoginFailure in order");

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Standard base64 with padding, nothing else.
std::optional<std::string> base64_decode(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    int values[4];
    int padding = 0;
    for (int j = 0; j < 4; ++j) {
      const char c = text[i + static_cast<std::size_t>(j)];
      if (c == '=' && i + 4 == text.size() && j >= 2) {
        values[j] = 0;
        ++padding;
        continue;
      }
      if (padding > 0) return std::nullopt;  // data after '='
      values[j] = base64_value(c);
      if (values[j] < 0) return std::nullopt;
    }
    const unsigned bits =
        (static_cast<unsigned>(values[0]) << 18) | (static_cast<unsigned>(values[1]) << 12) |
        (static_cast<unsigned>(values[2]) << 6) | static_cast<unsigned>(values[3]);
    out.push_back(static_cast<char>((bits >> 16) & 0xFF));
    if (padding < 2) out.push_back(static_cast<char>((bits >> 8) & 0xFF));
    if (padding < 1) out.push_back(static_cast<char>(bits & 0xFF));
  }
  return out;
}

bool iequals_ascii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// The cost of a bcrypt hash ("$2y$10$..." -> 10); 10 when unreadable.
unsigned long bcrypt_cost(const std::string& hash) {
  if (hash.size() < 7) return 10;
  return static_cast<unsigned long>((hash[4] - '0') * 10 + (hash[5] - '0'));
}

}  // namespace

std::string_view login_failure_label(LoginFailure failure) {
  return kLoginFailures.at(static_cast<std::size_t>(failure)).label;
}

std::optional<BasicCredentials> parse_basic_authorization(std::string_view header) {
  while (!header.empty() && (header.front() == ' ' || header.front() == '\t')) {
    header.remove_prefix(1);
  }
  while (!header.empty() && (header.back() == ' ' || header.back() == '\t')) {
    header.remove_suffix(1);
  }
  const std::size_t space = header.find(' ');
  if (space == std::string_view::npos || !iequals_ascii(header.substr(0, space), "basic")) {
    return std::nullopt;
  }
  std::string_view encoded = header.substr(space + 1);
  while (!encoded.empty() && encoded.front() == ' ') encoded.remove_prefix(1);
  const auto decoded = base64_decode(encoded);
  if (!decoded) return std::nullopt;
  const std::size_t colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return BasicCredentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

bool bcrypt_matches(const std::string& password, const std::string& hash) {
  // Too big for the stack of a small thread; one allocation per check is nothing next to bcrypt.
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof(crypt_data));
  const char* result = crypt_rn(password.c_str(), hash.c_str(), data.get(), sizeof(crypt_data));
  if (result == nullptr || result[0] == '*') return false;
  const std::size_t length = std::strlen(result);
  if (length != hash.size()) return false;
  return CRYPTO_memcmp(result, hash.data(), length) == 0;
}

BasicAuthenticator::BasicAuthenticator(std::map<std::string, std::string> users, Post post,
                                       std::size_t max_pending)
    : users_(std::move(users)), post_(std::move(post)), max_pending_(max_pending) {
  if (RAND_bytes(digest_key_.data(), static_cast<int>(digest_key_.size())) != 1) {
    throw std::runtime_error("no randomness for the credential cache key");
  }
  // An unknown user is checked against a hash of the same cost as the first real one, so the
  // answer's timing does not tell which user names exist.
  const unsigned long cost = users_.empty() ? 10 : bcrypt_cost(users_.begin()->second);
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn("$2b$", cost, nullptr, 0, setting, sizeof setting) != nullptr) {
    auto data = std::make_unique<crypt_data>();
    std::memset(data.get(), 0, sizeof(crypt_data));
    std::array<unsigned char, 16> noise{};
    RAND_bytes(noise.data(), static_cast<int>(noise.size()));
    std::string phrase;
    for (const unsigned char byte : noise) phrase.push_back(static_cast<char>('a' + byte % 26));
    if (const char* hash = crypt_rn(phrase.c_str(), setting, data.get(), sizeof(crypt_data));
        hash != nullptr && hash[0] != '*') {
      unknown_user_hash_ = hash;
    }
  }
  remembered_.reserve(kRememberedCredentials);
  worker_ = std::thread([this] { work(); });
}

BasicAuthenticator::~BasicAuthenticator() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

BasicAuthenticator::Digest BasicAuthenticator::digest_of(const BasicCredentials& credentials,
                                                         const std::string& hash) const {
  // Lengths first, so that no two different triples give the same input.
  std::string input;
  for (const std::string* part : {&credentials.user, &credentials.password, &hash}) {
    const std::uint64_t size = part->size();
    input.append(reinterpret_cast<const char*>(&size), sizeof size);
    input.append(*part);
  }
  Digest digest{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), digest_key_.data(), static_cast<int>(digest_key_.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest.data(), &length);
  OPENSSL_cleanse(input.data(), input.size());
  return digest;
}

bool BasicAuthenticator::remembered(const Digest& digest) const {
  std::lock_guard lock(mutex_);
  bool found = false;
  // Every slot is compared, in constant time each, so the scan's length says nothing.
  for (const Digest& slot : remembered_) {
    found |= CRYPTO_memcmp(slot.data(), digest.data(), digest.size()) == 0;
  }
  return found;
}

void BasicAuthenticator::remember(const Digest& digest) {
  std::lock_guard lock(mutex_);
  if (remembered_.size() < kRememberedCredentials) {
    remembered_.push_back(digest);
  } else {
    remembered_[next_slot_] = digest;
    next_slot_ = (next_slot_ + 1) % kRememberedCredentials;
  }
}

AuthResult BasicAuthenticator::verify(const BasicCredentials& credentials) {
  const auto user = users_.find(credentials.user);
  const std::string& hash = user != users_.end() ? user->second : unknown_user_hash_;
  const Digest digest = digest_of(credentials, hash);
  if (user != users_.end() && remembered(digest)) return AuthResult{AuthVerdict::kAllowed, {}};
  const bool matches = !hash.empty() && bcrypt_matches(credentials.password, hash);
  if (matches && user != users_.end()) {
    remember(digest);
    return AuthResult{AuthVerdict::kAllowed, {}};
  }
  return AuthResult{AuthVerdict::kDenied, LoginFailure::kInvalid};
}

AuthResult BasicAuthenticator::check_now(std::string_view authorization) {
  if (authorization.empty()) return AuthResult{AuthVerdict::kDenied, LoginFailure::kMissing};
  const auto credentials = parse_basic_authorization(authorization);
  if (!credentials) return AuthResult{AuthVerdict::kDenied, LoginFailure::kMalformed};
  return verify(*credentials);
}

void BasicAuthenticator::check(std::string_view authorization,
                               std::function<void(AuthResult)> done) {
  if (authorization.empty()) {
    return done(AuthResult{AuthVerdict::kDenied, LoginFailure::kMissing});
  }
  auto credentials = parse_basic_authorization(authorization);
  if (!credentials) return done(AuthResult{AuthVerdict::kDenied, LoginFailure::kMalformed});
  if (const auto user = users_.find(credentials->user);
      user != users_.end() && remembered(digest_of(*credentials, user->second))) {
    return done(AuthResult{AuthVerdict::kAllowed, {}});
  }
  {
    std::lock_guard lock(mutex_);
    if (jobs_.size() >= max_pending_) {
      // Answered at once rather than queued without bound: a flood of guesses must not hold
      // memory or delay the operators behind it for minutes.
      return done(AuthResult{AuthVerdict::kBusy, {}});
    }
    jobs_.push_back(Job{std::move(*credentials), std::move(done)});
  }
  wake_.notify_one();
}

void BasicAuthenticator::work() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    const AuthResult result = verify(job.credentials);
    OPENSSL_cleanse(job.credentials.password.data(), job.credentials.password.size());
    post_([done = std::move(job.done), result] { done(result); });
  }
}

}  // namespace replywatch::server
