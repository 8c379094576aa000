#!/usr/bin/env bash
# The libvirtd the system tests (tests/system/) run against, as a ctest fixture:
#   libvirtd.sh start DIR   when qemu:///system already answers, uses that daemon and writes
#                           DIR/external; otherwise starts `virtlogd -d` and `libvirtd -d`
#                           with their pid files in DIR and waits until qemu:///system answers
#   libvirtd.sh stop DIR    stops exactly the daemons whose pid files are in DIR (by PID,
#                           never by name), so a libvirtd someone else runs is left alone
#   libvirtd.sh restart DIR stops and starts the libvirtd of DIR (the fault tests use it)
# Needs root and the libvirt-daemon-system package (scripts/deps.sh). No network is started:
# the tests use qemu's user-mode networking only.
set -euo pipefail

cmd=${1:?usage: libvirtd.sh start|stop|restart DIR}
dir=${2:?usage: libvirtd.sh start|stop|restart DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

log() { echo "libvirtd.sh: $*" >&2; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# A cached capabilities call takes milliseconds; a re-probe takes seconds.
slow_capabilities_ms=${SLOW_CAPABILITIES_MS:-2000}

answers() { timeout 10 virsh -q -c qemu:///system version >/dev/null 2>&1; }

wait_answer() {
  for _ in $(seq 1 150); do
    answers && return 0
    sleep 0.2
  done
  log "qemu:///system does not answer 30 s after starting libvirtd; see /var/log/libvirt/libvirtd.log"
  return 1
}

# Stops the daemon whose pid file is $1, if it is still the process that wrote it.
stop_pidfile() {
  local file=$1 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  rm -f "$file"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || return 0
      sleep 0.1
    done
    log "pid $pid ($file) ignored SIGTERM for 10 s, killing it"
    kill -9 "$pid" 2>/dev/null || true
  fi
}

# A libvirtd that throws its qemu capability cache away re-probes qemu on every call: each
# call takes seconds and every system test would pile up 30 s timeouts. Stop here instead and
# name the cause. The first call may probe (a fresh daemon); the second must not.
check_capability_cache() {
  local start ms
  timeout 120 virsh -q -c qemu:///system capabilities >/dev/null 2>&1 || true
  start=$(date +%s%N)
  if ! timeout 120 virsh -q -c qemu:///system capabilities >/dev/null 2>&1; then
    log "virsh capabilities failed on qemu:///system"
    return 1
  fi
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  if [ "$ms" -gt "$slow_capabilities_ms" ]; then
    log "libvirtd re-probes qemu on every call: a second 'virsh capabilities' took $ms ms (limit $slow_capabilities_ms)."
    log "The usual cause is that qemu's user cannot open /dev/kvm ($(stat -c '%U:%G %a' /dev/kvm 2>/dev/null || echo missing));"
    log "libvirtd's debug log then says 'KVM was enabled when probing ..., but it is not available now'."
    log "Fix: chgrp kvm /dev/kvm && chmod 0660 /dev/kvm (what udev does; scripts/kvm-device.sh), then run the tests again."
    return 1
  fi
  log "qemu capabilities cached: a second 'virsh capabilities' took $ms ms"
}

start_libvirtd() {
  # A stale pid file from a crashed run would make libvirtd refuse to start.
  rm -f "$dir/libvirtd.pid"
  libvirtd -d -p "$dir/libvirtd.pid"
  wait_answer
}

case $cmd in
  start)
    rm -f "$dir/external"
    # Before anything asks libvirtd: /dev/kvm as udev leaves it, also for a daemon that
    # already runs (its next capability check then holds).
    "$repo/scripts/kvm-device.sh"
    if answers; then
      log "using the libvirtd that is already running (it will not be stopped)"
      touch "$dir/external"
      check_capability_cache
      exit 0
    fi
    for tool in libvirtd virtlogd virsh; do
      command -v "$tool" >/dev/null || {
        log "$tool is missing: run scripts/deps.sh"
        exit 1
      }
    done
    if [ "$(id -u)" -ne 0 ]; then
      log "the system tests need root (qemu:///system)"
      exit 1
    fi
    rm -f "$dir/virtlogd.pid"
    virtlogd -d -p "$dir/virtlogd.pid"
    start_libvirtd
    log "started libvirtd pid $(cat "$dir/libvirtd.pid"), virtlogd pid $(cat "$dir/virtlogd.pid")"
    check_capability_cache
    ;;
  stop)
    stop_pidfile "$dir/libvirtd.pid"
    stop_pidfile "$dir/virtlogd.pid"
    rm -f "$dir/external"
    ;;
  restart)
    if [ ! -f "$dir/libvirtd.pid" ]; then
      log "no libvirtd started by the tests in $dir: not restarting someone else's daemon"
      exit 1
    fi
    stop_pidfile "$dir/libvirtd.pid"
    start_libvirtd
    ;;
  *)
    log "unknown command $cmd (start, stop, restart)"
    exit 2
    ;;
esac
