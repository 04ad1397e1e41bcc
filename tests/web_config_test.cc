// The web config file (exporter-toolkit format): what it accepts, and every mistake with its
// position.
#include "web_config.h"

#include <catch2/catch.hpp>

using replywatch::server::ClientAuth;
using replywatch::server::parse_web_config;
using replywatch::server::TlsVersion;

namespace {

// A hash of "s3cret" made by `htpasswd -nbB -C 5 alice s3cret`.
constexpr const char* kHash = "$2y$05$6a6HSBMhpufdQ6AatQhqhOmu.041wVniLK5H4yEHEVIe1cUHvZHlm";

std::vector<std::string> errors_of(const std::string& text) {
  return parse_web_config(text, "/etc/replywatch/web.yml").errors;
}

}  // namespace

TEST_CASE("web config: TLS and users are read, relative paths beside the file", "[web_config]") {
  const auto result =
      parse_web_config(std::string("tls_server_config:\n"
                                   "  cert_file: certs/server.crt\n"
                                   "  key_file: /keys/server.key\n"
                                   "  client_ca_file: ca.pem\n"
                                   "  client_auth_type: RequireAndVerifyClientCert\n"
                                   "  min_version: TLS13\n"
                                   "basic_auth_users:\n"
                                   "  alice: ") +
                           kHash + "\n",
                       "/etc/replywatch/web.yml");
  REQUIRE(result.errors.empty());
  REQUIRE(result.config->tls);
  CHECK(result.config->tls->cert_file == "/etc/replywatch/certs/server.crt");
  CHECK(result.config->tls->key_file == "/keys/server.key");
  CHECK(result.config->tls->client_ca_file == "/etc/replywatch/ca.pem");
  CHECK(result.config->tls->client_auth == ClientAuth::kRequireAndVerify);
  CHECK(result.config->tls->min_version == TlsVersion::kTls13);
  CHECK(result.config->basic_auth_users.at("alice") == kHash);
  CHECK(result.config->authenticates());
}

TEST_CASE("web config: users alone, TLS alone", "[web_config]") {
  const auto users =
      parse_web_config(std::string("basic_auth_users:\n  bob: ") + kHash + "\n", "w");
  REQUIRE(users.config);
  CHECK_FALSE(users.config->tls);
  CHECK(users.config->basic_auth_users.size() == 1);
  const auto tls =
      parse_web_config("tls_server_config: {cert_file: a.crt, key_file: a.key}\n", "w");
  REQUIRE(tls.config);
  CHECK(tls.config->tls->min_version == TlsVersion::kTls12);
  CHECK_FALSE(tls.config->authenticates());
}

TEST_CASE("web config: mistakes are FILE:LINE:COL with what is wrong", "[web_config]") {
  const std::string file = "/etc/replywatch/web.yml";
  auto errors = errors_of("tls_server_config:\n  cert_file: a.crt\n");
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Catch::StartsWith(file + ":2:3: ") &&
                            Catch::Contains("needs both cert_file and key_file"));

  errors = errors_of("basic_auth_users:\n  alice: plaintext\n");
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Catch::StartsWith(file + ":2:10: ") && Catch::Contains("not a bcrypt"));

  errors = errors_of("tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS14\n");
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Catch::StartsWith(file + ":4:16: ") && Catch::Contains("TLS13"));

  errors = errors_of("tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [x]\n");
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Catch::StartsWith(file + ":4:3: ") && Catch::Contains("not supported"));

  errors = errors_of("basic_auth_user:\n  alice: x\n");
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Catch::StartsWith(file + ":1:1: ") && Catch::Contains("basic_auth_user"));

  errors = errors_of(
      "tls_server_config:\n  cert_file: a\n  key_file: b\n"
      "  client_ca_file: ca.pem\n");
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Catch::StartsWith(file + ":4:19: ") && Catch::Contains("client_auth_type"));

  errors = errors_of(
      "tls_server_config:\n  cert_file: a\n  key_file: b\n"
      "  client_auth_type: RequireAndVerifyClientCert\n");
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Catch::Contains("client_ca_file is needed"));

  errors = errors_of("basic_auth_users: [alice]\n");
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Catch::StartsWith(file + ":1:19: ") && Catch::Contains("mapping"));

  errors = errors_of("basic_auth_users:\n  \"a:b\": x\n");
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Catch::Contains("':'"));

  errors = errors_of("tls_server_config: [\n");
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Catch::StartsWith(file + ":"));

  errors = errors_of("");
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Catch::Contains("empty"));
}

TEST_CASE("web config: every mistake of a file at once", "[web_config]") {
  const auto errors = errors_of(
      "tls_server_config:\n  cert_file: a\n  min_version: TLS9\nbasic_auth_users:\n  x: y\n");
  CHECK(errors.size() == 3);
}
