#!/bin/sh
# Builds the libFuzzer targets under fuzz/ with clang (ASan + UBSan) in build-fuzz/ and runs each
# for SECONDS (default 3: the smoke run of the test suite). A long run:
#   scripts/fuzz.sh 3600          # an hour per target; crashes land in build-fuzz/artifacts/
set -eu
seconds=${1:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${REPLYWATCH_FUZZ_BUILD:-$root/build-fuzz}
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not found (scripts/install-deps.sh installs it)" >&2; exit 1; }
launcher=""
command -v ccache >/dev/null && launcher="-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DREPLYWATCH_FUZZ=ON -DREPLYWATCH_BUILD_TESTS=OFF -DREPLYWATCH_BUILD_BENCH=OFF $launcher >/dev/null
cmake --build "$build" -j2 --target event_decoder_fuzz rule_loader_fuzz
mkdir -p "$build/artifacts"
for target in event_decoder rule_loader; do
  corpus="$build/corpus/$target"
  mkdir -p "$corpus"
  # The checked-in seeds are read, never written: new inputs go to the build's own corpus.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$build/fuzz/${target}_fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$build/artifacts/" -print_final_stats=1 \
    "$corpus" "$root/fuzz/corpus/$target"
done
