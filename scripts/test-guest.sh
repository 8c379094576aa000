#!/usr/bin/env bash
# Builds the tiny test guest that kvmhub's e2e tests boot under qemu (TCG):
#   <out>/vmlinuz      Debian bookworm's cloud kernel (boots fast, has virtio)
#   <out>/initrd.img   a busybox-static initramfs whose /init reads a NoCloud
#                      datasource and prints it on the serial console
#   <out>/stamp        what went in; a run whose inputs match it does nothing
# <out> is $1, else $TEST_GUEST_DIR, else build/test-guest in the repo.
# $TEST_GUEST_KERNEL names another kernel metapackage: linux-image-amd64 has the
# AHCI (SATA) driver the cloud kernel lacks, but takes seconds longer to boot.
# Nothing is installed on this machine: the kernel and busybox .debs are fetched
# with `apt-get download` and unpacked in a temp dir. The host needs apt, dpkg,
# cpio, gzip and xz (scripts/deps.sh). See docs/test-guest.md for the console markers.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-${TEST_GUEST_DIR:-$repo/build/test-guest}}
kernel_meta=${TEST_GUEST_KERNEL:-linux-image-cloud-amd64}
busybox_pkg="busybox-static"

# Modules the guest loads (with whatever they depend on). The cloud kernel has no
# AHCI driver, so a SATA CD-ROM is invisible to it; `optional` ones are taken
# when the kernel has them and skipped otherwise.
required_modules=(
  virtio_pci virtio_blk virtio_net virtio_console virtio_rng virtio_scsi
  scsi_mod sd_mod sr_mod cdrom isofs libata ata_piix
  button evdev # the ACPI power button, so `virsh shutdown` powers the guest off
)
optional_modules=(ahci)

log() { echo "test-guest: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

for tool in apt-get apt-cache dpkg-deb cpio gzip sha256sum flock; do
  command -v "$tool" >/dev/null || die "$tool is missing (run scripts/deps.sh)"
done

mkdir -p "$out"
out=$(cd "$out" && pwd)
# Parallel test runs share the cache: one builds, the others wait and reuse it.
exec 9>"$out/.lock"
flock 9

# The exact package versions that would be used, from apt's lists (no network).
# One apt-cache call: each one costs most of a second here.
resolve_versions() {
  local info
  info=$(apt-cache show --no-all-versions "$kernel_meta" "$busybox_pkg" 2>/dev/null) || return 1
  read -r kernel_pkg kernel_version busybox_version < <(awk -v meta="$kernel_meta" -v bb="$busybox_pkg" '
    /^Package:/ { pkg = $2 }
    /^Version:/ && pkg == bb { bbv = $2 }
    /^Depends:/ && pkg == meta {
      # "linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2), ..."
      if (match($0, /linux-image-[^ ,]+ \(= [^)]+\)/)) {
        split(substr($0, RSTART, RLENGTH), f, /[ ()=]+/)
        kp = f[1]; kv = f[2]
      }
    }
    END { if (kp != "" && bbv != "") print kp, kv, bbv }' <<<"$info")
  [ -n "${busybox_version:-}" ]
}

script_hash=$(sha256sum <"${BASH_SOURCE[0]}" | cut -d' ' -f1)

if ! resolve_versions; then
  if [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.img" ] && [ -f "$out/stamp" ] &&
    grep -qx "script: $script_hash" "$out/stamp"; then
    log "apt knows no $kernel_meta/$busybox_pkg; keeping the cached guest in $out"
    exit 0
  fi
  log "apt's package lists lack $kernel_meta or $busybox_pkg: running apt-get update once"
  apt-get update -qq || die "apt-get update failed"
  resolve_versions || die "apt has no candidate for $kernel_meta or $busybox_pkg"
fi

inputs_hash=$({
  echo "$script_hash"
  echo "$kernel_pkg=$kernel_version"
  echo "$busybox_pkg=$busybox_version"
} | sha256sum | cut -d' ' -f1)

if [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.img" ] && [ -f "$out/stamp" ] &&
  [ "$(head -n1 "$out/stamp")" = "$inputs_hash" ]; then
  log "up to date in $out ($kernel_pkg $kernel_version, busybox $busybox_version)"
  exit 0
fi

log "building in $out from $kernel_pkg $kernel_version and $busybox_pkg $busybox_version"
work=$(mktemp -d "${TMPDIR:-/tmp}/kvmhub-test-guest.XXXXXX")
trap 'rm -rf "$work"' EXIT

# apt drops privileges to _apt for downloads, which cannot write a 0700 temp dir.
(cd "$work" && apt-get -q -o APT::Sandbox::User=root download \
  "$kernel_pkg=$kernel_version" "$busybox_pkg=$busybox_version" >/dev/null) ||
  die "apt-get download failed"
dpkg-deb -x "$work/${kernel_pkg}_"*.deb "$work/kernel"
dpkg-deb -x "$work/${busybox_pkg}_"*.deb "$work/busybox"

vmlinuz=$(find "$work/kernel/boot" -maxdepth 1 -name 'vmlinuz-*' | head -n1)
[ -n "$vmlinuz" ] || die "$kernel_pkg has no boot/vmlinuz-*"
kver=${vmlinuz##*/vmlinuz-}
moddir=$work/kernel/lib/modules/$kver
[ -d "$moddir" ] || die "$kernel_pkg has no lib/modules/$kver"
busybox=$work/busybox/bin/busybox
[ -x "$busybox" ] || die "$busybox_pkg has no bin/busybox"

# Module names use '_' where file names may use '-' (virtio-rng.ko is virtio_rng).
norm() { echo "${1//-/_}"; }

declare -A module_file=() builtin=()
while IFS= read -r f; do
  name=${f##*/}
  name=${name%%.ko*}
  module_file[$(norm "$name")]=$f
done < <(find "$moddir/kernel" -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz')
if [ -f "$moddir/modules.builtin" ]; then
  while IFS= read -r f; do
    name=${f##*/}
    builtin[$(norm "${name%%.ko*}")]=1
  done <"$moddir/modules.builtin"
fi

root=$work/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,etc/kvmhub-test-guest,lib/modules,var/log,mnt}

# Copies a module uncompressed (busybox insmod reads plain .ko only).
unpack_module() {
  local src=$1 dst=$2
  case $src in
    *.ko.xz) xz -dc "$src" >"$dst" ;;
    *.ko.zst) zstd -qdc "$src" >"$dst" ;;
    *.ko.gz) gzip -dc "$src" >"$dst" ;;
    *) cp "$src" "$dst" ;;
  esac
}

# Dependencies come from each module's own .modinfo "depends=" entry, so no
# depmod (kmod) is needed on the host; the list is written in load order.
declare -A visited=()
load_order=()
add_module() {
  local name dep deps
  name=$(norm "$1")
  [ -z "${visited[$name]:-}" ] || return 0
  visited[$name]=1
  if [ -n "${builtin[$name]:-}" ]; then return 0; fi
  [ -n "${module_file[$name]:-}" ] || return 1
  unpack_module "${module_file[$name]}" "$root/lib/modules/$name.ko"
  deps=$(tr '\0' '\n' <"$root/lib/modules/$name.ko" | sed -n 's/^depends=//p' | head -n1)
  for dep in ${deps//,/ }; do
    add_module "$dep" || die "module $name needs $dep, which $kernel_pkg lacks"
  done
  load_order+=("$name")
}
for m in "${required_modules[@]}"; do
  add_module "$m" || die "$kernel_pkg has no module $m and does not build it in"
done
skipped=()
for m in "${optional_modules[@]}"; do
  add_module "$m" || skipped+=("$m")
done
[ ${#skipped[@]} -eq 0 ] || log "this kernel lacks ${skipped[*]}: skipped"
printf '%s\n' "${load_order[@]}" >"$root/etc/kvmhub-test-guest/modules"

cp "$busybox" "$root/bin/busybox"
while IFS= read -r applet; do
  [ "$applet" = bin/busybox ] || [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done < <("$busybox" --list-full)

echo "$kver" >"$root/etc/kvmhub-test-guest/kernel"
echo 'export PS1="test-guest# "' >"$root/etc/profile"

cat >"$root/etc/kvmhub-test-guest/udhcpc.script" <<'EOF'
#!/bin/sh
# Called by udhcpc with $1 = deconfig|bound|renew|leasefail|nak.
case $1 in
  deconfig)
    ip addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound | renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    if [ -n "$router" ]; then
      ip route replace default via "${router%% *}" dev "$interface"
    fi
    if [ "$1" = bound ]; then
      for c in $(cat /sys/class/tty/console/active); do
        echo "kvmhub-test-guest: network $interface $ip/${mask:-24} via ${router%% *}" >"/dev/$c"
      done
    fi
    ;;
esac
exit 0
EOF

mkdir -p "$root/etc/acpi/PWRF"
cat >"$root/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
for c in $(cat /sys/class/tty/console/active); do
  echo "kvmhub-test-guest: power button, powering off" >"/dev/$c"
done
sync
poweroff -f
EOF

cat >"$root/init" <<'EOF'
#!/bin/sh
# /init of the kvmhub test guest (busybox sh). It never exits.
PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PATH
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts
mount -t devpts devpts /dev/pts
exec </dev/console >/dev/console 2>&1

cmdline=$(cat /proc/cmdline)
case " $cmdline " in
  *" kvmhub.debug "*)
    PS4='+ $(cut -d" " -f1 /proc/uptime) '
    set -x
    ;;
  *) echo 1 >/proc/sys/kernel/printk ;; # keep kernel chatter out of the markers
esac
cdrom_wait=3 # seconds to wait for a cidata CD-ROM to show up
for word in $cmdline; do
  case $word in kvmhub.cdrom_wait=*) cdrom_wait=${word#*=} ;; esac
done

# Markers go to every active console (serial and screen), so both console and
# VNC tests can see them; the interactive shell runs on /dev/console only.
consoles=$(cat /sys/class/tty/console/active 2>/dev/null)
say() {
  if [ -z "$consoles" ]; then echo "kvmhub-test-guest: $*"; return; fi
  for c in $consoles; do echo "kvmhub-test-guest: $*" >"/dev/$c"; done
}
show() { # name file: the file's text between begin/end markers
  say "begin $1"
  for c in ${consoles:-console}; do
    cat "$2" >"/dev/$c"
    # An end marker always starts its own line.
    [ -z "$(tail -c 1 "$2")" ] || echo >"/dev/$c"
  done
  say "end $1"
}

say "booted"
say "kernel $(uname -r)"

while read -r m; do
  insmod "/lib/modules/$m.ko" || say "insmod $m failed"
done </etc/kvmhub-test-guest/modules

mkdir -p /var/run /var/log
acpid -c /etc/acpi -l /dev/null

ip link set lo up
iface=
for d in /sys/class/net/*; do
  n=${d##*/}
  [ "$n" != lo ] || continue
  iface=$n
  # Every NIC asks for a lease (attached ones too); each lease is printed by the script.
  if ! udhcpc -i "$n" -s /etc/kvmhub-test-guest/udhcpc.script -t 5 -T 1 -A 1 -n >/dev/null 2>&1; then
    say "network $n: no DHCP lease"
  fi
done
[ -n "$iface" ] || say "network: no interface"

# Data disks (vdb and later): their size and the text at 1 MiB, where the tests' gold
# images keep a marker.
for d in /sys/block/vd[b-z]; do
  [ -e "$d" ] || continue
  n=${d##*/}
  say "disk $n bytes $(($(cat "$d/size") * 512))"
  say "disk $n at 1MiB: $(dd if="/dev/$n" bs=1048576 skip=1 count=1 2>/dev/null | head -c 64 | tr -cd 'A-Za-z0-9_.-')"
done

# A cloud-init NoCloud string: "ds=nocloud;s=URL" or "ds=nocloud-net;seedfrom=URL".
# Prints URL; fails when the string names no NoCloud datasource.
nocloud_url() {
  for word in $1; do
    case $word in
      ds=nocloud | ds=nocloud\;* | ds=nocloud-net | ds=nocloud-net\;*) ;;
      *) continue ;;
    esac
    url=
    for part in $(echo "$word" | tr ';' ' '); do
      case $part in s=*) url=${part#s=} ;; seedfrom=*) url=${part#seedfrom=} ;; esac
    done
    echo "$url"
    return 0
  done
  return 1
}

fetch_all() { # URL: like cloud-init, each file's URL is URL followed by its name
  mkdir -p /tmp/seed
  for f in meta-data user-data vendor-data network-config; do
    # Not `wget -T`: Debian's busybox-static 1.35 wget segfaults with it.
    if timeout 15 wget -q -O "/tmp/seed/$f" "$1$f" 2>/dev/null; then
      show "$f" "/tmp/seed/$f"
    else
      rm -f "/tmp/seed/$f"
      say "missing $f"
    fi
  done
}

is_cidata() { # device: an ISO 9660 volume labelled cidata (any case)?
  label=$(dd if="$1" bs=2048 skip=16 count=1 2>/dev/null | dd bs=1 skip=40 count=32 2>/dev/null | tr -d ' ')
  case $label in cidata | CIDATA) return 0 ;; esac
  return 1
}

uptime_s() { read -r up _ </proc/uptime && echo "${up%.*}"; }

# insmod waits for the drivers' async probing, so CD-ROMs usually exist by now;
# the grace period covers slow media and slow (TCG) hosts.
find_cidata() {
  deadline=$(($(uptime_s) + cdrom_wait))
  while :; do
    for dev in /dev/sr* /dev/vd? /dev/sd?; do
      [ -b "$dev" ] && is_cidata "$dev" && { echo "$dev"; return 0; }
    done
    [ "$(uptime_s)" -lt "$deadline" ] || return 1
    sleep 0.25
  done
}

serial=$(cat /sys/class/dmi/id/product_serial 2>/dev/null)
if url=$(nocloud_url "$serial") && [ -n "$url" ]; then
  say "datasource smbios $url"
  fetch_all "$url"
elif url=$(nocloud_url "$cmdline") && [ -n "$url" ]; then
  say "datasource cmdline $url"
  fetch_all "$url"
elif dev=$(find_cidata); then
  say "datasource cidata $dev"
  mkdir -p /mnt/cidata
  if mount -t iso9660 -o ro "$dev" /mnt/cidata; then
    for f in meta-data user-data vendor-data network-config; do
      if [ -f "/mnt/cidata/$f" ]; then show "$f" "/mnt/cidata/$f"; else say "missing $f"; fi
    done
  else
    say "cannot mount $dev"
  fi
else
  say "no datasource"
fi

say "up $(cut -d' ' -f1 /proc/uptime) s"
say "ready"
while :; do
  setsid cttyhack sh -l
  sleep 1
done
EOF
chmod 755 "$root/init" "$root/etc/kvmhub-test-guest/udhcpc.script" "$root/etc/acpi/PWRF/00000080"

# The kernel opens /dev/console before /init mounts devtmpfs.
if [ "$(id -u)" -eq 0 ]; then mknod -m 600 "$root/dev/console" c 5 1; fi

(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -9 -n >"$work/initrd.img"

rm -f "$out/stamp"
cp "$vmlinuz" "$out/vmlinuz.new" && mv -f "$out/vmlinuz.new" "$out/vmlinuz"
cp "$work/initrd.img" "$out/initrd.img.new" && mv -f "$out/initrd.img.new" "$out/initrd.img"
{
  echo "$inputs_hash"
  echo "kernel: $kernel_pkg $kernel_version ($kver)"
  echo "busybox: $busybox_pkg $busybox_version"
  echo "modules: ${load_order[*]}"
  echo "script: $script_hash"
} >"$out/stamp.new"
mv -f "$out/stamp.new" "$out/stamp"
log "built $out/vmlinuz ($(du -h "$out/vmlinuz" | cut -f1)) and $out/initrd.img ($(du -h "$out/initrd.img" | cut -f1))"
