/* Golden tests of the entropy device (issue #12): cli_print_config's rng line for each accepted
 * form of -object rng-random + -device virtio-rng-device, and the exact one-line error for each
 * refusal. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_harness.h"

#define K "-kernel", "/k"

/* ---- accepted forms ---- */

/* Kata's line (DESIGN §10): the object before the device, no rate limit. */
Test(cli_rng, kata_form)
{
	GOLDEN(BASE_CONFIG("/k") "rng=id=virtio-rng0,rng=objrng0,filename=/dev/urandom,"
	       "max-bytes=0,period=1000\n", K, "-object", "rng-random,id=objrng0,filename=/dev/urandom",
	       "-device", "virtio-rng-device,rng=objrng0,id=virtio-rng0");
}

/* The manual's rate (1234 bytes per 1000 ms); the object may come after the device; the
 * filename defaults to /dev/urandom as in QEMU; unused objects are allowed. */
Test(cli_rng, rate_and_order)
{
	GOLDEN(BASE_CONFIG("/k") "rng=id=,rng=r1,filename=/dev/random,max-bytes=1234,period=1000\n",
	       K, "-device", "driver=virtio-rng-device,rng=r1,max-bytes=1234,period=1000",
	       "-object", "rng-random,id=r0", "-object", "qom-type=rng-random,id=r1,filename=/dev/random");
	GOLDEN(BASE_CONFIG("/k") "rng=id=,rng=r,filename=/dev/urandom,max-bytes=2147483648,"
	       "period=1000000\n", K, "-object", "rng-random,id=r",
	       "-device", "virtio-rng-device,rng=r,max-bytes=2147483648,period=1000000");
}

Test(cli_rng, typed_fields)
{
	struct run r;

	run_args(&r, K, "-object", "rng-random,id=o,filename=/dev/hwrng", "-device",
		 "virtio-rng-device,rng=o,id=d,period=1", NULL);
	cr_assert_eq(r.res, CLI_OK, "%s", r.err);
	cr_expect(r.cfg.rng.present);
	cr_expect_str_eq(r.cfg.rng.filename, "/dev/hwrng");
	cr_expect_str_eq(r.cfg.rng.id, "d");
	cr_expect_eq(r.cfg.rng.max_bytes, 0);
	cr_expect_eq(r.cfg.rng.period_ms, 1);
	run_free(&r);
	run_args(&r, K, "-object", "rng-random,id=o", NULL);
	cr_assert_eq(r.res, CLI_OK, "%s", r.err);
	cr_expect(!r.cfg.rng.present, "an object alone makes no device");
	run_free(&r);
}

/* ---- refusals ---- */

Test(cli_rng, object_refusals)
{
	ERR("-object: type 'iothread' is not supported (rng-random)", K, "-object", "iothread,id=t");
	ERR("-object: a type is required (rng-random)", K, "-object", "id=t");
	ERR("-object: property 'id' is required", K, "-object", "rng-random,filename=/dev/random");
	ERR("-object: filename must be an absolute path", K, "-object",
	    "rng-random,id=r,filename=dev/random");
	ERR("-object: property 'filename' needs a value", K, "-object", "rng-random,id=r,filename");
	ERR("-object: duplicate object id 'r'", K, "-object", "rng-random,id=r",
	    "-object", "rng-random,id=r");
	ERR("-object: at most 4 rng-random objects", K, "-object", "rng-random,id=a",
	    "-object", "rng-random,id=b", "-object", "rng-random,id=c", "-object", "rng-random,id=d",
	    "-object", "rng-random,id=e");
	ERR("-object: unknown property 'size'", K, "-object", "rng-random,id=r,size=1");
}

Test(cli_rng, device_refusals)
{
	ERR("-device: virtio-rng-device needs rng= (an -object rng-random id)", K,
	    "-device", "virtio-rng-device,id=r");
	ERR("-device virtio-rng-device: rng 'nope' is no -object rng-random", K,
	    "-object", "rng-random,id=r", "-device", "virtio-rng-device,rng=nope");
	ERR("-device: at most 1 virtio-rng device", K, "-object", "rng-random,id=r",
	    "-device", "virtio-rng-device,rng=r", "-device", "virtio-rng-device,rng=r");
	ERR("-device: max-bytes '0' is out of range (1-2147483648)", K, "-object", "rng-random,id=r",
	    "-device", "virtio-rng-device,rng=r,max-bytes=0");
	ERR("-device: max-bytes '2147483649' is out of range (1-2147483648)", K,
	    "-object", "rng-random,id=r", "-device", "virtio-rng-device,rng=r,max-bytes=2147483649");
	ERR("-device: period '0' is out of range (1-1000000)", K, "-object", "rng-random,id=r",
	    "-device", "virtio-rng-device,rng=r,period=0");
	ERR("-device: period '1000001' is out of range (1-1000000)", K, "-object", "rng-random,id=r",
	    "-device", "virtio-rng-device,rng=r,period=1000001");
	ERR("-device: id 'd' is used by another device", K, "-object", "rng-random,id=r",
	    "-device", "vsock,id=d,guest-cid=3,uds-path=/s", "-device", "virtio-rng-device,rng=r,id=d");
	ERR("-device: unknown property 'filename'", K, "-device",
	    "virtio-rng-device,rng=r,filename=/dev/random");
}
