/* Golden tests of the vsock device (issue #11): cli_print_config's vsock line for each accepted
 * form of -device vsock / vhost-vsock-device / vhost-user-vsock-device, and the exact one-line
 * error for each refusal. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_harness.h"

#define K "-kernel", "/k"

/* ---- accepted forms ---- */

/* The older manual's form with bulkhead's uds-path; the CID's whole range. */
Test(cli_vsock, manual_form)
{
	GOLDEN(BASE_CONFIG("/k") "vsock=id=vsock0,guest-cid=3,uds-path=/run/vm/v.sock,vhostfd=-1\n",
	       K, "-device", "vsock,id=vsock0,guest-cid=3,uds-path=/run/vm/v.sock");
	GOLDEN(BASE_CONFIG("/k") "vsock=id=v,guest-cid=4294967294,uds-path=v.sock,vhostfd=-1\n",
	       K, "-device", "driver=vsock,id=v,guest-cid=4294967294,uds-path=v.sock");
}

/* The manual's form as it is: the host's vhost-vsock (kernel mode). */
Test(cli_vsock, kernel_mode)
{
	GOLDEN(BASE_CONFIG("/k") "vsock=id=vsock_id,guest-cid=3,uds-path=,vhostfd=-1\n",
	       K, "-device", "vsock,id=vsock_id,guest-cid=3");
}

/* Kata's spelling, with its open /dev/vhost-vsock; or with bulkhead's uds-path. */
Test(cli_vsock, kata_driver_name)
{
	GOLDEN(BASE_CONFIG("/k") "vsock=id=vsock-123,guest-cid=1234,uds-path=,vhostfd=7\n",
	       K, "-device", "vhost-vsock-device,id=vsock-123,guest-cid=1234,vhostfd=7");
	GOLDEN(BASE_CONFIG("/k") "vsock=id=vsock-123,guest-cid=1234,uds-path=/tmp/kata/kata.hvsock,"
	       "vhostfd=-1\n", K, "-device", "vhost-vsock-device,id=vsock-123,guest-cid=1234,"
	       "uds-path=/tmp/kata/kata.hvsock");
}

/* An external backend: its chardev must exist and be a client socket; it gives the CID. */
Test(cli_vsock, vhost_user_backend)
{
	GOLDEN(BASE_CONFIG("/k") "chardev.0=id=c,path=/s,server=off,nowait=off\n"
	       "vsock=vhost-user,chardev=c,id=vs\n",
	       K, "-chardev", "socket,id=c,path=/s", "-device", "vhost-user-vsock-device,chardev=c,id=vs");
}

Test(cli_vsock, typed_fields)
{
	struct run r;

	run_args(&r, K, "-device", "vsock,id=v,guest-cid=77,uds-path=/a/b", NULL);
	cr_assert_eq(r.res, CLI_OK, "%s", r.err);
	cr_expect(r.cfg.vsock.present);
	cr_expect_eq(r.cfg.vsock.guest_cid, 77);
	cr_expect_str_eq(r.cfg.vsock.uds_path, "/a/b");
	cr_expect_eq(r.cfg.vsock.vhostfd, -1);
	cr_expect_str_eq(r.cfg.vsock.chardev, "");
	run_free(&r);
}

/* ---- refusals ---- */

Test(cli_vsock, cid_range)
{
	ERR("-device: guest-cid '2' is out of range (3-4294967294)",
	    K, "-device", "vsock,id=v,guest-cid=2,uds-path=/s");
	ERR("-device: guest-cid '4294967295' is out of range (3-4294967294)",
	    K, "-device", "vsock,id=v,guest-cid=4294967295,uds-path=/s");
	ERR("-device: property 'guest-cid' is required", K, "-device", "vsock,id=v,uds-path=/s");
}

Test(cli_vsock, id_and_count)
{
	ERR("-device: property 'id' is required", K, "-device", "vsock,guest-cid=3,uds-path=/s");
	ERR("-device: at most 1 vsock device", K, "-device", "vsock,id=a,guest-cid=3,uds-path=/s",
	    "-device", "vsock,id=b,guest-cid=4,uds-path=/t");
	ERR("-device: id 'd' is used by another device", K, "-drive", "id=r,file=/r",
	    "-device", "virtio-blk-device,drive=r,id=d", "-device", "vsock,id=d,guest-cid=3,uds-path=/s");
}

Test(cli_vsock, modes_exclusive)
{
	ERR("-device: vhostfd= (the kernel's vhost-vsock) and uds-path= (unix sockets) exclude each "
	    "other", K, "-device", "vhost-vsock-device,id=v,guest-cid=3,vhostfd=5,uds-path=/s");
	ERR("-device: vhostfd '2' is out of range (3-65535)",
	    K, "-device", "vhost-vsock-device,id=v,guest-cid=3,vhostfd=2");
}

Test(cli_vsock, uds_path)
{
	ERR("-device: uds-path is longer than 96 characters (uds-path_<port> must fit a unix socket "
	    "address)", K, "-device", "vsock,id=v,guest-cid=3,uds-path=/"
	    "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456");
	ERR("-device: uds-path '/tmp/' does not name a socket in a directory",
	    K, "-device", "vsock,id=v,guest-cid=3,uds-path=/tmp/");
	ERR("-device: uds-path '/tmp/..' does not name a socket in a directory",
	    K, "-device", "vsock,id=v,guest-cid=3,uds-path=/tmp/..");
	ERR("-device: unknown property 'path'", K, "-device", "vsock,id=v,guest-cid=3,path=/s");
}

Test(cli_vsock, vhost_user_refusals)
{
	ERR("-device: vhost-user-vsock-device needs chardev=", K, "-device", "vhost-user-vsock-device");
	ERR("-device: chardev 'c' is not defined", K, "-device", "vhost-user-vsock-device,chardev=c");
	ERR("-device: chardev 'c' is used by more than one device", K,
	    "-chardev", "socket,id=c,path=/s", "-device", "vhost-user-vsock-device,chardev=c",
	    "-device", "vhost-user-blk-device,chardev=c");
	ERR("-device: unknown property 'guest-cid'", K, "-chardev", "socket,id=c,path=/s",
	    "-device", "vhost-user-vsock-device,chardev=c,guest-cid=3");
}
