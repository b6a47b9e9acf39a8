#!/usr/bin/env bash
# Build the nested KVM test host (scripts/kvm-host.sh) from Debian packages: Debian's generic
# kernel (linux-image-amd64: it has 9p and kvm-amd; the cloud kernel has neither) and a
# busybox initramfs whose /init loads 9p and KVM, mounts this machine's root read-only and
# the shares named on its command line read-write, switch_roots into it and runs the command
# that kvm-host.sh left in its exchange directory.
#
# usage: scripts/kvm-host-assets.sh [OUTDIR]     (default: <repo>/assets/kvm-host, gitignored)
# Outputs: vmlinuz, initrd.gz, kernel-version. Cached like scripts/guest-assets.sh.
set -euo pipefail

SCRIPT=$(readlink -f "${BASH_SOURCE[0]}")
REPO=$(dirname "$(dirname "$SCRIPT")")
LIB=$REPO/scripts/lib/debian-kernel.sh
OUT=${1:-$REPO/assets/kvm-host}
OUTPUTS=(vmlinuz initrd.gz kernel-version)

# In load order (dk_add_module also pulls in each module's depends=). kvm-amd is what turns
# QEMU's emulated AMD-V into /dev/kvm; tun, vhost_net and vhost_vsock are for tests of the
# workers' kernel back ends; virtio_blk and ext4 carry the test host's /tmp (see /init);
# i6300esb is the watchdog that turns a hung test host into a panic (see kvm-host.sh).
MODULES=(netfs fscache 9pnet virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev
	 virtio_pci 9pnet_virtio 9p virtio_blk crc16 crc32c_generic mbcache jbd2 ext4
	 irqbypass kvm ccp kvm-amd tun vhost vhost_iotlb vhost_net vsock vhost_vsock i6300esb)

log() { echo "kvm-host-assets: $*"; }
die() { echo "kvm-host-assets: error: $*" >&2; exit 1; }

cached() {
	local f
	for f in "${OUTPUTS[@]}"; do
		[[ -s $OUT/$f && $OUT/$f -nt $SCRIPT && $OUT/$f -nt $LIB ]] || return 1
	done
}

cached && exit 0
for tool in apt-cache apt-get dpkg-deb cpio gzip busybox flock; do
	command -v "$tool" >/dev/null || die "$tool missing; run scripts/deps.sh first"
done
mkdir -p "$OUT"
# Several tests may start at once on a fresh machine: one builds, the others wait.
exec 9>"$OUT/.lock"
flock 9
cached && exit 0
WORK=$(mktemp -d "$OUT/.work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# shellcheck source=lib/debian-kernel.sh
. "$LIB"
dk_fetch linux-image-amd64 "$WORK"
cp "$WORK/x/boot/vmlinuz-$dk_kver" "$WORK/vmlinuz"

ROOT=$WORK/root
dk_busybox_root "$ROOT"
dk_module_init "$WORK/x/lib/modules/$dk_kver/kernel" "$ROOT"
for m in "${MODULES[@]}"; do
	dk_add_module "$m"
done
printf '%s\n' "${dk_order[@]}" >"$ROOT/lib/modules/load-order"

cat >"$ROOT/init" <<'INIT'
#!/bin/sh
# Stage 1 of the KVM test host: modules, the host's files over 9p, then switch_root.
# Kernel command line: kvmhost.shares=PATH[:PATH...] (read-write shares share0..N).
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
say() { echo "kvm-host: $*" >/dev/ttyS1; }
halt() { say "$*"; echo o >/proc/sysrq-trigger; sleep 5; }
while read -r m; do
	insmod "/lib/modules/$m.ko" 2>/dev/ttyS1 || halt "insmod $m failed"
done </lib/modules/load-order
shares=
for w in $(cat /proc/cmdline); do
	case $w in kvmhost.shares=*) shares=${w#kvmhost.shares=} ;; esac
done
O=trans=virtio,version=9p2000.L,msize=512000
mkdir -p /newroot
mount -t 9p -o "$O,ro" hostroot /newroot || halt "cannot mount the host root over 9p"
# Unix sockets cannot live on 9p: /run, /dev/shm and /var/tmp are the test host's own tmpfs,
# and /tmp its own ext4 on the scratch disk kvm-host.sh gives it (tmpfs refuses O_DIRECT
# before Linux 6.6, and the tests open disk images with O_DIRECT in /tmp).
for d in run dev/shm var/tmp; do
	mount -t tmpfs -o mode=1777 tmpfs "/newroot/$d" || halt "cannot mount tmpfs on /$d"
done
[ -b /dev/vda ] || halt "no scratch disk for /tmp"
mount -t ext4 -o discard,nobarrier /dev/vda /newroot/tmp || halt "cannot mount the scratch disk on /tmp"
chmod 1777 /newroot/tmp
rmdir /newroot/tmp/lost+found
mkdir -p /newroot/run/kvm-host
mount -t 9p -o "$O" xchg /newroot/run/kvm-host || halt "cannot mount the exchange directory"
i=0
IFS=:
for p in $shares; do
	mkdir -p "/newroot$p" 2>/dev/null
	mount -t 9p -o "$O" "share$i" "/newroot$p" || halt "cannot mount share $p"
	i=$((i + 1))
done
unset IFS
for d in dev proc sys; do
	mount --move "/$d" "/newroot/$d"
done
exec switch_root /newroot /bin/sh /run/kvm-host/stage2
INIT
chmod 755 "$ROOT/init"

dk_cpio "$ROOT" "$WORK/initrd.cpio"
gzip -9nc "$WORK/initrd.cpio" >"$WORK/initrd.gz"
echo "$dk_kver" >"$WORK/kernel-version"
for f in "${OUTPUTS[@]}"; do
	mv -f "$WORK/$f" "$OUT/$f"
done
log "built in $OUT: kernel $dk_kver, modules: ${dk_order[*]}"
