#!/usr/bin/env bash
# Installs every Debian package that building, running and testing kvmhub needs.
# Idempotent: packages already installed are skipped, and apt-get runs only when
# something is missing. Needs root (or sudo) when it has something to install.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git clang-format
  # libraries (Boost 1.81 only: it conflicts with the default 1.74 -dev packages)
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev nlohmann-json3-dev libsodium-dev libarchive-dev
  libsqlite3-dev libspdlog-dev libfmt-dev libcli11-dev
  libtomlplusplus-dev libexpected-dev libcurl4-openssl-dev libvirt-dev libssh-dev
  libpugixml-dev
  # directory logins (src/auth/directory.cpp)
  libldap-dev
  # cloud-init cidata ISOs built in memory (src/cloudinit/iso.cpp)
  libisofs-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev curl wrk openssl
  # bench/meta.sh: the metadata service against nginx serving the same bytes
  nginx
  # the tiny test guest (scripts/test-guest.sh) and booting it under TCG
  cpio qemu-system-x86 qemu-utils
  # qemu's curl block driver: http CD-ROMs (ISO mode cidata from the metadata service,
  # /vm/cdrom media on a running guest)
  qemu-block-extra
  # system tests: a real libvirtd (started by tests/system/libvirtd.sh, never as a service)
  libvirt-daemon-system libvirt-clients
  # tests: cidata ISOs for the test guest; isoinfo reads back the ISOs kvmhub builds;
  # cloud-init's own checks of the rendered files
  xorriso genisoimage cloud-init
  # browser consoles: noVNC and spice-html5 pages served by kvmhubd; websockify for the
  # console proxy benchmark; headless Chromium for the browser tests (driven by playwright-core)
  novnc spice-html5 websockify chromium
  # tests of the ssh console tunnel: a real sshd on loopback (never started as a service)
  openssh-server
  # the real Debian 12 cloud image of the real-guest tests (scripts/cloud-image.sh)
  mmdebstrap fdisk e2fsprogs
  # tests of directory logins: a real slapd on loopback with its own config (never the
  # system one: the install below keeps its init script from starting it)
  slapd
  # fuzzing (make fuzz)
  clang-14 libclang-rt-14-dev
)

# Node.js for the web assets (npm ci in ui/): Debian's nodejs + npm unless a node with npm
# is already there (e.g. from NodeSource, whose nodejs package brings npm itself).
if ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# ui/node_modules from ui/package-lock.json (pinned): xterm.js and playwright-core.
install_ui() {
  local ui
  ui="$(cd "$(dirname "$0")/.." && pwd)/ui"
  if [ ! -f "$ui/node_modules/.package-lock.json" ] || [ "$ui/package-lock.json" -nt "$ui/node_modules/.package-lock.json" ]; then
    echo "deps: npm ci in $ui"
    (cd "$ui" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# Without udev (containers, no systemd) /dev/kvm stays root:root 0600 and libvirtd re-probes
# qemu on every call: give it udev's mode (scripts/kvm-device.sh says why).
kvm_device() { "$(dirname "$0")/kvm-device.sh"; }

if [ ${#missing[@]} -eq 0 ]; then
  install_ui
  kvm_device
  exit 0
fi

echo "deps: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
# No package may start its service while installing (slapd's and nginx's postinst would, on a
# machine without systemd): policy-rc.d's 101 says "not allowed", for this install only.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee "$policy" >/dev/null
  "${sudo_cmd[@]}" chmod 755 "$policy"
  own_policy=1
fi
drop_policy() { if [ "$own_policy" = 1 ]; then "${sudo_cmd[@]}" rm -f "$policy"; fi; }
trap drop_policy EXIT
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"

# kvmhub's tests never use libvirt's NAT network "default" (guests get qemu's user-mode
# network): make sure libvirtd does not start it on its own.
autostart=/etc/libvirt/qemu/networks/autostart/default.xml
if [ -L "$autostart" ] || [ -e "$autostart" ]; then
  echo "deps: turning off the autostart of libvirt's default network ($autostart)"
  "${sudo_cmd[@]}" rm -f "$autostart"
fi

install_ui
kvm_device
