#!/usr/bin/env bash
# Single-event durable ingest under wrk with CONNECTIONS (default 64) keep-alive connections and
# fsync: always, against limits measured in the same run: the disk's, CONNECTIONS / (one
# fdatasync's time, on the same directory), i.e. every waiting request covered by one sync;
# HTTP's, nginx (one worker process) answering 204 to the same requests from the same wrk script;
# and, as a second reference, the daemon itself answering GET /-/healthy (no engine, no log).
# The ratio is against the lower of the disk's limit and nginx's (issue 9's baseline); without
# nginx (apt-get install nginx-light) it says so and uses /-/healthy in its place.
# Also prints how many requests each fdatasync covered (replywatch_log_syncs_total).
#
#   bench/durable_ingest.sh [BUILD_DIR]   (needs wrk; nginx optional: apt-get install wrk nginx-light)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
runs="${RUNS:-3}"
seconds="${SECONDS_PER_RUN:-5}"
connections="${CONNECTIONS:-64}"
data="${DATA:-$(mktemp -d /tmp/replywatch-durable.XXXXXX)}"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }

# The disk: median fdatasync of a small append, as the log does it.
sync_s=$(python3 - "$data" <<'PY'
import os, sys, time
path = os.path.join(sys.argv[1], "sync-probe")
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
times = []
for _ in range(50):
    os.write(fd, b"x" * 120)
    start = time.perf_counter()
    os.fdatasync(fd)
    times.append(time.perf_counter() - start)
os.close(fd)
os.unlink(path)
times.sort()
print(times[len(times) // 2])
PY
)

# HTTP: nginx answering 204 to the same POSTs, one worker like the daemon's one event loop.
nginx_rate=
nginx_bin=$(command -v nginx || true)
[ -z "$nginx_bin" ] && [ -x /usr/sbin/nginx ] && nginx_bin=/usr/sbin/nginx
if [ -n "$nginx_bin" ]; then
  nginx_dir="$data/nginx"
  mkdir -p "$nginx_dir"
  nginx_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  cat >"$nginx_dir/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $nginx_dir/nginx.pid;
error_log $nginx_dir/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $nginx_dir/body;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$nginx_port; location / { return 204; } }
}
CONF
  "$nginx_bin" -p "$nginx_dir" -c "$nginx_dir/nginx.conf" &
  nginx_pid=$!
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$nginx_port/" && break
    sleep 0.05
  done
  rates=()
  for _ in $(seq "$runs"); do
    rates+=("$(BATCH=1 wrk -t2 -c"$connections" -d"${seconds}s" -s bench/wrk/events.lua \
      "http://127.0.0.1:$nginx_port/v1/events" 2>/dev/null | awk '/Requests\/sec/ {print $2}' ||
      true)")
  done
  kill "$nginx_pid" 2>/dev/null || true
  wait "$nginx_pid" 2>/dev/null || true
  nginx_rate=$(printf '%s\n' "${rates[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  [ -z "$nginx_rate" ] && echo "nginx did not answer (see $nginx_dir/error.log): GET /-/healthy stands in for it" >&2
else
  echo "nginx is not installed (apt-get install nginx-light): GET /-/healthy stands in for it" >&2
fi

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
daemon=
trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null || true; rm -rf "$data"' EXIT
start_daemon() {  # fsync policy
  log="$data/daemon-$1.log"
  "$build/replywatch" run --rules rules --data "$data/state-$1" --ingest-listen 127.0.0.1:0 \
    --admin-listen 127.0.0.1:0 --fsync "$1" --max-connections 1024 2>"$log" &
  daemon=$!
  for _ in $(seq 200); do grep -q "; ready" "$log" 2>/dev/null && break; sleep 0.05; done
  ingest=$(grep -o 'ingest listening on [0-9.:]*' "$log" | awk '{print $4}')
  admin=$(grep -o 'admin listening on [0-9.:]*' "$log" | awk '{print $4}')
}
stop_daemon() { kill "$daemon"; wait "$daemon" 2>/dev/null || true; daemon=; }
metric() { curl -s "http://$admin/metrics" | awk -v k="$1" '$1 == k {print $2}'; }
posts() {  # prints: median requests/s, total requests
  local rates=() out total=0
  for _ in $(seq "$runs"); do
    out=$(BATCH=1 wrk -t2 -c"$connections" -d"${seconds}s" -s bench/wrk/events.lua \
      "http://$ingest/v1/events" 2>/dev/null)
    rates+=("$(awk '/Requests\/sec/ {print $2}' <<<"$out")")
    total=$((total + $(awk '/requests in/ {print $1}' <<<"$out")))
  done
  echo "$(printf '%s\n' "${rates[@]}" | median) $total"
}

start_daemon interval
read -r unsynced _ < <(posts)
stop_daemon
start_daemon always
healthy=()
for _ in $(seq "$runs"); do
  healthy+=("$(wrk -t2 -c"$connections" -d"${seconds}s" "http://$admin/-/healthy" 2>/dev/null |
    awk '/Requests\/sec/ {print $2}')")
done
http_limit=$(printf '%s\n' "${healthy[@]}" | median)
syncs_before=$(metric replywatch_log_syncs_total)
read -r single requests < <(posts)
syncs=$(( $(metric replywatch_log_syncs_total | cut -d. -f1) - ${syncs_before%.*} ))
awk -v r="$single" -v s="$sync_s" -v c="$connections" -v n="$runs" -v d="$seconds" \
    -v q="$requests" -v y="$syncs" -v h="$http_limit" -v u="$unsynced" -v g="$nginx_rate" 'BEGIN {
  disk = c / s
  http = g != "" ? g : h
  http_name = g != "" ? "nginx 204" : "GET /-/healthy (no nginx)"
  limit = disk < http ? disk : http
  printf "single-event durable ingest, wrk -t2 -c%d, fsync: always, median of %d runs of %ds\n", c, n, d
  printf "| figure | value | baseline | ratio |\n|---|---|---|---|\n"
  printf "| single-event durable ingest, requests/s | %.0f | lower of disk %d / fdatasync (%.2f ms) = %.0f/s and %s %.0f/s | %.2fx |\n", r, c, s * 1000, disk, http_name, http, r / limit
  printf "| the same against GET /-/healthy on the same daemon | %.0f | GET /-/healthy %.0f/s | %.2fx |\n", r, h, r / h
  printf "| the same with fsync: interval (no sync waited for), requests/s | %.0f | %s %.0f/s | %.2fx |\n", u, http_name, http, u / http
  printf "| requests per fdatasync under fsync: always | %.1f | - | - |\n", (y > 0 ? q / y : 0)
  printf "| time per group commit under load (run time / syncs) | %.2f ms | one fdatasync alone %.2f ms | - |\n", (y > 0 ? n * d * 1000 / y : 0), s * 1000
}'
