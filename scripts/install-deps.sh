#!/usr/bin/env bash
# Installs the Debian bookworm packages replywatch builds and tests with, if any is missing.
# Idempotent: installs nothing when everything is there.
set -euo pipefail

packages=(
  build-essential g++ cmake ninja-build pkg-config git ca-certificates tzdata clang-format
  libboost1.81-dev libboost-json1.81-dev
  prometheus-cpp-dev libyaml-cpp-dev libfmt-dev catch2 libhowardhinnant-date-dev libssl-dev
  libsystemd-dev zlib1g-dev
  # promtool, for the test that lints a real scrape and the rule tests; systemd-analyze, for the
  # unit's test; Alertmanager and amtool, for the alerting tests (exporters/, the end-to-end run);
  # python3 runs the end-to-end test, the dashboard checks and the live benchmarks
  prometheus prometheus-alertmanager systemd python3
  # groff renders the man pages (man/) in their test
  groff-base
  # bench/: Google Benchmark for the engine figures; SQLite for the event log's storage choice
  # (bench/log_bench.cc); wrk and curl for the live ingest figures; nginx-light for the HTTP
  # baseline of bench/durable_ingest.sh (nginx answering 204 to the same requests)
  libbenchmark-dev libsqlite3-dev wrk curl nginx-light
  # the console's browser test (headless Chromium driven by Selenium) and htpasswd for the
  # bcrypt hashes of the web config tests
  chromium chromium-driver python3-selenium apache2-utils openssl
  # libFuzzer targets under fuzz/ (scripts/fuzz.sh, and its smoke run in the suite)
  clang libclang-rt-14-dev
  # log.kind: jetstream (docs/scale-out.md): the NATS C client, and the servers the scale-out
  # tests and benchmark start (tests/e2e/nats_cluster.py)
  nats-server libnats-dev
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
