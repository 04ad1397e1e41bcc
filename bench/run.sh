#!/usr/bin/env bash
# The benchmark suite: one table of the figures docs/benchmarks.md tracks, each the median of
# RUNS runs, with its same-run baseline where one exists.
#
#   bench/run.sh [BUILD_DIR]              (default build/, a release build with the benchmarks)
#   RUNS=5 EVENTS=1000000 OPEN_ROUNDS=1000000 BATCH=10000 BATCHES=10 SHOPS=2000 DEADLINES=10000
#   SMOKE=1 bench/run.sh                  (tiny sizes, one run: checks that everything runs)
#   BEFORE=DIR bench/run.sh               (also measure DIR/replywatch and DIR/engine_bench, an
#                                          older build, for before/after figures; BEFORE_RULES
#                                          names rules that build accepts, default rules/)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
if [ -n "${SMOKE:-}" ]; then
  : "${RUNS:=1}" "${EVENTS:=2000}" "${OPEN_ROUNDS:=2000}" "${BATCH:=200}" "${BATCHES:=2}"
  : "${SHOPS:=20}" "${DEADLINES:=100}" "${REPLAY_EVENTS:=2000}" "${RSS_ROUNDS:=2000}"
fi
runs="${RUNS:-5}"
events="${EVENTS:-1000000}"
open_rounds="${OPEN_ROUNDS:-1000000}"
replay_events="${REPLAY_EVENTS:-1000000}"
work="$(mktemp -d /tmp/replywatch-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
seconds() { local TIMEFORMAT=%3R; { time "$@" >/dev/null 2>&1 || true; } 2>&1; }  # wall time

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" >&2

# 1. Engine alone vs decoding alone (Google Benchmark, medians of the repetitions).
"$build/bench/engine_gbench" --events="$events" --benchmark_repetitions="$runs" \
  --benchmark_report_aggregates_only=true --benchmark_format=json >"$work/gbench.json" 2>/dev/null
gbench() {  # items/s of the median aggregate of benchmark $1
  python3 -c 'import json,sys
rates = {b["name"]: b["items_per_second"] for b in json.load(open(sys.argv[1]))["benchmarks"]}
print(rates.get(sys.argv[2] + "_median", rates.get(sys.argv[2], 0)))' "$work/gbench.json" "$1"
}
decode=$(gbench BM_DecodeOnly)
engine=$(gbench BM_EngineOnly)

# 2. Heap per open round at OPEN_ROUNDS, each round from its own event (dedup included): the
# amazon rules score one reply view, so each buyer message opens exactly one round.
memory_of() {  # engine_bench binary -> "bytes-per-round bytes-per-id"
  "$1" --events 1000 --repeat 1 --open-rounds "$open_rounds" | awk '/memory \[amazon\]/ {
    for (i = 1; i <= NF; ++i) {
      if ($i == "bytes" && $(i+1) == "per" && $(i+2) == "open") round = $(i-1)
      if ($i == "adds") id = $(i+1)
    }
    print round + id, id }'
}
read -r memory memory_ids < <(memory_of "$build/bench/engine_bench")

# 3-5. The live daemon: batched ingest, breach-detection lag, /metrics.
live_of() {  # replywatch binary, output file
  python3 bench/live_bench.py "$1" --runs "$runs" --batch "${BATCH:-10000}" \
    --batches "${BATCHES:-10}" --shops "${SHOPS:-2000}" --deadlines "${DEADLINES:-10000}" \
    --rss-rounds "${RSS_ROUNDS:-$open_rounds}" >"$2"
}
live_of "$build/replywatch" "$work/live.txt"
live() { awk -v k="$1" '$1 == k {print $2}' "${2:-$work/live.txt}"; }

# 6. replay of REPLAY_EVENTS generated events, against wc -l on the same file.
"$build/bench/engine_bench" --events "$replay_events" --write-ndjson "$work/day.ndjson"
replay_of() {  # binary [rules]
  for _ in $(seq "$runs"); do seconds "$1" replay --rules "${2:-rules}" "$work/day.ndjson"; done |
    median
}
replay_s=$(replay_of "$build/replywatch")
wc_s=$(for _ in $(seq "$runs"); do seconds wc -l "$work/day.ndjson"; done | median)

if [ -n "${BEFORE:-}" ]; then
  read -r before_memory before_ids < <(memory_of "$BEFORE/engine_bench")
  live_of "$BEFORE/replywatch" "$work/live-before.txt"
  before_replay=$(replay_of "$BEFORE/replywatch" "${BEFORE_RULES:-rules}")
  before_engine=$("$BEFORE/engine_bench" --events "$events" --repeat "$runs" --open-rounds 1000 |
    awk '/engine only/ {print $4}')
  after_engine=$("$build/bench/engine_bench" --events "$events" --repeat "$runs" --open-rounds 1000 |
    awk '/engine only/ {print $4}')
  b() { live "$1" "$work/live-before.txt"; }
  {
    echo "before ($BEFORE) / after, same run, same sizes:"
    echo "| figure | before | after |"
    echo "|---|---|---|"
    echo "| engine alone (engine_bench, events/s) | $before_engine | $after_engine |"
    echo "| batched NDJSON ingest, events/s | $(b ingest_events_per_s) | $(live ingest_events_per_s) |"
    echo "| engine heap per open round incl. dedup (of which the id) | $before_memory B ($before_ids B) | $memory B ($memory_ids B) |"
    echo "| daemon RSS growth per open round | $(b rss_bytes_per_round) B | $(live rss_bytes_per_round) B |"
    echo "| breach-detection lag p50 / p99, ms | $(b lag_p50_ms) / $(b lag_p99_ms) | $(live lag_p50_ms) / $(live lag_p99_ms) |"
    echo "| /metrics scrape ms, bytes | $(b metrics_scrape_ms), $(b metrics_bytes) | $(live metrics_scrape_ms), $(live metrics_bytes) |"
    echo "| longest single POST during scrapes, ms | $(b metrics_stall_ms) | $(live metrics_stall_ms) |"
    echo "| replay of $replay_events events, s | $before_replay | $replay_s |"
    echo
  } >"$work/before.txt"
fi

awk -v decode="$decode" -v engine="$engine" -v memory="$memory" -v ids="$memory_ids" \
    -v open_rounds="$open_rounds" -v ingest="$(live ingest_events_per_s)" \
    -v p50="$(live lag_p50_ms)" -v p99="$(live lag_p99_ms)" \
    -v healthy="$(live metrics_healthy_ms)" -v scrape="$(live metrics_scrape_ms)" \
    -v scrape_gz="$(live metrics_scrape_gzip_ms)" -v bytes="$(live metrics_bytes)" \
    -v gz="$(live metrics_gzip_bytes)" -v server_gz="$(live metrics_server_gzip)" \
    -v stall="$(live metrics_stall_ms)" -v replay="$replay_s" -v wc="$wc_s" \
    -v rss="$(live rss_bytes_per_round)" -v rss_rounds="${RSS_ROUNDS:-$open_rounds}" \
    -v replay_events="$replay_events" -v runs="$runs" -v batch="${BATCH:-10000}" \
    -v shops="${SHOPS:-2000}" -v deadlines="${DEADLINES:-10000}" 'BEGIN {
  printf "medians of %d runs\n", runs
  printf "| figure | value | baseline | ratio | goal | must reach |\n|---|---|---|---|---|---|\n"
  printf "| engine alone, events/s (Google Benchmark) | %.0f | decode alone %.0f | %.2fx | >= 10 M/s | >= 1 M/s |\n", engine, decode, engine / decode
  printf "| batched NDJSON ingest, %d events/request, events/s | %.0f | decode alone %.0f | %.2fx | >= 2 M/s | >= 300 k/s |\n", batch, ingest, decode, ingest / decode
  printf "| engine heap per open round at %d, dedup included (of which the event id) | %s B (%s B) | - | - | <= 150 B | <= 200 B |\n", open_rounds, memory, ids
  printf "| daemon RSS growth per open round at %d, dedup included | %.0f B | - | - | <= 150 B | <= 200 B |\n", rss_rounds, rss
  printf "| breach-detection lag, %d deadlines over 3 s, p50 / p99 | %.0f ms / %.0f ms | - | - | p99 <= 50 ms | p99 <= 250 ms |\n", deadlines, p50, p99
  printf "| /metrics, %d shops x 5 SLAs: plain / gzip-asked scrape | %.0f ms / %.0f ms | /-/healthy %.1f ms | %.0fx | <= 20 ms | <= 100 ms |\n", shops, scrape, scrape_gz, healthy, scrape / healthy
  printf "| /metrics bytes: plain / gzip%s | %.2f MB / %.2f MB | - | - | <= 2 MB | <= 5 MB |\n", (server_gz == 1 ? "" : " (compressed here: the daemon does not gzip)"), bytes / 1e6, gz / 1e6
  printf "| longest single-event POST during scrapes | %.0f ms | /-/healthy %.1f ms | - | <= 5 ms | <= 20 ms |\n", stall, healthy
  printf "| replay of %d events, wall time | %.2f s | wc -l %.3f s; decode alone %.2f s | %.0fx wc | - | reported |\n", replay_events, replay, wc, replay_events / decode, replay / wc
}'
[ -f "$work/before.txt" ] && cat "$work/before.txt"

# 7. The event log: durable single-event ingest at 64 connections against the disk's limit, and
# the storage choice (segment files vs SQLite WAL, bytes per event vs NDJSON).
if [ -n "${SMOKE:-}" ]; then
  RUNS=1 SECONDS_PER_RUN=1 bench/durable_ingest.sh "$build"
  "$build/bench/log_bench" --dir "$work/log-bench" --sync-records 20 --records 2000
else
  RUNS="$runs" bench/durable_ingest.sh "$build"
  "$build/bench/log_bench" --dir "$work/log-bench"
fi
exit 0
