#!/usr/bin/env bash
# The benchmark behind `make bench` (issue 5): our server against nginx answering a constant, on
# loopback, compared by the server's own CPU time per request.
#
# `make bench` installs wrk and nginx-light first; this script installs nothing. It builds the
# Release tree (build-release, with -DRDV_BENCH=ON), runs the workloads below, the restart and
# memory measurements and the microbenchmarks, prints one Markdown report and writes it to
# bench/results/<date>-<short commit>.md.
#
# Every workload: nginx (one worker, access_log off, `return 200` of a value of the same size),
# the "limit" (bench/limit_responder.cc: one edge-triggered epoll loop that counts "\r\n\r\n" and
# writes a fixed answer as long as ours to the GET) and our server (one I/O thread) each pinned
# to CPU 1, wrk pinned to CPU 0 (`wrk -t1 -c64
# --latency`), a warm-up of each, then BENCH_ROUNDS measured rounds interleaved nginx, limit,
# ours, nginx, limit, ours, ... (the limit answers the requests nginx gets; not in `scaling`). CPU per request = utime + stime from /proc/PID/stat over the round ÷ requests
# wrk counted. Requests carry a random public X-Forwarded-For each (loopback is a trusted proxy),
# and -maxRequests is high enough that they pass, except in the workload that measures a 429.
#
# Settings (environment):
#   BENCH_SECONDS=5          length of a measured round
#   BENCH_ROUNDS=3           measured rounds per server and workload
#   BENCH_WARMUP=2           seconds of warm-up per server and workload
#   BENCH_CONNECTIONS=64     wrk connections
#   BENCH_WORKLOADS="..."    subset and order, from: get get-lmdb close pipeline pipeline-lmdb
#                            post-memory post-lmdb mixed-memory mixed-lmdb limited list100 scaling restart
#                            memory micro tls-get tls-handshake tls-idle
#                            pk redis (bench/redis.sh: the Redis engine's rows, its own section)
#                            wake (bench/wake_cost.py: CPU per long-poll wake-up, its own section)
#   BENCH_WAKE_WAITERS=128   waiting connections of the wake workload
#   BENCH_MAX_REQUESTS=1000000000  the server's -maxRequests in the workloads whose requests pass
#   BENCH_MICRO_MIN_TIME=0.2 --benchmark_min_time of the microbenchmarks
#   BENCH_NICE=              e.g. -10: run servers and wrk under `nice -n` (a busy shared machine)
#   BENCH_BUILD_DIR=build-release, BENCH_RESULTS_DIR=bench/results
# A workload that cannot run (e.g. the LMDB engine refuses to start) is reported as skipped with
# the server's message; the script goes on. Every process it starts is stopped by PID on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

ROUND_SECONDS=${BENCH_SECONDS:-5}
ROUNDS=${BENCH_ROUNDS:-3}
WARMUP_SECONDS=${BENCH_WARMUP:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
ALL_WORKLOADS="get get-lmdb close pipeline pipeline-lmdb post-memory post-lmdb mixed-memory mixed-lmdb limited
list100 scaling restart memory micro tls-get tls-handshake tls-idle pk redis wake"
WORKLOADS=${BENCH_WORKLOADS:-$ALL_WORKLOADS}
WORKLOADS=${WORKLOADS//,/ }
MAX_REQUESTS=${BENCH_MAX_REQUESTS:-1000000000}
MICRO_MIN_TIME=${BENCH_MICRO_MIN_TIME:-0.2}
BUILD_DIR=${BENCH_BUILD_DIR:-build-release}
RESULTS_DIR=${BENCH_RESULTS_DIR:-bench/results}
LUA="$ROOT/bench/wrk/workload.lua"
KEYS=100000          # key population of the POST and mixed workloads
GET_BYTES=100        # the value of the GET workloads
POST_BYTES=200       # the values of the POST and mixed workloads
FIXED_CLIENT=203.0.113.7

die() { echo "bench: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

KNOWN_WORKLOADS=" ${ALL_WORKLOADS//$'\n'/ } "
for word in $WORKLOADS; do
  [[ "$KNOWN_WORKLOADS" == *" $word "* ]] || die "unknown workload '$word' (known:$KNOWN_WORKLOADS)"
done
NGINX=$(command -v nginx || true)
[[ -z "$NGINX" && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
for tool in wrk taskset python3 cmake ninja; do
  command -v "$tool" >/dev/null ||
    die "$tool not found: run 'make bench' (it installs wrk and nginx-light)"
done
[[ -n "$NGINX" ]] || die "nginx not found: run 'make bench' (it installs nginx-light)"

# Pinning: servers on CPU 1, wrk on CPU 0. On a single CPU everything shares CPU 0 (reported).
if (( $(nproc) >= 2 )); then
  SERVER_CPU=1; WRK_CPU=0; PINNING="servers on CPU 1, wrk on CPU 0"
else
  SERVER_CPU=0; WRK_CPU=0; PINNING="one CPU only: servers and wrk share CPU 0 (not comparable)"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rdv-bench.XXXXXX")
PIDS=()  # every process started here and not yet reaped

# Stops `pid` (TERM, then KILL after 20 s) and reaps it.
stop_pid() {
  local pid=$1 i state
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do
      state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo gone)
      [[ "$state" == Z || "$state" == gone ]] && break
      sleep 0.1
    done
    if [[ "$state" != Z && "$state" != gone ]]; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
  local kept=() p
  for p in "${PIDS[@]}"; do [[ "$p" == "$pid" ]] || kept+=("$p"); done
  PIDS=("${kept[@]}")
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local pid
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Appends a command line (shell-quoted) to the report's command list, once.
record_command() {
  local line
  line=$(printf '%q ' "$@")
  line=${line% }
  grep -Fxq -- "$line" "$WORK/commands.txt" 2>/dev/null || echo "$line" >>"$WORK/commands.txt"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# utime + stime (clock ticks) summed over the given PIDs.
cpu_ticks() {
  local total=0 pid fields
  for pid in "$@"; do
    fields=$(sed 's/^.*) //' "/proc/$pid/stat")  # the fields after "(comm)"
    set -- $fields
    total=$((total + ${12} + ${13}))           # utime and stime: fields 14 and 15 of stat
  done
  echo "$total"
}

# A field of /proc/PID/status in kB (0 if absent).
status_kb() {
  awk -v k="$2:" '$1 == k {print $2; found=1} END {if (!found) print 0}' "/proc/$1/status"
}

# --- servers -----------------------------------------------------------------------------------

BIN="$ROOT/$BUILD_DIR/rendezvous-server"
OUR_TASKSET=()
NGINX_TASKSET=()
WRK_TASKSET=()
PRIORITY=()
[[ -n "${BENCH_NICE:-}" ]] && PRIORITY=(nice -n "$BENCH_NICE")
set_pinned() {
  OUR_TASKSET=("${PRIORITY[@]}" taskset -c "$SERVER_CPU")
  NGINX_TASKSET=("${PRIORITY[@]}" taskset -c "$SERVER_CPU")
  WRK_TASKSET=("${PRIORITY[@]}" taskset -c "$WRK_CPU")
}
set_unpinned() {
  OUR_TASKSET=("${PRIORITY[@]}"); NGINX_TASKSET=("${PRIORITY[@]}"); WRK_TASKSET=("${PRIORITY[@]}")
}

# start_ours NAME FLAGS...: sets OUR_PID and OUR_URL; on failure returns 1 with OUR_ERROR set.
start_ours() {
  local name=$1; shift
  local log="$WORK/$name.ours.log" i port
  local cmd=("${OUR_TASKSET[@]}" "$BIN" -l 127.0.0.1 -port 0 -disableLocalIPWaring "$@")
  record_command "${cmd[@]}"
  "${cmd[@]}" >"$log" 2>&1 &
  OUR_PID=$!
  PIDS+=("$OUR_PID")
  OUR_URL=""
  for ((i = 0; i < 300; i++)); do
    if grep -q 'listening on 127.0.0.1:' "$log"; then
      port=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$log" | head -n 1 | cut -d: -f2)
      OUR_URL="http://127.0.0.1:$port/"
      return 0
    fi
    kill -0 "$OUR_PID" 2>/dev/null && [[ $(awk '{print $3}' "/proc/$OUR_PID/stat") != Z ]] || break
    sleep 0.05
  done
  OUR_ERROR=$(grep -v '^$' "$log" | tail -n 1 | sed 's/^[^ ]* [A-Z]* //')
  [[ -n "$OUR_ERROR" ]] || OUR_ERROR="no 'listening' line within 15 s"
  stop_pid "$OUR_PID"
  return 1
}

# start_nginx NAME BODY_BYTES WORKERS: sets NGINX_PID (master), NGINX_WORKERS and NGINX_URL.
start_nginx() {
  local name=$1 bytes=$2 workers=$3
  local dir="$WORK/$name.nginx" port i
  mkdir -p "$dir/tmp"
  port=$(free_port)
  local body answer
  body=$(head -c "$bytes" /dev/zero | tr '\0' v)
  answer="return 200 \"$body\";"
  if (( bytes > 4000 )); then
    # Past nginx's 4 KiB limit on a directive's parameter: the body in variables of 4000 bytes,
    # joined by `return` (still an answer from memory).
    local i names=""
    answer=""
    for ((i = 0; i * 4000 < bytes; i++)); do
      answer+="set \$part$i \"${body:i*4000:4000}\"; "
      names+="\$part$i"
    done
    answer+="return 200 \"$names\";"
  fi
  cat >"$dir/nginx.conf" <<EOF
worker_processes $workers;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/tmp/client_body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  keepalive_requests 1000000000;
  server {
    listen 127.0.0.1:$port${NGINX_LISTEN_OPTS:-};
    ${NGINX_SERVER_EXTRA:-}
    location / {
      default_type application/octet-stream;
      $answer
    }
  }
}
EOF
  local cmd=("${NGINX_TASKSET[@]}" "$NGINX" -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log")
  record_command "${cmd[@]}"
  "${cmd[@]}" >"$dir/stdout.log" 2>&1 &
  NGINX_PID=$!
  PIDS+=("$NGINX_PID")
  NGINX_URL="http://127.0.0.1:$port/"
  NGINX_WORKERS=()
  for ((i = 0; i < 200; i++)); do
    read -r -a NGINX_WORKERS <"/proc/$NGINX_PID/task/$NGINX_PID/children" 2>/dev/null || true
    if (( ${#NGINX_WORKERS[@]} >= workers )) && (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    kill -0 "$NGINX_PID" 2>/dev/null || break
    sleep 0.05
  done
  cat "$dir/error.log" "$dir/stdout.log" >&2 2>/dev/null || true
  die "nginx did not start (config $dir/nginx.conf)"
}

# --- the limit reference (rdv-limit) -----------------------------------------------------------

LIMIT_PID=""
# response_bytes URL PATH: the size in bytes of our server's whole answer to one GET of PATH.
response_bytes() {
  python3 - "$1" "$2" <<'PY'
import socket, sys, urllib.parse
url = urllib.parse.urlsplit(sys.argv[1])
s = socket.create_connection((url.hostname, url.port))
s.sendall(f"GET {sys.argv[2]} HTTP/1.1\r\nHost: {url.netloc}\r\nX-Forwarded-For: 203.0.113.9\r\n"
          "Connection: close\r\n\r\n".encode())
data = b""
while chunk := s.recv(65536):
    data += chunk
# The benchmark keeps connections open: count the answer without its "Connection: close" line.
print(len(data) - len(b"Connection: close\r\n"))
PY
}

# start_limit NAME RESPONSE_BYTES: sets LIMIT_PID and LIMIT_URL.
start_limit() {
  local name=$1 bytes=$2 log="$WORK/$1.limit.log" i port
  local cmd=("${NGINX_TASKSET[@]}" "$ROOT/$BUILD_DIR/bench/rdv-limit" "$bytes")
  record_command "${cmd[@]}"
  "${cmd[@]}" >"$log" 2>&1 &
  LIMIT_PID=$!
  PIDS+=("$LIMIT_PID")
  for ((i = 0; i < 200; i++)); do
    port=$(grep -so 'listening on 127.0.0.1:[0-9]*' "$log" | head -n 1 | cut -d: -f2 || true)
    if [[ -n "$port" ]]; then LIMIT_URL="http://127.0.0.1:$port/"; return 0; fi
    kill -0 "$LIMIT_PID" 2>/dev/null || break
    sleep 0.05
  done
  cat "$log" >&2
  die "rdv-limit did not start"
}

# --- wrk -----------------------------------------------------------------------------------------

# run_wrk OUT SECONDS URL: wrk with the current WRK_ENV (BENCH_* settings for workload.lua),
# WRK_EXTRA (extra wrk arguments) and WRK_THREADS.
WRK_ENV=()
WRK_EXTRA=()
WRK_THREADS=1
run_wrk() {
  local out=$1 seconds=$2 url=$3
  local cmd=(env "${WRK_ENV[@]}" "${WRK_TASKSET[@]}" wrk -t"$WRK_THREADS" -c"$CONNECTIONS"
             -d"${seconds}s" --latency "${WRK_EXTRA[@]}" -s "$LUA" "$url")
  record_command "${cmd[@]}"
  "${cmd[@]}" >"$out" 2>&1 || true
}

# fill URL KEYS VALUE_BYTES PREFIX: POSTs keys PREFIX0..PREFIX<KEYS-1> once each (wrk with
# BENCH_MODE=fill, interrupted when the script reports it is done). Returns 1 unless every
# answer was 200.
fill() {
  local url=$1 keys=$2 bytes=$3 prefix=$4
  local out="$WORK/fill.$RANDOM.out" i pid
  local cmd=(env BENCH_MODE=fill BENCH_KEYS="$keys" BENCH_VALUE_BYTES="$bytes"
             BENCH_KEY_PREFIX="$prefix" "${WRK_TASKSET[@]}" wrk -t1 -c"$CONNECTIONS" -d600s
             -s "$LUA" "$url")
  record_command "${cmd[@]}"
  "${cmd[@]}" >"$out" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  for ((i = 0; i < 6000; i++)); do
    grep -q '^BENCH_FILL' "$out" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -INT "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  stop_pid "$pid"
  if ! grep -q '^BENCH_FILL .* bad=0$' "$out"; then
    FILL_ERROR="fill of $keys keys failed: $(grep -E '^BENCH_(FILL|RESULT)' "$out" | tr '\n' ' ')"
    return 1
  fi
  return 0
}

# announce URL COUNT NAME: POST /ip/NAME from COUNT addresses (X-Forwarded-For 198.18.x.y, loopback
# being a trusted proxy), so that GET /ip/*/NAME lists COUNT announcers. Returns 1 unless every
# answer was 200.
announce() {
  if ! FILL_ERROR=$(python3 - "$1" "$2" "$3" <<'PY'
import http.client, sys, urllib.parse
url = urllib.parse.urlsplit(sys.argv[1])
conn = http.client.HTTPConnection(url.hostname, url.port)
for i in range(int(sys.argv[2])):
    conn.request("POST", "/ip/" + sys.argv[3], body=b"v" * 64,
                 headers={"X-Forwarded-For": "198.18.%d.%d" % (i // 250, i % 250 + 1)})
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        print("announce %d answered %d" % (i, response.status))
        sys.exit(1)
PY
  ); then
    FILL_ERROR="announce failed: $FILL_ERROR"
    return 1
  fi
}

# body_bytes URL PATH: the length of the body a GET of PATH answers.
body_bytes() {
  python3 - "$1" "$2" <<'PY'
import http.client, sys, urllib.parse
url = urllib.parse.urlsplit(sys.argv[1])
conn = http.client.HTTPConnection(url.hostname, url.port)
conn.request("GET", sys.argv[2], headers={"X-Forwarded-For": "203.0.113.9"})
print(len(conn.getresponse().read()))
PY
}

# The server CPU's counters from /proc/stat, in ticks: "busy idle steal" (busy: user, nice,
# system, irq, softirq). Busy time beyond the server's own shows other load on its CPU.
server_cpu_stat() {
  awk -v c="cpu$SERVER_CPU" '$1 == c {print $2 + $3 + $4 + $7 + $8, $5 + $6, $9}' /proc/stat
}

# measure WORKLOAD SERVER ROUND URL PIDS...: one measured round.
measure() {
  local workload=$1 server=$2 round=$3 url=$4; shift 4
  local out="$WORK/$workload.$server.$round.out" before after result stat_before stat_after
  stat_before=($(server_cpu_stat))
  before=$(cpu_ticks "$@")
  run_wrk "$out" "$ROUND_SECONDS" "$url"
  after=$(cpu_ticks "$@")
  stat_after=($(server_cpu_stat))
  result=$(sed -n 's/^BENCH_RESULT //p' "$out" | tail -n 1)
  [[ -n "$result" ]] || result="error=wrk"
  local busy=$((stat_after[0] - stat_before[0])) idle=$((stat_after[1] - stat_before[1]))
  local steal=$((stat_after[2] - stat_before[2]))
  echo "workload=$workload server=$server round=$round cpu_ticks=$((after - before))" \
    "cpu_busy=$busy cpu_idle=$idle cpu_steal=$steal $result" >>"$WORK/rounds.txt"
  printf 'bench:   %-13s %-6s round %s: %s\n' "$workload" "$server" "$round" "$result" >&2
}

note() { printf 'workload=%s note=%q\n' "$1" "$2" >>"$WORK/notes.txt"; log "$1: $2"; }

# run_pair WORKLOAD NGINX_ENV OUR_ENV: warm-up, then interleaved rounds against NGINX_* and
# OUR_* (both running). The env arguments are space-separated VAR=value lists for workload.lua.
run_pair() {
  local workload=$1 nginx_env=$2 our_env=$3 r
  local -a nginx_env_a our_env_a
  read -r -a nginx_env_a <<<"$nginx_env"
  read -r -a our_env_a <<<"$our_env"
  WRK_ENV=("${nginx_env_a[@]}")
  run_wrk "$WORK/$workload.nginx.warmup.out" "$WARMUP_SECONDS" "$NGINX_URL"
  if [[ -n "$LIMIT_PID" ]]; then  # the limit reference gets nginx's requests
    run_wrk "$WORK/$workload.limit.warmup.out" "$WARMUP_SECONDS" "$LIMIT_URL"
  fi
  WRK_ENV=("${our_env_a[@]}")
  run_wrk "$WORK/$workload.ours.warmup.out" "$WARMUP_SECONDS" "$OUR_URL"
  for ((r = 1; r <= ROUNDS; r++)); do
    WRK_ENV=("${nginx_env_a[@]}"); measure "$workload" nginx "$r" "$NGINX_URL" "${NGINX_WORKERS[@]}"
    [[ -z "$LIMIT_PID" ]] || measure "$workload" limit "$r" "$LIMIT_URL" "$LIMIT_PID"
    WRK_ENV=("${our_env_a[@]}"); measure "$workload" ours "$r" "$OUR_URL" "$OUR_PID"
  done
  local w hwm=0
  for w in "${NGINX_WORKERS[@]}"; do hwm=$((hwm + $(status_kb "$w" VmHWM))); done
  echo "workload=$workload server=nginx vmhwm_kb=$hwm" >>"$WORK/rss.txt"
  echo "workload=$workload server=ours vmhwm_kb=$(status_kb "$OUR_PID" VmHWM)" >>"$WORK/rss.txt"
  [[ -z "$LIMIT_PID" ]] ||
    echo "workload=$workload server=limit vmhwm_kb=$(status_kb "$LIMIT_PID" VmHWM)" >>"$WORK/rss.txt"
}

# The server flags of the workloads whose requests pass the limiter.
our_flags() {  # ENGINE_DIR_OR_EMPTY THREADS
  local db=""
  if [[ -n "$1" ]]; then mkdir -p "$1"; db="$1/store.db"; fi
  OUR_FLAGS=(-threads "$2" -db "$db" -maxRequests "$MAX_REQUESTS" -maxNumKV 1000000 -maxKeysPerIP 0)
}

# workload NAME: one workload from the list.
workload() {
  local name=$1
  local get_env="BENCH_MODE=get BENCH_PATH=/bench/get0"
  local engine_dir="" nginx_env our_env nginx_bytes=$GET_BYTES threads=1 workers=1
  WRK_EXTRA=(); WRK_THREADS=1; set_pinned
  case $name in
    *-lmdb) engine_dir="$WORK/$name.db" ;;
  esac
  case $name in
    get|get-lmdb) nginx_env=$get_env; our_env=$get_env ;;
    close) nginx_env=$get_env; our_env=$get_env; WRK_EXTRA=(-H "Connection: close") ;;
    pipeline|pipeline-lmdb) nginx_env="$get_env BENCH_PIPELINE=16"; our_env=$nginx_env ;;
    post-*) nginx_env=$get_env
            our_env="BENCH_MODE=post BENCH_KEYS=$KEYS BENCH_VALUE_BYTES=$POST_BYTES" ;;
    mixed-*) nginx_env="BENCH_MODE=mixed BENCH_KEYS=$KEYS BENCH_VALUE_BYTES=$POST_BYTES"
             our_env=$nginx_env ;;
    limited) nginx_env="$get_env BENCH_CLIENT=$FIXED_CLIENT"; our_env=$nginx_env ;;
    # The listing of a name 100 clients announced (announce below); nginx answers a body as long.
    list100) nginx_env=$get_env; our_env="BENCH_MODE=get BENCH_PATH=/ip/*/bench-list" ;;
    scaling) nginx_env=$get_env; our_env=$get_env; threads=2; workers=2; WRK_THREADS=2
             set_unpinned ;;
  esac
  our_flags "$engine_dir" "$threads"
  # Three tokens a minute (the least the server accepts: a POST costs 3): after the first three
  # GETs every request of the one client is refused.
  [[ $name == limited ]] &&
    OUR_FLAGS=(-threads 1 -db "" -maxRequests 3 -maxNumKV 1000000 -maxKeysPerIP 0)

  log "workload $name"
  if ! start_ours "$name" "${OUR_FLAGS[@]}"; then
    note "$name" "skipped: our server did not start: $OUR_ERROR"
    return 0
  fi
  # The value every GET reads (not in `limited`: no token for it, and a 429 never reads the
  # store), then the keys of the POST and mixed workloads.
  if { [[ $name != limited ]] && ! fill "$OUR_URL" 1 "$GET_BYTES" /bench/get; } ||
     { [[ $name == post-* || $name == mixed-* ]] &&
       ! fill "$OUR_URL" "$KEYS" "$POST_BYTES" /bench/k; }; then
    note "$name" "skipped: $FILL_ERROR"
    stop_pid "$OUR_PID"
    return 0
  fi
  if [[ $name == list100 ]]; then
    if ! announce "$OUR_URL" 100 bench-list; then
      note "$name" "skipped: $FILL_ERROR"
      stop_pid "$OUR_PID"
      return 0
    fi
    nginx_bytes=$(body_bytes "$OUR_URL" "/ip/*/bench-list")
  fi
  start_nginx "$name" "$nginx_bytes" "$workers"
  LIMIT_PID=""
  if [[ $name != scaling ]]; then  # the limit is one thread: no reference for two
    # As long as our answer to the GET; in `limited` we have no GET to measure (no token, no
    # value), so nginx's answer to it sets the size.
    local size_url=$OUR_URL size_path=/bench/get0
    [[ $name == limited ]] && size_url=$NGINX_URL
    [[ $name == list100 ]] && size_path="/ip/*/bench-list"
    start_limit "$name" "$(response_bytes "$size_url" "$size_path")"
  fi
  run_pair "$name" "$nginx_env" "$our_env"
  [[ -z "$LIMIT_PID" ]] || stop_pid "$LIMIT_PID"
  LIMIT_PID=""
  stop_pid "$NGINX_PID"
  stop_pid "$OUR_PID"
}

# --- restart time --------------------------------------------------------------------------------

# restart_row ENGINE ENTRIES NOTE EXPECTED_STATUS KEY_PATH SERVER_FLAGS...: BENCH_ROUNDS starts
# of the server, each timed to its first answer to GET KEY_PATH. Returns 1 if a start failed.
restart_row() {
  local engine=$1 entries=$2 row_note=$3 expect=$4 path=$5; shift 5
  local cmd=(python3 "$ROOT/bench/first_request.py" --expect "$expect" --path "$path" --
             "${OUR_TASKSET[@]}" "$BIN" -l 127.0.0.1 -port 0 -disableLocalIPWaring "$@")
  local r line pid
  for ((r = 1; r <= ROUNDS; r++)); do
    record_command "${cmd[@]}"
    "${cmd[@]}" >"$WORK/restart.out" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait "$pid" || true
    stop_pid "$pid"
    line=$(sed -n 's/^BENCH_START //p' "$WORK/restart.out" | tail -n 1)
    [[ -n "$line" ]] || line="error=$(printf '%q' "$(tail -n 1 "$WORK/restart.out")")"
    printf 'engine=%s entries=%s round=%s fill=%q %s\n' "$engine" "$entries" "$r" "$row_note" \
      "$line" >>"$WORK/restart.txt"
    log "restart $engine $entries: $line"
    [[ $line == error=* ]] && return 1
  done
  return 0
}

restart() {
  set_pinned
  log "restart times"
  # The cost of starting the process at all: the memory engine has nothing to load.
  restart_row memory 0 "empty store: process start alone" 404 /bench/missing -threads 1 -db "" \
    -maxNumKV 100000 || true
  local n dir fill_out fill_cmd
  for n in 100000 1000000; do
    dir="$WORK/restart-$n"
    mkdir -p "$dir"
    fill_cmd=("$ROOT/$BUILD_DIR/bench/rdv-lmdb-fill" "$dir/store.db" "$n" "$POST_BYTES" "$n"
              bench/f)
    record_command "${fill_cmd[@]}"
    if ! fill_out=$("${fill_cmd[@]}" 2>"$WORK/lmdb-fill.log"); then
      fill_out=$(tail -n 1 "$WORK/lmdb-fill.log")
      printf 'engine=lmdb entries=%s round=0 error=%q\n' "$n" "loader failed: $fill_out" \
        >>"$WORK/restart.txt"
      log "restart lmdb $n: loader failed: $fill_out"
      rm -rf "$dir"
      continue
    fi
    log "$fill_out"
    if ! restart_row lmdb "$n" "$POST_BYTES-byte values; loader: ${fill_out#filled }" 200 \
        "/bench/f$((n / 2))" -threads 1 -db "$dir/store.db" -maxNumKV "$n"; then
      rm -rf "$dir"
      break  # the engine does not start: the larger store would fail the same way
    fi
    rm -rf "$dir"
  done
}

# --- memory with 100 000 × 1000-byte entries -----------------------------------------------------

memory() {
  set_pinned
  log "memory with $KEYS entries of 1000 bytes"
  local raw engine dir db
  # Raw bytes: the stored keys ("bench/m<i>", without the path's leading '/') and the values.
  raw=$(python3 -c "print(sum(len('bench/m%d' % i) + 1000 for i in range($KEYS)))")
  for engine in memory lmdb; do
    dir="$WORK/memory-$engine"; mkdir -p "$dir"
    db=""; [[ $engine == lmdb ]] && db="$dir/store.db"
    if ! start_ours "memory-$engine" -threads 1 -db "$db" -maxRequests "$MAX_REQUESTS" \
        -maxNumKV "$KEYS" -maxKeysPerIP 0; then
      printf 'engine=%s raw_bytes=%s note=%q\n' "$engine" "$raw" \
        "skipped: our server did not start: $OUR_ERROR" >>"$WORK/memory.txt"
      log "memory $engine: skipped: $OUR_ERROR"
      continue
    fi
    local before
    before=$(status_kb "$OUR_PID" VmHWM)
    if ! fill "$OUR_URL" "$KEYS" 1000 /bench/m; then
      printf 'engine=%s raw_bytes=%s note=%q\n' "$engine" "$raw" "$FILL_ERROR" >>"$WORK/memory.txt"
      stop_pid "$OUR_PID"
      continue
    fi
    local line="engine=$engine raw_bytes=$raw vmhwm_before_kb=$before"
    line+=" vmhwm_kb=$(status_kb "$OUR_PID" VmHWM) rss_anon_kb=$(status_kb "$OUR_PID" RssAnon)"
    line+=" rss_file_kb=$(status_kb "$OUR_PID" RssFile)"
    if [[ -n "$db" ]]; then
      line+=" file_bytes=$(stat -c %s "$db") file_alloc_bytes=$(($(stat -c '%b * %B' "$db")))"
    fi
    echo "$line" >>"$WORK/memory.txt"
    log "memory: $line"
    stop_pid "$OUR_PID"
    rm -rf "$dir"
  done
}

micro() {
  log "microbenchmarks"
  local cmd=("$ROOT/$BUILD_DIR/bench/rdv-micro" "--benchmark_min_time=$MICRO_MIN_TIME"
             "--benchmark_out=$WORK/micro.json" --benchmark_out_format=json)
  record_command "${cmd[@]}"
  TMPDIR="$WORK" "${cmd[@]}" >&2 || note micro "the microbenchmarks failed"
}

# --- TLS (issue 12) ------------------------------------------------------------------------------
# nginx gets `ssl_certificate` with the same ECDSA P-256 certificate and key as ours, and
# `ssl_protocols TLSv1.2 TLSv1.3` as ours (nginx 1.22's default stops at TLS 1.2); the rest is
# both servers' defaults (tickets on, nginx without a session cache, as ours).
# tls-get: keep-alive GET over TLS (wrk).
# tls-handshake: a full TLS handshake per request. Not wrk: wrk 4.1 keeps each connection's SSL
# object across reconnects (SSL_clear), so it resumes sessions; `openssl s_time -new -www` makes
# a new connection, a full handshake and one HTTP/1.0 GET each time, sequentially (its own CPU is
# the bound, on CPU 0). CPU per request is still the servers' own.
# tls-idle: RSS of our server before and after BENCH_TLS_IDLE (1000) idle TLS connections.

# The test certificate, made once per run in $WORK/tls.
tls_cert() {
  [[ -f "$WORK/tls/server.pem" ]] && return 0
  command -v openssl >/dev/null || die "openssl not found: run 'make bench'"
  mkdir -p "$WORK/tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$WORK/tls/server.key" -out "$WORK/tls/server.pem" 2>"$WORK/tls/openssl.log" ||
    die "openssl could not make the test certificate: $(tail -n 1 "$WORK/tls/openssl.log")"
}

# Sets OUR_TLS_URL from the running server's 'listening for TLS on' line.
our_tls_url() {
  local log="$WORK/$1.ours.log" i port
  for ((i = 0; i < 100; i++)); do
    port=$(grep -o 'listening for TLS on 127.0.0.1:[0-9]*' "$log" | head -n 1 | cut -d: -f2)
    [[ -n "$port" ]] && { OUR_TLS_URL="https://127.0.0.1:$port/"; return 0; }
    sleep 0.05
  done
  return 1
}

tls_idle() {
  local name=tls-idle count=${BENCH_TLS_IDLE:-1000}
  set_pinned
  if ! start_ours "$name" -threads 1 -db "" -maxConnectionsPerIP "$((count + 10))" \
      -tlsCert "$WORK/tls/server.pem" -tlsKey "$WORK/tls/server.key" -tlsPort 0 ||
     ! our_tls_url "$name"; then
    note "$name" "skipped: our server did not start: ${OUR_ERROR:-no TLS line}"
    return 0
  fi
  local port=${OUR_TLS_URL#https://127.0.0.1:}; port=${port%/}
  local before after
  before=$(status_kb "$OUR_PID" VmRSS)
  # Python's ssl: `count` connections, each after its handshake and one request, left idle.
  python3 - "$port" "$count" "$WORK/$name.ready" <<'PY' &
import socket, ssl, sys, time
port, count, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
conns = []
for _ in range(count):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)))
    s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    s.recv(65536)
    conns.append(s)
open(ready, "w").close()
time.sleep(30)
PY
  local client=$! i
  PIDS+=("$client")
  for ((i = 0; i < 600; i++)); do [[ -f "$WORK/$name.ready" ]] && break; sleep 0.1; done
  sleep 1
  after=$(status_kb "$OUR_PID" VmRSS)
  note "$name" "RSS $before kB before, $after kB with $count idle TLS connections: $(( (after - before) * 1024 / count )) bytes each"
  stop_pid "$client"
  stop_pid "$OUR_PID"
}

# s_time_round WORKLOAD SERVER ROUND URL SECONDS PIDS...: `openssl s_time -new` against URL;
# round 0 is a warm-up (not recorded).
s_time_round() {
  local workload=$1 server=$2 round=$3 url=$4 seconds=$5; shift 5
  local out="$WORK/$workload.$server.$round.out" before after stat_before stat_after
  local hostport=${url#https://}; hostport=${hostport%/}
  local cmd=("${WRK_TASKSET[@]}" openssl s_time -connect "$hostport" -new -time "$seconds"
             -www /bench/get0)
  record_command "${cmd[@]}"
  stat_before=($(server_cpu_stat))
  before=$(cpu_ticks "$@")
  "${cmd[@]}" </dev/null >"$out" 2>&1 || true
  after=$(cpu_ticks "$@")
  stat_after=($(server_cpu_stat))
  (( round > 0 )) || return 0
  local n
  n=$(sed -n 's/^\([0-9]*\) connections in [0-9]* real seconds.*/\1/p' "$out" | tail -n 1)
  local result="requests=${n:-0} duration_us=$((seconds * 1000000))"
  [[ -n "$n" ]] || result="error=s_time"
  echo "workload=$workload server=$server round=$round cpu_ticks=$((after - before))" \
    "cpu_busy=$((stat_after[0] - stat_before[0])) cpu_idle=$((stat_after[1] - stat_before[1]))" \
    "cpu_steal=$((stat_after[2] - stat_before[2])) $result" >>"$WORK/rounds.txt"
  printf 'bench:   %-13s %-6s round %s: %s\n' "$workload" "$server" "$round" "$result" >&2
}

tls_workload() {
  local name=$1
  tls_cert
  [[ $name == tls-idle ]] && { tls_idle; return 0; }
  local get_env="BENCH_MODE=get BENCH_PATH=/bench/get0"
  WRK_EXTRA=(); WRK_THREADS=1; set_pinned
  our_flags "" 1
  log "workload $name"
  if ! start_ours "$name" "${OUR_FLAGS[@]}" -tlsCert "$WORK/tls/server.pem" \
      -tlsKey "$WORK/tls/server.key" -tlsPort 0 || ! our_tls_url "$name"; then
    note "$name" "skipped: our server did not start: ${OUR_ERROR:-no TLS line}"
    return 0
  fi
  if ! fill "$OUR_URL" 1 "$GET_BYTES" /bench/get; then  # over plain HTTP: the same store
    note "$name" "skipped: $FILL_ERROR"
    stop_pid "$OUR_PID"
    return 0
  fi
  OUR_URL=$OUR_TLS_URL
  NGINX_LISTEN_OPTS=" ssl"
  NGINX_SERVER_EXTRA="ssl_certificate $WORK/tls/server.pem; ssl_certificate_key $WORK/tls/server.key;"
  NGINX_SERVER_EXTRA+=" ssl_protocols TLSv1.2 TLSv1.3;"
  start_nginx "$name" "$GET_BYTES" 1
  NGINX_LISTEN_OPTS=""; NGINX_SERVER_EXTRA=""
  NGINX_URL="https://${NGINX_URL#http://}"
  if [[ $name == tls-get ]]; then
    run_pair "$name" "$get_env" "$get_env"
  else
    local r
    s_time_round "$name" nginx 0 "$NGINX_URL" 1 "${NGINX_WORKERS[@]}"  # warm-up
    s_time_round "$name" ours 0 "$OUR_URL" 1 "$OUR_PID"
    for ((r = 1; r <= ROUNDS; r++)); do
      s_time_round "$name" nginx "$r" "$NGINX_URL" "$ROUND_SECONDS" "${NGINX_WORKERS[@]}"
      s_time_round "$name" ours "$r" "$OUR_URL" "$ROUND_SECONDS" "$OUR_PID"
    done
  fi
  stop_pid "$NGINX_PID"
  stop_pid "$OUR_PID"
}
# --- end of TLS ----------------------------------------------------------------------------------
# --- signed keys (/pk/) ------------------------------------------------------------------------
# pk: server CPU per PUT /pk/<key> (ed25519 verification + store) against a plain POST of the same
# size, by bench/pk_cost.py (one keep-alive connection, pipelined; needs python3-nacl for
# /usr/bin/python3). Its table is appended to the report as is.
pk() {
  log "signed keys: PUT /pk/ against POST"
  local cmd=(/usr/bin/python3 "$ROOT/bench/pk_cost.py" "$ROOT/$BUILD_DIR/rendezvous-server" 20000)
  record_command "${cmd[@]}"
  if "${cmd[@]}" >"$WORK/pk-table.md" 2>"$WORK/pk.log"; then
    { echo; echo "## Signed keys: PUT /pk/ against POST"; echo; cat "$WORK/pk-table.md"; } \
      >"$WORK/pk.md"
  else
    { echo; echo "## Signed keys: skipped"; echo; tail -n 3 "$WORK/pk.log"; } >"$WORK/pk.md"
  fi
}

# --- long-poll wake-ups --------------------------------------------------------------------------
# wake: server CPU per wake-up of a long poll (bench/wake_cost.py, its docstring says how), BENCH_ROUNDS
# rounds, each a fresh server: K connections each parked on one key with If-None-Match, woken by
# one writer's POST and parked again; against K connections each keeping a plain GET in flight
# (the same client and concurrency), and against the wrk `get` row of this run when it ran.
wake() {
  set_pinned
  log "workload wake"
  local waiters=${BENCH_WAKE_WAITERS:-128} r line
  local cmd=("${WRK_TASKSET[@]}" python3 "$ROOT/bench/wake_cost.py" --seconds "$ROUND_SECONDS"
             --waiters "$waiters" -- "${OUR_TASKSET[@]}" "$BIN" -l 127.0.0.1 -port 0
             -disableLocalIPWaring -threads 1 -db "" -maxRequests "$MAX_REQUESTS")
  : >"$WORK/wake.txt"
  for ((r = 1; r <= ROUNDS; r++)); do
    record_command "${cmd[@]}"
    if ! "${cmd[@]}" >"$WORK/wake.out" 2>"$WORK/wake.err"; then
      note wake "skipped: $(tail -n 1 "$WORK/wake.err")"
      return 0
    fi
    sed -n "s/^BENCH_WAKE /round=$r /p" "$WORK/wake.out" >>"$WORK/wake.txt"
    log "wake round $r: $(grep -o 'phase=[a-z]*.*us=[0-9.]*' "$WORK/wake.out" | tr '\n' ' ')"
  done
  python3 - "$WORK/wake.txt" "$WORK/rounds.txt" "$(getconf CLK_TCK)" "$CONNECTIONS" \
    >"$WORK/wake.md" <<'PY'
import statistics, sys
def records(path):
    try:
        with open(path) as f:
            return [dict(kv.split("=", 1) for kv in line.split()) for line in f if line.strip()]
    except FileNotFoundError:
        return []
wake = records(sys.argv[1])
clk = int(sys.argv[3])
def us(phase):
    return [float(r["us"]) for r in wake if r["phase"] == phase]
def cell(values):
    return "%.2f µs (%.2f–%.2f)" % (statistics.median(values), min(values), max(values))
gets, wakes = us("get"), us("wake")
k = wake[0]["connections"]
pairs = [float(w["us"]) / float(g["us"]) for g, w in zip(
    [r for r in wake if r["phase"] == "get"], [r for r in wake if r["phase"] == "wake"])]
wrk = [int(r["cpu_ticks"]) / clk * 1e6 / int(r["requests"]) for r in records(sys.argv[2])
       if r.get("workload") == "get" and r.get("server") == "ours" and r.get("requests")]
print("\n## Long-poll wake-ups against GET\n")
print("%d rounds, a fresh server each (one I/O thread, memory engine), %s connections from their"
      " own addresses. Server CPU (utime + stime) over the phase ÷ answers. A wake-up's cost holds"
      " the answer, the request that parks again and 1/%s of the POST that woke it. Median"
      " (min–max) over rounds.\n" % (len(gets), k, k))
print("| row | server CPU per answer | answers per round |")
print("|---|---|---|")
print("| GET, one in flight per connection (same client) | %s | %s |"
      % (cell(gets), ", ".join(r["answers"] for r in wake if r["phase"] == "get")))
print("| wake-up of a parked GET (If-None-Match, Prefer: wait=60) | %s | %s |"
      % (cell(wakes), ", ".join(r["wakeups"] for r in wake if r["phase"] == "wake")))
print("\nWake-up ÷ GET (same client, per round): %.2f (%.2f–%.2f)."
      % (statistics.median(pairs), min(pairs), max(pairs)))
if wrk:
    print("Wake-up ÷ the `get` row of this run (wrk, %s keep-alive connections, %.2f µs per"
          " request): %.2f." % (sys.argv[4], statistics.median(wrk),
                                statistics.median(wakes) / statistics.median(wrk)))
else:
    print("(The `get` workload did not run: no ratio to its row.)")
PY
}

# --- main ----------------------------------------------------------------------------------------

log "building $BUILD_DIR"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRDV_BENCH=ON >"$WORK/cmake.log" \
  || { cat "$WORK/cmake.log" >&2; die "cmake failed"; }
ninja -C "$BUILD_DIR" rendezvous-server rdv-micro rdv-lmdb-fill rdv-limit >&2

COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo nocommit)
DIRTY=$(git status --porcelain --untracked-files=no 2>/dev/null || true)
if [[ $COMMIT != nocommit && -n "$DIRTY" ]]; then
  COMMIT_NOTE="$COMMIT (with uncommitted changes)"
else
  COMMIT_NOTE=$COMMIT
fi
{
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "commit=$COMMIT_NOTE"
  echo "cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
  echo "cpus=$(nproc)"
  echo "kernel=$(uname -r)"
  echo "clk_tck=$(getconf CLK_TCK)"
  echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "nginx_version=$("$NGINX" -v 2>&1 | sed 's/^nginx version: //')"
  echo "wrk_version=$(wrk -v 2>&1 | head -n 1 | awk '{print $1, $2}')"
  echo "settings=BENCH_SECONDS=$ROUND_SECONDS BENCH_ROUNDS=$ROUNDS BENCH_WARMUP=$WARMUP_SECONDS" \
       "BENCH_CONNECTIONS=$CONNECTIONS BENCH_MAX_REQUESTS=$MAX_REQUESTS" \
       "BENCH_NICE=${BENCH_NICE:-}" \
       "BENCH_WORKLOADS=\"$(echo $WORKLOADS)\""
  echo "pinning=$PINNING"
  echo "server_cpu=$SERVER_CPU"
} >"$WORK/meta.txt"

for word in $WORKLOADS; do
  case $word in
    restart) restart ;;
    memory) memory ;;
    micro) micro ;;
    tls-*) tls_workload "$word" ;;
    # ---- redis workload (issue 10; owned by the Redis engine's work) ----
    redis) if "$ROOT/bench/redis.sh" "$BUILD_DIR" "$ROUND_SECONDS" >"$WORK/redis.md" \
                2>"$WORK/redis.err"; then
             log "redis: done"
           else
             note redis "skipped: $(tail -n 1 "$WORK/redis.err")"; rm -f "$WORK/redis.md"
           fi ;;
    # ---- end of the redis workload ----
    pk) pk ;;
    wake) wake ;;
    *) workload "$word" ;;
  esac
done

echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$WORK/meta.txt"
mkdir -p "$RESULTS_DIR"
RESULT_FILE="$RESULTS_DIR/$(date -u +%Y-%m-%d)-$COMMIT.md"
python3 "$ROOT/bench/report.py" "$WORK" >"$WORK/report.md"
# ---- redis workload: its own section, appended ----
[[ -s "$WORK/redis.md" ]] && { echo; cat "$WORK/redis.md"; } >>"$WORK/report.md"
# ---- end of the redis workload ----
[[ -f "$WORK/pk.md" ]] && cat "$WORK/pk.md" >>"$WORK/report.md"  # the signed-keys block
[[ -s "$WORK/wake.md" ]] && cat "$WORK/wake.md" >>"$WORK/report.md"  # the wake-up block
cp "$WORK/report.md" "$RESULT_FILE"
cat "$WORK/report.md"
log "written to $RESULT_FILE"
