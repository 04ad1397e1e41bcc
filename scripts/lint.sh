#!/usr/bin/env bash
# Style and static checks with the repo's .clang-format and .clang-tidy.
#   scripts/lint.sh          check formatting (fails on any difference)
#   scripts/lint.sh --tidy   also run clang-tidy over the sources (needs build/compile_commands.json)
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t sources < <(git ls-files '*.cc' '*.h')
clang-format --dry-run -Werror "${sources[@]}"
if [ "${1:-}" = "--tidy" ]; then
  mapfile -t units < <(git ls-files 'daemon/*.cc')
  clang-tidy -p build --quiet "${units[@]}"
fi
