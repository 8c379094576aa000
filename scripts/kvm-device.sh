#!/usr/bin/env bash
# Gives /dev/kvm the owner and mode Debian's udev rule gives it (group kvm, mode 0660) on a
# machine where udev does not run (containers, hosts without systemd). Called by
# scripts/deps.sh and by the test fixture (tests/system/libvirtd.sh).
#
# Why: libvirtd probes qemu's capabilities as root, where KVM works, and then checks that its
# qemu user (libvirt-qemu, in group kvm) can open /dev/kvm too. When it cannot (root:root 0600),
# libvirt 9.0 logs "KVM was enabled when probing ..., but it is not available now", throws its
# capability cache away and probes qemu again on every call: a define takes 30-65 s, and every
# kvmhubd call to that host times out. With the udev mode the cache holds and a define takes ms.
#
# Does nothing when udev runs (it owns the device), when /dev/kvm is missing, when it is not
# root:root 0600 (someone chose another setting), or when there is no kvm group yet (the
# libvirt packages make it). Needs root to change anything; says what it did.
set -euo pipefail

dev=${KVM_DEVICE:-/dev/kvm}

[ -c "$dev" ] || exit 0
# udev running: its rules decide, not us.
if [ -S /run/udev/control ]; then exit 0; fi
getent group kvm >/dev/null || exit 0
[ "$(stat -c %U:%G:%a "$dev")" = root:root:600 ] || exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "kvm-device: $dev is root:root 0600 and udev is not running; as root run:" >&2
  echo "kvm-device:   chgrp kvm $dev && chmod 0660 $dev" >&2
  exit 0
fi
chgrp kvm "$dev"
chmod 0660 "$dev"
echo "kvm-device: $dev set to root:kvm 0660, as Debian's udev rule does (udev is not running here)" >&2
