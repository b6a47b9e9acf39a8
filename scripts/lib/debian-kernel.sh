# Shared by the scripts that build guests and test hosts from Debian kernel packages
# (guest-assets.sh, kvm-host-assets.sh). Source it; it defines functions only.
#
#   dk_fetch META WORK    download the linux-image package the metapackage META depends on
#                         into WORK and unpack it in WORK/x; sets dk_pkg, dk_kver, dk_deb
#   dk_module_init MODDIR ROOT
#                         copy modules from MODDIR (…/lib/modules/VER/kernel) into
#                         ROOT/lib/modules, each after its dependencies
#   dk_add_module NAME    add one module (and what its depends= line names); dk_order lists
#                         the load order
# Callers define log() and die().

dk_pkg_of() {
	apt-cache depends "$1" 2>/dev/null |
		awk -v want="^linux-image-.*$2\$" '$1 == "Depends:" && $2 ~ want && !n++ { print $2 }'
}

# dk_fetch META WORK: META is linux-image-cloud-amd64 or linux-image-amd64.
dk_fetch() {
	local meta=$1 work=$2 suffix=${1#linux-image-}
	_dk_try() {
		dk_pkg=$(dk_pkg_of "$meta" "$suffix" || true)
		[[ -n $dk_pkg ]] || return 1
		log "kernel package $dk_pkg"
		# apt's _apt user cannot write into a root-only mktemp dir; that warning is noise.
		(cd "$work" && apt-get download -q "$dk_pkg" 2>&1 | grep -v 'unsandboxed as root' || true)
		dk_deb=$(compgen -G "$work/${dk_pkg}_*.deb" || true)
		[[ -n $dk_deb ]]
	}
	if ! _dk_try; then
		# A fresh machine may have no package lists (deps.sh skips apt when all is installed),
		# or stale ones naming a kernel the mirror no longer has.
		log "refreshing package lists (apt-get update)"
		apt-get update -q >/dev/null
		_dk_try || die "cannot download the package $meta depends on"
	fi
	dk_kver=${dk_pkg#linux-image-}
	dpkg-deb -x "$dk_deb" "$work/x"
}

dk_module_init() {
	_dk_moddir=$1
	_dk_root=$2
	dk_order=()
	declare -gA _dk_seen=()
	mkdir -p "$_dk_root/lib/modules"
}

# Copy module $1 (uncompressed) into the initramfs after its dependencies; record load order.
dk_add_module() {
	local m=$1 src dst d
	[[ -n ${_dk_seen[$m]:-} ]] && return 0
	_dk_seen[$m]=1
	src=$(find "$_dk_moddir" \( -name "$m.ko*" -o -name "${m//_/-}.ko*" \) -print -quit)
	if [[ -z $src ]]; then
		grep -qE "/(${m}|${m//_/-})\.ko$" "$_dk_moddir/../modules.builtin" 2>/dev/null && return 0
		die "module $m is neither in the kernel package nor built in"
	fi
	dst="$_dk_root/lib/modules/$m.ko"
	case $src in
	*.ko.xz) xz -dc "$src" >"$dst" ;;
	*.ko.zst) zstd -dcq "$src" >"$dst" ;;
	*.ko.gz) gzip -dc "$src" >"$dst" ;;
	*) cp "$src" "$dst" ;;
	esac
	# .modinfo holds NUL-separated key=value strings; "depends=" lists what must load first.
	for d in $(tr '\0' '\n' <"$dst" | sed -n 's/^depends=//p' | tr ',' ' '); do
		dk_add_module "$d"
	done
	dk_order+=("$m")
}

# dk_busybox_root ROOT: a busybox-static userland in ROOT (bin/ with every applet linked,
# sbin and usr/* pointing at it, /dev/console when run as root).
dk_busybox_root() {
	local root=$1 bb l a
	mkdir -p "$root"/{bin,dev,proc,sys,tmp,run,etc,root,lib/modules}
	for l in sbin usr/bin usr/sbin; do
		mkdir -p "$(dirname "$root/$l")"
		ln -s /bin "$root/$l"
	done
	bb=$(command -v busybox)
	if command -v readelf >/dev/null && readelf -l "$bb" | grep -q 'program interpreter'; then
		die "$bb is dynamically linked; install busybox-static"
	fi
	cp "$bb" "$root/bin/busybox"
	for a in $("$bb" --list); do
		[[ $a == busybox || -e $root/bin/$a ]] || ln -s busybox "$root/bin/$a"
	done
	# The kernel opens /dev/console for init before anything is mounted; without the node init
	# starts with no stdout (init re-opens it after mounting devtmpfs, so non-root builds work).
	if (($(id -u) == 0)); then
		mknod -m 600 "$root/dev/console" c 5 1
	fi
}

# dk_cpio ROOT OUT.cpio: reproducible newc archive (root-owned, fixed mtimes, sorted names).
dk_cpio() {
	find "$1" -exec touch -h -d @0 {} +
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet) >"$2"
}
