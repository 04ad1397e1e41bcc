// The `adapters:` list of the daemon's config file, read through load_config_file as the daemon
// reads it.
#include "adapter_config.h"

#include <catch2/catch.hpp>

#include "daemon_config.h"
#include "hmac.h"
#include "temp_dir.h"

using replywatch::adapters::check_adapter_platforms;
using replywatch::adapters::valid_adapter_name;
using replywatch::server::DaemonConfig;
using replywatch::server::load_config_file;

namespace {

struct Loaded {
  DaemonConfig config;
  std::vector<std::string> errors;
  std::string path;
};

Loaded load(rwtest::TempDir& dir, const std::string& adapters_yaml) {
  dir.write("cw.secret", "s3cret\n");
  Loaded out;
  out.path = dir.write("config.yaml", "rules: rules\nadapters:\n" + adapters_yaml);
  out.errors = load_config_file(out.path, out.config);
  return out;
}

}  // namespace

TEST_CASE("adapter_config: a valid list", "[adapter_config]") {
  rwtest::TempDir dir("adapters_ok");
  const Loaded loaded = load(dir,
                             "  - name: support\n"
                             "    kind: chatwoot\n"
                             "    platform: chatwoot\n"
                             "    secret_file: " +
                                 dir.file("cw.secret") +
                                 "\n"
                                 "  - name: local-test_2\n"
                                 "    kind: chatwoot\n"
                                 "    platform: chatwoot\n"
                                 "    insecure: true\n"
                                 "    account_id: 3\n");
  REQUIRE(loaded.errors.empty());
  REQUIRE(loaded.config.adapters);
  const auto* support = loaded.config.adapters->find("support");
  REQUIRE(support);
  CHECK(support->kind == "chatwoot");
  CHECK(support->platform == "chatwoot");
  CHECK_FALSE(support->insecure);
  CHECK(support->platform_at == loaded.path + ":5:15");
  const auto* local = loaded.config.adapters->find("local-test_2");
  REQUIRE(local);
  CHECK(local->insecure);
  CHECK_FALSE(loaded.config.adapters->find("other"));
}

TEST_CASE("adapter_config: the secret file's trailing newline is not part of the secret",
          "[adapter_config]") {
  rwtest::TempDir dir("adapters_secret");
  const Loaded loaded =
      load(dir, "  - {name: a, kind: chatwoot, platform: chatwoot, secret_file: " +
                    dir.file("cw.secret") + "}\n");
  REQUIRE(loaded.errors.empty());
  // Signed with "s3cret": a signature under "s3cret\n" would not match.
  const auto* adapter = loaded.config.adapters->find("a");
  REQUIRE(adapter);
  const std::string body = R"({"event":"conversation_created"})";
  const std::string signature =
      "sha256=" + replywatch::adapters::to_lower_hex(
                      replywatch::adapters::hmac_sha256("s3cret", {"1795683600", ".", body}));
  replywatch::adapters::AdapterRequest request{
      [&](std::string_view name) -> std::optional<std::string_view> {
        if (name == "X-Chatwoot-Timestamp") return std::string_view("1795683600");
        if (name == "X-Chatwoot-Signature") return std::string_view(signature);
        return std::nullopt;
      },
      body, replywatch::Instant(std::chrono::seconds(1795683600))};
  CHECK_FALSE(adapter->adapter->authenticate(request));
}

TEST_CASE("adapter_config: every problem with its position", "[adapter_config]") {
  rwtest::TempDir dir("adapters_bad");
  const Loaded loaded = load(dir,
                             "  - name: Support\n"                     // 3
                             "    kind: chatwoot\n"                    // 4
                             "    platform: chatwoot\n"                // 5
                             "    insecure: true\n"                    // 6
                             "  - name: a\n"                           // 7
                             "    kind: freshdesk\n"                   // 8
                             "    platform: chatwoot\n"                // 9
                             "    insecure: true\n"                    // 10
                             "  - name: b\n"                           // 11
                             "    kind: chatwoot\n"                    // 12
                             "    platform: chatwoot\n"                // 13
                             "  - name: c\n"                           // 14
                             "    kind: chatwoot\n"                    // 15
                             "    platform: chatwoot\n"                // 16
                             "    secret_file: /nonexistent/secret\n"  // 17
                             "  - name: d\n"                           // 18
                             "    kind: chatwoot\n"                    // 19
                             "    platform: chatwoot\n"                // 20
                             "    insecure: yes please\n"              // 21
                             "  - name: e\n"                           // 22
                             "    kind: chatwoot\n"                    // 23
                             "    platform: chatwoot\n"                // 24
                             "    insecure: true\n"                    // 25
                             "    signature_header: X\n"               // 26
                             "  - {name: e, kind: chatwoot, platform: chatwoot, insecure: true}\n"
                             "  - 42\n"
                             "  - {kind: chatwoot}\n");
  const std::string& p = loaded.path;
  auto has = [&](const std::string& text) {
    for (const std::string& error : loaded.errors) {
      if (error.find(text) != std::string::npos) return true;
    }
    return false;
  };
  INFO(Catch::Detail::stringify(loaded.errors));
  CHECK(has(p + ":3:11: adapters[0].name: \"Support\" is not [a-z0-9_-]+"));
  CHECK(has(p + ":8:11: adapters[a].kind: unknown kind \"freshdesk\""));
  CHECK(has(p + ":11:5: adapters[b]: secret_file is required"));
  CHECK(has(p + ":17:18: adapters[c].secret_file: cannot read the secret file"));
  CHECK(has(p + ":21:15: adapters[d].insecure: must be true or false"));
  CHECK(has(p + ":26:5: adapters[e]: unknown key \"signature_header\""));
  CHECK(has(p + ":27:12: adapters[e].name: another adapter has this name"));
  CHECK(has(p + ":28:5: adapters[7]: must be a mapping"));
  CHECK(has(":29:5: adapters[8]: name is required"));
  CHECK(has(":29:5: adapters[8]: platform is required"));
  // Nothing of a file with problems is taken.
  CHECK_FALSE(loaded.config.adapters);
}

TEST_CASE("adapter_config: adapters must be a list; an empty one is none", "[adapter_config]") {
  rwtest::TempDir dir("adapters_shape");
  DaemonConfig config;
  const std::string mapping = dir.write("m.yaml", "adapters: {name: a}\n");
  const auto errors = load_config_file(mapping, config);
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Catch::StartsWith(mapping + ":1:11: adapters must be a list"));
  const std::string empty = dir.write("e.yaml", "adapters:\n");
  CHECK(load_config_file(empty, config).empty());
  REQUIRE(config.adapters);
  CHECK(config.adapters->empty());
}

TEST_CASE("adapter_config: platforms are checked against the rules loaded", "[adapter_config]") {
  rwtest::TempDir dir("adapters_platform");
  const Loaded loaded = load(dir,
                             "  - {name: a, kind: chatwoot, platform: chatwoot, insecure: true}\n"
                             "  - {name: b, kind: chatwoot, platform: zendesk, insecure: true}\n");
  REQUIRE(loaded.errors.empty());
  const auto problems = check_adapter_platforms(
      *loaded.config.adapters, [](std::string_view platform) { return platform == "chatwoot"; });
  REQUIRE(problems.size() == 1);
  CHECK(problems[0] == loaded.path +
                           ":4:41: adapters[b].platform: no loaded rule file has platform "
                           "\"zendesk\"");
}

TEST_CASE("adapter_config: names", "[adapter_config]") {
  CHECK(valid_adapter_name("support"));
  CHECK(valid_adapter_name("cw-eu_2"));
  CHECK_FALSE(valid_adapter_name(""));
  CHECK_FALSE(valid_adapter_name("Support"));
  CHECK_FALSE(valid_adapter_name("a/b"));
  CHECK_FALSE(valid_adapter_name("a.b"));
}
