#!/usr/bin/env bash
# Install the Debian 12 packages bulkhead needs to build, test and boot its guests.
# Idempotent: asks dpkg first and only touches apt when something is missing, so a second
# run costs well under a second. Runs as root without a terminal (CI, fresh machines).
set -euo pipefail

PKGS=(
	# build
	build-essential meson ninja-build pkg-config clang
	# bulkhead(1) from bulkhead --help
	help2man
	# clang's sanitizer and libFuzzer runtimes for the fuzz build (scripts/fuzz.sh): Debian 12's
	# libclang-common-14-dev only recommends them, and we install without recommends
	libclang-rt-dev
	libseccomp-dev libevent-dev libyajl-dev libbpf-dev libcriterion-dev liburing-dev
	# test guests: QEMU TCG reference runs and the Linux guest assets
	qemu-system-x86 qemu-utils e2fsprogs busybox-static lz4 cpio gzip xz-utils zstd
	# test and demo helpers (acpica-tools: iasl, the DSDT's second opinion in test-acpi;
	# ethtool: the test guest's per-queue NIC counters and RSS table)
	socat ncat python3 procps coreutils acpica-tools iproute2 ethtool
)

missing=()
for p in "${PKGS[@]}"; do
	# "install ok installed" is the only state in which the package is really usable;
	# half-installed or config-files-only packages must be installed again.
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ $st == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
	echo "deps: all ${#PKGS[@]} packages present"
	exit 0
fi

echo "deps: installing ${missing[*]}"
SUDO=()
if (($(id -u) != 0)); then
	command -v sudo >/dev/null || { echo "deps: need root (or sudo) to install packages" >&2; exit 1; }
	SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" </dev/null
echo "deps: done"
