#!/usr/bin/env bash
# Builds a Debian 12 (bookworm) cloud image for kvmhub's real-guest tests, from Debian
# packages only (mmdebstrap; no downloaded cloud image).
#
# Usage: scripts/cloud-image.sh [OUT_DIR]
#   OUT_DIR defaults to ${KVMHUB_IMAGE_CACHE:-/var/cache/kvmhub-test}/debian12-<hash>, where
#   <hash> is a short hash of this script: a changed recipe builds a new image, an unchanged
#   one is reused at once. The last line printed is the path of the qcow2 image.
#
# Output in OUT_DIR:
#   disk.qcow2    BIOS-bootable disk: MBR, one ext4 root partition (2 GiB virtual disk),
#                 GRUB (grub-pc, i386-pc) in the MBR gap, compressed qcow2
#   packages.txt  the installed package set ("name version" a line)
#
# Packages (mmdebstrap --variant=minbase plus):
#   linux-image-cloud-amd64 grub-pc initramfs-tools systemd-sysv udev dbus
#   cloud-init ifupdown isc-dhcp-client resolvconf netbase
#   cloud-guest-utils fdisk   (cloud-init growpart: growpart needs sfdisk)
#   qemu-guest-agent openssh-server sudo iproute2 procps locales
# No net-tools: the tests must prove that the image needs none.
#
# Guest configuration: serial console on ttyS0 (GRUB and kernel), systemd predictable NIC
# names (no net.ifnames=0), qemu-guest-agent and ssh enabled, root password locked,
# /etc/network/interfaces holding only lo and sourcing interfaces.d (where cloud-init writes
# 50-cloud-init), cloud-init datasource_list [NoCloud, None], empty /etc/machine-id, no ssh
# host keys (cloud-init generates them on first boot).
#
# Needs root, mmdebstrap, mkfs.ext4 (e2fsprogs >= 1.47 for -d with -E offset), sfdisk,
# qemu-img and flock. No loop devices or mounts are used: the root filesystem is made with
# mkfs.ext4 -d straight into the partition of a raw disk file, and GRUB's boot.img and
# core.img (made with the image's own grub-mkimage) are written to the MBR and the gap
# after it, as grub-bios-setup would.
set -euo pipefail

SUITE=bookworm
MIRROR=http://deb.debian.org/debian
SECURITY=http://deb.debian.org/debian-security
DISK_MIB=2048        # virtual disk size
PART_START=2048      # first sector of the root partition (1 MiB)

PACKAGES=(
  linux-image-cloud-amd64 grub-pc initramfs-tools systemd-sysv udev dbus
  cloud-init ifupdown isc-dhcp-client resolvconf netbase
  cloud-guest-utils fdisk
  qemu-guest-agent openssh-server sudo iproute2 procps locales
)

self="$(readlink -f "$0")"
hash="$(sha256sum "$self" | cut -c1-12)"
cache="${KVMHUB_IMAGE_CACHE:-/var/cache/kvmhub-test}"
out="${1:-$cache/debian12-$hash}"
out="$(readlink -m "$out")"

# Fast path: a finished image is only ever renamed into place whole.
if [ -f "$out/disk.qcow2" ] && [ -f "$out/packages.txt" ]; then
  echo "$out/disk.qcow2"
  exit 0
fi

log() { echo "cloud-image: $*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (mmdebstrap root mode)"
for t in mmdebstrap mkfs.ext4 sfdisk qemu-img flock dpkg-query; do
  command -v "$t" >/dev/null 2>&1 || die "missing $t (scripts/deps.sh installs it)"
done

parent="$(dirname "$out")"
mkdir -p "$parent"
# One build per target at a time; a second caller waits, then takes the fast path.
exec 9>"$parent/.$(basename "$out").lock"
flock 9
if [ -f "$out/disk.qcow2" ] && [ -f "$out/packages.txt" ]; then
  echo "$out/disk.qcow2"
  exit 0
fi

# The temp dir sits beside OUT_DIR (same filesystem), so the final mv is one rename(2).
tmp="$(mktemp -d "$parent/.$(basename "$out").tmp.XXXXXX")"
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

root="$tmp/root"
start=$SECONDS
log "mmdebstrap $SUITE into $root"
include="$(IFS=,; echo "${PACKAGES[*]}")"
mmdebstrap --variant=minbase --mode=root --format=directory \
  --include="$include" \
  --essential-hook='echo "grub-pc grub-pc/install_devices_empty boolean true" | chroot "$1" debconf-set-selections' \
  --essential-hook='echo "grub-pc grub-pc/install_devices multiselect" | chroot "$1" debconf-set-selections' \
  "$SUITE" "$root" \
  "deb $MIRROR $SUITE main" \
  "deb $MIRROR $SUITE-updates main" \
  "deb $SECURITY $SUITE-security main" >&2

kver="$(basename "$(ls -d "$root"/lib/modules/* | sort -V | tail -n1)")"
[ -f "$root/boot/vmlinuz-$kver" ] && [ -f "$root/boot/initrd.img-$kver" ] \
  || die "no kernel/initrd for $kver in the image"
# The cidata ISO arrives on an IDE CD-ROM: the kernel needs ata_piix, sr_mod and isofs
# (iso9660).
for m in ata_piix sr_mod isofs virtio_blk virtio_net; do
  if ! grep -qw "$m" "$root/lib/modules/$kver/modules.builtin" \
      && ! grep -q "/$m\.ko" "$root/lib/modules/$kver/modules.dep"; then
    die "kernel $kver has no $m"
  fi
done

uuid="$(cat /proc/sys/kernel/random/uuid)"

log "configuring the guest"
echo debian > "$root/etc/hostname"
cat > "$root/etc/hosts" <<'EOF'
127.0.0.1	localhost
127.0.1.1	debian

::1	localhost ip6-localhost ip6-loopback
ff02::1	ip6-allnodes
ff02::2	ip6-allrouters
EOF
cat > "$root/etc/fstab" <<EOF
UUID=$uuid	/	ext4	errors=remount-ro	0	1
EOF
cat > "$root/etc/network/interfaces" <<'EOF'
# Only the loopback here: cloud-init writes the rest to interfaces.d/50-cloud-init.
source /etc/network/interfaces.d/*

auto lo
iface lo inet loopback
EOF
mkdir -p "$root/etc/network/interfaces.d"

# resolvconf owns /etc/resolv.conf, so ENI dns-nameservers reach it.
rm -f "$root/etc/resolv.conf"
ln -s ../run/resolvconf/resolv.conf "$root/etc/resolv.conf"

cat > "$root/etc/cloud/cloud.cfg.d/90-kvmhub.cfg" <<'EOF'
# kvmhub test image: only NoCloud (ISO cidata or ds=nocloud-net), no probing of EC2 & co.
datasource_list: [ NoCloud, None ]
EOF

# cloud-init's locale module runs update-locale LANG=en_US.UTF-8 (its Debian default), which
# fails unless that locale exists.
echo 'en_US.UTF-8 UTF-8' > "$root/etc/locale.gen"
chroot "$root" locale-gen >&2
echo 'LANG=en_US.UTF-8' > "$root/etc/default/locale"

# No root password (locked), no machine identity, no ssh host keys.
chroot "$root" usermod -p '*' root
: > "$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
ln -s /etc/machine-id "$root/var/lib/dbus/machine-id"
rm -f "$root"/etc/ssh/ssh_host_*

chroot "$root" systemctl enable ssh.service >&2
# qemu-guest-agent is started by udev when its virtio port appears; enable it where the
# unit has an [Install] section.
chroot "$root" systemctl enable qemu-guest-agent.service >&2 2>/dev/null || true

# GRUB: /etc/default/grub for update-grub inside the guest, and a grub.cfg written here
# (grub-mkconfig cannot probe a directory that is not yet a disk).
cat > "$root/etc/default/grub" <<'EOF'
GRUB_DEFAULT=0
GRUB_TIMEOUT=1
GRUB_DISTRIBUTOR=`( . /etc/os-release; echo ${NAME:-Debian} ) 2>/dev/null || echo Debian`
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="console=tty0 console=ttyS0,115200"
GRUB_TERMINAL=serial
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
EOF
mkdir -p "$root/boot/grub/i386-pc"
cp "$root"/usr/lib/grub/i386-pc/*.mod "$root"/usr/lib/grub/i386-pc/*.lst "$root/boot/grub/i386-pc/"
cat > "$root/boot/grub/grub.cfg" <<EOF
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
set default=0
set timeout=1
insmod part_msdos
insmod ext2
search --no-floppy --fs-uuid --set=root $uuid
menuentry 'Debian GNU/Linux 12 ($kver)' {
	linux /boot/vmlinuz-$kver root=UUID=$uuid ro console=tty0 console=ttyS0,115200
	initrd /boot/initrd.img-$kver
}
EOF
cat > "$root/tmp/grub-early.cfg" <<EOF
search --no-floppy --fs-uuid --set=root $uuid
set prefix=(\$root)/boot/grub
EOF
chroot "$root" grub-mkimage -O i386-pc -o /tmp/core.img -c /tmp/grub-early.cfg \
  -p /boot/grub biosdisk part_msdos ext2 search search_fs_uuid
mv "$root/tmp/core.img" "$tmp/core.img"
cp "$root/usr/lib/grub/i386-pc/boot.img" "$tmp/boot.img"
rm -f "$root/tmp/grub-early.cfg"

dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Package} ${Version}\n' | sort > "$tmp/packages.txt"

# Leave no build residue: apt lists and caches, logs with the build's timestamps.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
find "$root/var/log" -type f -exec truncate -s 0 {} +
rm -rf "$root"/var/lib/cloud/* "$root"/tmp/* "$root"/var/tmp/*

log "making the disk"
raw="$tmp/disk.raw"
truncate -s "${DISK_MIB}M" "$raw"
printf 'label: dos\nstart=%s, type=83, bootable\n' "$PART_START" | sfdisk -q "$raw"
part_kib=$(( (DISK_MIB * 1024) - (PART_START / 2) ))
mkfs.ext4 -q -F -L root -U "$uuid" -E offset=$((PART_START * 512)) -d "$root" "$raw" "${part_kib}k"

core_sectors=$(( ($(stat -c %s "$tmp/core.img") + 511) / 512 ))
[ "$core_sectors" -lt "$((PART_START - 1))" ] || die "core.img ($core_sectors sectors) does not fit"
# boot.img: code only (446 bytes would overwrite nothing else, but 440 keeps the disk
# signature); its kernel sector stays at its default 1, where core.img goes.
dd if="$tmp/boot.img" of="$raw" bs=440 count=1 conv=notrunc status=none
dd if="$tmp/core.img" of="$raw" bs=512 seek=1 conv=notrunc status=none

qemu-img convert -c -f raw -O qcow2 "$raw" "$tmp/disk.qcow2"
rm -rf "$raw" "$root" "$tmp/core.img" "$tmp/boot.img"

rm -rf "$out"
chmod 755 "$tmp"
mv -T "$tmp" "$out"
trap - EXIT
log "built in $((SECONDS - start)) s: $(du -h "$out/disk.qcow2" | cut -f1) $out/disk.qcow2"
echo "$out/disk.qcow2"
