#!/bin/bash
# QMP system_powerdown reaches a stock Linux guest as an ACPI power-button press: the Debian
# cloud kernel (assets/vmlinuz) boots with the busybox initramfs plus a /test.sh that starts
# busybox acpid and waits; system_powerdown makes the core's Generic Event Device notify the
# DSDT's PNP0C0C button, Linux's button driver reports KEY_POWER, acpid runs
# /etc/acpi/PWRF/00000080, which prints a marker and powers off. bulkhead must then exit 0
# saying the guest powered off. Without a working button the guest waits forever and the
# test fails on its deadline.
#
# usage: linux-powerdown.sh BULKHEAD ASSETS_DIR      (run through scripts/kvm-host.sh --need linux)
# env:   LINUX_BOOT_TIMEOUT   seconds for the guest to be ready (default 240)
set -u

bulkhead=${1:?usage: linux-powerdown.sh BULKHEAD ASSETS_DIR}
assets=${2:?usage: linux-powerdown.sh BULKHEAD ASSETS_DIR}
boot_tmo=${LINUX_BOOT_TIMEOUT:-240}
end_tmo=90

HERE=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
# shellcheck source=linux-lib.sh
. "$HERE/linux-lib.sh"

ll_init linux-powerdown
ll_need_assets "$assets"
ll_stage_file /etc/acpi/PWRF/00000080 755 <<'EOF'
#!/bin/sh
exec >/dev/console 2>&1
echo GUEST-POWER-BUTTON
sync
echo GUEST-SHUTDOWN-DONE
poweroff -f
EOF
ll_stage_file /test.sh 755 <<'EOF'
#!/bin/sh
# acpid opens the event devices it finds at start: button and evdev are loaded by now
echo "INPUT-DEVICES: $(grep -h '^N:' /proc/bus/input/devices | tr '\n' ' ')"
acpid -d -c /etc/acpi >/dev/console 2>&1 &
sleep 1
echo ACPID-READY
sleep 600
echo NO-POWER-BUTTON-IN-10-MINUTES
EOF
ll_initrd "$assets/initrd.gz"

ll_boot '^ACPID-READY' "$boot_tmo" "$bulkhead" -kernel "$assets/vmlinuz" -initrd "$LL_INITRD" \
	-serial stdio -m 256 -qmp "unix:$LL_SOCK,server,nowait" \
	-append "console=ttyS0 panic=-1 bulkhead.modules=1" || ll_fail "the guest never started acpid"
grep -aq 'Power Button' "$LL_OUT" || ll_fail "the guest has no ACPI power button input device"

reply=$(ll_qmp '{"execute":"system_powerdown","id":"p"}')
echo "$reply" | grep -q '"return": *{}, *"id": *"p"\|"id": *"p", *"return": *{}' ||
	ll_fail "system_powerdown reply: $reply"
echo "$reply" | grep -q '"event": *"POWERDOWN"' || ll_fail "no POWERDOWN event in: $reply"

ll_wait_serial '^GUEST-POWER-BUTTON' 60 ||
	ll_fail "the guest's acpid never saw a power-button press"
ll_wait_exit "$end_tmo"
[ "$LL_RC" = 0 ] || ll_fail "bulkhead exited with status $LL_RC, want 0"
grep -aq '^GUEST-SHUTDOWN-DONE' "$LL_OUT" || ll_fail "the guest's shutdown did not finish"
grep -aq '^NO-POWER-BUTTON' "$LL_OUT" && ll_fail "the guest waited out its deadline"
grep -aqx 'bulkhead: the guest powered off' "$LL_ERR" ||
	ll_fail "stderr does not say 'bulkhead: the guest powered off'"
ll_pass "system_powerdown -> GED -> PWRB -> acpid -> poweroff, exit 0"
