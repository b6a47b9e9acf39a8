/* Golden tests of the console (issue #12): cli_print_config's console line for each accepted
 * form of -device virtio-serial-device + virtconsole on a server,nowait -chardev socket, the
 * JSON config's console, and the exact one-line error for each refusal. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_harness.h"

#define K "-kernel", "/k"
#define CHARDEV "chardev.0=id=charconsole0,path=/run/c.sock,server=on,nowait=on\n"

/* ---- accepted forms ---- */

/* Kata's line (DESIGN §10), in its order: bus, chardev, port. */
Test(cli_console, kata_form)
{
	GOLDEN(BASE_CONFIG("/k") CHARDEV
	       "console=bus=virtio-serial0,id=virtio-console0,chardev=charconsole0,path=/run/c.sock\n",
	       K, "-device", "virtio-serial-device,id=virtio-serial0",
	       "-chardev", "socket,id=charconsole0,path=/run/c.sock,server,nowait",
	       "-device", "virtconsole,chardev=charconsole0,id=virtio-console0,nr=0");
}

/* Any order; ids are optional. */
Test(cli_console, order_and_ids)
{
	GOLDEN(BASE_CONFIG("/k") CHARDEV "console=bus=,id=,chardev=charconsole0,path=/run/c.sock\n",
	       K, "-device", "virtconsole,chardev=charconsole0",
	       "-device", "driver=virtio-serial-device",
	       "-chardev", "socket,id=charconsole0,path=/run/c.sock,server=on,nowait=on");
}

/* ---- refusals ---- */

Test(cli_console, refusals)
{
	ERR("-device: virtconsole needs chardev=", K, "-device", "virtio-serial-device",
	    "-device", "virtconsole,id=c");
	ERR("-device: chardev 'c' is not defined", K, "-device", "virtio-serial-device",
	    "-device", "virtconsole,chardev=c");
	ERR("-device: chardev 'c' must be server,nowait for virtconsole (bulkhead listens there; "
	    "the VM does not wait for a client)", K, "-chardev", "socket,id=c,path=/s",
	    "-device", "virtio-serial-device", "-device", "virtconsole,chardev=c");
	ERR("-device: chardev 'c' must be server,nowait for virtconsole (bulkhead listens there; "
	    "the VM does not wait for a client)", K, "-chardev", "socket,id=c,path=/s,server",
	    "-device", "virtio-serial-device", "-device", "virtconsole,chardev=c");
	ERR("-device: chardev 'c' is used by more than one device", K,
	    "-chardev", "socket,id=c,path=/s", "-device", "virtio-serial-device",
	    "-device", "virtconsole,chardev=c", "-device", "vhost-user-blk-device,chardev=c");
	ERR("-device: nr must be 0: the console is the one port there is", K,
	    "-device", "virtconsole,chardev=c,nr=1");
	ERR("-device: at most 1 virtconsole", K, "-device", "virtconsole,chardev=c",
	    "-device", "virtconsole,chardev=d");
	ERR("-device: at most 1 virtio-serial-device", K, "-device", "virtio-serial-device",
	    "-device", "virtio-serial-device");
	ERR("-device virtconsole: needs a -device virtio-serial-device", K,
	    "-chardev", "socket,id=c,path=/s,server,nowait", "-device", "virtconsole,chardev=c");
	ERR("-device virtio-serial-device: no virtconsole on it (bulkhead serves the console port "
	    "only)", K, "-device", "virtio-serial-device");
	ERR("-device: id 'x' is used by another device", K, "-device", "virtio-serial-device,id=x",
	    "-device", "virtconsole,chardev=c,id=x");
	ERR("-device: unknown property 'name'", K, "-device", "virtconsole,chardev=c,name=org.x");
}

/* ---- -config ---- */

Test(cli_console, json_object_and_list, .init = json_dir_enter, .fini = json_dir_leave)
{
	json_write("vm.json", "{'boot-source': {'kernel_image_path': '/k'}, 'console': "
		   "{'console_id': 'charconsole0', 'socket_path': '/run/c.sock'}}");
	GOLDEN(BASE_CONFIG("/k") CHARDEV "console=bus=,id=,chardev=charconsole0,path=/run/c.sock\n",
	       "-config", "vm.json");
	json_write("vm.json", "{'boot-source': {'kernel_image_path': '/k'}, 'console': "
		   "[{'console_id': 'charconsole0', 'socket_path': '/run/c.sock'}]}");
	GOLDEN(BASE_CONFIG("/k") CHARDEV "console=bus=,id=,chardev=charconsole0,path=/run/c.sock\n",
	       "-config", "vm.json");
	json_write("vm.json", "{'boot-source': {'kernel_image_path': '/k'}, 'console': "
		   "{'console_id': 'c'}}");
	ERR("-config vm.json: console.socket_path: must be given", "-config", "vm.json");
	json_write("vm.json", "{'boot-source': {'kernel_image_path': '/k'}, 'console': "
		   "[{'console_id': 'a', 'socket_path': '/a'}, {'console_id': 'b', "
		   "'socket_path': '/b'}]}");
	ERR("-config vm.json: console[1]: at most 1 virtio-serial-device", "-config", "vm.json");
}

/* Kata Containers' whole StratoVirt line (DESIGN §10), every device of it: accepted as is. */
Test(cli_console, kata_whole_line)
{
	struct run r;

	run_args(&r, "-name", "sandbox-0123", "-uuid", "4f1e2d3c-abcd-4ef0-9a8b-0123456789ab",
		 "-smp", "2", "-m", "2048", "-kernel", "/usr/share/kata-containers/vmlinux.container",
		 "-append", "tsc=reliable no_timer_check pci=off acpi=off quiet",
		 "-qmp", "unix:/run/vc/vm/sandbox-0123/qmp.sock,server,nowait", "-D",
		 "-disable-seccomp", "-machine", "type=microvm,dump-guest-core=off,mem-share=on",
		 "-initrd", "/usr/share/kata-containers/kata-containers-initrd.img",
		 "-object", "rng-random,id=objrng0,filename=/dev/urandom",
		 "-device", "virtio-rng-device,rng=objrng0,id=virtio-rng0",
		 "-drive", "id=rootfs,file=/run/kata/rootfs.img,readonly=on,direct=off",
		 "-device", "virtio-blk-device,drive=rootfs,id=virtio-blk0",
		 "-netdev", "tap,id=eth0,fds=3:4",
		 "-device", "virtio-net-device,netdev=eth0,id=eth0,mac=02:42:ac:11:00:02",
		 "-device", "vhost-vsock-device,id=vsock-1234,guest-cid=1234,vhostfd=5",
		 "-device", "virtio-serial-device,id=virtio-serial0",
		 "-chardev", "socket,id=charconsole0,path=/run/vc/vm/sandbox-0123/console.sock,"
		 "server,nowait",
		 "-device", "virtconsole,chardev=charconsole0,id=virtio-console0,nr=0", NULL);
	cr_assert_eq(r.res, CLI_OK, "%s", r.err);
	cr_expect(r.cfg.rng.present && r.cfg.console.present && r.cfg.vsock.present);
	cr_expect_eq(r.cfg.ndisks, 1);
	cr_expect_eq(r.cfg.nnets, 1);
	cr_expect_eq(r.cfg.nets[0].queues, 2);
	cr_expect_eq(r.cfg.vsock.vhostfd, 5);
	cr_expect_str_eq(r.cfg.console.path, "/run/vc/vm/sandbox-0123/console.sock");
	cr_expect_str_eq(r.cfg.rng.filename, "/dev/urandom");
	run_free(&r);
}
