/* Golden tests of the command line: cli_print_config output for good command lines and the
 * exact one-line error for each bad one. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bulkhead-config.h"
#include "cli.h"
#include "cli_harness.h"

/* ---- golden outputs ---- */

Test(cli_golden, defaults)
{
	GOLDEN("name=\n"
	       "uuid=\n"
	       "machine.acpi=on\n"
	       "machine.dump-guest-core=on\n"
	       "machine.mem-share=off\n"
	       "kernel=/k\n"
	       "initrd=\n"
	       "append=\n"
	       "smp=1\n"
	       "mem=268435456\n"
	       "mem-path=\n"
	       "serial=\n"
	       "log=\n"
	       "daemonize=off\n"
	       "pidfile=\n"
	       "disable-seccomp=off\n",
	       "-kernel", "/k");
}

/* The StratoVirt manual's example, minus -drive/-api-channel (not supported yet). */
Test(cli_golden, stratovirt_manual)
{
	GOLDEN("name=\n"
	       "uuid=\n"
	       "machine.acpi=on\n"
	       "machine.dump-guest-core=on\n"
	       "machine.mem-share=off\n"
	       "kernel=/path/to/vmlinux.bin\n"
	       "initrd=\n"
	       "append=console=ttyS0 root=/dev/vda rw reboot=k panic=1\n"
	       "smp=1\n"
	       "mem=268435456\n"
	       "mem-path=\n"
	       "serial=stdio\n"
	       "log=\n"
	       "daemonize=off\n"
	       "pidfile=\n"
	       "disable-seccomp=off\n",
	       "-kernel", "/path/to/vmlinux.bin",
	       "-append", "console=ttyS0 root=/dev/vda rw reboot=k panic=1",
	       "-serial", "stdio");
}

/* What Kata Containers' StratoVirt driver emits (its device options come later). */
Test(cli_golden, kata)
{
	GOLDEN("name=sandbox-0123456789abcdef\n"
	       "uuid=4f1e2d3c-abcd-4ef0-9a8b-0123456789ab\n"
	       "machine.acpi=on\n"
	       "machine.dump-guest-core=off\n"
	       "machine.mem-share=on\n"
	       "kernel=/usr/share/kata-containers/vmlinux.container\n"
	       "initrd=/usr/share/kata-containers/kata-containers-initrd.img\n"
	       "append=tsc=reliable no_timer_check rcupdate.rcu_expedited=1 pci=off acpi=off\n"
	       "smp=4\n"
	       "mem=2147483648\n"
	       "mem-path=\n"
	       "serial=stdio\n"
	       "log=stderr\n"
	       "daemonize=off\n"
	       "pidfile=\n"
	       "disable-seccomp=on\n",
	       "-name", "sandbox-0123456789abcdef",
	       "-uuid", "4F1E2D3C-ABCD-4ef0-9A8B-0123456789AB",
	       "-smp", "4", "-m", "2048",
	       "-kernel", "/usr/share/kata-containers/vmlinux.container",
	       "-append", "tsc=reliable no_timer_check rcupdate.rcu_expedited=1 pci=off acpi=off",
	       "-D", "-disable-seccomp",
	       "-machine", "type=microvm,dump-guest-core=off,mem-share=on",
	       "-initrd", "/usr/share/kata-containers/kata-containers-initrd.img",
	       "-serial", "stdio");
}

Test(cli_golden, everything)
{
	char pidfile[] = "/tmp/bulkhead-cli-XXXXXX";
	int fd = mkstemp(pidfile);
	char golden[1024];

	/* a name that surely does not exist: create, then remove it */
	cr_assert_geq(fd, 0);
	close(fd);
	unlink(pidfile);
	snprintf(golden, sizeof(golden),
		 "name=vm1\n"
		 "uuid=00000000-0000-0000-0000-000000000000\n"
		 "machine.acpi=off\n"
		 "machine.dump-guest-core=on\n"
		 "machine.mem-share=off\n"
		 "kernel=/boot/vmlinux\n"
		 "initrd=/boot/initrd\n"
		 "append=\n"
		 "smp=254\n"
		 "mem=549755813888\n"
		 "mem-path=/dev/hugepages\n"
		 "serial=\n"
		 "log=/var/log/vm1.log\n"
		 "daemonize=on\n"
		 "pidfile=%s\n"
		 "disable-seccomp=off\n", pidfile);
	GOLDEN(golden,
	       "-pidfile", pidfile, "-daemonize",
	       "-machine", "MicroVm,acpi=false,dump-guest-core=true",
	       "-name", "vm1", "-uuid", "00000000-0000-0000-0000-000000000000",
	       "-kernel", "/boot/vmlinux", "-initrd", "/boot/initrd", "-append", "",
	       "-smp", "cpus=254", "-m", "512G", "-mem-path", "/dev/hugepages",
	       "-D", "/var/log/vm1.log");
}

/* -D's argument is optional: a following option is not taken as the file. */
Test(cli_golden, bare_D_then_option)
{
	struct run r = parse2("-D", "-daemonize");

	cr_assert_eq(r.res, CLI_OK, "%s", r.err);
	cr_expect(r.cfg.log_to_file);
	cr_expect_str_eq(r.cfg.log_file, "");
	cr_expect(r.cfg.daemonize);
	run_free(&r);
}

/* ---- values that are accepted ---- */

static void expect_mem(const char *arg, unsigned long long bytes)
{
	struct run r = parse2("-m", arg);

	cr_expect_eq(r.res, CLI_OK, "-m %s: %s", arg, r.err);
	cr_expect_eq(r.cfg.mem_size, bytes, "-m %s: got %llu", arg,
		     (unsigned long long)r.cfg.mem_size);
	run_free(&r);
}

Test(cli_values, mem_sizes)
{
	expect_mem("1G", 1ULL << 30);
	expect_mem("512", 512ULL << 20);
	expect_mem("2048M", 2048ULL << 20);
	expect_mem("1GiB", 1ULL << 30);
	expect_mem("300MiB", 300ULL << 20);
	expect_mem("1g", 1ULL << 30);
	expect_mem("300m", 300ULL << 20);
	expect_mem("256", 256ULL << 20);
	expect_mem("256M", 256ULL << 20);
	expect_mem("512G", 512ULL << 30);
	expect_mem("524288", 512ULL << 30);
	expect_mem("0000512", 512ULL << 20);
}

static void expect_smp(const char *arg, unsigned n)
{
	struct run r = parse2("-smp", arg);

	cr_expect_eq(r.res, CLI_OK, "-smp %s: %s", arg, r.err);
	cr_expect_eq(r.cfg.ncpus, n, "-smp %s: got %u", arg, r.cfg.ncpus);
	run_free(&r);
}

Test(cli_values, smp)
{
	expect_smp("1", 1);
	expect_smp("254", 254);
	expect_smp("cpus=1", 1);
	expect_smp("cpus=254", 254);
	expect_smp("7", 7);
}

Test(cli_values, machine_forms)
{
	struct run r = parse2("-machine", "microvm");

	cr_expect_eq(r.res, CLI_OK, "%s", r.err);
	run_free(&r);
	r = parse2("-machine", "acpi=off,mem-share=true");
	cr_expect_eq(r.res, CLI_OK, "%s", r.err);
	cr_expect(!r.cfg.acpi);
	cr_expect(r.cfg.mem_share);
	cr_expect(r.cfg.dump_guest_core);
	run_free(&r);
	r = parse2("-machine", "MICROVM,dump-guest-core=off");
	cr_expect_eq(r.res, CLI_OK, "%s", r.err);
	cr_expect(!r.cfg.dump_guest_core);
	run_free(&r);
	/* StratoVirt's -omit_vm_memory is dump-guest-core=off; it takes no value */
	r = parse2("-omit_vm_memory", "-daemonize");
	cr_expect_eq(r.res, CLI_OK, "%s", r.err);
	cr_expect(!r.cfg.dump_guest_core);
	cr_expect(r.cfg.daemonize);
	run_free(&r);
	r = parse2("-machine", "dump-guest-core=on");
	cr_expect(r.cfg.dump_guest_core);
	run_free(&r);
}

Test(cli_values, name_255)
{
	char name[256];
	struct run r;

	memset(name, 'n', 255);
	name[255] = '\0';
	r = parse2("-name", name);
	cr_expect_eq(r.res, CLI_OK, "%s", r.err);
	cr_expect_str_eq(r.cfg.name, name);
	run_free(&r);
}

Test(cli_values, append_4095)
{
	static char cmd[VM_CMDLINE_MAX];
	struct run r;

	memset(cmd, 'a', VM_CMDLINE_MAX - 1);
	cmd[VM_CMDLINE_MAX - 1] = '\0';
	r = parse2("-append", cmd);
	cr_expect_eq(r.res, CLI_OK, "%s", r.err);
	cr_expect_eq(strlen(r.cfg.cmdline), VM_CMDLINE_MAX - 1);
	run_free(&r);
}

/* ---- errors: exact text ---- */

Test(cli_errors, drive_iops_range)
{
	ERR("-drive: iops '1000001' is out of range (0-1000000)",
	    "-kernel", "/k", "-drive", "id=a,file=/a,iops=1000001");
	ERR("-drive: iops 'abc' is not a valid number", "-kernel", "/k", "-drive", "id=a,file=/a,iops=abc");
	ERR("-drive: iops '2x' is not a valid number", "-kernel", "/k", "-drive", "id=a,file=/a,iops=2x");
	ERR("-drive: property 'iops' needs a value", "-kernel", "/k", "-drive", "id=a,file=/a,iops");
}

Test(cli_errors, smp_range)
{
	ERR("-smp: '0' is out of range (1-254)", "-kernel", "/k", "-smp", "0");
	ERR("-smp: '255' is out of range (1-254)", "-kernel", "/k", "-smp", "255");
	ERR("-smp: '255' is out of range (1-254)", "-kernel", "/k", "-smp", "cpus=255");
	ERR("-smp: '99999999999999999999999' is out of range (1-254)",
	    "-kernel", "/k", "-smp", "99999999999999999999999");
	ERR("-smp: '4294967297' is out of range (1-254)", "-kernel", "/k", "-smp", "4294967297");
}

Test(cli_errors, smp_junk)
{
	ERR("-smp: '2x' is not a valid number", "-kernel", "/k", "-smp", "2x");
	ERR("-smp: '' is not a valid number", "-kernel", "/k", "-smp", "");
	ERR("-smp: '-1' is not a valid number", "-kernel", "/k", "-smp", "-1");
	ERR("-smp: '+2' is not a valid number", "-kernel", "/k", "-smp", "+2");
	ERR("-smp: ' 2' is not a valid number", "-kernel", "/k", "-smp", " 2");
	ERR("-smp: '0x2' is not a valid number", "-kernel", "/k", "-smp", "0x2");
	ERR("-smp: '' is not a valid number", "-kernel", "/k", "-smp", "cpus=");
	ERR("-smp: unknown property 'sockets'", "-kernel", "/k", "-smp", "2,sockets=2");
	ERR("-smp: property 'cpus' given more than once", "-kernel", "/k", "-smp", "2,cpus=3");
	ERR("-smp: empty property name", "-kernel", "/k", "-smp", "=2");
	ERR("-smp: 'cpus' is not a valid number", "-kernel", "/k", "-smp", "cpus");
}

Test(cli_errors, mem_range)
{
	ERR("-m: '255' is out of range (256 MiB - 512 GiB)", "-kernel", "/k", "-m", "255");
	ERR("-m: '255M' is out of range (256 MiB - 512 GiB)", "-kernel", "/k", "-m", "255M");
	ERR("-m: '100M' is out of range (256 MiB - 512 GiB)", "-kernel", "/k", "-m", "100M");
	ERR("-m: '513G' is out of range (256 MiB - 512 GiB)", "-kernel", "/k", "-m", "513G");
	ERR("-m: '524289' is out of range (256 MiB - 512 GiB)", "-kernel", "/k", "-m", "524289");
	ERR("-m: '0' is out of range (256 MiB - 512 GiB)", "-kernel", "/k", "-m", "0");
	ERR("-m: '0G' is out of range (256 MiB - 512 GiB)", "-kernel", "/k", "-m", "0G");
	/* n * GiB wraps 64 bits; the digits alone do not */
	ERR("-m: '99999999999999G' is out of range (256 MiB - 512 GiB)",
	    "-kernel", "/k", "-m", "99999999999999G");
	/* (2^34 + 1) GiB and (2^44 + 256) MiB wrap to 1 GiB and 256 MiB: in range if unchecked */
	ERR("-m: '17179869185G' is out of range (256 MiB - 512 GiB)",
	    "-kernel", "/k", "-m", "17179869185G");
	ERR("-m: '17592186044672' is out of range (256 MiB - 512 GiB)",
	    "-kernel", "/k", "-m", "17592186044672");
	/* the digits alone overflow */
	ERR("-m: '99999999999999999999999' is out of range (256 MiB - 512 GiB)",
	    "-kernel", "/k", "-m", "99999999999999999999999");
}

Test(cli_errors, mem_junk)
{
	ERR("-m: 'abc' is not a valid size", "-kernel", "/k", "-m", "abc");
	ERR("-m: '' is not a valid size", "-kernel", "/k", "-m", "");
	ERR("-m: '-1G' is not a valid size", "-kernel", "/k", "-m", "-1G");
	ERR("-m: 'G' is not a valid size", "-kernel", "/k", "-m", "G");
	ERR("-m: '1T' is not a valid size (units: M, MiB, G, GiB)", "-kernel", "/k", "-m", "1T");
	ERR("-m: '1048576K' is not a valid size (units: M, MiB, G, GiB)",
	    "-kernel", "/k", "-m", "1048576K");
	ERR("-m: '1GB' is not a valid size (units: M, MiB, G, GiB)", "-kernel", "/k", "-m", "1GB");
	ERR("-m: '1.5G' is not a valid size (units: M, MiB, G, GiB)",
	    "-kernel", "/k", "-m", "1.5G");
	ERR("-m: '1G ' is not a valid size (units: M, MiB, G, GiB)", "-kernel", "/k", "-m", "1G ");
}

Test(cli_errors, machine)
{
	ERR("-machine: unknown property 'foo'", "-kernel", "/k", "-machine", "microvm,foo=1");
	ERR("-machine: unknown property 'accel'", "-kernel", "/k", "-machine", "accel=kvm");
	ERR("-machine: unsupported machine type 'q35' (only 'microvm')",
	    "-kernel", "/k", "-machine", "q35");
	ERR("-machine: unsupported machine type 'pc' (only 'microvm')",
	    "-kernel", "/k", "-machine", "type=pc,acpi=off");
	ERR("-machine: unsupported machine type '' (only 'microvm')",
	    "-kernel", "/k", "-machine", "");
	ERR("-machine: property 'acpi' must be on or off, not 'yes'",
	    "-kernel", "/k", "-machine", "acpi=yes");
	ERR("-machine: property 'mem-share' must be on or off, not ''",
	    "-kernel", "/k", "-machine", "mem-share=");
	ERR("-machine: property 'dump-guest-core' given more than once",
	    "-kernel", "/k", "-machine", "dump-guest-core=on,dump-guest-core=off");
	ERR("-machine: property 'type' needs a value", "-kernel", "/k", "-machine", "acpi=on,type");
	ERR("-machine: empty property name", "-kernel", "/k", "-machine", "microvm,");
	ERR("-machine: empty property name", "-kernel", "/k", "-machine", "microvm,=on");
	/* ",," is a literal comma, so this is one item "microvm,acpi=on" */
	ERR("-machine: unknown property 'microvm,acpi'",
	    "-kernel", "/k", "-machine", "microvm,,acpi=on");
	ERR("-machine: unsupported machine type 'micro,vm' (only 'microvm')",
	    "-kernel", "/k", "-machine", "micro,,vm");
}

Test(cli_errors, options)
{
	ERR("unknown option '-foo'", "-kernel", "/k", "-foo");
	ERR("unknown option '--kernel'", "--kernel", "/k");
	ERR("unknown option '-'", "-kernel", "/k", "-");
	ERR("-kernel: missing argument", "-kernel");
	ERR("-smp: missing argument", "-kernel", "/k", "-smp");
	ERR("unexpected argument 'foo'", "-kernel", "/k", "foo");
	ERR("unexpected argument ''", "-kernel", "/k", "");
	ERR("-smp: given more than once", "-kernel", "/k", "-smp", "1", "-smp", "2");
	ERR("-kernel: given more than once", "-kernel", "/k", "-kernel", "/k");
	ERR("-append: given more than once", "-kernel", "/k", "-append", "a", "-append", "b");
	ERR("-D: given more than once", "-kernel", "/k", "-D", "-D", "/log");
	ERR("-daemonize: given more than once", "-kernel", "/k", "-daemonize", "-daemonize");
	ERR("-serial: 'pty' is not supported (only 'stdio')", "-kernel", "/k", "-serial", "pty");
	ERR("-kernel: a kernel image is required");
	ERR("-kernel: a kernel image is required", "-smp", "2");
	ERR("-kernel: must not be empty", "-kernel", "");
}

Test(cli_errors, pidfile)
{
	char path[] = "/tmp/bulkhead-cli-XXXXXX";
	char want[128];
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	close(fd);
	snprintf(want, sizeof(want), "-pidfile: '%s' already exists", path);
	ERR(want, "-kernel", "/k", "-daemonize", "-pidfile", path);
	unlink(path);
	ERR("-pidfile: only allowed together with -daemonize", "-kernel", "/k", "-pidfile", path);
}

Test(cli_errors, paths)
{
	ERR("-mem-path: 'rel' must be an absolute path", "-kernel", "/k", "-mem-path", "rel");
	ERR("-mem-path: 'dev/hugepages' must be an absolute path",
	    "-kernel", "/k", "-mem-path", "dev/hugepages");
	ERR("-mem-path: '' must be an absolute path", "-kernel", "/k", "-mem-path", "");
	ERR("-initrd: must not be empty", "-kernel", "/k", "-initrd", "");
}

Test(cli_errors, uuid)
{
	ERR("-uuid: 'xyz' is not a UUID (8-4-4-4-12 hex digits)", "-kernel", "/k", "-uuid", "xyz");
	ERR("-uuid: '' is not a UUID (8-4-4-4-12 hex digits)", "-kernel", "/k", "-uuid", "");
	ERR("-uuid: '4f1e2d3c-abcd-4ef0-9a8b-0123456789a' is not a UUID (8-4-4-4-12 hex digits)",
	    "-kernel", "/k", "-uuid", "4f1e2d3c-abcd-4ef0-9a8b-0123456789a");
	ERR("-uuid: '4f1e2d3c-abcd-4ef0-9a8b-0123456789abc' is not a UUID (8-4-4-4-12 hex digits)",
	    "-kernel", "/k", "-uuid", "4f1e2d3c-abcd-4ef0-9a8b-0123456789abc");
	ERR("-uuid: '4f1e2d3cabcd-4ef0-9a8b-0123456789ab-' is not a UUID (8-4-4-4-12 hex digits)",
	    "-kernel", "/k", "-uuid", "4f1e2d3cabcd-4ef0-9a8b-0123456789ab-");
	ERR("-uuid: 'gf1e2d3c-abcd-4ef0-9a8b-0123456789ab' is not a UUID (8-4-4-4-12 hex digits)",
	    "-kernel", "/k", "-uuid", "gf1e2d3c-abcd-4ef0-9a8b-0123456789ab");
	ERR("-uuid: '{4f1e2d3c-abcd-4ef0-9a8b-0123456789ab}' is not a UUID "
	    "(8-4-4-4-12 hex digits)", "-kernel", "/k", "-uuid",
	    "{4f1e2d3c-abcd-4ef0-9a8b-0123456789ab}");
}

Test(cli_errors, name)
{
	char name[257];

	memset(name, 'n', 256);
	name[256] = '\0';
	ERR("-name: must not be empty", "-kernel", "/k", "-name", "");
	ERR("-name: too long (256 characters, max 255)", "-kernel", "/k", "-name", name);
	ERR("-name: control characters are not allowed", "-kernel", "/k", "-name", "a\nb");
}

Test(cli_errors, append_too_long)
{
	static char cmd[VM_CMDLINE_MAX + 1];

	memset(cmd, 'a', VM_CMDLINE_MAX);
	cmd[VM_CMDLINE_MAX] = '\0';
	ERR("-append: too long (4096 characters, max 4095)", "-kernel", "/k", "-append", cmd);
}

/* A newline in an echoed value must not split the one-line error. */
Test(cli_errors, one_line)
{
	ERR("-smp: '1?2' is not a valid number", "-kernel", "/k", "-smp", "1\n2");
	ERR("unknown option '-a?b'", "-a\nb");
}

/* ---- disks: -drive, -device, -chardev ---- */

/* The StratoVirt manual's older form: a -drive alone is a disk. */
Test(cli_disks, old_syntax_drive_alone)
{
	GOLDEN(BASE_CONFIG("/k")
	       "drive.0=id=rootfs,file=/home/rootfs.ext4,readonly=off,direct=on,serial=serial_num,"
	       "iops=200,iothread=iothread1,device=\n"
	       "slot.0=virtio-blk,drive=rootfs\n",
	       "-kernel", "/k", "-drive", "file=/home/rootfs.ext4,id=rootfs,readonly=false,"
	       "direct=true,serial=serial_num,iothread=iothread1,iops=200");
}

/* What Kata's StratoVirt driver emits for its rootfs. */
Test(cli_disks, kata_drive_and_device)
{
	GOLDEN(BASE_CONFIG("/k")
	       "drive.0=id=rootfs,file=/run/kata/rootfs.img,readonly=on,direct=off,serial=,iops=0,"
	       "iothread=,device=virtio-blk0\n"
	       "slot.0=virtio-blk,drive=rootfs\n",
	       "-kernel", "/k",
	       "-drive", "id=rootfs,file=/run/kata/rootfs.img,readonly=on,direct=off",
	       "-device", "virtio-blk-device,drive=rootfs,id=virtio-blk0");
}

/* Slots follow the command line: a drive where its -drive is, an external disk where its
 * -device is; a -device may name a drive given later. */
Test(cli_disks, slot_order_and_forward_references)
{
	GOLDEN(BASE_CONFIG("/k")
	       "drive.0=id=a,file=/a.img,readonly=off,direct=off,serial=SER-1,iops=0,"
	       "iothread=io1,device=blk-a\n"
	       "drive.1=id=b,file=/b,c.img,readonly=on,direct=off,serial=,iops=1000000,"
	       "iothread=,device=\n"
	       "chardev.0=id=qsd,path=/tmp/qsd.sock,server=off,nowait=off\n"
	       "chardev.1=id=charconsole0,path=/tmp/con,server=on,nowait=on\n"
	       "slot.0=virtio-blk,drive=a\n"
	       "slot.1=vhost-user-blk,chardev=qsd,id=ext0\n"
	       "slot.2=virtio-blk,drive=b\n",
	       "-kernel", "/k",
	       "-device", "driver=virtio-blk-device,drive=a,id=blk-a,serial=SER-1,iothread=io1",
	       "-drive", "id=a,file=/a.img,if=none,format=raw",
	       "-chardev", "socket,id=qsd,path=/tmp/qsd.sock",
	       "-chardev", "socket,id=charconsole0,path=/tmp/con,server,nowait",
	       "-device", "vhost-user-blk-device,chardev=qsd,id=ext0",
	       "-drive", "id=b,file=/b,,c.img,readonly,throttling.iops-total=1000000");
}

/* num-queues on the device, poll-us on the drive (issue 14); shown only when given. */
Test(cli_disks, queues_and_polling)
{
	GOLDEN(BASE_CONFIG("/k")
	       "drive.0=id=a,file=/a,readonly=off,direct=off,serial=,iops=0,iothread=,"
	       "device=vda,num-queues=4,poll-us=0\n"
	       "drive.1=id=b,file=/b,readonly=off,direct=off,serial=,iops=0,iothread=,device=,"
	       "poll-us=1000\n"
	       "slot.0=virtio-blk,drive=a\n"
	       "slot.1=virtio-blk,drive=b\n",
	       "-kernel", "/k", "-drive", "id=a,file=/a,poll-us=0",
	       "-device", "virtio-blk-device,drive=a,id=vda,num-queues=4",
	       "-drive", "id=b,file=/b,poll-us=1000");
}

Test(cli_errors, queues_and_polling)
{
	ERR("-device: num-queues '0' is out of range (1-16)", "-kernel", "/k",
	    "-drive", "id=a,file=/a", "-device", "virtio-blk-device,drive=a,num-queues=0");
	ERR("-device: num-queues '17' is out of range (1-16)", "-kernel", "/k",
	    "-drive", "id=a,file=/a", "-device", "virtio-blk-device,drive=a,num-queues=17");
	ERR("-device: property 'num-queues' needs a value", "-kernel", "/k",
	    "-drive", "id=a,file=/a", "-device", "virtio-blk-device,drive=a,num-queues");
	ERR("-drive: poll-us '1001' is out of range (0-1000)", "-kernel", "/k",
	    "-drive", "id=a,file=/a,poll-us=1001");
	ERR("-drive: poll-us '-5' is not a valid number", "-kernel", "/k",
	    "-drive", "id=a,file=/a,poll-us=-5");
}

Test(cli_disks, six_drives)
{
	struct run r;

	run_args(&r, "-kernel", "/k", "-drive", "id=d0,file=/0", "-drive", "id=d1,file=/1",
		 "-drive", "id=d2,file=/2", "-drive", "id=d3,file=/3", "-drive", "id=d4,file=/4",
		 "-drive", "id=d5,file=/5", NULL);
	cr_assert_eq(r.res, CLI_OK, "%s", r.err);
	cr_assert_eq(r.cfg.ndisks, 6);
	for (unsigned i = 0; i < 6; i++) {
		cr_expect_eq(r.cfg.disks[i].kind, VM_DISK_DRIVE);
		cr_expect_eq(r.cfg.disks[i].index, i);
	}
	run_free(&r);
}

Test(cli_disks, older_chardev_form_without_backend)
{
	struct run r;

	run_args(&r, "-kernel", "/k", "-chardev", "id=c,path=/s", "-device",
		 "vhost-user-blk-device,chardev=c", NULL);
	cr_assert_eq(r.res, CLI_OK, "%s", r.err);
	cr_expect_eq(r.cfg.ndisks, 1);
	cr_expect_eq(r.cfg.disks[0].kind, VM_DISK_VHOST_USER);
	cr_expect_str_eq(r.cfg.chardevs[0].path, "/s");
	run_free(&r);
}

Test(cli_errors, drive)
{
	ERR("-drive: property 'id' is required", "-kernel", "/k", "-drive", "file=/x");
	ERR("-drive: property 'file' is required", "-kernel", "/k", "-drive", "id=x");
	ERR("-drive: must not be empty", "-kernel", "/k", "-drive", "id=x,file=");
	ERR("-drive: property 'file' needs a value", "-kernel", "/k", "-drive", "id=x,file");
	ERR("-drive: id 'a' is used by another drive",
	    "-kernel", "/k", "-drive", "id=a,file=/x", "-drive", "id=a,file=/y");
	ERR("-drive: at most 6 drives", "-kernel", "/k", "-drive", "id=d0,file=/0",
	    "-drive", "id=d1,file=/1", "-drive", "id=d2,file=/2", "-drive", "id=d3,file=/3",
	    "-drive", "id=d4,file=/4", "-drive", "id=d5,file=/5", "-drive", "id=d6,file=/6");
	ERR("-drive: property 'readonly' must be on or off, not 'yes'",
	    "-kernel", "/k", "-drive", "id=x,file=/x,readonly=yes");
	ERR("-drive: property 'direct' must be on or off, not '1'",
	    "-kernel", "/k", "-drive", "id=x,file=/x,direct=1");
	ERR("-drive: unknown property 'cache'", "-kernel", "/k", "-drive", "id=x,file=/x,cache=none");
	ERR("-drive: property 'id' given more than once",
	    "-kernel", "/k", "-drive", "id=x,file=/x,id=y");
	ERR("-drive: id '0x' must start with a letter", "-kernel", "/k", "-drive", "id=0x,file=/x");
	ERR("-drive: id 'a/b' may only hold letters, digits, '-', '.', '_'",
	    "-kernel", "/k", "-drive", "id=a/b,file=/x");
	ERR("-drive: if must be 'none'", "-kernel", "/k", "-drive", "id=x,file=/x,if=virtio");
	ERR("-drive: format 'qcow2' is not supported (only 'raw')",
	    "-kernel", "/k", "-drive", "id=x,file=/x,format=qcow2");
	ERR("-drive: serial '123456789012345678901' is too long (max 20 bytes)",
	    "-kernel", "/k", "-drive", "id=x,file=/x,serial=123456789012345678901");
	ERR("-drive: serial may only hold printable characters",
	    "-kernel", "/k", "-drive", "id=x,file=/x,serial=a\tb");
}

Test(cli_errors, drive_iops)
{
	ERR("-drive: iops '1000001' is out of range (0-1000000)",
	    "-kernel", "/k", "-drive", "id=x,file=/x,iops=1000001");
	ERR("-drive: iops '99999999999999999999999' is out of range (0-1000000)",
	    "-kernel", "/k", "-drive", "id=x,file=/x,iops=99999999999999999999999");
	ERR("-drive: iops '-1' is not a valid number", "-kernel", "/k", "-drive", "id=x,file=/x,iops=-1");
	ERR("-drive: iops '1k' is not a valid number", "-kernel", "/k", "-drive", "id=x,file=/x,iops=1k");
	ERR("-drive: iops '' is not a valid number", "-kernel", "/k", "-drive", "id=x,file=/x,iops=");
	ERR("-drive: throttling.iops-total '4294967296' is out of range (0-1000000)",
	    "-kernel", "/k", "-drive", "id=x,file=/x,throttling.iops-total=4294967296");
}

Test(cli_errors, device)
{
	ERR("-device: driver 'virtio-balloon-device' is not supported",
	    "-kernel", "/k", "-device", "virtio-balloon-device,id=b");
	ERR("-device: a driver is required", "-kernel", "/k", "-device", "drive=x");
	ERR("-device: a driver is required", "-kernel", "/k", "-device", "");
	ERR("-device: virtio-blk-device needs drive=", "-kernel", "/k", "-device",
	    "virtio-blk-device,id=b");
	ERR("-device: unknown property 'chardev'", "-kernel", "/k", "-drive", "id=x,file=/x",
	    "-device", "virtio-blk-device,drive=x,chardev=c");
	ERR("-device: drive 'nope' is not defined", "-kernel", "/k", "-drive", "id=x,file=/x",
	    "-device", "virtio-blk-device,drive=nope");
	ERR("-device: drive 'x' is used by more than one device", "-kernel", "/k",
	    "-drive", "id=x,file=/x", "-device", "virtio-blk-device,drive=x",
	    "-device", "virtio-blk-device,drive=x,id=second");
	/* device ids are one namespace (QMP's device_del), disks and NICs alike */
	ERR("-device: id 'b' is used by another device", "-kernel", "/k",
	    "-drive", "id=x,file=/x", "-drive", "id=y,file=/y",
	    "-device", "virtio-blk-device,drive=x,id=b", "-device", "virtio-blk-device,drive=y,id=b");
	ERR("-device: id 'b' is used by another device", "-kernel", "/k",
	    "-chardev", "socket,id=c,path=/s", "-drive", "id=x,file=/x",
	    "-device", "vhost-user-blk-device,chardev=c,id=b", "-device", "virtio-blk-device,drive=x,id=b");
	ERR("-device: vhost-user-blk-device needs chardev=", "-kernel", "/k", "-device",
	    "vhost-user-blk-device,id=v");
	ERR("-device: chardev 'c' is not defined", "-kernel", "/k", "-device",
	    "vhost-user-blk-device,chardev=c");
	ERR("-device: chardev 'c' is used by more than one device", "-kernel", "/k",
	    "-chardev", "socket,id=c,path=/s", "-device", "vhost-user-blk-device,chardev=c",
	    "-device", "vhost-user-blk-device,chardev=c");
	ERR("-device: chardev 'c' must be a client socket (no server) for a vhost-user backend",
	    "-kernel", "/k", "-chardev", "socket,id=c,path=/s,server,nowait",
	    "-device", "vhost-user-blk-device,chardev=c");
	ERR("-device: at most 6 disks in all (-drive and vhost-user-blk-device)", "-kernel", "/k",
	    "-drive", "id=d0,file=/0", "-drive", "id=d1,file=/1", "-drive", "id=d2,file=/2",
	    "-drive", "id=d3,file=/3", "-drive", "id=d4,file=/4", "-drive", "id=d5,file=/5",
	    "-chardev", "socket,id=c,path=/s", "-device", "vhost-user-blk-device,chardev=c");
}

Test(cli_errors, chardev)
{
	ERR("-chardev: backend 'pty' is not supported (only 'socket')",
	    "-kernel", "/k", "-chardev", "pty,id=c");
	ERR("-chardev: property 'id' is required", "-kernel", "/k", "-chardev", "socket,path=/s");
	ERR("-chardev: property 'path' is required", "-kernel", "/k", "-chardev", "socket,id=c");
	ERR("-chardev: id 'c' is used by another chardev", "-kernel", "/k",
	    "-chardev", "socket,id=c,path=/s", "-chardev", "socket,id=c,path=/t");
	ERR("-chardev: property 'server' must be on or off, not 'maybe'",
	    "-kernel", "/k", "-chardev", "socket,id=c,path=/s,server=maybe");
	ERR("-chardev: unknown property 'host'", "-kernel", "/k", "-chardev",
	    "socket,id=c,host=127.0.0.1");
}

/* ---- help and version ---- */

static void expect_exit_ok(const char *arg, const char *want_prefix, const char *want_sub)
{
	struct run r;

	/* no -kernel: help must not trip the required-kernel check */
	run_args(&r, arg, "-bogus-after-help", NULL);
	cr_expect_eq(r.res, CLI_EXIT_OK, "%s: result %d (%s)", arg, r.res, r.err);
	cr_expect_eq(strncmp(r.out, want_prefix, strlen(want_prefix)), 0, "%s printed: %s",
		     arg, r.out);
	cr_expect_not_null(strstr(r.out, want_sub), "%s printed: %s", arg, r.out);
	run_free(&r);
}

Test(cli_exit, help)
{
	const char *args[] = { "-h", "-help", "--help" };

	for (size_t i = 0; i < sizeof(args) / sizeof(args[0]); i++) {
		expect_exit_ok(args[i], "Usage: bulkhead", "-kernel PATH");
		expect_exit_ok(args[i], "Usage: bulkhead", "-smp [cpus=]N");
		expect_exit_ok(args[i], "Usage: bulkhead", "-D [FILE]");
		expect_exit_ok(args[i], "Usage: bulkhead", "-drive id=ID,file=PATH");
		expect_exit_ok(args[i], "Usage: bulkhead", "vhost-user-blk-device,chardev=C");
	}
}

Test(cli_exit, version)
{
	const char *args[] = { "-V", "-version", "--version" };
	struct run r;

	for (size_t i = 0; i < sizeof(args) / sizeof(args[0]); i++)
		expect_exit_ok(args[i], "bulkhead " BULKHEAD_VERSION "\n", "bulkhead");
	/* exactly one line */
	run_args(&r, "--version", NULL);
	cr_expect_str_eq(r.out, "bulkhead " BULKHEAD_VERSION "\n");
	run_free(&r);
}

/* An error before -help wins: options are taken in order. */
Test(cli_exit, error_before_help)
{
	ERR("-smp: '0' is out of range (1-254)", "-smp", "0", "--help");
}

/* ---- bulkhead extensions: -runas, -hotplug-dir (issue 5) ---- */

Test(cli_golden, runas_and_hotplug_dirs)
{
	GOLDEN("name=\n"
	       "uuid=\n"
	       "machine.acpi=on\n"
	       "machine.dump-guest-core=on\n"
	       "machine.mem-share=off\n"
	       "kernel=/k\n"
	       "initrd=\n"
	       "append=\n"
	       "smp=1\n"
	       "mem=268435456\n"
	       "mem-path=\n"
	       "serial=\n"
	       "log=\n"
	       "daemonize=off\n"
	       "pidfile=\n"
	       "disable-seccomp=off\n"
	       "runas=nobody:nogroup\n"
	       "hotplug-dir=/srv/images\n"
	       "hotplug-dir=/var/lib/vm/disks\n",
	       "-hotplug-dir", "/srv/images", "-kernel", "/k", "-runas", "nobody:nogroup",
	       "-hotplug-dir", "/var/lib/vm/disks");
}

Test(cli_values, runas_forms)
{
	const char *ok[] = { "nobody", "65534", "65534:65534", "nobody:65534", "svc-vm.1:kvm_",
			     "abcdefghijklmnopqrstuvwxyz012345" };

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct run r = parse2("-runas", ok[i]);

		cr_expect_eq(r.res, CLI_OK, "-runas %s: %s", ok[i], r.err);
		cr_expect_str_eq(r.cfg.runas, ok[i]);
		run_free(&r);
	}
}

Test(cli_errors, runas)
{
	const char *bad[] = { "", ":", "nobody:", ":nogroup", "a:b:c", "-x", "no body",
			      "nobody:-1", "a/b", "abcdefghijklmnopqrstuvwxyz0123456" };
	char want[160];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(want, sizeof(want),
			 "-runas: '%s' is not USER or USER:GROUP (names or numbers)", bad[i]);
		ERR(want, "-kernel", "/k", "-runas", bad[i]);
	}
	ERR("-runas: missing argument", "-kernel", "/k", "-runas");
	ERR("-runas: given more than once", "-kernel", "/k", "-runas", "a", "-runas", "b");
}

Test(cli_errors, hotplug_dir)
{
	ERR("-hotplug-dir: 'images' must be an absolute path",
	    "-kernel", "/k", "-hotplug-dir", "images");
	ERR("-hotplug-dir: '' must be an absolute path", "-kernel", "/k", "-hotplug-dir", "");
	ERR("-hotplug-dir: at most 8 directories", "-kernel", "/k",
	    "-hotplug-dir", "/1", "-hotplug-dir", "/2", "-hotplug-dir", "/3", "-hotplug-dir", "/4",
	    "-hotplug-dir", "/5", "-hotplug-dir", "/6", "-hotplug-dir", "/7", "-hotplug-dir", "/8",
	    "-hotplug-dir", "/9");
}

Test(cli_exit, help_names_the_extensions)
{
	expect_exit_ok("--help", "Usage: bulkhead", "-runas USER[:GROUP]\n"
		       "      bulkhead extension: when started as root");
	expect_exit_ok("--help", "Usage: bulkhead", "-hotplug-dir DIR\n"
		       "      bulkhead extension: blockdev-add opens only files inside DIR");
}
