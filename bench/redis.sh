#!/usr/bin/env bash
# The Redis rows of `make bench` (issue 10), run by bench/run.sh's "redis" workload or alone:
#   bench/redis.sh BUILD_DIR [SECONDS]      prints a Markdown section on stdout
#
# One redis-server (no persistence) and one rendezvous-server (one I/O thread) on it; wrk
# (bench/wrk/workload.lua, random public X-Forwarded-For per request) sends keep-alive GETs of one
# 100-byte value, then POSTs of 200-byte values over 100 000 keys. Per request: the server's CPU,
# redis-server's CPU (utime + stime from /proc over the round / requests wrk counted), and Redis
# round trips (script calls / requests, from INFO commandstats). References measured in the same run: the
# server's CPU per GET on the memory engine, and redis-server's CPU per plain GET under
# `redis-benchmark -P 16`. Our server is pinned to CPU 1; redis-server and wrk share CPU 0.
# Every process started here is stopped by PID.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${1:-build-release}
SECONDS_PER_ROUND=${2:-5}
BIN="$ROOT/$BUILD_DIR/rendezvous-server"
LUA="$ROOT/bench/wrk/workload.lua"
[[ -x "$BIN" ]] || { echo "bench/redis.sh: no $BIN" >&2; exit 1; }
command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null ||
  { echo "bench/redis.sh: redis-server / redis-benchmark not installed" >&2; exit 1; }
CPU_A=0; CPU_B=0
(( $(nproc) >= 2 )) && CPU_B=1

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rdv-bench-redis.XXXXXX")
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}
ticks() {  # utime + stime of one PID, in clock ticks
  local fields; fields=$(sed 's/^.*) //' "/proc/$1/stat"); set -- $fields; echo $((${12} + ${13}))
}
# Scripts Redis ran so far (INFO commandstats counts the commands inside a script too, so the
# scripts are what counts round trips: on the request path every request is one EVALSHA).
calls() {
  redis-cli -p "$REDIS_PORT" INFO commandstats |
    awk -F'[=,:]' '$1 == "cmdstat_evalsha" || $1 == "cmdstat_eval" {n += $3} END {print n + 0}'
}
TCK=$(getconf CLK_TCK)

REDIS_PORT=$(free_port)
taskset -c "$CPU_A" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' \
  --appendonly no --dir "$WORK" --daemonize no >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!; PIDS+=("$REDIS_PID")
for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" PING >/dev/null 2>&1 && break; sleep 0.05; done

# start DB: sets URL and PID of a server on that -db.
start() {
  local log="$WORK/server.$RANDOM.log"
  taskset -c "$CPU_B" "$BIN" -l 127.0.0.1 -port 0 -threads 1 -disableLocalIPWaring -db "$1" \
    -maxRequests 1000000000 -maxNumKV 1000000 -maxKeysPerIP 0 >"$log" 2>&1 &
  PID=$!; PIDS+=("$PID")
  for _ in $(seq 200); do grep -q 'listening on' "$log" && break; sleep 0.05; done
  URL="http://127.0.0.1:$(grep -o 'listening on 127.0.0.1:[0-9]*' "$log" | cut -d: -f2)/"
}
wrk_run() {  # SECONDS URL ENV...: prints the request count
  local seconds=$1 url=$2; shift 2
  env "$@" taskset -c "$CPU_A" wrk -t1 -c64 -d"${seconds}s" -s "$LUA" "$url" 2>&1 |
    sed -n 's/^BENCH_RESULT requests=\([0-9]*\).*/\1/p' | tail -n 1
}
fill() {  # URL KEYS BYTES PREFIX
  env BENCH_MODE=fill BENCH_KEYS="$2" BENCH_VALUE_BYTES="$3" BENCH_KEY_PREFIX="$4" \
    timeout 300 wrk -t1 -c64 -d300s -s "$LUA" "$1" >"$WORK/fill.out" 2>&1 &
  local pid=$!
  for _ in $(seq 3000); do grep -q '^BENCH_FILL' "$WORK/fill.out" && break; sleep 0.1; done
  kill -INT "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
}
# row NAME URL SERVER_PID ENV...: one round; prints "name requests server_us redis_us trips".
row() {
  local name=$1 url=$2 pid=$3; shift 3
  wrk_run 1 "$url" "$@" >/dev/null  # warm-up
  local s0 r0 c0 n s1 r1 c1
  s0=$(ticks "$pid"); r0=$(ticks "$REDIS_PID"); c0=$(calls)
  n=$(wrk_run "$SECONDS_PER_ROUND" "$url" "$@")
  s1=$(ticks "$pid"); r1=$(ticks "$REDIS_PID"); c1=$(calls)
  python3 - "$name" "$n" $((s1 - s0)) $((r1 - r0)) $((c1 - c0)) "$TCK" <<'EOF'
import sys
name, n, s, r, c, tck = sys.argv[1], *map(int, sys.argv[2:])
us = lambda ticks: ticks * 1e6 / tck / max(n, 1)
print("%s %d %.2f %.2f %.2f" % (name, n, us(s), us(r), c / max(n, 1)))
EOF
}

GET_ENV=(BENCH_MODE=get BENCH_PATH=/bench/get0)
POST_ENV=(BENCH_MODE=post BENCH_KEYS=100000 BENCH_VALUE_BYTES=200)
start ""; MEM_URL=$URL; MEM_PID=$PID
fill "$MEM_URL" 1 100 /bench/get
MEM_ROW=$(row memory-get "$MEM_URL" "$MEM_PID" "${GET_ENV[@]}")
kill "$MEM_PID"; wait "$MEM_PID" 2>/dev/null || true

start "redis://127.0.0.1:$REDIS_PORT/0"; RDS_URL=$URL; RDS_PID=$PID
fill "$RDS_URL" 1 100 /bench/get
GET_ROW=$(row redis-get "$RDS_URL" "$RDS_PID" "${GET_ENV[@]}")
POST_ROW=$(row redis-post "$RDS_URL" "$RDS_PID" "${POST_ENV[@]}")

# Two servers on the one Redis (informative on a 2-core machine: everything shares 2 CPUs).
start "redis://127.0.0.1:$REDIS_PORT/0"; RDS2_URL=$URL
r0=$(ticks "$REDIS_PID")
wrk_run "$SECONDS_PER_ROUND" "$RDS_URL" "${GET_ENV[@]}" >"$WORK/two.a" &
wa=$!
wrk_run "$SECONDS_PER_ROUND" "$RDS2_URL" "${GET_ENV[@]}" >"$WORK/two.b"
wait "$wa"
TWO=$(( $(cat "$WORK/two.a") + $(cat "$WORK/two.b") ))

# redis-benchmark's plain GET, pipelined 16 deep, measured by redis-server's own CPU.
redis-cli -p "$REDIS_PORT" SET key:__rand_int__ xxxxxxxxxx >/dev/null
b0=$(ticks "$REDIS_PID")
BENCH_N=2000000
taskset -c "$CPU_B" redis-benchmark -p "$REDIS_PORT" -t get -n "$BENCH_N" -P 16 -c 50 -q \
  >"$WORK/rb.out" 2>&1
b1=$(ticks "$REDIS_PID")
RB_US=$(python3 -c "print('%.3f' % (($b1 - $b0) * 1e6 / $TCK / $BENCH_N))")

python3 - "$MEM_ROW" "$GET_ROW" "$POST_ROW" "$RB_US" "$TWO" "$SECONDS_PER_ROUND" \
  "$(sed -n 's/.*GET: \([0-9.]*\) requests.*/\1/p' "$WORK/rb.out" | tail -n 1)" <<'EOF'
import sys
mem, get, post = (row.split() for row in sys.argv[1:4])
rb_us, two, secs, rb_rps = float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
print("## Redis engine (one server, one I/O thread, on one redis-server)\n")
print("| workload | req/s | server CPU µs/req | redis CPU µs/req | round trips/req |")
print("|---|---:|---:|---:|---:|")
for name, n, s, r, c in (mem, get, post):
    print("| %s | %.0f | %s | %s | %s |" % (name, int(n) / secs, s, r if name != "memory-get" else "-",
                                           c if name != "memory-get" else "-"))
print("| redis-benchmark -P 16 GET | %s | - | %.3f | 1 |" % (rb_rps or "?", rb_us))
ratio_server = float(get[2]) / max(float(mem[2]), 1e-9)
ratio_redis = float(get[3]) / max(rb_us, 1e-9)
print("\nServer CPU per GET, Redis / memory: **%.2f×** (target ≤ 1.5×). redis-server CPU per GET, "
      "ours / redis-benchmark -P 16 GET: **%.2f×** (target ≤ 4×); one Redis core would carry "
      "about %.0f of our GETs per second." % (ratio_server, ratio_redis, 1e6 / max(float(get[3]), 1e-9)))
print("Two servers on the one Redis (informative, 2 CPUs shared by everything): %.0f GET/s in total."
      % (two / secs))
EOF
