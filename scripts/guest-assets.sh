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
set -euo pipefail

SCRIPT=$(readlink -f "${BASH_SOURCE[0]}")
REPO=$(dirname "$(dirname "$SCRIPT")")
OUT=${1:-$REPO/assets}
OUTPUTS=(vmlinuz vmlinux initrd.gz initrd.cpio config kernel-version)

# Modules the guest may load, in the order asked for; their own dependencies (read from the
# .ko's modinfo) are pulled in ahead of them, e.g. virtio_pci_modern_dev before virtio_pci.
MODULES=(virtio_ring virtio virtio_mmio virtio_pci virtio_blk failover net_failover virtio_net
	 vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport)

log() { echo "guest-assets: $*"; }
die() { echo "guest-assets: error: $*" >&2; exit 1; }

cached() {
	local f
	for f in "${OUTPUTS[@]}"; do
		[[ -s $OUT/$f && $OUT/$f -nt $SCRIPT ]] || return 1
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

kernel_pkg() {
	apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-.*-cloud-amd64$/ && !n++ { print $2 }'
}

download() {
	pkg=$(kernel_pkg || true)
	[[ -n $pkg ]] || return 1
	log "kernel package $pkg"
	# apt's _apt user cannot write into a root-only mktemp dir; that warning is noise.
	(cd "$WORK" && apt-get download -q "$pkg" 2>&1 | grep -v 'unsandboxed as root' || true)
	deb=$(compgen -G "$WORK/${pkg}_*.deb" || true)
	[[ -n $deb ]]
}

if ! download; then
	# A fresh machine may have no package lists (deps.sh skips apt when all is installed),
	# or stale ones naming a kernel the mirror no longer has.
	log "refreshing package lists (apt-get update)"
	apt-get update -q >/dev/null
	download || die "cannot download the package linux-image-cloud-amd64 depends on"
fi
kver=${pkg#linux-image-}
dpkg-deb -x "$deb" "$WORK/x"
vmlinuz="$WORK/x/boot/vmlinuz-$kver"
moddir="$WORK/x/lib/modules/$kver/kernel"
[[ -f $vmlinuz ]] || die "$deb has no boot/vmlinuz-$kver"
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
declare -A seen=()
order=()

# Copy module $1 (uncompressed) into the initramfs after its dependencies; record load order.
add_module() {
	local m=$1 src dst d
	[[ -n ${seen[$m]:-} ]] && return 0
	seen[$m]=1
	src=$(find "$moddir" \( -name "$m.ko*" -o -name "${m//_/-}.ko*" \) -print -quit)
	if [[ -z $src ]]; then
		grep -qE "/(${m}|${m//_/-})\.ko$" "$moddir/../modules.builtin" 2>/dev/null && return 0
		die "module $m is neither in $pkg nor built in"
	fi
	dst="$ROOT/lib/modules/$m.ko"
	case $src in
	*.ko.xz) xz -dc "$src" >"$dst" ;;
	*.ko.zst) zstd -dcq "$src" >"$dst" ;;
	*.ko.gz) gzip -dc "$src" >"$dst" ;;
	*) cp "$src" "$dst" ;;
	esac
	# .modinfo holds NUL-separated key=value strings; "depends=" lists what must load first.
	for d in $(tr '\0' '\n' <"$dst" | sed -n 's/^depends=//p' | tr ',' ' '); do
		add_module "$d"
	done
	order+=("$m")
}

mkdir -p "$ROOT"/{bin,dev,proc,sys,tmp,run,etc,root,lib/modules}
for l in sbin usr/bin usr/sbin; do
	mkdir -p "$(dirname "$ROOT/$l")"
	ln -s /bin "$ROOT/$l"
done

BUSYBOX=$(command -v busybox)
if command -v readelf >/dev/null && readelf -l "$BUSYBOX" | grep -q 'program interpreter'; then
	die "$BUSYBOX is dynamically linked; install busybox-static"
fi
cp "$BUSYBOX" "$ROOT/bin/busybox"
for a in $("$BUSYBOX" --list); do
	[[ $a == busybox || -e $ROOT/bin/$a ]] || ln -s busybox "$ROOT/bin/$a"
done
# The kernel opens /dev/console for init before anything is mounted; without the node init
# starts with no stdout (init re-opens it after mounting devtmpfs, so non-root builds work).
if (($(id -u) == 0)); then
	mknod -m 600 "$ROOT/dev/console" c 5 1
fi

for m in "${MODULES[@]}"; do
	add_module "$m"
done
printf '%s\n' "${order[@]}" >"$ROOT/lib/modules/load-order"

cat >"$ROOT/init" <<'EOF'
#!/bin/sh
# bulkhead test guest: prove userspace runs, optionally load virtio modules, power off.
export PATH=/bin
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
find "$ROOT" -exec touch -h -d @0 {} +
(cd "$ROOT" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet) \
	>"$WORK/initrd.cpio"
gzip -9nc "$WORK/initrd.cpio" >"$WORK/initrd.gz"
log "initrd.gz: busybox $("$BUSYBOX" | sed -n '1s/^BusyBox \([^ ]*\).*/\1/p'), modules: ${order[*]}"

# --- publish -----------------------------------------------------------------------------------

echo "$kver" >"$WORK/kernel-version"
for f in "${OUTPUTS[@]}"; do
	mv -f "$WORK/$f" "$OUT/$f"
done
log "built in $OUT:"
for f in "${OUTPUTS[@]}"; do
	printf '  %-15s %10d bytes\n' "$f" "$(stat -c %s "$OUT/$f")"
done
