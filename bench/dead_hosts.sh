#!/usr/bin/env bash
# Latency of the routes that must not care about dead hosts, with and without DEAD hosts that
# accept TCP and never answer (REQUESTS requests to them in flight).
# Usage: bench/dead_hosts.sh [BUILD_DIR]   (env: DEAD=5 REQUESTS=20 SAMPLES=50 TIMEOUT=30)
# Prints per route the median and the worst of SAMPLES sequential requests. Nothing passes or fails.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
build_dir=${1:-build}
dead=${DEAD:-5}
requests=${REQUESTS:-20}
samples=${SAMPLES:-50}
timeout=${TIMEOUT:-30}
port=${PORT:-18081}
work=$(mktemp -d)
password=bench-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')

# One process listening on DEAD loopback ports, accepting and never saying a word.
python3 -u - "$dead" > "$work/ports" <<'PY' &
import socket, sys, threading
held = []
def serve(s):
    while True:
        c, _ = s.accept()
        held.append(c)
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    print(s.getsockname()[1])
    threading.Thread(target=serve, args=(s,), daemon=True).start()
threading.Event().wait()
PY
holes=$!

KVMHUB_ADMIN_PASSWORD=$password KVMHUB_ACCESS_LOG=false KVMHUB_DEMO=false KVMHUB_LIBVIRT_CALL_TIMEOUT=$timeout \
  "$build_dir/kvmhubd" --listen "127.0.0.1:$port" --data-dir "$work/data" --log-level error > "$work/daemon.log" 2>&1 &
pid=$!
cleanup() {
  kill "$pid" "$holes" 2>/dev/null || true
  wait "$pid" "$holes" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

token=$(admin_token "$port" "$password" "$work/daemon.log")
auth=(-H "Authorization: Bearer $token")
base=http://127.0.0.1:$port
add_host() {
  curl -sf "${auth[@]}" "$base/conf/host/" -d "{\"name\":\"$1\",\"tpl\":\"domain\",\"url\":\"$2\",\"arch\":\"x86_64\",\"ipaddr\":\"127.0.0.1\",\"sshport\":\"22\",\"sshuser\":\"root\"}" > /dev/null
}
add_host t1 test:///default
uuid=$(curl -sf "${auth[@]}" "$base/vm/create/t1" -d '{"vm_name":"bench"}' | sed -n 's/.*"uuid":"\([^"]*\)".*/\1/p')

# median and worst of SAMPLES requests to URL, in ms
measure() {
  local url=$1
  shift
  for _ in $(seq 1 "$samples"); do curl -s -o /dev/null -w '%{time_total}\n' "$@" "$url"; done |
    sort -n | awk '{ t[NR] = $1 * 1000 } END { printf "median %7.2f ms   worst %7.2f ms\n", t[int((NR + 1) / 2)], t[NR] }'
}
report() {
  printf '  %-28s ' "GET /vm/list/ (cache)"; measure "$base/vm/list/" "${auth[@]}"
  printf '  %-28s ' "GET /tpl/host/"; measure "$base/tpl/host/" "${auth[@]}"
  printf '  %-28s ' "GET /<uuid>/meta-data"; measure "$base/$uuid/meta-data"
  printf '  %-28s ' "GET /vm/list/t1 (live)"; measure "$base/vm/list/t1" "${auth[@]}"
}

echo "== no dead host"
report

i=0
while read -r p; do
  add_host "dead$i" "qemu+tcp://127.0.0.1:$p/system"
  i=$((i + 1))
done < "$work/ports"
stuck=()
for r in $(seq 1 "$requests"); do
  curl -s -o /dev/null "${auth[@]}" "$base/vm/list/dead$((r % dead))" &
  stuck+=($!)
done
sleep 1
echo "== $dead dead hosts, $requests requests to them in flight (libvirt.call_timeout ${timeout}s)"
report
pending=0
for p in "${stuck[@]}"; do kill -0 "$p" 2>/dev/null && pending=$((pending + 1)); done
echo "  (of the $requests requests to dead hosts, $pending are still pending)"
