#!/usr/bin/env bash
# HTTP throughput with wrk against a kvmhubd started here on a loopback port.
# Usage: bench/run.sh [BUILD_DIR]   (env: DURATION=10s CONNECTIONS=32 THREADS=1 HOSTS=100 VMS=100)
# Prints wrk's report per endpoint. Numbers are for the README; nothing here passes or fails.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
build_dir=${1:-build}
duration=${DURATION:-10s}
connections=${CONNECTIONS:-32}
threads=${THREADS:-1}
port=${PORT:-18080}
work=$(mktemp -d)
password=bench-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')

KVMHUB_ADMIN_PASSWORD=$password KVMHUB_ACCESS_LOG=false KVMHUB_DEMO=false KVMHUB_LIBVIRT_ALLOW_TEST_FILES=true \
  "$build_dir/kvmhubd" --listen "127.0.0.1:$port" --data-dir "$work/data" --log-level warn > "$work/daemon.log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

token=$(admin_token "$port" "$password" "$work/daemon.log")

echo "== GET /healthz (wrk -t$threads -c$connections -d$duration, $(nproc) cores shared with wrk)"
wrk -t"$threads" -c"$connections" -d"$duration" --latency "http://127.0.0.1:$port/healthz"
echo
echo "== GET /conf/ with a bearer token"
wrk -t"$threads" -c"$connections" -d"$duration" --latency -H "Authorization: Bearer $token" "http://127.0.0.1:$port/conf/"

# The guest cache: HOSTS test-driver hosts with VMS VMs each, listed once so the cache holds them.
hosts=${HOSTS:-100}
vms=${VMS:-100}
for h in $(seq 1 "$hosts"); do
  {
    echo "<node><cpu><mhz>2000</mhz><nodes>1</nodes><sockets>1</sockets><cores>8</cores><threads>1</threads></cpu>"
    echo "<memory>67108864</memory>"
    for v in $(seq 1 "$vms"); do
      printf "<domain type='test'><name>vm-%d-%d</name><uuid>%08x-0000-4000-8000-%012x</uuid>" "$h" "$v" "$h" "$v"
      printf "<memory>524288</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>\n"
    done
    echo "</node>"
  } > "$work/host$h.xml"
  curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$port/conf/host/" -d \
    "{\"name\":\"h$h\",\"tpl\":\"domain\",\"url\":\"test://$work/host$h.xml\",\"arch\":\"x86_64\",\"ipaddr\":\"127.0.0.1\",\"sshport\":\"22\",\"sshuser\":\"root\"}" > /dev/null
  curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$port/vm/list/h$h" > /dev/null
done
# Refreshing the whole fleet: every host listed live once more, one after the other.
started=$(date +%s.%N)
for h in $(seq 1 "$hosts"); do
  curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$port/vm/list/h$h" > /dev/null
done
echo
echo "== refresh of all $hosts hosts x $vms VMs (GET /vm/list/<host> each, sequential): $(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') s"
echo "== kvmhubd RSS with $((hosts * vms)) cached VMs: $(awk '/^VmRSS/ {print $2, $3}' "/proc/$pid/status")"
bytes=$(curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$port/vm/list/" | wc -c)
echo
echo "== GET /vm/list/ from the guest cache: $hosts hosts x $vms VMs, $bytes bytes per reply"
wrk -t"$threads" -c"$connections" -d"$duration" --latency -H "Authorization: Bearer $token" "http://127.0.0.1:$port/vm/list/"
echo
echo "== GET /vm/list/<host>/<uuid> (from the cache)"
wrk -t"$threads" -c"$connections" -d"$duration" --latency -H "Authorization: Bearer $token" \
  "http://127.0.0.1:$port/vm/list/h1/00000001-0000-4000-8000-000000000001"
echo
echo "== GET /vm/list/<host>, live: $vms VMs from a test-driver host"
wrk -t"$threads" -c"$connections" -d"$duration" --latency -H "Authorization: Bearer $token" \
  "http://127.0.0.1:$port/vm/list/h1"

if [ -x "$build_dir/bench/kvmhub_bench" ]; then
  echo
  echo "== micro-benchmarks (Google Benchmark)"
  "$build_dir/bench/kvmhub_bench" --benchmark_min_time=0.2
fi
