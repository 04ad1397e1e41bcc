#!/usr/bin/env bash
# Quick start: install what is missing, build, and start the daemon on the bundled rules, with
# its journal in ./replywatch-data and both listeners on loopback (ingest 127.0.0.1:9870, admin
# 127.0.0.1:9871). Extra arguments go to `replywatch run` (see `replywatch run --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh default
exec ./build/replywatch run --rules rules "$@"
