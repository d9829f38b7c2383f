#!/bin/bash
# User-space instructions per request of the whole server, counted by callgrind (the measure of
# record in docs/performance.md: on a shared machine CPU time is noise, instruction counts are
# not). Starts BINARY under valgrind (memory engine, one thread, the limits of bench/run.sh's
# workloads), stores the 100-byte value the GET workloads read, warms up for 2 s with wrk, zeroes
# the counters, runs wrk with bench/wrk/workload.lua for 5 s, dumps, and prints per request:
#   total          every instruction of the process (Asio, the reactor, libc included)
#   process_input  Connection::ProcessInput inclusive: parsing, the handler, the store, the
#                  answer's bytes; steadier than the total, which moves with how many reads
#                  Asio's speculative recv finds empty
#   parser         Beast's basic_parser::put inclusive (our field callbacks included)
# Requests are the calls of Connection::FinishResponse in the dump.
#
# Usage: bench/callgrind_server.sh BINARY get|post [PIPELINE]   (needs valgrind, wrk, python3)
# Example: bench/callgrind_server.sh build-release/rendezvous-server get 16
set -euo pipefail

BIN=$(realpath "$1")
MODE=$2
PIPELINE=${3:-1}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/rdv-callgrind.XXXXXX")
PID=""
cleanup() {
  [[ -n "$PID" ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out" "$BIN" -l 127.0.0.1 -port 0 \
  -disableLocalIPWaring -threads 1 -db "" -maxRequests 1000000000 -maxNumKV 1000000 \
  -maxKeysPerIP 0 >"$WORK/server.log" 2>&1 &
PID=$!
for _ in $(seq 600); do
  grep -q 'listening on 127.0.0.1:' "$WORK/server.log" && break
  sleep 0.1
done
PORT=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$WORK/server.log" | head -n 1 | cut -d: -f2)
URL="http://127.0.0.1:$PORT/"
curl -sf -X POST --data-binary "$(head -c 100 /dev/zero | tr '\0' v)" "${URL}bench/get0" \
  >/dev/null

case $MODE in
  get) ENV=(BENCH_MODE=get BENCH_PATH=/bench/get0 "BENCH_PIPELINE=$PIPELINE") ;;
  post) ENV=(BENCH_MODE=post BENCH_KEYS=100000 BENCH_VALUE_BYTES=200 "BENCH_PIPELINE=$PIPELINE") ;;
  *) echo "mode must be get or post" >&2; exit 2 ;;
esac
env "${ENV[@]}" wrk -t1 -c64 -d2s -s "$ROOT/bench/wrk/workload.lua" "$URL" >/dev/null
callgrind_control -z "$PID" >/dev/null 2>&1
env "${ENV[@]}" wrk -t1 -c64 -d5s -s "$ROOT/bench/wrk/workload.lua" "$URL" >"$WORK/wrk.out"
callgrind_control -d "$PID" >/dev/null 2>&1
grep -o 'status=[0-9]*' "$WORK/wrk.out" | grep -qx 'status=0' ||
  echo "warning: wrk saw answers other than 2xx/3xx" >&2

python3 - "$WORK"/cg.out.* <<'EOF'
import re, subprocess, sys
dump = sys.argv[1]
def annotate(*args):
    return subprocess.run(["callgrind_annotate", "--threshold=100", *args, dump],
                          capture_output=True, text=True, check=True).stdout.splitlines()
inclusive = {}
total = 0
for line in annotate("--inclusive=yes"):
    m = re.match(r"\s*([\d,]+) .*PROGRAM TOTALS", line)
    if m:
        total = int(m.group(1).replace(",", ""))
    for name in ("Connection::ProcessInput(", "basic_parser<true>::put("):
        if name in line and name not in inclusive:
            inclusive[name] = int(line.split()[0].replace(",", ""))
# Requests: the calls into FinishResponse (the caller lines above its own line in the tree).
requests, calls = 0, 0
for line in annotate("--tree=caller"):
    if " < " in line:
        m = re.search(r"\(([\d,]+)x\)", line)
        calls += int(m.group(1).replace(",", "")) if m else 0
    elif "*  " in line:
        if "Connection::FinishResponse(" in line:
            requests = calls
        calls = 0
    else:
        calls = 0
if requests == 0:
    sys.exit("no request was answered during the measurement")
print(f"requests={requests} total={total / requests:.0f} "
      f"process_input={inclusive['Connection::ProcessInput('] / requests:.0f} "
      f"parser={inclusive['basic_parser<true>::put('] / requests:.0f}")
EOF
