#!/usr/bin/env bash
# Checks systemd/replywatch.service with systemd-analyze verify, pointing ExecStart at a built
# binary (the unit names /usr/bin/replywatch, which a build tree does not install).
#   scripts/verify-unit.sh BINARY
set -euo pipefail
cd "$(dirname "$0")/.."
binary="$(realpath "$1")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
sed "s|/usr/bin/replywatch|$binary|g" systemd/replywatch.service >"$work/replywatch.service"
output="$(systemd-analyze verify "$work/replywatch.service" 2>&1)" || {
  echo "$output" >&2
  exit 1
}
# verify exits 0 on some warnings; any output at all is a finding.
if [ -n "$output" ]; then
  echo "$output" >&2
  exit 1
fi
echo "systemd-analyze verify: clean"
