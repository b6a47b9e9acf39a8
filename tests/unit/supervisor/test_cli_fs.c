/* Golden tests of the virtio-fs device (issue #12): cli_print_config's chardev and fs lines for
 * each accepted form of -chardev socket + -device vhost-user-fs-device, and the exact one-line
 * error for each refusal. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_harness.h"

#define K "-kernel", "/k"

/* ---- accepted forms ---- */

/* QEMU's form: a client chardev to virtiofsd's socket. */
Test(cli_fs, qemu_form)
{
	GOLDEN(BASE_CONFIG("/k") "chardev.0=id=char0,path=/run/vfs.sock,server=off,nowait=off\n"
	       "fs=id=fs0,chardev=char0,tag=myfs,num-request-queues=1\n", K,
	       "-chardev", "socket,id=char0,path=/run/vfs.sock",
	       "-device", "vhost-user-fs-device,id=fs0,chardev=char0,tag=myfs");
}

/* Kata's: server,nowait on the chardev all the same (bulkhead connects to virtiofsd), the
 * device first; the longest tag (36 bytes, no NUL in config space) and the most queues. */
Test(cli_fs, kata_form_and_limits)
{
	GOLDEN(BASE_CONFIG("/k") "chardev.0=id=virtio_fs,path=/run/kata/vhost-fs.sock,server=on,"
	       "nowait=on\nfs=id=extra-fs,chardev=virtio_fs,tag=kataShared,num-request-queues=1\n",
	       K, "-device", "vhost-user-fs-device,id=extra-fs,chardev=virtio_fs,tag=kataShared",
	       "-chardev", "socket,id=virtio_fs,path=/run/kata/vhost-fs.sock,server,nowait");
	GOLDEN(BASE_CONFIG("/k") "chardev.0=id=c,path=/s,server=off,nowait=off\n"
	       "fs=id=,chardev=c,tag=abcdefghijklmnopqrstuvwxyz0123456789,num-request-queues=8\n",
	       K, "-chardev", "socket,id=c,path=/s", "-device",
	       "driver=vhost-user-fs-device,chardev=c,tag=abcdefghijklmnopqrstuvwxyz0123456789,"
	       "num-request-queues=8");
}

Test(cli_fs, typed_fields)
{
	struct run r;

	run_args(&r, K, "-chardev", "socket,id=c,path=/s", "-device",
		 "vhost-user-fs-device,chardev=c,tag=t,num-request-queues=3", NULL);
	cr_assert_eq(r.res, CLI_OK, "%s", r.err);
	cr_expect(r.cfg.fs.present);
	cr_expect_str_eq(r.cfg.fs.tag, "t");
	cr_expect_str_eq(r.cfg.fs.chardev, "c");
	cr_expect_eq(r.cfg.fs.request_queues, 3);
	run_free(&r);
}

/* ---- refusals ---- */

Test(cli_fs, refusals)
{
	ERR("-device: vhost-user-fs-device needs chardev= (the socket virtiofsd listens on)", K,
	    "-device", "vhost-user-fs-device,tag=t");
	ERR("-device: vhost-user-fs-device needs tag= (what the guest mounts)", K,
	    "-chardev", "socket,id=c,path=/s", "-device", "vhost-user-fs-device,chardev=c");
	ERR("-device: tag 'abcdefghijklmnopqrstuvwxyz0123456789x' is too long (max 36 bytes)", K,
	    "-chardev", "socket,id=c,path=/s", "-device",
	    "vhost-user-fs-device,chardev=c,tag=abcdefghijklmnopqrstuvwxyz0123456789x");
	ERR("-device: tag may only hold printable characters", K, "-chardev",
	    "socket,id=c,path=/s", "-device", "vhost-user-fs-device,chardev=c,tag=a\tb");
	ERR("-device: property 'tag' needs a value", K, "-chardev", "socket,id=c,path=/s",
	    "-device", "vhost-user-fs-device,chardev=c,tag");
	ERR("-device: num-request-queues '0' is out of range (1-8)", K, "-chardev",
	    "socket,id=c,path=/s", "-device", "vhost-user-fs-device,chardev=c,tag=t,"
	    "num-request-queues=0");
	ERR("-device: num-request-queues '9' is out of range (1-8)", K, "-chardev",
	    "socket,id=c,path=/s", "-device", "vhost-user-fs-device,chardev=c,tag=t,"
	    "num-request-queues=9");
	ERR("-device: unknown property 'cache-size'", K, "-chardev", "socket,id=c,path=/s",
	    "-device", "vhost-user-fs-device,chardev=c,tag=t,cache-size=2G");
	ERR("-device: chardev 'nope' is not defined", K, "-chardev", "socket,id=c,path=/s",
	    "-device", "vhost-user-fs-device,chardev=nope,tag=t");
	ERR("-device: at most 1 vhost-user-fs-device", K, "-chardev", "socket,id=c,path=/s",
	    "-chardev", "socket,id=d,path=/d", "-device", "vhost-user-fs-device,chardev=c,tag=t",
	    "-device", "vhost-user-fs-device,chardev=d,tag=u");
	ERR("-device: chardev 'c' is used by more than one device", K, "-chardev",
	    "socket,id=c,path=/s", "-device", "vhost-user-fs-device,chardev=c,tag=t",
	    "-device", "vhost-user-vsock-device,chardev=c");
	ERR("-device: id 'f s' may only hold letters, digits, '-', '.', '_'", K, "-chardev", "socket,id=c,path=/s",
	    "-device", "vhost-user-fs-device,id=f s,chardev=c,tag=t");
}
