#!/usr/bin/env bash
# End-to-end check of the tiny test guest (scripts/test-guest.sh): builds it, then
# boots it with plain qemu under TCG (no libvirt) and reads its serial console.
#   - the build is cached: a second run changes nothing
#   - NoCloud over HTTP: the SMBIOS serial names a seed URL on a loopback web server
#     (slirp's 10.0.2.2 inside the guest is the host's 127.0.0.1)
#   - the console takes commands, and its shell comes back after `exit`
#   - the ACPI power button powers the guest off
#   - a cidata ISO on an IDE, a virtio-scsi and a SATA (AHCI) CD-ROM
#   - no datasource at all
# Needs qemu-system-x86, cpio, xorriso (scripts/deps.sh). The guest is built in
# $TEST_GUEST_DIR (default build/test-guest). Last line: "N passed, M failed".
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
guest=${TEST_GUEST_DIR:-$repo/build/test-guest}
boot_timeout=${BOOT_TIMEOUT:-90} # seconds; a bound, not an expectation

passed=0
failed=0
skipped=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kvmhub-guest-e2e.XXXXXX")
children=() # every background process this script started, by PID

cleanup() {
  for pid in "${children[@]}"; do
    kill "$pid" 2>/dev/null
  done
  for pid in "${children[@]}"; do
    wait "$pid" 2>/dev/null
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() {
  echo "PASS: $1"
  passed=$((passed + 1))
}
fail() { # name [log]: shows the end of the serial log, when there is one
  echo "FAIL: $1"
  if [ -n "${2:-}" ] && [ -f "$2" ]; then
    echo "---- last lines of $2"
    tail -n 40 "$2" | tr -d '\r'
    echo "----"
  fi
  failed=$((failed + 1))
}
skip() { # a check this guest cannot run; `make test` lists it with its reason (tests/skips.sh)
  echo "kvmhub-skipped-check: $1"
  skipped=$((skipped + 1))
}

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# Polls until FILE has a line containing TEXT; fails after boot_timeout seconds or
# as soon as process PID (when given) is gone.
wait_for() { # text file [pid]
  local deadline=$((SECONDS + boot_timeout))
  while [ $SECONDS -lt $deadline ]; do
    if tr -d '\r' <"$2" 2>/dev/null | grep -qF -- "$1"; then return 0; fi
    if [ -n "${3:-}" ] && ! kill -0 "$3" 2>/dev/null; then
      tr -d '\r' <"$2" 2>/dev/null | grep -qF -- "$1"
      return
    fi
    sleep 0.2
  done
  return 1
}

# Polls until FILE has at least N lines containing TEXT (same bounds as wait_for).
wait_count() { # text file n pid
  local deadline=$((SECONDS + boot_timeout))
  while [ $SECONDS -lt $deadline ] && kill -0 "$4" 2>/dev/null; do
    [ "$(tr -d '\r' <"$2" | grep -cF -- "$1")" -lt "$3" ] || return 0
    sleep 0.2
  done
  return 1
}

# Waits for a child PID to end by itself, up to boot_timeout seconds.
wait_exit() {
  local deadline=$((SECONDS + boot_timeout))
  while kill -0 "$1" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}

stop() { # pid: ends one of our children and forgets it
  kill "$1" 2>/dev/null
  wait "$1" 2>/dev/null
  local kept=() pid
  for pid in "${children[@]}"; do [ "$pid" = "$1" ] || kept+=("$pid"); done
  children=("${kept[@]}")
}

# The text the guest printed between "begin NAME" and "end NAME", without CRs.
framed() { # log name
  tr -d '\r' <"$1" | awk -v b="kvmhub-test-guest: begin $2" -v e="kvmhub-test-guest: end $2" '
    $0 == e { inside = 0 }
    inside { print }
    $0 == b { inside = 1 }'
}

expect_framed() { # case log name expected-file
  if diff <(framed "$2" "$3") "$4" >"$tmp/diff"; then
    pass "$1: $3 printed between the markers"
  else
    fail "$1: $3 between the markers differs from what was served" "$2"
    cat "$tmp/diff"
  fi
}

expect_line() { # case log text
  if tr -d '\r' <"$2" | grep -qF -- "$3"; then
    pass "$1: '$3'"
  else
    fail "$1: no '$3' on the console" "$2"
  fi
}

# Boots the guest: boot NAME [qemu args...]. The serial console is a pair of
# FIFOs: $tmp/NAME.log gets what the guest prints, fd $console_fd writes to its
# console; $monitor_fd writes to the qemu monitor. Sets qemu_pid.
boot() {
  local name=$1
  shift
  mkfifo "$tmp/$name.serial.in" "$tmp/$name.serial.out" "$tmp/$name.mon.in" "$tmp/$name.mon.out"
  cat "$tmp/$name.serial.out" >"$tmp/$name.log" &
  children+=($!)
  cat "$tmp/$name.mon.out" >"$tmp/$name.monitor.log" &
  children+=($!)
  # Read-write opens of a FIFO never block, even if qemu fails to start.
  exec {console_fd}<>"$tmp/$name.serial.in" {monitor_fd}<>"$tmp/$name.mon.in"
  qemu-system-x86_64 -accel tcg -m 256 -display none -no-reboot \
    -kernel "$guest/vmlinuz" -initrd "$guest/initrd.img" -append 'console=ttyS0 panic=-1' \
    -chardev "pipe,id=serial0,path=$tmp/$name.serial" -serial chardev:serial0 \
    -chardev "pipe,id=mon0,path=$tmp/$name.mon" -mon chardev=mon0,mode=readline \
    -netdev user,id=n0 -device virtio-net-pci,netdev=n0 \
    "$@" >"$tmp/$name.qemu.log" 2>&1 &
  qemu_pid=$!
  children+=("$qemu_pid")
  boot_started=$(now)
}

# Waits for "ready"; on failure shows the log and qemu's own messages.
wait_ready() { # case
  if wait_for "kvmhub-test-guest: ready" "$tmp/$1.log" "$qemu_pid"; then
    echo "     $1: ready $(since "$boot_started") s after qemu started ($(tr -d '\r' <"$tmp/$1.log" | sed -n 's/^kvmhub-test-guest: up \(.*\)$/guest uptime \1/p'))"
    return 0
  fi
  fail "$1: no 'ready' within ${boot_timeout}s" "$tmp/$1.log"
  sed 's/^/qemu: /' "$tmp/$1.qemu.log"
  return 1
}

shutdown_guest() {
  stop "$qemu_pid"
  exec {console_fd}>&- {monitor_fd}>&-
}

for tool in qemu-system-x86_64 cpio xorriso; do
  command -v "$tool" >/dev/null || {
    fail "setup: $tool is missing (run scripts/deps.sh)"
    echo "$passed passed, $failed failed"
    exit 1
  }
done

# ---- build, then build again: the second run must not touch anything
started=$(now)
if "$repo/scripts/test-guest.sh" "$guest"; then
  echo "     build: $(since "$started") s"
  if [ -s "$guest/vmlinuz" ] && [ -s "$guest/initrd.img" ] && [ -s "$guest/stamp" ]; then
    pass "build: vmlinuz, initrd.img and stamp in $guest"
  else
    fail "build: vmlinuz, initrd.img or stamp missing in $guest"
  fi
else
  fail "build: scripts/test-guest.sh failed"
  echo "$passed passed, $failed failed"
  exit 1
fi
initrd_bytes=$(stat -c %s "$guest/initrd.img")
if [ "$initrd_bytes" -lt $((20 * 1024 * 1024)) ]; then
  pass "build: initrd.img is $((initrd_bytes / 1024)) KiB (< 20 MiB)"
else
  fail "build: initrd.img is $((initrd_bytes / 1024)) KiB, over 20 MiB"
fi
before=$(stat -c '%Y %i' "$guest/vmlinuz" "$guest/initrd.img" "$guest/stamp")
started=$(now)
second=$("$repo/scripts/test-guest.sh" "$guest" 2>&1)
echo "     cached build: $(since "$started") s"
after=$(stat -c '%Y %i' "$guest/vmlinuz" "$guest/initrd.img" "$guest/stamp")
if [ "$before" = "$after" ] && grep -q "up to date" <<<"$second"; then
  pass "build: a second run with the same inputs does nothing"
else
  fail "build: the second run rebuilt or failed: $second"
fi

# busybox for the web server comes out of the guest's own initrd.
(cd "$tmp" && gzip -dc "$guest/initrd.img" | cpio -i -d --quiet bin/busybox)
busybox=$tmp/bin/busybox
[ -x "$busybox" ] || fail "setup: no busybox in initrd.img"

# ---- NoCloud over HTTP, named by the SMBIOS serial
mkdir -p "$tmp/www/vm1"
printf 'instance-id: vm1-%s\nlocal-hostname: vm1\n' "$RANDOM" >"$tmp/www/vm1/meta-data"
printf '#cloud-config\nhostname: vm1\nruncmd:\n  - echo "semi;colons & <angles>"\n' >"$tmp/www/vm1/user-data"
printf 'version: 2\nethernets:\n  eth0:\n    dhcp4: true\n' >"$tmp/www/vm1/network-config"
# (no vendor-data: the guest must say it is missing and go on)

listening() { # port: is something listening on 127.0.0.1:port?
  local hex
  hex=$(printf '0100007F:%04X' "$1")
  awk -v a="$hex" '$2 == a && $4 == "0A" { found = 1 } END { exit !found }' /proc/net/tcp
}
port=
for _ in $(seq 20); do
  [ -x "$busybox" ] || break
  candidate=$((20000 + RANDOM % 40000))
  listening "$candidate" && continue
  "$busybox" httpd -f -p "127.0.0.1:$candidate" -h "$tmp/www" &
  httpd_pid=$!
  for _ in $(seq 25); do
    listening "$candidate" && break
    kill -0 "$httpd_pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$httpd_pid" 2>/dev/null && listening "$candidate"; then
    port=$candidate
    children+=("$httpd_pid")
    break
  fi
  kill "$httpd_pid" 2>/dev/null
  wait "$httpd_pid" 2>/dev/null
done

if [ -z "$port" ]; then
  fail "smbios: could not start a web server on 127.0.0.1"
else
  seed="http://10.0.2.2:$port/vm1/"
  boot smbios -smbios "type=1,serial=ds=nocloud;s=$seed"
  if wait_ready smbios; then
    log=$tmp/smbios.log
    expect_line smbios "$log" "kvmhub-test-guest: booted"
    expect_line smbios "$log" "kvmhub-test-guest: network eth0 10.0.2.15/24 via 10.0.2.2"
    expect_line smbios "$log" "kvmhub-test-guest: datasource smbios $seed"
    expect_framed smbios "$log" meta-data "$tmp/www/vm1/meta-data"
    expect_framed smbios "$log" user-data "$tmp/www/vm1/user-data"
    expect_framed smbios "$log" network-config "$tmp/www/vm1/network-config"
    expect_line smbios "$log" "kvmhub-test-guest: missing vendor-data"

    # The console answers, and its shell comes back after `exit`. Each shell
    # prints busybox's banner once; input typed before a shell starts may be lost
    # (the old session's hangup flushes the tty), so each step waits for it.
    banner="built-in shell (ash)"
    wait_count "$banner" "$log" 1 "$qemu_pid"
    # shellcheck disable=SC2016 # the guest's shell does the arithmetic
    echo 'echo "console-$((6 * 7))"' >&"$console_fd"
    if wait_for "console-42" "$log" "$qemu_pid"; then
      pass "console: a command typed on the serial console runs"
    else
      fail "console: no answer to a typed command" "$log"
    fi
    echo 'exit' >&"$console_fd"
    # shellcheck disable=SC2016 # the guest's shell does the arithmetic
    if wait_count "$banner" "$log" 2 "$qemu_pid" &&
      echo 'echo "respawned-$((1 + 1))"' >&"$console_fd" &&
      wait_for "respawned-2" "$log" "$qemu_pid"; then
      pass "console: the shell comes back after exit"
    else
      fail "console: no shell after exit" "$log"
    fi

    # The ACPI power button (what `virsh shutdown` presses) powers it off.
    echo 'system_powerdown' >&"$monitor_fd"
    if wait_exit "$qemu_pid" && tr -d '\r' <"$log" | grep -qF "kvmhub-test-guest: power button, powering off"; then
      pass "power: the guest powers off on the ACPI power button"
    else
      fail "power: the guest did not power off on the ACPI power button" "$log"
    fi
  fi
  shutdown_guest
  stop "$httpd_pid"
fi

# ---- NoCloud from a CD-ROM labelled cidata, on each bus the guest should read
mkdir -p "$tmp/iso"
printf 'instance-id: iso-%s\nlocal-hostname: from-iso\n' "$RANDOM" >"$tmp/iso/meta-data"
printf '#cloud-config\nhostname: from-iso\n' >"$tmp/iso/user-data"
if xorriso -as genisoimage -quiet -o "$tmp/seed.iso" -V cidata -J -r "$tmp/iso" 2>"$tmp/xorriso.log"; then
  cidata_case() { # name [qemu args...]
    local name=$1
    shift
    boot "$name" "$@"
    if wait_ready "$name"; then
      expect_line "$name" "$tmp/$name.log" "kvmhub-test-guest: datasource cidata /dev/sr"
      expect_framed "$name" "$tmp/$name.log" meta-data "$tmp/iso/meta-data"
      expect_framed "$name" "$tmp/$name.log" user-data "$tmp/iso/user-data"
    fi
    shutdown_guest
  }
  cd_drive=(-drive "file=$tmp/seed.iso,media=cdrom,if=none,id=cd0,readonly=on")
  cidata_case cidata-ide "${cd_drive[@]}" -device ide-cd,bus=ide.0,drive=cd0
  cidata_case cidata-virtio-scsi "${cd_drive[@]}" -device virtio-scsi-pci,id=scsi0 -device scsi-cd,bus=scsi0.0,drive=cd0
  if grep -q '^modules:.* ahci' "$guest/stamp"; then
    cidata_case cidata-sata "${cd_drive[@]}" -device ahci,id=ahci -device ide-cd,bus=ahci.0,drive=cd0
  else
    skip "cidata-sata: this guest's kernel has no AHCI driver ($(sed -n 's/^kernel: //p' "$guest/stamp")); build with TEST_GUEST_KERNEL=linux-image-amd64 to test SATA"
  fi
else
  fail "cidata: xorriso could not make the ISO: $(cat "$tmp/xorriso.log")"
fi

# ---- neither: the guest says so and is still ready
boot none
if wait_ready none; then
  expect_line none "$tmp/none.log" "kvmhub-test-guest: no datasource"
fi
shutdown_guest

if [ "$skipped" -gt 0 ]; then
  echo "$passed passed, $failed failed, $skipped skipped"
else
  echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
