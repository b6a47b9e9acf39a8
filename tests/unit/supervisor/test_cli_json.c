/* Golden tests of -config (StratoVirt's JSON file, cli_json.c) and -iothread: cli_print_config
 * output for every key of every section, the manual's example, the command line overriding
 * the file, and the exact one-line error for each kind of bad file. The JSON is written with
 * ' for " (json_write). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_harness.h"

#define CONFIG "-config", "vm.json"
#define BOOT "'boot-source': {'kernel_image_path': '/k'}"
/* vm.json holds JSON (quotes written ' for readability): -config vm.json fails with msg */
#define JSON_ERR(json, msg) do { json_write("vm.json", json); ERR(msg, CONFIG); } while (0)

TestSuite(cli_json, .init = json_dir_enter, .fini = json_dir_leave);

/* ---- every key ---- */

Test(cli_json, boot_source)
{
	json_write("vm.json", "{'boot-source': {'kernel_image_path': '/boot/vmlinux.bin', "
		   "'boot_args': 'console=ttyS0 reboot=k panic=1', "
		   "'initrd_fs_path': '/boot/initrd.img'}}");
	GOLDEN("name=\n" "uuid=\n" "machine.acpi=on\n" "machine.dump-guest-core=on\n"
	       "machine.mem-share=off\n" "kernel=/boot/vmlinux.bin\n" "initrd=/boot/initrd.img\n"
	       "append=console=ttyS0 reboot=k panic=1\n" "smp=1\n" "mem=268435456\n" "mem-path=\n"
	       "serial=\n" "log=\n" "daemonize=off\n" "pidfile=\n" "disable-seccomp=off\n",
	       CONFIG);
}

Test(cli_json, machine_config)
{
	json_write("vm.json", "{" BOOT ", 'machine-config': {'type': 'MicroVm', 'vcpu_count': 4, "
		   "'mem_size': 805306368, 'dump_guest_core': false, 'mem-share': true, "
		   "'mem_path': '/dev/hugepages'}}");
	GOLDEN("name=\n" "uuid=\n" "machine.acpi=on\n" "machine.dump-guest-core=off\n"
	       "machine.mem-share=on\n" "kernel=/k\n" "initrd=\n" "append=\n" "smp=4\n"
	       "mem=805306368\n" "mem-path=/dev/hugepages\n" "serial=\n" "log=\n" "daemonize=off\n"
	       "pidfile=\n" "disable-seccomp=off\n",
	       CONFIG);
}

/* The limits are the command line's: 1 and 254 vCPUs, 256 MiB and 512 GiB; the type in any
 * case; the booleans both ways. */
Test(cli_json, machine_limits)
{
	json_write("vm.json", "{" BOOT ", 'machine-config': {'type': 'microvm', 'vcpu_count': 254, "
		   "'mem_size': 549755813888, 'dump_guest_core': true, 'mem-share': false}}");
	GOLDEN("name=\n" "uuid=\n" "machine.acpi=on\n" "machine.dump-guest-core=on\n"
	       "machine.mem-share=off\n" "kernel=/k\n" "initrd=\n" "append=\n" "smp=254\n"
	       "mem=549755813888\n" "mem-path=\n" "serial=\n" "log=\n" "daemonize=off\n"
	       "pidfile=\n" "disable-seccomp=off\n",
	       CONFIG);
	json_write("vm.json", "{" BOOT ", 'machine-config': {'vcpu_count': 1, "
		   "'mem_size': 268435456}}");
	GOLDEN(BASE_CONFIG("/k"), CONFIG);
}

Test(cli_json, drive)
{
	json_write("vm.json", "{" BOOT ", 'drive': [{'drive_id': 'rootfs', "
		   "'path_on_host': '/img/rootfs.ext4', 'read_only': true, 'direct': false, "
		   "'serial_num': '01234567890123456789', 'iothread': 'iothread1', 'iops': 1000000}, "
		   "{'drive_id': 'data', 'path_on_host': '/img/a,b', 'direct': true, 'iops': 0}]}");
	GOLDEN(BASE_CONFIG("/k")
	       "drive.0=id=rootfs,file=/img/rootfs.ext4,readonly=on,direct=off,"
	       "serial=01234567890123456789,iops=1000000,iothread=iothread1,device=\n"
	       "drive.1=id=data,file=/img/a,b,readonly=off,direct=on,serial=,iops=0,iothread=,"
	       "device=\n"
	       "slot.0=virtio-blk,drive=rootfs\n"
	       "slot.1=virtio-blk,drive=data\n",
	       CONFIG);
}

Test(cli_json, six_drives)
{
	json_write("vm.json", "{" BOOT ", 'drive': ["
		   "{'drive_id': 'd0', 'path_on_host': '/0'}, {'drive_id': 'd1', 'path_on_host': '/1'}, "
		   "{'drive_id': 'd2', 'path_on_host': '/2'}, {'drive_id': 'd3', 'path_on_host': '/3'}, "
		   "{'drive_id': 'd4', 'path_on_host': '/4'}, {'drive_id': 'd5', 'path_on_host': '/5'}]}");
	GOLDEN(BASE_CONFIG("/k")
	       "drive.0=id=d0,file=/0,readonly=off,direct=off,serial=,iops=0,iothread=,device=\n"
	       "drive.1=id=d1,file=/1,readonly=off,direct=off,serial=,iops=0,iothread=,device=\n"
	       "drive.2=id=d2,file=/2,readonly=off,direct=off,serial=,iops=0,iothread=,device=\n"
	       "drive.3=id=d3,file=/3,readonly=off,direct=off,serial=,iops=0,iothread=,device=\n"
	       "drive.4=id=d4,file=/4,readonly=off,direct=off,serial=,iops=0,iothread=,device=\n"
	       "drive.5=id=d5,file=/5,readonly=off,direct=off,serial=,iops=0,iothread=,device=\n"
	       "slot.0=virtio-blk,drive=d0\n" "slot.1=virtio-blk,drive=d1\n"
	       "slot.2=virtio-blk,drive=d2\n" "slot.3=virtio-blk,drive=d3\n"
	       "slot.4=virtio-blk,drive=d4\n" "slot.5=virtio-blk,drive=d5\n",
	       CONFIG);
}

/* The older manual's NIC, as -netdev id=,netdev=TAP[,mac=][,iothread=] fills it. */
Test(cli_json, net)
{
	json_write("vm.json", "{" BOOT ", 'net': [{'iface_id': 'net0', 'host_dev_name': 'tap0', "
		   "'mac': '12:34:56:78:9A:BC', 'iothread': 'iothread1'}, "
		   "{'iface_id': 'net1', 'host_dev_name': 'tap1'}]}");
	GOLDEN(BASE_CONFIG("/k")
	       "net.0=id=net0,ifname=tap0,fds=,queues=1,mac=12:34:56:78:9a:bc,iothread=iothread1,"
	       "device=net0\n"
	       "net.1=id=net1,ifname=tap1,fds=,queues=1,mac=,iothread=,device=net1\n",
	       CONFIG);
}

/* As -device vsock,id=,guest-cid= fills it: the host's vhost-vsock. */
Test(cli_json, vsock)
{
	json_write("vm.json", "{" BOOT ", 'vsock': {'vsock_id': 'vsock-123321132', "
		   "'guest_cid': 4294967294}}");
	GOLDEN(BASE_CONFIG("/k")
	       "vsock=id=vsock-123321132,guest-cid=4294967294,uds-path=,vhostfd=-1\n",
	       CONFIG);
	json_write("vm.json", "{" BOOT ", 'vsock': {'vsock_id': 'v', 'guest_cid': 3}}");
	GOLDEN(BASE_CONFIG("/k") "vsock=id=v,guest-cid=3,uds-path=,vhostfd=-1\n", CONFIG);
}

Test(cli_json, serial)
{
	json_write("vm.json", "{" BOOT ", 'serial': {'stdio': true}}");
	GOLDEN("name=\n" "uuid=\n" "machine.acpi=on\n" "machine.dump-guest-core=on\n"
	       "machine.mem-share=off\n" "kernel=/k\n" "initrd=\n" "append=\n" "smp=1\n"
	       "mem=268435456\n" "mem-path=\n" "serial=stdio\n" "log=\n" "daemonize=off\n"
	       "pidfile=\n" "disable-seccomp=off\n",
	       CONFIG);
	json_write("vm.json", "{" BOOT ", 'serial': {'stdio': false}}");
	GOLDEN(BASE_CONFIG("/k"), CONFIG);
	json_write("vm.json", "{" BOOT ", 'serial': {}}");
	GOLDEN(BASE_CONFIG("/k"), CONFIG);
}

Test(cli_json, iothread)
{
	json_write("vm.json", "{" BOOT ", 'iothread': [{'id': 'iothread1'}, {'id': 'iothread2'}]}");
	GOLDEN(BASE_CONFIG("/k") "iothread.0=id=iothread1\n" "iothread.1=id=iothread2\n", CONFIG);
	json_write("vm.json", "{" BOOT ", 'iothread': []}");
	GOLDEN(BASE_CONFIG("/k"), CONFIG);
}

/* Empty sections and an empty object: nothing set, the defaults stand. */
Test(cli_json, empty_sections)
{
	json_write("vm.json", "{'machine-config': {}, 'drive': [], 'net': []}");
	GOLDEN(BASE_CONFIG("/k"), CONFIG, "-kernel", "/k");
	json_write("vm.json", " {}\n");
	GOLDEN(BASE_CONFIG("/k"), "-kernel", "/k", CONFIG);
}

/* ---- the manual's example ---- */

#define MANUAL_HEAD \
	"{\n" \
	"  'boot-source': {\n" \
	"    'kernel_image_path': '/path/to/vmlinux.bin',\n" \
	"    'boot_args': 'console=ttyS0 reboot=k panic=1 pci=off tsc=reliable ipv6.disable=1 " \
	"root=/dev/vda quiet rw'\n" \
	"  },\n" \
	" 'machine-config': {\n" \
	"    'type': 'MicroVm',\n" \
	"    'vcpu_count': 2,\n" \
	"    'mem_size': 268435456\n" \
	"  },\n" \
	"  'drive': [\n" \
	"    {\n" \
	"      'drive_id': 'rootfs',\n" \
	"      'path_on_host': '/path/to/rootfs',\n" \
	"      'serial_num': '11111111',\n" \
	"      'direct': true,\n" \
	"      'read_only': false,\n" \
	"      'iops': 200000,\n" \
	"      'iothread': 'iothread2'\n" \
	"    }\n" \
	"  ],\n" \
	"  'net': [\n" \
	"    {\n" \
	"      'iface_id': 'net0',\n" \
	"      'host_dev_name': 'tap0',\n" \
	"      'mac': '0e:90:df:9f:a8:88',\n" \
	"      'iothread': 'iothread1'\n" \
	"    }\n" \
	"  ],\n"
#define MANUAL_CONSOLE \
	"  'console': [\n" \
	"    {\n" \
	"    'console_id': 'charconsole0',\n" \
	"    'socket_path': '/path/to/console.socket'\n" \
	"    }\n" \
	"  ],\n"
#define MANUAL_TAIL \
	"  'serial': {\n" \
	"    'stdio': true\n" \
	"  },\n" \
	"  'vsock': {\n" \
	"    'vsock_id': 'vsock-123321132',\n" \
	"    'guest_cid': 4\n" \
	"  },\n" \
	"  'iothread': [\n" \
	"    {'id': 'iothread1'},\n" \
	"    {'id': 'iothread2'}\n" \
	"  ]\n" \
	"}\n"

/* The manual's file as it is, console included, with the manual's command line. */
Test(cli_json, manual_example)
{
	json_write("vm.json", MANUAL_HEAD MANUAL_CONSOLE MANUAL_TAIL);
	GOLDEN("name=\n" "uuid=\n" "machine.acpi=on\n" "machine.dump-guest-core=on\n"
	       "machine.mem-share=off\n" "kernel=/path/to/vmlinux.bin\n" "initrd=\n"
	       "append=console=ttyS0 reboot=k panic=1 pci=off tsc=reliable ipv6.disable=1 "
	       "root=/dev/vda quiet rw\n"
	       "smp=2\n" "mem=268435456\n" "mem-path=\n" "serial=stdio\n" "log=\n"
	       "daemonize=off\n" "pidfile=\n" "disable-seccomp=off\n"
	       "qmp=unix:/tmp/stratovirt.socket\n"
	       "iothread.0=id=iothread1\n" "iothread.1=id=iothread2\n"
	       "drive.0=id=rootfs,file=/path/to/rootfs,readonly=off,direct=on,serial=11111111,"
	       "iops=200000,iothread=iothread2,device=\n"
	       "chardev.0=id=charconsole0,path=/path/to/console.socket,server=on,nowait=on\n"
	       "slot.0=virtio-blk,drive=rootfs\n"
	       "net.0=id=net0,ifname=tap0,fds=,queues=1,mac=0e:90:df:9f:a8:88,iothread=iothread1,"
	       "device=net0\n"
	       "vsock=id=vsock-123321132,guest-cid=4,uds-path=,vhostfd=-1\n"
	       "console=bus=,id=,chardev=charconsole0,path=/path/to/console.socket\n",
	       "-config", "vm.json", "-api-channel", "unix:/tmp/stratovirt.socket");
}

/* ---- the command line over the file ---- */

/* Scalars replace the file's, wherever -config stands; devices add to the file's, after
 * them (slots in file order, then line order). */
Test(cli_json, command_line_overrides)
{
	json_write("vm.json", "{'boot-source': {'kernel_image_path': '/file/k', 'boot_args': "
		   "'from the file', 'initrd_fs_path': '/file/i'}, 'machine-config': {'vcpu_count': 2, "
		   "'mem_size': 536870912, 'dump_guest_core': false, 'mem-share': true, "
		   "'mem_path': '/file/huge'}, 'serial': {'stdio': false}, "
		   "'iothread': [{'id': 't1'}], "
		   "'drive': [{'drive_id': 'rootfs', 'path_on_host': '/file/rootfs'}], "
		   "'net': [{'iface_id': 'net0', 'host_dev_name': 'tap0'}]}");
	GOLDEN("name=\n" "uuid=\n" "machine.acpi=on\n" "machine.dump-guest-core=on\n"
	       "machine.mem-share=on\n" "kernel=/line/k\n" "initrd=/line/i\n"
	       "append=from the line\n" "smp=4\n" "mem=1073741824\n" "mem-path=/line/huge\n"
	       "serial=stdio\n" "log=\n" "daemonize=off\n" "pidfile=\n" "disable-seccomp=off\n"
	       "iothread.0=id=t1\n" "iothread.1=id=t2\n"
	       "drive.0=id=rootfs,file=/file/rootfs,readonly=off,direct=off,serial=,iops=0,"
	       "iothread=,device=\n"
	       "drive.1=id=data,file=/line/data,readonly=off,direct=off,serial=,iops=0,iothread=,"
	       "device=\n"
	       "slot.0=virtio-blk,drive=rootfs\n" "slot.1=virtio-blk,drive=data\n"
	       "net.0=id=net0,ifname=tap0,fds=,queues=1,mac=,iothread=,device=net0\n"
	       "net.1=id=net1,ifname=tap1,fds=,queues=1,mac=,iothread=,device=net1\n",
	       "-drive", "id=data,file=/line/data", "-kernel", "/line/k", "-smp", "4",
	       "-m", "1G", "-append", "from the line", "-initrd", "/line/i",
	       "-machine", "microvm,dump-guest-core=on", "-mem-path", "/line/huge",
	       "-serial", "stdio", "-iothread", "id=t2", "-netdev", "id=net1,netdev=tap1",
	       CONFIG);
}

/* The line's devices bind to the file's: a -device virtio-blk-device for a file's drive. */
Test(cli_json, line_device_for_file_drive)
{
	json_write("vm.json", "{" BOOT ", 'drive': [{'drive_id': 'rootfs', 'path_on_host': '/r'}]}");
	GOLDEN(BASE_CONFIG("/k")
	       "drive.0=id=rootfs,file=/r,readonly=off,direct=off,serial=,iops=0,iothread=,"
	       "device=blk0\n"
	       "slot.0=virtio-blk,drive=rootfs\n",
	       CONFIG, "-device", "virtio-blk-device,drive=rootfs,id=blk0");
}

/* An id both give is the usual error of the line's option. */
Test(cli_json, line_reuses_file_id)
{
	json_write("vm.json", "{" BOOT ", 'drive': [{'drive_id': 'rootfs', 'path_on_host': '/r'}], "
		   "'net': [{'iface_id': 'net0', 'host_dev_name': 'tap0'}], "
		   "'iothread': [{'id': 't1'}], 'vsock': {'vsock_id': 'v', 'guest_cid': 3}}");
	ERR("-drive: id 'rootfs' is used by another drive", CONFIG, "-drive", "id=rootfs,file=/x");
	ERR("-netdev: id 'net0' is used by another netdev", CONFIG, "-netdev", "id=net0,netdev=tap1");
	ERR("-iothread: id 't1' is used by another iothread", CONFIG, "-iothread", "id=t1");
	ERR("-device: at most 1 vsock device", CONFIG, "-device", "vsock,id=w,guest-cid=5");
	json_write("vm.json", "{" BOOT ", 'net': [{'iface_id': 'net0', 'host_dev_name': 'tap0'}]}");
	ERR("-device: id 'net0' is used by another device", CONFIG,
	    "-device", "vsock,id=net0,guest-cid=5");
}

/* check_config runs after both: the kernel may come from either, but from one. */
Test(cli_json, kernel_from_either)
{
	JSON_ERR("{'machine-config': {'vcpu_count': 2}}",
		 "-kernel: a kernel image is required");
	json_write("vm.json", "{'net': [{'iface_id': 'n', 'host_dev_name': 'tap0'}]}");
	ERR("-device: netdev 'n' is used by more than one device", CONFIG, "-kernel", "/k",
	    "-device", "virtio-net-device,netdev=n");
}

/* -help and -version answer whatever the file holds (it is not read). */
Test(cli_json, help_skips_file)
{
	struct run r;

	run_args(&r, "-config", "missing.json", "-version", NULL);
	cr_expect_eq(r.res, CLI_EXIT_OK, "%s", r.err);
	run_free(&r);
}

/* ---- errors: the file ---- */

Test(cli_json, file_errors)
{
	static char big[(1 << 20) + 1];

	ERR("-config missing.json: cannot open: No such file or directory", "-config", "missing.json");
	ERR("-config .: cannot read: Is a directory", "-config", ".");
	json_write("empty.json", "");
	ERR("-config empty.json: the file is empty", "-config", "empty.json");
	memset(big, ' ', sizeof(big));
	memcpy(big, "{}", 2);
	json_write_raw("big.json", big, sizeof(big));
	ERR("-config big.json: larger than 1048576 bytes", "-config", "big.json", "-kernel", "/k");
	/* exactly the cap is read */
	json_write_raw("big.json", big, sizeof(big) - 1);
	GOLDEN(BASE_CONFIG("/k"), "-config", "big.json", "-kernel", "/k");
	ERR("-config: missing argument", "-kernel", "/k", "-config");
}

Test(cli_json, config_twice)
{
	json_write("a.json", "{" BOOT "}");
	json_write("b.json", "{" BOOT "}");
	ERR("-config: given more than once", "-config", "a.json", "-config", "b.json");
	ERR("-config: given more than once", "-config", "a.json", "-smp", "2", "-config", "a.json");
}

Test(cli_json, invalid_json)
{
	JSON_ERR("{'boot-source': {'kernel_image_path': '/k'}",
		 "-config vm.json: invalid JSON: premature EOF");
	JSON_ERR("{'boot-source': }",
		 "-config vm.json: invalid JSON: unallowed token at this point in JSON text");
	JSON_ERR("{} {}",
		 "-config vm.json: invalid JSON: trailing garbage");
	JSON_ERR("{'serial': {'stdio': tru}}",
		 "-config vm.json: invalid JSON: lexical error: invalid string in json text.");
	JSON_ERR(" \n\t",
		 "-config vm.json: invalid JSON: premature EOF");
	json_write_raw("vm.json", "{\"a\xff\": 1}", 8);
	ERR("-config vm.json: invalid JSON: lexical error: invalid bytes in UTF8 string.", CONFIG);
}

/* What yajl is never given: NULs, comments, deep nesting. */
Test(cli_json, refused_before_yajl)
{
	json_write_raw("vm.json", "{}\0{}", 5);
	ERR("-config vm.json: a NUL byte at offset 2", CONFIG);
	JSON_ERR("{'boot-source': {'kernel_image_path': '/k\\u0000/x'}}",
		 "-config vm.json: \\u0000 at offset 41: strings may not hold NUL characters");
	JSON_ERR("{" BOOT "} // a comment",
		 "-config vm.json: '/' at offset 45: comments are not JSON");
	JSON_ERR("{'a': [[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]}",
		 "-config vm.json: nested deeper than 16 levels");
	/* brackets and escapes inside strings are not structure */
	json_write("vm.json", "{'boot-source': {'kernel_image_path': '/[[[[[[[[[[[[[[[[[\\'//\\\\'}}");
	GOLDEN(BASE_CONFIG("/[[[[[[[[[[[[[[[[[\"//\\"), CONFIG);
}

/* ---- errors: keys ---- */

Test(cli_json, unknown_keys)
{
	JSON_ERR("{" BOOT ", 'machine': {}}",
		 "-config vm.json: machine: unknown key");
	JSON_ERR("{'boot-source': {'kernel_image_path': '/k', 'kernel': '/k'}}",
		 "-config vm.json: boot-source.kernel: unknown key");
	JSON_ERR("{" BOOT ", 'machine-config': {'name': 'abc'}}",
		 "-config vm.json: machine-config.name: unknown key");
	JSON_ERR("{" BOOT ", 'drive': [{'drive_id': 'a', 'path_on_host': '/a'}, "
		   "{'drive_id': 'b', 'path_on_host': '/b', 'readonly': true}]}",
		 "-config vm.json: drive[1].readonly: unknown key");
	JSON_ERR("{" BOOT ", 'net': [{'iface_id': 'n', 'host_dev_name': 't', "
		   "'queues': 2}]}",
		 "-config vm.json: net[0].queues: unknown key");
	JSON_ERR("{" BOOT ", 'vsock': {'vsock_id': 'v', 'guest_cid': 3, "
		   "'uds_path': '/s'}}",
		 "-config vm.json: vsock.uds_path: unknown key");
	JSON_ERR("{" BOOT ", 'serial': {'stdout': true}}",
		 "-config vm.json: serial.stdout: unknown key");
	JSON_ERR("{" BOOT ", 'iothread': [{'name': 't'}]}",
		 "-config vm.json: iothread[0].name: unknown key");
}

Test(cli_json, duplicate_keys)
{
	JSON_ERR("{" BOOT ", " BOOT "}",
		 "-config vm.json: boot-source: given more than once");
	JSON_ERR("{" BOOT ", 'machine-config': {'vcpu_count': 1, 'vcpu_count': 2}}",
		 "-config vm.json: machine-config.vcpu_count: given more than once");
	JSON_ERR("{" BOOT ", 'drive': [{'drive_id': 'a', 'path_on_host': '/a', "
		   "'drive_id': 'b'}]}",
		 "-config vm.json: drive[0].drive_id: given more than once");
}

Test(cli_json, not_supported_yet)
{
	JSON_ERR("{" BOOT ", 'balloon': {'deflate_on_oom': true}}",
		 "-config vm.json: balloon: not supported yet");
}

Test(cli_json, missing_keys)
{
	json_write("vm.json", "{'boot-source': {'boot_args': 'quiet'}}");
	ERR("-config vm.json: boot-source.kernel_image_path: must be given", CONFIG, "-kernel", "/k");
	JSON_ERR("{" BOOT ", 'drive': [{'path_on_host': '/a'}]}",
		 "-config vm.json: drive[0].drive_id: must be given");
	JSON_ERR("{" BOOT ", 'drive': [{'drive_id': 'a'}]}",
		 "-config vm.json: drive[0].path_on_host: must be given");
	JSON_ERR("{" BOOT ", 'net': [{'host_dev_name': 'tap0'}]}",
		 "-config vm.json: net[0].iface_id: must be given");
	JSON_ERR("{" BOOT ", 'net': [{'iface_id': 'n'}]}",
		 "-config vm.json: net[0].host_dev_name: must be given");
	JSON_ERR("{" BOOT ", 'vsock': {'guest_cid': 3}}",
		 "-config vm.json: vsock.vsock_id: must be given");
	JSON_ERR("{" BOOT ", 'vsock': {'vsock_id': 'v'}}",
		 "-config vm.json: vsock.guest_cid: must be given");
	JSON_ERR("{" BOOT ", 'iothread': [{}]}",
		 "-config vm.json: iothread[0].id: must be given");
}

/* ---- errors: types ---- */

Test(cli_json, wrong_types)
{
	JSON_ERR("[]",
		 "-config vm.json: must be a JSON object");
	JSON_ERR("{'boot-source': ['/k']}",
		 "-config vm.json: boot-source: must be an object");
	JSON_ERR("{" BOOT ", 'drive': {'drive_id': 'a', 'path_on_host': '/a'}}",
		 "-config vm.json: drive: must be an array");
	JSON_ERR("{" BOOT ", 'iothread': ['t1']}",
		 "-config vm.json: iothread[0]: must be an object");
	JSON_ERR("{'boot-source': {'kernel_image_path': 7}}",
		 "-config vm.json: boot-source.kernel_image_path: must be a string");
	JSON_ERR("{" BOOT ", 'machine-config': {'vcpu_count': '4'}}",
		 "-config vm.json: machine-config.vcpu_count: must be a number");
	JSON_ERR("{" BOOT ", 'machine-config': {'mem-share': 'on'}}",
		 "-config vm.json: machine-config.mem-share: must be true or false");
	JSON_ERR("{" BOOT ", 'drive': [{'drive_id': 'a', 'path_on_host': '/a', "
		   "'read_only': 1}]}",
		 "-config vm.json: drive[0].read_only: must be true or false");
	JSON_ERR("{" BOOT ", 'net': [{'iface_id': 'n', 'host_dev_name': null}]}",
		 "-config vm.json: net[0].host_dev_name: must be a string");
	JSON_ERR("{" BOOT ", 'vsock': {'vsock_id': 'v', 'guest_cid': 3.0}}",
		 "-config vm.json: vsock.guest_cid: must be a whole number");
	JSON_ERR("{" BOOT ", 'drive': [{'drive_id': 'a', 'path_on_host': '/a', "
		   "'iops': 1e3}]}",
		 "-config vm.json: drive[0].iops: must be a whole number");
	JSON_ERR("{" BOOT ", 'serial': {'stdio': 'true'}}",
		 "-config vm.json: serial.stdio: must be true or false");
}

/* ---- errors: values ---- */

Test(cli_json, ranges)
{
	JSON_ERR("{" BOOT ", 'machine-config': {'vcpu_count': 0}}",
		 "-config vm.json: machine-config.vcpu_count: must be 1-254");
	JSON_ERR("{" BOOT ", 'machine-config': {'vcpu_count': 255}}",
		 "-config vm.json: machine-config.vcpu_count: must be 1-254");
	JSON_ERR("{" BOOT ", 'machine-config': {'vcpu_count': -1}}",
		 "-config vm.json: machine-config.vcpu_count: must be 1-254");
	JSON_ERR("{" BOOT ", 'machine-config': {'mem_size': 267386880}}",
		 "-config vm.json: machine-config.mem_size: must be 268435456-549755813888 bytes "
		 "(256 MiB - 512 GiB)");
	JSON_ERR("{" BOOT ", 'machine-config': {'mem_size': 549756862464}}",
		 "-config vm.json: machine-config.mem_size: must be 268435456-549755813888 bytes "
		 "(256 MiB - 512 GiB)");
	JSON_ERR("{" BOOT ", 'machine-config': {'mem_size': 99999999999999999999999}}",
		 "-config vm.json: machine-config.mem_size: must be 268435456-549755813888 bytes "
		 "(256 MiB - 512 GiB)");
	JSON_ERR("{" BOOT ", 'machine-config': {'mem_size': 268435457}}",
		 "-config vm.json: machine-config.mem_size: must be a whole number of MiB (a multiple "
		 "of 1048576 bytes)");
	JSON_ERR("{" BOOT ", 'drive': [{'drive_id': 'a', 'path_on_host': '/a', "
		   "'iops': 1000001}]}",
		 "-config vm.json: drive[0].iops: must be 0-1000000");
	JSON_ERR("{" BOOT ", 'drive': [{'drive_id': 'a', 'path_on_host': '/a'}, "
		   "{'drive_id': 'b', 'path_on_host': '/b', 'iops': -1}]}",
		 "-config vm.json: drive[1].iops: must be 0-1000000");
	JSON_ERR("{" BOOT ", 'vsock': {'vsock_id': 'v', 'guest_cid': 2}}",
		 "-config vm.json: vsock.guest_cid: must be 3-4294967294");
	JSON_ERR("{" BOOT ", 'vsock': {'vsock_id': 'v', 'guest_cid': 4294967295}}",
		 "-config vm.json: vsock.guest_cid: must be 3-4294967294");
}

/* The string checks are the command line's, restated with the key's path. */
Test(cli_json, string_values)
{
	JSON_ERR("{" BOOT ", 'machine-config': {'type': 'pc'}}",
		 "-config vm.json: machine-config.type: unsupported machine type 'pc' (only 'microvm')");
	JSON_ERR("{" BOOT ", 'machine-config': {'mem_path': 'huge'}}",
		 "-config vm.json: machine-config.mem_path: 'huge' must be an absolute path");
	JSON_ERR("{'boot-source': {'kernel_image_path': ''}}",
		 "-config vm.json: boot-source.kernel_image_path: must not be empty");
	JSON_ERR("{" BOOT ", 'drive': [{'drive_id': 'a', 'path_on_host': ''}]}",
		 "-config vm.json: drive[0].path_on_host: must not be empty");
	JSON_ERR("{" BOOT ", 'drive': [{'drive_id': '1a', 'path_on_host': '/a'}]}",
		 "-config vm.json: drive[0].drive_id: '1a' must start with a letter");
	JSON_ERR("{" BOOT ", 'drive': [{'drive_id': 'a', 'path_on_host': '/a', "
		   "'serial_num': '012345678901234567890'}]}",
		 "-config vm.json: drive[0].serial_num: '012345678901234567890' is too long "
		 "(max 20 bytes)");
	JSON_ERR("{" BOOT ", 'drive': [{'drive_id': 'a', 'path_on_host': '/a', "
		   "'iothread': 'io,thread'}]}",
		 "-config vm.json: drive[0].iothread: 'io,thread' may only hold letters, digits, '-', "
		 "'.', '_'");
	JSON_ERR("{" BOOT ", 'net': [{'iface_id': 'n', 'host_dev_name': 'tap/0'}]}",
		 "-config vm.json: net[0].host_dev_name: 'tap/0' is not an interface name (1-15 "
		 "printable characters, no '/', ':', '%' or spaces)");
	JSON_ERR("{" BOOT ", 'net': [{'iface_id': 'n', 'host_dev_name': 't', "
		   "'mac': '01:00:5e:00:00:01'}]}",
		 "-config vm.json: net[0].mac: '01:00:5e:00:00:01' is a multicast address");
	JSON_ERR("{" BOOT ", 'vsock': {'vsock_id': 'v v', 'guest_cid': 3}}",
		 "-config vm.json: vsock.vsock_id: 'v v' may only hold letters, digits, '-', '.', '_'");
	JSON_ERR("{" BOOT ", 'iothread': [{'id': ''}]}",
		 "-config vm.json: iothread[0].id: '' must start with a letter");
}

/* Long strings: a path one past the field, and values too long for the -drive they make. */
Test(cli_json, long_values)
{
	static char path[4097], id[5001], json[16384];

	memset(path, 'p', sizeof(path) - 1);
	path[0] = '/';
	memset(id, 'a', sizeof(id) - 1);
	snprintf(json, sizeof(json), "{" BOOT ", 'drive': [{'drive_id': 'a', 'path_on_host': '%s'}]}",
		 path);
	JSON_ERR(json,
		 "-config vm.json: drive[0].path_on_host: too long (4096 characters, max 4095)");
	snprintf(json, sizeof(json), "{" BOOT ", 'drive': [{'drive_id': '%s', 'path_on_host': '/a', "
		 "'iothread': '%s', 'serial_num': '%s'}]}", id, id, id);
	JSON_ERR(json,
		 "-config vm.json: drive[0]: too long for -drive (at most 12287 characters)");
}

Test(cli_json, counts_and_ids)
{
	JSON_ERR("{" BOOT ", 'drive': ["
		   "{'drive_id': 'd0', 'path_on_host': '/0'}, {'drive_id': 'd1', 'path_on_host': '/1'}, "
		   "{'drive_id': 'd2', 'path_on_host': '/2'}, {'drive_id': 'd3', 'path_on_host': '/3'}, "
		   "{'drive_id': 'd4', 'path_on_host': '/4'}, {'drive_id': 'd5', 'path_on_host': '/5'}, "
		   "{'drive_id': 'd6', 'path_on_host': '/6'}]}",
		 "-config vm.json: drive[6]: at most 6 drives");
	JSON_ERR("{" BOOT ", 'net': [{'iface_id': 'a', 'host_dev_name': 't0'}, "
		   "{'iface_id': 'b', 'host_dev_name': 't1'}, {'iface_id': 'c', 'host_dev_name': 't2'}]}",
		 "-config vm.json: net[2]: at most 2 NICs");
	JSON_ERR("{" BOOT ", 'iothread': [{'id': 't0'}, {'id': 't1'}, {'id': 't2'}, "
		   "{'id': 't3'}, {'id': 't4'}, {'id': 't5'}, {'id': 't6'}, {'id': 't7'}, {'id': 't8'}]}",
		 "-config vm.json: iothread[8]: at most 8 iothreads");
	JSON_ERR("{" BOOT ", 'drive': [{'drive_id': 'a', 'path_on_host': '/a'}, "
		   "{'drive_id': 'a', 'path_on_host': '/b'}]}",
		 "-config vm.json: drive[1].drive_id: 'a' is used by another drive");
	JSON_ERR("{" BOOT ", 'net': [{'iface_id': 'a', 'host_dev_name': 't0'}, "
		   "{'iface_id': 'a', 'host_dev_name': 't1'}]}",
		 "-config vm.json: net[1].iface_id: 'a' is used by another netdev");
	JSON_ERR("{" BOOT ", 'iothread': [{'id': 't'}, {'id': 't'}]}",
		 "-config vm.json: iothread[1].id: 't' is used by another iothread");
	/* device ids are one namespace (QMP's device_del) */
	JSON_ERR("{" BOOT ", 'net': [{'iface_id': 'x', 'host_dev_name': 't0'}], "
		   "'vsock': {'vsock_id': 'x', 'guest_cid': 3}}",
		 "-config vm.json: vsock.vsock_id: 'x' is used by another device");
}

/* ---- -iothread on the command line ---- */

Test(cli_iothread, accepted)
{
	GOLDEN(BASE_CONFIG("/k") "iothread.0=id=iothread1\n" "iothread.1=id=io-2.x_y\n",
	       "-kernel", "/k", "-iothread", "id=iothread1", "-iothread", "id=io-2.x_y");
	GOLDEN(BASE_CONFIG("/k") "iothread.0=id=t\n"
	       "drive.0=id=r,file=/r,readonly=off,direct=off,serial=,iops=0,iothread=t,device=\n"
	       "slot.0=virtio-blk,drive=r\n",
	       "-kernel", "/k", "-iothread", "id=t", "-drive", "id=r,file=/r,iothread=t");
}

Test(cli_iothread, refused)
{
	ERR("-iothread: id '1t' must start with a letter", "-kernel", "/k", "-iothread", "id=1t");
	ERR("-iothread: empty property name", "-kernel", "/k", "-iothread", "");
	ERR("-iothread: unknown property 't'", "-kernel", "/k", "-iothread", "t");
	ERR("-iothread: unknown property 'poll-max-ns'", "-kernel", "/k",
	    "-iothread", "id=t,poll-max-ns=10");
	ERR("-iothread: id 't' is used by another iothread", "-kernel", "/k",
	    "-iothread", "id=t", "-iothread", "id=t");
	ERR("-iothread: at most 8 iothreads", "-kernel", "/k", "-iothread", "id=a",
	    "-iothread", "id=b", "-iothread", "id=c", "-iothread", "id=d", "-iothread", "id=e",
	    "-iothread", "id=f", "-iothread", "id=g", "-iothread", "id=h", "-iothread", "id=i");
}
