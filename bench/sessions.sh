#!/usr/bin/env bash
# What sessions cost on an admin route: wrk on GET /conf/ with a bearer token, whose session
# record kvmhubd reads by key on every request, with SESSIONS other sessions open in the store
# (default 200, opened by logging in that many times), then the micro-benchmarks of the check.
# With BASELINE=/path/to/kvmhubd (a build from before sessions) the same wrk runs against it too,
# same settings, taking turns ROUNDS times, so the two numbers come from one machine state.
# Usage: bench/sessions.sh [BUILD_DIR]   (env: DURATION=5s CONNECTIONS=32 THREADS=1 ROUNDS=3 SESSIONS=200)
# Numbers are for the README, never pass/fail.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
build_dir=${1:-build}
duration=${DURATION:-5s}
connections=${CONNECTIONS:-32}
threads=${THREADS:-1}
rounds=${ROUNDS:-3}
sessions=${SESSIONS:-200}
baseline=${BASELINE:-}
work=$(mktemp -d)
password=bench-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')

for tool in wrk curl python3; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (scripts/deps.sh installs it)"; exit 1; }
done
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# start NAME BINARY: a daemon on a free port with its own data dir; sets $port_<NAME> and $token_<NAME>.
start() {
  local name=$1 binary=$2 port
  port=$(free_port)
  KVMHUB_ADMIN_PASSWORD=$password KVMHUB_ACCESS_LOG=false KVMHUB_DEMO=false \
    "$binary" --listen "127.0.0.1:$port" --data-dir "$work/$name" --log-level warn > "$work/$name.log" 2>&1 &
  pids+=($!)
  printf -v "port_$name" %s "$port"
  printf -v "token_$name" %s "$(admin_token "$port" "$password" "$work/$name.log")"
}

# rps NAME [PATH]: one wrk round on PATH (default /conf/) with the token, prints "req/s p99".
rps() {
  local port_var=port_$1 token_var=token_$1 path=${2:-/conf/}
  wrk -t"$threads" -c"$connections" -d"$duration" --latency -H "Authorization: Bearer ${!token_var}" \
    "http://127.0.0.1:${!port_var}$path" |
    awk '/Requests\/sec/ { rps = $2 } $1 == "99%" { p99 = $2 } END { printf "%.0f req/s, p99 %s\n", rps, p99 }'
}

start sessions "$build_dir/kvmhubd"
# Other sessions in the store, so the read is not of a one-row table (logins run argon2: ~50 ms each).
for _ in $(seq 2 "$sessions"); do
  curl -sf -o /dev/null -X POST "http://127.0.0.1:$port_sessions/api/login" \
    -d "{\"username\":\"admin\",\"password\":\"$password\"}"
done
open=$(curl -sf -H "Authorization: Bearer $token_sessions" "http://127.0.0.1:$port_sessions/api/sessions" |
  python3 -c 'import json,sys; print(len(json.load(sys.stdin)["sessions"]))')
[ -z "$baseline" ] || start baseline "$baseline"

echo "== GET /conf/ with a bearer token, $open open sessions (wrk -t$threads -c$connections -d$duration, $(nproc) cores shared with wrk)"
for r in $(seq 1 "$rounds"); do
  echo "round $r: with sessions: $(rps sessions)   (GET /healthz, no token, one store read: $(rps sessions /healthz))"
  [ -z "$baseline" ] || echo "round $r: baseline ($baseline): $(rps baseline)"
done

if [ -x "$build_dir/bench/kvmhub_bench" ]; then
  echo
  echo "== the check per request (Google Benchmark)"
  "$build_dir/bench/kvmhub_bench" --benchmark_filter='BM_TokenVerify|BM_SessionCheck|BM_SqliteDataVersion' \
    --benchmark_min_time=0.2
fi
