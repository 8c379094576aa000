#!/usr/bin/env bash
# Disks from a 20 GiB-virtual gold on the local libvirtd (qemu:///system): create a VM, attach a
# linked clone and a full copy, start it; and the full copy's throughput next to `qemu-img
# convert` of the same image on the same disk. Needs root and a running libvirtd.
# Usage: bench/devices.sh [BUILD_DIR]   (env: GOLD_DATA_MB=1024: real data in the gold)
# Prints timings for the README; nothing here passes or fails.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
build_dir=$(cd "${1:-build}" && pwd)
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
port=${PORT:-18081}
data_mb=${GOLD_DATA_MB:-1024}
work=$(mktemp -d /var/tmp/kvmhub-bench.XXXXXX)
chmod 755 "$work"
pool=kvmhub-bench-$$
password=bench-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }

mkdir -p "$work/gold"
# 20 GiB virtual, GOLD_DATA_MB of incompressible data at the start (what a real OS image has).
head -c "$((data_mb << 20))" /dev/urandom > "$work/gold.raw"
truncate -s 20G "$work/gold.raw"
qemu-img convert -f raw -O qcow2 "$work/gold.raw" "$work/gold/big.qcow2"
rm -f "$work/gold.raw"

KVMHUB_ADMIN_PASSWORD=$password KVMHUB_ACCESS_LOG=false KVMHUB_DEMO=false KVMHUB_GOLD_DIR=$work/gold \
  "$build_dir/kvmhubd" --listen "127.0.0.1:$port" --data-dir "$work/data" --log-level warn >"$work/daemon.log" 2>&1 &
pid=$!
uuid=
cleanup() {
  [ -z "$uuid" ] || curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$port/vm/delete/local/$uuid" >/dev/null || true
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for v in $(virsh -q vol-list "$pool" 2>/dev/null | awk '{print $1}'); do virsh -q vol-delete "$v" --pool "$pool" >/dev/null; done
  virsh -q pool-destroy "$pool" >/dev/null 2>&1 || true
  virsh -q pool-undefine "$pool" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
token=$(admin_token "$port" "$password" "$work/daemon.log")
api() { curl -sf -H "Authorization: Bearer $token" "$@"; }
api -X PUT --data-binary @"$repo/tests/system/testguest.tpl" "http://127.0.0.1:$port/conf/template/domain/testguest" >/dev/null
api "http://127.0.0.1:$port/conf/host/" -d "{\"name\":\"local\",\"tpl\":\"testguest\",\"url\":\"qemu:///system\",\"arch\":\"x86_64\",
  \"ipaddr\":\"127.0.0.1\",\"sshport\":\"22\",\"sshuser\":\"root\",\"pool\":\"$pool\",\"pool_path\":\"$work/pool\",\"disk.file\":\"on\"}" >/dev/null
api "http://127.0.0.1:$port/conf/gold/" -d "{\"name\":\"big\",\"arch\":\"x86_64\",\"uri\":\"file://$work/gold/big.qcow2\",\"size\":\"21\"}" >/dev/null
guest=$build_dir/test-guest
qemu-img create -f qcow2 "$work/root.qcow2" 64M >/dev/null

t=$(now)
uuid=$(api "http://127.0.0.1:$port/vm/create/local" -d "{\"vm_ram_mb\":256,\"vm_kernel\":\"$guest/vmlinuz\",
  \"vm_initrd\":\"$guest/initrd.img\",\"vm_disk\":\"$work/root.qcow2\",\"vm_serial_log\":\"$work/serial.log\"}" |
  sed -n 's/.*"uuid":"\([^"]*\)".*/\1/p')
echo "== create: $(since "$t") s"
t=$(now)
api "http://127.0.0.1:$port/vm/attach_device/local/$uuid?dev=disk.file" -d '{"gold":"big","size":20}' | tail -n1
echo "== first attach, linked clone (includes hashing and uploading the gold, $(du -m "$work/gold/big.qcow2" | cut -f1) MiB): $(since "$t") s"
t=$(now)
api "http://127.0.0.1:$port/vm/attach_device/local/$uuid?dev=disk.file" -d '{"gold":"big","size":20}' | tail -n1
echo "== second attach, linked clone (base in the pool): $(since "$t") s"
t=$(now)
api "http://127.0.0.1:$port/vm/attach_device/local/$uuid?dev=disk.file" -d '{"gold":"big","size":20,"clone":"full"}' | tail -n1
full=$(since "$t")
echo "== attach, full copy: $full s"
t=$(now)
api "http://127.0.0.1:$port/vm/start/local/$uuid" >/dev/null
echo "== start: $(since "$t") s"
t=$(now)
qemu-img convert -f qcow2 -O qcow2 "$work/gold/big.qcow2" "$work/pool/convert.qcow2"
convert=$(since "$t")
rm -f "$work/pool/convert.qcow2"
echo "== qemu-img convert of the same gold: $convert s; full copy / convert = $(awk -v a="$full" -v b="$convert" 'BEGIN { printf "%.2f", a / b }')"
echo "== throughput ($data_mb MiB of data): full copy $(awk -v a="$full" -v m="$data_mb" 'BEGIN { printf "%.0f", m / a }') MiB/s, qemu-img convert $(awk -v a="$convert" -v m="$data_mb" 'BEGIN { printf "%.0f", m / a }') MiB/s"
