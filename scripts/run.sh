#!/usr/bin/env bash
# Quick start: install what is missing, build, check the bundled rules and replay the bundled
# sample day through the engine. (The live daemon, `replywatch run`, is not in this build yet.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh default
./build/replywatch check rules
./build/replywatch replay --rules rules docs/sample-day.ndjson
