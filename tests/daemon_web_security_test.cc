// The web config on the real daemon: TLS on both listeners (a self-signed certificate made by
// openssl here), Basic authentication with an htpasswd hash on the admin listener, the 401s,
// the failure counter, promtool on a scrape through both, and the start-up refusals.
#include <catch2/catch.hpp>
#include <cstdio>
#include <string>

#include "daemon_process.h"

namespace {

using rwtest::DaemonProcess;
using rwtest::TempDir;

constexpr const char* kRules = R"(platform: testchat
timezone: UTC
slas:
  - name: reply_1m
    kind: reply_time
    deadline: 1m
    warn_before: 30s
    objective: 0.9
)";

std::pair<int, std::string> shell(const std::string& command) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  char chunk[4096];
  while (const std::size_t n = std::fread(chunk, 1, sizeof chunk, pipe)) output.append(chunk, n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

// A key and a self-signed certificate for 127.0.0.1 and localhost in `dir`.
void make_certificate(const TempDir& dir) {
  const auto [status, output] = shell(
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
      "-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " +
      dir.file("server.key") + " -out " + dir.file("server.crt"));
  REQUIRE(status == 0);
}

std::string bcrypt_hash(const std::string& user, const std::string& password) {
  const auto [status, output] = shell("htpasswd -nbB -C 5 " + user + " " + password);
  REQUIRE(status == 0);
  return trimmed(output.substr(output.find(':') + 1));
}

std::vector<std::string> args(const TempDir& dir, std::vector<std::string> extra) {
  std::vector<std::string> out = {"--rules", dir.file("rules"), "--data", dir.file("data")};
  out.insert(out.end(), extra.begin(), extra.end());
  return out;
}

// curl's status code (000 when no HTTP answer came) for a request to the TLS admin listener.
std::string status_of(const std::string& curl) {
  return trimmed(shell(curl + " -s -o /dev/null -w '%{http_code}'").second);
}

}  // namespace

TEST_CASE("TLS and Basic auth on the admin listener, TLS on ingest", "[daemon][web_config]") {
  TempDir dir("websec");
  dir.write("rules/testchat.yaml", kRules);
  make_certificate(dir);
  const std::string hash = bcrypt_hash("lead", "pa55word");
  dir.write("web.yml",
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
            "basic_auth_users:\n  lead: " +
                hash + "\n");
  dir.write("ingest-web.yml",
            "tls_server_config:\n  cert_file: server.crt\n"
            "  key_file: server.key\n");
  DaemonProcess daemon(args(dir, {"--web-config-file", dir.file("web.yml"),
                                  "--ingest-web-config-file", dir.file("ingest-web.yml")}));
  CHECK_THAT(daemon.log(),
             Catch::Contains("admin listener: TLS, Basic authentication (1 user(s))"));
  CHECK_THAT(daemon.log(), Catch::Contains("ingest listener: TLS"));
  const std::string admin = "https://127.0.0.1:" + std::to_string(daemon.admin_port());
  const std::string ingest = "https://127.0.0.1:" + std::to_string(daemon.ingest_port());
  const std::string curl = "curl --max-time 10 --cacert " + dir.file("server.crt");

  SECTION("missing and wrong credentials are 401 with a Basic challenge, and counted") {
    const auto missing = shell(curl + " -s -D - -o /dev/null " + admin + "/metrics").second;
    CHECK_THAT(missing, Catch::Contains("HTTP/1.1 401") &&
                            Catch::Contains("WWW-Authenticate: Basic realm=\"replywatch\""));
    CHECK(status_of(curl + " -u lead:wrong " + admin + "/metrics") == "401");
    CHECK(status_of(curl + " -u nobody:pa55word " + admin + "/v1/at-risk") == "401");
    CHECK(status_of(curl + " -H 'Authorization: Basic %%%' " + admin + "/") == "401");
    CHECK(status_of(curl + " -u lead:pa55word " + admin + "/-/healthy") == "200");
    const std::string metrics = shell(curl + " -s -u lead:pa55word " + admin + "/metrics").second;
    CHECK_THAT(metrics,
               Catch::Contains(R"(replywatch_admin_login_failures_total{reason="missing"} 1)"));
    CHECK_THAT(metrics,
               Catch::Contains(R"(replywatch_admin_login_failures_total{reason="invalid"} 2)"));
    CHECK_THAT(metrics,
               Catch::Contains(R"(replywatch_admin_login_failures_total{reason="malformed"} 1)"));
  }
  SECTION("promtool accepts a scrape made through TLS and Basic auth") {
    const auto [status, output] =
        shell(curl + " -sf -u lead:pa55word " + admin + "/metrics | promtool check metrics");
    CHECK(status == 0);
    INFO(output);
  }
  SECTION("the console, its assets and its stream are behind the same gate") {
    CHECK(status_of(curl + " -H 'Accept: text/html' " + admin + "/") == "401");
    CHECK(status_of(curl + " " + admin + "/console/app.js") == "401");
    const auto page =
        shell(curl + " -s -D - -u lead:pa55word -H 'Accept: text/html' " + admin + "/").second;
    CHECK_THAT(page, Catch::Contains("Content-Security-Policy: default-src 'none'; "
                                     "script-src 'self'"));
    const auto events = shell("curl --max-time 2 -s -N --cacert " + dir.file("server.crt") +
                              " -u lead:pa55word " + admin + "/v1/console/events")
                            .second;
    CHECK_THAT(events, Catch::Contains("event: queue"));
  }
  SECTION("body limits hold on TLS connections; plain HTTP gets no answer") {
    dir.write("big.txt", std::string(100 * 1024, 'x'));
    CHECK(status_of(curl +
                    " -u lead:pa55word -X POST -H 'Content-Type: application/json' "
                    "--data-binary @" +
                    dir.file("big.txt") + " " + admin + "/-/reload") == "413");
    CHECK(status_of("curl --max-time 5 http://127.0.0.1:" + std::to_string(daemon.admin_port()) +
                    "/metrics") != "200");
  }
  SECTION("webhooks arrive over TLS") {
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const std::string body = R"({"id":"1","platform":"testchat","shop":"s1",)"
                             R"("type":"buyer_message","conversation":"c1","ts":)" +
                             std::to_string(now) + "}";
    const auto answer = shell(curl + " -s -H 'Content-Type: application/json' -d '" + body + "' " +
                              ingest + "/v1/events")
                            .second;
    CHECK_THAT(answer, Catch::Contains(R"("accepted":1)"));
  }
}

TEST_CASE("A non-loopback admin listener needs TLS and authentication", "[daemon][web_config]") {
  TempDir dir("websec-start");
  dir.write("rules/testchat.yaml", kRules);
  make_certificate(dir);
  dir.write("tls-only.yml",
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n");
  dir.write("bad.yml", "tls_server_config:\n  cert_file: server.crt\n  key_fil: server.key\n");
  dir.write("users.yml",
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
            "basic_auth_users:\n  lead: " +
                bcrypt_hash("lead", "pw") + "\n");
  {
    DaemonProcess refused(
        args(dir, {"--admin-listen", "0.0.0.0:0", "--web-config-file", dir.file("tls-only.yml")}),
        false);
    CHECK(refused.wait_exit(std::chrono::seconds(10)) == 1);
    CHECK_THAT(refused.log(), Catch::Contains("no authentication"));
  }
  {
    DaemonProcess refused(args(dir, {"--web-config-file", dir.file("bad.yml")}), false);
    CHECK(refused.wait_exit(std::chrono::seconds(10)) == 1);
    CHECK_THAT(refused.log(), Catch::Contains(dir.file("bad.yml") + ":3:3: "));
  }
  {
    dir.write("wrong-key.yml",
              "tls_server_config:\n  cert_file: server.crt\n"
              "  key_file: tls-only.yml\n");
    DaemonProcess refused(args(dir, {"--web-config-file", dir.file("wrong-key.yml")}), false);
    CHECK(refused.wait_exit(std::chrono::seconds(10)) == 1);
    CHECK_THAT(refused.log(), Catch::Contains("cannot use as a PEM private key"));
  }
  {
    DaemonProcess secured(
        args(dir, {"--admin-listen", "0.0.0.0:0", "--web-config-file", dir.file("users.yml")}),
        false);
    secured.wait_for_log("; (ready)");
    CHECK_THAT(secured.log(), !Catch::Contains("!!!"));
  }
}
