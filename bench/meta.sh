#!/usr/bin/env bash
# The metadata service under load, in one run on this machine:
#   1. wrk on GET /<uuid>/meta-data served by kvmhubd, and on the same bytes served from a
#      file by nginx (Debian's), same wrk settings, ROUNDS rounds taking turns;
#   2. a boot storm: STORM clients (default 1,000) each fetch their meta-data once, all at
#      once, on new connections (curl --parallel), with every transfer's status and time;
#   3. wrk with STORM connections held open against kvmhubd (sustained storm);
#   4. the cidata ISO build time (Google Benchmark BM_CidataIso), when built.
# Usage: bench/meta.sh [BUILD_DIR]   (env: DURATION=10s CONNECTIONS=32 THREADS=1 STORM=1000 ROUNDS=3)
# nginx runs from a temp dir with its own config, pid file, logs and temp paths on a free
# loopback port, and is stopped by its PID. Numbers are for the README, never pass/fail.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
build_dir=${1:-build}
duration=${DURATION:-10s}
connections=${CONNECTIONS:-32}
threads=${THREADS:-1}
storm=${STORM:-1000}
work=$(mktemp -d)
password=bench-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')

for tool in wrk curl nginx python3; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (scripts/deps.sh installs it)"; exit 1; }
done

# A loopback port nobody listens on now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=${PORT:-$(free_port)}
nginx_port=$(free_port)

pid=
nginx_pid=
cleanup() {
  [ -z "$nginx_pid" ] || kill "$nginx_pid" 2>/dev/null || true
  [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

KVMHUB_ADMIN_PASSWORD=$password KVMHUB_ACCESS_LOG=false KVMHUB_DEMO=false KVMHUB_META_SRV="127.0.0.1:$port" \
  "$build_dir/kvmhubd" --listen "127.0.0.1:$port" --data-dir "$work/data" --log-level warn >"$work/daemon.log" 2>&1 &
pid=$!
token=$(admin_token "$port" "$password" "$work/daemon.log")
auth=(-H "Authorization: Bearer $token")

# One VM on libvirt's in-process test driver, with a typical seed.
curl -sf "${auth[@]}" "http://127.0.0.1:$port/conf/host/" -d \
  '{"name":"h1","tpl":"domain","url":"test:///default","arch":"x86_64","ipaddr":"127.0.0.1","sshport":"22","sshuser":"root"}' >/dev/null
uuid=$(curl -sf "${auth[@]}" "http://127.0.0.1:$port/vm/create/h1" -d \
  '{"vm_name":"web-01","vm_ipaddr":"10.0.0.21/24","vm_gateway":"10.0.0.1","vm_dns":"10.0.0.2 10.0.0.3","vm_sshkey":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl bench@kvmhub"}' |
  sed -n 's/.*"uuid":"\([^"]*\)".*/\1/p')
[ -n "$uuid" ] || { echo "bench: create failed"; cat "$work/daemon.log"; exit 1; }

# nginx serves the very bytes kvmhubd serves, from a file at the same path.
mkdir -p "$work/nginx/html/$uuid" "$work/nginx/logs" "$work/nginx/tmp"
curl -sf "http://127.0.0.1:$port/$uuid/meta-data" -o "$work/nginx/html/$uuid/meta-data"
bytes=$(wc -c <"$work/nginx/html/$uuid/meta-data")
# nginx's workers run as www-data when it is started as root: they must read the file.
chmod 755 "$work"
chmod -R a+rX "$work/nginx"
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx/tmp/body;
  proxy_temp_path $work/nginx/tmp/proxy;
  fastcgi_temp_path $work/nginx/tmp/fastcgi;
  uwsgi_temp_path $work/nginx/tmp/uwsgi;
  scgi_temp_path $work/nginx/tmp/scgi;
  default_type text/plain;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$nginx_port;
    root $work/nginx/html;
  }
}
CONF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' >"$work/nginx/logs/stdout.log" 2>&1 &
nginx_pid=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$nginx_port/$uuid/meta-data" >/dev/null && break
  sleep 0.1
done
cmp -s <(curl -sf "http://127.0.0.1:$nginx_port/$uuid/meta-data") "$work/nginx/html/$uuid/meta-data" ||
  { echo "bench: nginx does not serve the file"; cat "$work/nginx/logs/"*; exit 1; }

# wrk's requests/s and latency percentiles (from --latency) as one line.
summary() {
  awk '/Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2}
       /Non-2xx/ {bad=$NF} /Socket errors/ {err=$0}
       END { printf "%s req/s, p50 %s, p99 %s%s%s\n", rps, p50, p99, bad ? ", non-2xx " bad : "", err ? ", " err : "" }'
}

# ROUNDS alternating runs: other load on the machine then hits both servers alike.
rounds=${ROUNDS:-3}
echo "== GET /<uuid>/meta-data ($bytes bytes), wrk -t$threads -c$connections -d$duration, $rounds rounds alternating,"
echo "   $(nproc) cores shared with wrk; nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), worker_processes auto"
# CPU time (user + system, in clock ticks) of processes, for CPU per request: on a machine
# whose cores others use too, this moves much less than requests/s.
ticks() { for p in "$@"; do awk '{print $14 + $15}' "/proc/$p/stat"; done | awk '{s += $1} END {print s}'; }
nginx_procs() { echo "$nginx_pid" $(pgrep -P "$nginx_pid"); }
# wrk's output file and the ticks used -> microseconds of CPU per request
per_request() {
  awk -v t="$2" -v hz="$(getconf CLK_TCK)" '/requests in/ { printf "%.1f", 1e6 * t / hz / $1 }' "$1"
}
for round in $(seq 1 "$rounds"); do
  t0=$(ticks "$pid")
  wrk -t"$threads" -c"$connections" -d"$duration" --latency "http://127.0.0.1:$port/$uuid/meta-data" >"$work/kvmhub.$round.wrk"
  t1=$(ticks "$pid")
  n0=$(ticks $(nginx_procs))
  wrk -t"$threads" -c"$connections" -d"$duration" --latency "http://127.0.0.1:$nginx_port/$uuid/meta-data" >"$work/nginx.$round.wrk"
  n1=$(ticks $(nginx_procs))
  echo "round $round: kvmhubd $(summary <"$work/kvmhub.$round.wrk"), $(per_request "$work/kvmhub.$round.wrk" $((t1 - t0))) us CPU/request"
  echo "         nginx   $(summary <"$work/nginx.$round.wrk"), $(per_request "$work/nginx.$round.wrk" $((n1 - n0))) us CPU/request"
  awk '/Requests\/sec/ {print $2}' "$work/kvmhub.$round.wrk" "$work/nginx.$round.wrk" | paste -sd' ' |
    awk '{ printf "         kvmhubd / nginx: %.0f%%\n", 100 * $1 / $2 }'
done
# Each server's best round: the one least disturbed by other load.
best() { cat "$work/$1".*.wrk | awk '/Requests\/sec/ { if ($2 > b) b = $2 } END { print b }'; }
echo "best rounds: kvmhubd $(best kvmhub) req/s, nginx $(best nginx) req/s: $(awk -v a="$(best kvmhub)" -v b="$(best nginx)" 'BEGIN { printf "%.0f%%", 100 * a / b }')"

# Every client a new connection and one fetch, all started at once.
echo
echo "== boot storm: $storm clients fetch meta-data at once (curl --parallel, a new connection each)"
for _ in $(seq 1 "$storm"); do
  echo "url = \"http://127.0.0.1:$port/$uuid/meta-data\""
  echo "output = \"/dev/null\""
done >"$work/storm.cfg"
curl -s --no-progress-meter --parallel --parallel-immediate --parallel-max "$storm" -K "$work/storm.cfg" \
  -w '%{http_code} %{time_total}\n' >"$work/storm.out" 2>/dev/null || true
sort -k2 -n "$work/storm.out" | awk -v n="$storm" '
  { t[NR] = $2; if ($1 != 200) bad++ }
  END {
    if (NR == 0) { print "no transfers"; exit }
    p = int(NR * 0.99); if (p < 1) p = 1
    printf "%d of %d answered 200 (%d errors), p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
      NR - bad, n, bad + (n - NR), 1000 * t[int((NR + 1) / 2)], 1000 * t[p], 1000 * t[NR]
  }'

echo
echo "== sustained: wrk -t2 -c$storm -d$duration (every connection asks again as soon as it has its answer)"
wrk -t2 -c"$storm" -d"$duration" --latency "http://127.0.0.1:$port/$uuid/meta-data" | summary

if [ -x "$build_dir/bench/kvmhub_bench" ]; then
  echo
  echo "== cidata ISO build (Google Benchmark)"
  "$build_dir/bench/kvmhub_bench" --benchmark_filter=CidataIso --benchmark_min_time=0.5
fi
