#!/usr/bin/env bash
# Quick ingest rates of the live daemon under wrk: single-event requests and batches of 100,
# against a baseline of GET /-/healthy on the same server (HTTP alone, no engine, no journal).
# Each mode runs RUNS times for SECONDS each; the median is printed. Journal fsyncs go to the
# disk under DATA (default: a fresh directory in /tmp).
#
#   bench/ingest_wrk.sh [BUILD_DIR]      (default build/; needs wrk: apt-get install wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
runs="${RUNS:-3}"
seconds="${SECONDS_PER_RUN:-5}"
connections="${CONNECTIONS:-16}"
data="${DATA:-$(mktemp -d /tmp/replywatch-wrk.XXXXXX)}"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }

log="$data/daemon.log"
"$build/replywatch" run --rules rules --data "$data/state" --ingest-listen 127.0.0.1:0 \
  --admin-listen 127.0.0.1:0 2>"$log" &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q "; ready" "$log" 2>/dev/null && break; sleep 0.05; done
ingest=$(grep -o 'ingest listening on [0-9.:]*' "$log" | awk '{print $4}')
admin=$(grep -o 'admin listening on [0-9.:]*' "$log" | awk '{print $4}')

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
rate() {  # requests/s of one wrk run
  wrk -t2 -c"$connections" -d"${seconds}s" "$@" 2>/dev/null | awk '/Requests\/sec/ {print $2}'
}

baseline=$(for _ in $(seq "$runs"); do rate "http://$admin/-/healthy"; done | median)
single=$(for _ in $(seq "$runs"); do BATCH=1 rate -s bench/wrk/events.lua "http://$ingest/v1/events"; done | median)
batched=$(for _ in $(seq "$runs"); do BATCH=100 rate -s bench/wrk/events.lua "http://$ingest/v1/events"; done | median)

awk -v b="$baseline" -v s="$single" -v m="$batched" -v c="$connections" -v r="$runs" -v d="$seconds" 'BEGIN {
  printf "wrk -t2 -c%d, median of %d runs of %ds each\n", c, r, d
  printf "%-40s %12s %12s %8s\n", "mode", "requests/s", "events/s", "ratio"
  printf "%-40s %12.0f %12s %8s\n", "baseline: GET /-/healthy", b, "-", "1.00"
  printf "%-40s %12.0f %12.0f %8.2f\n", "POST /v1/events, 1 event per request", s, s, s / b
  printf "%-40s %12.0f %12.0f %8.2f\n", "POST /v1/events, 100 events per request", m, m * 100, m / b
}'
grep -c "unexpected status" "$log" >/dev/null 2>&1 || true
