#!/usr/bin/env bash
# Build the default Linux test guest from Debian packages: the current cloud kernel as a
# bzImage (vmlinuz) and as an ELF (vmlinux), and a busybox initramfs (initrd.gz) whose /init
# prints BULKHEAD-GUEST-INIT-OK on the console and powers off.
#
# usage: scripts/guest-assets.sh [OUTDIR]        (default: <repo>/assets, gitignored)
#
# Outputs: vmlinuz, vmlinux, initrd.gz, initrd.cpio (the same initramfs uncompressed: on
# kvm_pvm the kernel's gunzip runs instruction-emulated), config (the kernel's .config),
# kernel-version.
# Cached: when every output exists and is newer than this script, nothing is done. Kernel and
# initramfs are build products; never commit them.
#
# Guest kernel command-line flags understood by /init (dotted, so the kernel keeps them away
# from init's argv/environment; /init reads /proc/cmdline):
#   bulkhead.modules=1   insmod the virtio/vsock modules (dependency order), print
#                        BULKHEAD-MODULES-OK or BULKHEAD-MODULES-FAIL <module>
#   bulkhead.reboot=1    finish with `reboot -f` instead of `poweroff -f` (with reboot=k the
#                        reset goes through the i8042)
#   bulkhead.shell=1     start a shell on the console before powering off (interactive demo)
# A test adds its own /test.sh by appending a second cpio archive to initrd.gz (Linux unpacks
# concatenated archives); /init runs it after the modules and prints BULKHEAD-TEST-EXIT <status>.
set -euo pipefail

SCRIPT=$(readlink -f "${BASH_SOURCE[0]}")
REPO=$(dirname "$(dirname "$SCRIPT")")
OUT=${1:-$REPO/assets}
OUTPUTS=(vmlinuz vmlinux initrd.gz initrd.cpio config kernel-version)

# Modules the guest may load, in the order asked for; their own dependencies (read from the
# .ko's modinfo) are pulled in ahead of them, e.g. virtio_pci_modern_dev before virtio_pci.
MODULES=(virtio_ring virtio virtio_mmio virtio_pci virtio_blk failover net_failover virtio_net
	 virtio_rng virtio_console vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport button evdev
	 virtiofs)
# Host programs copied into the guest with the libraries they link (busybox has no
# `blkdiscard -z`, nor ethtool's -S and -X for virtio_net's queues, nor any AF_VSOCK tool:
# socat's VSOCK-LISTEN / VSOCK-CONNECT); they live in /opt/bin, ahead of busybox in PATH.
HOST_PROGRAMS=(blkdiscard ethtool socat)

log() { echo "guest-assets: $*"; }
die() { echo "guest-assets: error: $*" >&2; exit 1; }

cached() {
	local f
	for f in "${OUTPUTS[@]}"; do
		[[ -s $OUT/$f && $OUT/$f -nt $SCRIPT && $OUT/$f -nt $REPO/scripts/lib/debian-kernel.sh ]] || return 1
	done
}

if cached; then
	log "up to date in $OUT (kernel $(cat "$OUT/kernel-version")): ${OUTPUTS[*]}"
	exit 0
fi

for tool in apt-cache apt-get dpkg-deb lz4 cpio gzip od busybox flock; do
	command -v "$tool" >/dev/null || die "$tool missing; run scripts/deps.sh first"
done

mkdir -p "$OUT"
# Tests that run in parallel may all ask for the assets: one builds, the others wait and
# then find them cached.
exec 9>"$OUT/.lock"
flock 9
if cached; then
	log "up to date in $OUT (built by a concurrent run)"
	exit 0
fi
WORK=$(mktemp -d "$OUT/.work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# --- kernel package -----------------------------------------------------------------------

# shellcheck source=lib/debian-kernel.sh
. "$REPO/scripts/lib/debian-kernel.sh"
dk_fetch linux-image-cloud-amd64 "$WORK"
kver=$dk_kver
vmlinuz="$WORK/x/boot/vmlinuz-$kver"
moddir="$WORK/x/lib/modules/$kver/kernel"
[[ -f $vmlinuz ]] || die "$dk_deb has no boot/vmlinuz-$kver"
cp "$vmlinuz" "$WORK/vmlinuz"
# The config tells later tests what is built in (e.g. no VIRTIO_MMIO_CMDLINE_DEVICES).
cp "$WORK/x/boot/config-$kver" "$WORK/config"

# --- ELF vmlinux from the bzImage payload ----------------------------------------------------

le32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }
u8() { od -An -tu1 -j "$2" -N1 "$1" | tr -d ' '; }

extract_vmlinux() {
	local bz=$1 dst=$2 setup_sects poff plen start want
	[[ $(od -An -c -j $((0x202)) -N4 "$bz" | tr -d ' ') == HdrS ]] || die "$bz: not a bzImage"
	setup_sects=$(u8 "$bz" $((0x1f1)))
	((setup_sects == 0)) && setup_sects=4	# boot protocol: 0 means 4
	poff=$(le32 "$bz" $((0x248)))
	plen=$(le32 "$bz" $((0x24c)))
	# payload_offset counts from the protected-mode code, which follows the setup sectors.
	start=$(((setup_sects + 1) * 512 + poff))
	dd if="$bz" of="$WORK/payload" iflag=skip_bytes,count_bytes skip="$start" count="$plen" \
		bs=1M status=none
	[[ $(od -An -tx1 -N4 "$WORK/payload" | tr -d ' ') == 02214c18 ]] ||
		die "payload is not a legacy-frame lz4 stream (kernel compressed differently?)"
	# The kernel build appends the uncompressed size as le32 after the lz4 stream; lz4 would
	# read it as a broken frame header, so strip it and use it as a check instead.
	want=$(le32 "$WORK/payload" $((plen - 4)))
	head -c $((plen - 4)) "$WORK/payload" | lz4 -d -q -c >"$dst" || die "lz4 -d of payload failed"
	[[ $(stat -c %s "$dst") == "$want" ]] || die "vmlinux is $(stat -c %s "$dst") bytes, header says $want"
	[[ $(od -An -tx1 -N4 "$dst" | tr -d ' ') == 7f454c46 ]] || die "decompressed payload is not ELF"
}

extract_vmlinux "$WORK/vmlinuz" "$WORK/vmlinux"
log "vmlinux: $(stat -c %s "$WORK/vmlinux") bytes ELF from the lz4 payload"

# --- initramfs ---------------------------------------------------------------------------------

ROOT="$WORK/root"
dk_busybox_root "$ROOT"
dk_module_init "$moddir" "$ROOT"
for m in "${MODULES[@]}"; do
	dk_add_module "$m"
done
printf '%s\n' "${dk_order[@]}" >"$ROOT/lib/modules/load-order"

# add_host_program NAME: the host's NAME and every library ldd names, at the same paths.
add_host_program() {
	local bin lib
	bin=$(PATH=/usr/sbin:/sbin:/usr/bin:/bin command -v "$1") || die "$1 not installed"
	mkdir -p "$ROOT/opt/bin"
	cp "$bin" "$ROOT/opt/bin/$1"
	for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
		mkdir -p "$ROOT$(dirname "$lib")"
		cp -L "$lib" "$ROOT$lib"
	done
}
for p in "${HOST_PROGRAMS[@]}"; do
	add_host_program "$p"
done

cat >"$ROOT/init" <<'EOF'
#!/bin/sh
# bulkhead test guest: prove userspace runs, optionally load virtio modules, power off.
export PATH=/opt/bin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
echo BULKHEAD-GUEST-INIT-OK
read -r cmdline </proc/cmdline
flag() {
	for w in $cmdline; do
		[ "$w" = "bulkhead.$1=1" ] && return 0
	done
	return 1
}
echo "BULKHEAD-GUEST-INFO kernel=$(uname -r) cpus=$(nproc) mem_kb=$(awk '/^MemTotal/ { print $2 }' /proc/meminfo)"
if flag modules; then
	ok=1
	while read -r m; do
		if ! insmod "/lib/modules/$m.ko"; then
			echo "BULKHEAD-MODULES-FAIL $m"
			ok=0
			break
		fi
	done </lib/modules/load-order
	[ $ok = 1 ] && echo "BULKHEAD-MODULES-OK $(tr '\n' ' ' </lib/modules/load-order)"
fi
if [ -x /test.sh ]; then
	/test.sh
	echo "BULKHEAD-TEST-EXIT $?"
fi
flag shell && setsid cttyhack sh
if flag reboot; then
	echo BULKHEAD-GUEST-REBOOT
	reboot -f
else
	echo BULKHEAD-GUEST-POWEROFF
	poweroff -f
fi
sleep 10
echo "BULKHEAD-GUEST-HALT-FAILED"
EOF
chmod 755 "$ROOT/init"

# -R 0:0: files owned by root in the guest whoever builds; fixed mtimes, sorted names and
# gzip -n make the image byte-for-byte reproducible.
dk_cpio "$ROOT" "$WORK/initrd.cpio"
gzip -9nc "$WORK/initrd.cpio" >"$WORK/initrd.gz"
log "initrd.gz: busybox $(busybox | sed -n '1s/^BusyBox \([^ ]*\).*/\1/p'), modules: ${dk_order[*]}"

# --- publish -----------------------------------------------------------------------------------

echo "$kver" >"$WORK/kernel-version"
for f in "${OUTPUTS[@]}"; do
	mv -f "$WORK/$f" "$OUT/$f"
done
log "built in $OUT:"
for f in "${OUTPUTS[@]}"; do
	printf '  %-15s %10d bytes\n' "$f" "$(stat -c %s "$OUT/$f")"
done
