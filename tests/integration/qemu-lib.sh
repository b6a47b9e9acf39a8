# Shared by the QEMU interop tests (qemu-blk.sh, qemu-net.sh, qemu-vsock.sh): the start of a test /init, the
# initramfs with that /init appended, and waiting for a backend's socket. Sourced, not run;
# the sourcing script defines fail().

# ql_init_head TAG: the first lines of a guest /init: mounts, the console, the init marker,
# done_ (prints TAG-END and powers off) and the virtio modules of the default initramfs
# (a failed insmod prints TAG-FAIL).
ql_init_head() {
	cat <<INIT
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
echo BULKHEAD-GUEST-INIT-OK
done_() { echo $1-END; poweroff -f; sleep 10; }
while read -r m; do
	insmod "/lib/modules/\$m.ko" || { echo "$1-FAIL insmod \$m"; done_; }
done </lib/modules/load-order
INIT
}

# ql_initrd DIR ASSETS: DIR/extra/init appended to the default initramfs as DIR/initrd.gz (the
# kernel unpacks concatenated archives in order, so this /init replaces the default one).
ql_initrd() {
	chmod 755 "$1/extra/init"
	(cd "$1/extra" && echo init | cpio -o -H newc -R 0:0 --quiet | gzip -9n) >"$1/extra.cpio.gz"
	cat "$2/initrd.gz" "$1/extra.cpio.gz" >"$1/initrd.gz"
}

# ql_wait_socket PID SOCK LOG NAME: until the backend PID (NAME, logging to LOG) made SOCK.
ql_wait_socket() {
	for _ in $(seq 100); do
		[[ -S $2 ]] && return 0
		kill -0 "$1" 2>/dev/null || { cat "$3"; fail "$4 exited at startup"; }
		sleep 0.05
	done
	fail "$4 did not create $2"
}

# ql_console LOG: the guest console log without the serial line's carriage returns; has()
# then tests it for a fixed string.
ql_console() {
	tr -d '\r' <"$1" >"$1.txt" && mv "$1.txt" "$1"
	QL_LOG=$1
}
has() { grep -aq -- "$1" "$QL_LOG"; }
