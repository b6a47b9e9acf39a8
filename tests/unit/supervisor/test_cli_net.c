/* Golden tests of the network options (issue #10): cli_print_config's net.N lines for each
 * accepted form of -netdev / -device virtio-net-device, and the exact one-line error for each
 * refusal. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_harness.h"

#define K "-kernel", "/k"
#define NIC(netdev) "-device", "virtio-net-device,netdev=" netdev

/* ---- accepted forms ---- */

/* What Kata's StratoVirt driver emits: inherited tap fds, one per queue pair. */
Test(cli_net, kata_fds)
{
	GOLDEN(BASE_CONFIG("/k")
	       "net.0=id=net0,ifname=,fds=3:4,queues=2,mac=52:54:00:12:34:56,iothread=,"
	       "device=virtio-net0\n",
	       K, "-netdev", "tap,id=net0,fds=3:4",
	       "-device", "virtio-net-device,netdev=net0,id=virtio-net0,mac=52:54:00:12:34:56,mq=on");
}

/* A named tap; the -device may come first; mq=on without queues= means two pairs; the NIC
 * lines follow the disk lines; slot order is -netdev order. */
Test(cli_net, ifname_forward_reference_and_order)
{
	GOLDEN(BASE_CONFIG("/k")
	       "drive.0=id=root,file=/r,readonly=off,direct=off,serial=,iops=0,iothread=,device=\n"
	       "slot.0=virtio-blk,drive=root\n"
	       "net.0=id=a,ifname=tap0,fds=,queues=2,mac=02:ab:cd:ef:00:01,iothread=io1,device=nic-a\n"
	       "net.1=id=b,ifname=tap-b.1_,fds=,queues=4,mac=,iothread=,device=\n",
	       K, "-device", "driver=virtio-net-mmio,netdev=b",
	       "-device", "virtio-net-device,netdev=a,id=nic-a,mac=02:AB:cd:EF:00:01,mq,iothread=io1",
	       "-drive", "id=root,file=/r",
	       "-netdev", "tap,id=a,ifname=tap0,vhost=off",
	       "-netdev", "type=tap,id=b,ifname=tap-b.1_,queues=4");
}

/* The older manual's single option: a NIC by itself, its device id its netdev id. */
Test(cli_net, older_netdev_is_a_nic)
{
	GOLDEN(BASE_CONFIG("/k")
	       "net.0=id=net0,ifname=tap0,fds=,queues=1,mac=12:34:56:78:9a:bc,iothread=iothread1,"
	       "device=net0\n"
	       "net.1=id=net1,ifname=123456789012345,fds=,queues=1,mac=,iothread=,device=nic1\n",
	       K, "-netdev", "id=net0,netdev=tap0,mac=12:34:56:78:9A:BC,iothread=iothread1",
	       "-netdev", "tap,id=net1,ifname=123456789012345,queues=1",
	       "-device", "virtio-net-device,netdev=net1,id=nic1,mq=off");
}

/* queues= with fds= must agree with them; the largest fd list and fd number pass. */
Test(cli_net, fds_limits)
{
	GOLDEN(BASE_CONFIG("/k")
	       "net.0=id=n,ifname=,fds=3:4:5:6:7:8:9:65535,queues=8,mac=,iothread=,device=\n"
	       "net.1=id=m,ifname=,fds=10,queues=1,mac=,iothread=,device=\n",
	       K, "-netdev", "tap,id=n,fds=3:4:5:6:7:8:9:65535,queues=8", NIC("n"),
	       "-netdev", "tap,id=m,fds=10", "-device", "virtio-net-device,netdev=m,mq=off");
}

Test(cli_net, typed_fields)
{
	struct run r;

	run_args(&r, K, "-netdev", "tap,id=n,fds=7:3", NIC("n") ",mac=52:54:00:00:00:ff", NULL);
	cr_assert_eq(r.res, CLI_OK, "%s", r.err);
	cr_assert_eq(r.cfg.nnets, 1);
	cr_expect_eq(r.cfg.nets[0].nfds, 2);
	cr_expect_eq(r.cfg.nets[0].fds[0], 7);
	cr_expect_eq(r.cfg.nets[0].fds[1], 3);
	cr_expect_eq(r.cfg.nets[0].queues, 2);
	cr_expect(r.cfg.nets[0].has_mac && r.cfg.nets[0].has_device);
	cr_expect_eq(r.cfg.nets[0].mac[0], 0x52);
	cr_expect_eq(r.cfg.nets[0].mac[5], 0xff);
	run_free(&r);
}

/* ---- refusals ---- */

Test(cli_net_errors, mac)
{
	const char *bad[] = { "52:54:00:12:34", "52-54-00-12-34-56", "52:54:00:12:34:5g",
			      "52:54:00:12:34:567", "5:254:00:12:34:56", "", " 2:54:00:12:34:56" };
	char want[160], arg[160];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(want, sizeof(want), "-device: mac '%s' is not a MAC address (six hex pairs "
			 "separated by ':')", bad[i]);
		snprintf(arg, sizeof(arg), "virtio-net-device,netdev=n,mac=%s", bad[i]);
		ERR(want, K, "-netdev", "tap,id=n,ifname=t", "-device", arg);
	}
	ERR("-device: mac '01:00:5e:00:00:01' is a multicast address", K,
	    "-netdev", "tap,id=n,ifname=t", NIC("n") ",mac=01:00:5e:00:00:01");
	ERR("-device: mac 'ff:ff:ff:ff:ff:ff' is a multicast address", K,
	    "-netdev", "tap,id=n,ifname=t", NIC("n") ",mac=ff:ff:ff:ff:ff:ff");
	ERR("-device: mac '00:00:00:00:00:00' is all zeros", K,
	    "-netdev", "tap,id=n,ifname=t", NIC("n") ",mac=00:00:00:00:00:00");
	ERR("-netdev: mac '33:33:00:00:00:01' is a multicast address", K,
	    "-netdev", "id=n,netdev=t,mac=33:33:00:00:00:01");
	ERR("-device: property 'mac' needs a value", K, "-netdev", "tap,id=n,ifname=t",
	    NIC("n") ",mac");
}

Test(cli_net_errors, ifname)
{
	const char *bad[] = { "a/b", "tap:0", "tap 0", "tap\t0", "", "1234567890123456", "tap%d",
			      ".", ".." };
	char want[200], arg[160];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(want, sizeof(want), "-netdev: ifname '%s' is not an interface name "
			 "(1-15 printable characters, no '/', ':', '%%' or spaces)", bad[i]);
		for (char *p = want; *p; p++)
			*p = *p == '\t' ? '?' : *p;
		snprintf(arg, sizeof(arg), "tap,id=n,ifname=%s", bad[i]);
		ERR(want, K, "-netdev", arg, NIC("n"));
	}
	ERR("-netdev: netdev 'a/b' is not an interface name (1-15 printable characters, no '/', "
	    "':', '%' or spaces)", K, "-netdev", "id=n,netdev=a/b");
	ERR("-netdev: property 'ifname' needs a value", K, "-netdev", "tap,id=n,ifname", NIC("n"));
}

Test(cli_net_errors, ifname_or_fds)
{
	ERR("-netdev: tap needs exactly one of ifname= and fds=", K,
	    "-netdev", "tap,id=n,ifname=t,fds=3", NIC("n"));
	ERR("-netdev: tap needs exactly one of ifname= and fds=", K, "-netdev", "tap,id=n", NIC("n"));
	ERR("-netdev: queues=3 does not match the 2 fds", K, "-netdev", "tap,id=n,fds=3:4,queues=3",
	    NIC("n"));
	ERR("-netdev: queues '9' is out of range (1-8)", K, "-netdev", "tap,id=n,ifname=t,queues=9");
	ERR("-netdev: queues '0' is out of range (1-8)", K, "-netdev", "tap,id=n,ifname=t,queues=0");
	ERR("-netdev: property 'netdev' is required", K, "-netdev", "id=n,mac=52:54:00:12:34:56");
	ERR("-netdev: unknown property 'ifname'", K, "-netdev", "id=n,ifname=t");
	ERR("-netdev: unknown property 'mac'", K, "-netdev", "tap,id=n,ifname=t,mac=52:54:00:12:34:56");
}

Test(cli_net_errors, fds)
{
	const char *bad[] = { "3:x", "2", "0", "65536", "3::4", "3:", ":3", "-3", "+3", "0x3", "",
			      "99999999999999999999999" };
	char want[200], arg[160];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(want, sizeof(want), "-netdev: fds '%s' is not a ':'-separated list of fd "
			 "numbers (3-65535)", bad[i]);
		snprintf(arg, sizeof(arg), "tap,id=n,fds=%s", bad[i]);
		ERR(want, K, "-netdev", arg, NIC("n"));
	}
	ERR("-netdev: fds '3:4:3' names fd 3 twice", K, "-netdev", "tap,id=n,fds=3:4:3", NIC("n"));
	ERR("-netdev: fds '3:4:5:6:7:8:9:10:11' has more than 8 fds (one per queue pair)", K,
	    "-netdev", "tap,id=n,fds=3:4:5:6:7:8:9:10:11", NIC("n"));
}

Test(cli_net_errors, at_most_two_nics)
{
	ERR("-netdev: at most 2 NICs", K, "-netdev", "tap,id=a,ifname=a", "-netdev", "id=b,netdev=b",
	    "-netdev", "tap,id=c,ifname=c");
	ERR("-device: at most 2 NICs", K, NIC("a"), NIC("b"), NIC("c"));
}

Test(cli_net_errors, ids)
{
	ERR("-netdev: id 'n' is used by another netdev", K, "-netdev", "tap,id=n,ifname=a",
	    "-netdev", "tap,id=n,ifname=b");
	ERR("-netdev: id 'n' is used by another netdev", K, "-netdev", "tap,id=n,ifname=a",
	    "-netdev", "id=n,netdev=b");
	ERR("-netdev: property 'id' is required", K, "-netdev", "tap,ifname=a");
	ERR("-netdev: id '0n' must start with a letter", K, "-netdev", "id=0n,netdev=a");
	ERR("-device: id 'nic' is used by another device", K, "-netdev", "tap,id=a,ifname=a",
	    "-netdev", "tap,id=b,ifname=b", NIC("a") ",id=nic", NIC("b") ",id=nic");
	/* NICs and disks share one namespace of device ids, in either order */
	ERR("-device: id 'dev' is used by another device", K, "-drive", "id=d,file=/d",
	    "-device", "virtio-blk-device,drive=d,id=dev", "-netdev", "tap,id=a,ifname=a",
	    NIC("a") ",id=dev");
	ERR("-device: id 'dev' is used by another device", K, "-drive", "id=d,file=/d",
	    "-netdev", "tap,id=a,ifname=a", NIC("a") ",id=dev",
	    "-device", "virtio-blk-device,drive=d,id=dev");
	/* an older-form netdev's device id is its own id */
	ERR("-netdev: id 'dev' is used by another device", K, "-drive", "id=d,file=/d",
	    "-device", "virtio-blk-device,drive=d,id=dev", "-netdev", "id=dev,netdev=t");
	ERR("-device: id 'n' is used by another device", K, "-drive", "id=d,file=/d",
	    "-netdev", "id=n,netdev=t", "-device", "virtio-blk-device,drive=d,id=n");
}

Test(cli_net_errors, binding)
{
	ERR("-netdev: 'n' is not used by any -device virtio-net-device", K,
	    "-netdev", "tap,id=n,ifname=t");
	ERR("-netdev: 'm' is not used by any -device virtio-net-device", K,
	    "-netdev", "tap,id=n,ifname=t", NIC("n"), "-netdev", "tap,id=m,fds=3");
	ERR("-device: netdev 'n' is not defined", K, NIC("n"));
	ERR("-device: virtio-net-device needs netdev=", K, "-device", "virtio-net-device,id=x");
	ERR("-device: netdev 'n' is used by more than one device", K,
	    "-netdev", "tap,id=n,ifname=t", NIC("n"), NIC("n") ",id=second");
	ERR("-device: netdev 'n' is used by more than one device", K,
	    "-netdev", "id=n,netdev=t", NIC("n"));
	ERR("-device: unknown property 'drive'", K, "-device", "virtio-net-mmio,netdev=n,drive=d");
}

Test(cli_net_errors, backends)
{
	const char *want = "-netdev: vhost=on is not supported (bulkhead's NICs are always served "
			   "by a sandboxed vhost-user worker)";

	ERR(want, K, "-netdev", "tap,id=n,ifname=t,vhost=on", NIC("n"));
	ERR(want, K, "-netdev", "tap,id=n,ifname=t,vhost", NIC("n"));
	ERR("-netdev: property 'vhost' must be on or off, not 'yes'", K,
	    "-netdev", "tap,id=n,ifname=t,vhost=yes");
	ERR("-netdev: backend 'user' is not supported (tap, vhost-user)", K, "-netdev", "user,id=n");
}

/* -netdev vhost-user: an external backend gives its own MAC and queue pairs */
Test(cli_net, vhost_user)
{
	GOLDEN(BASE_CONFIG("/k")
	       "chardev.0=id=c,path=/run/net.sock,server=off,nowait=off\n"
	       "net.0=id=n,ifname=,fds=,queues=1,mac=,iothread=,device=nic0,chardev=c\n",
	       K, "-chardev", "socket,id=c,path=/run/net.sock",
	       "-netdev", "vhost-user,id=n,chardev=c", NIC("n") ",id=nic0");
}

Test(cli_net_errors, vhost_user)
{
	ERR("-netdev: vhost-user needs chardev=", K, "-netdev", "vhost-user,id=n", NIC("n"));
	ERR("-netdev: chardev 'c' is not defined", K, "-netdev", "type=vhost-user,id=n,chardev=c",
	    NIC("n"));
	ERR("-netdev: chardev 'c' is used by more than one device", K,
	    "-chardev", "socket,id=c,path=/s", "-device", "vhost-user-blk-device,chardev=c",
	    "-netdev", "vhost-user,id=n,chardev=c", NIC("n"));
	ERR("-netdev: chardev 'c' must be a client socket (no server) for a vhost-user backend", K,
	    "-chardev", "socket,id=c,path=/s,server,nowait", "-netdev", "vhost-user,id=n,chardev=c",
	    NIC("n"));
	ERR("-device: mac= cannot apply to netdev 'n': its vhost-user backend gives the NIC its "
	    "MAC", K, "-chardev", "socket,id=c,path=/s", "-netdev", "vhost-user,id=n,chardev=c",
	    NIC("n") ",mac=52:54:00:00:00:01");
	ERR("-device: mq= cannot apply to netdev 'n': its vhost-user backend decides its queue "
	    "pairs", K, "-chardev", "socket,id=c,path=/s", "-netdev", "vhost-user,id=n,chardev=c",
	    NIC("n") ",mq=on");
	ERR("-netdev: unknown property 'ifname'", K, "-chardev", "socket,id=c,path=/s",
	    "-netdev", "vhost-user,id=n,chardev=c,ifname=t");
}

Test(cli_net_errors, mq)
{
	ERR("-device: mq=off but netdev 'n' has 4 queue pairs", K,
	    "-netdev", "tap,id=n,ifname=t,queues=4", NIC("n") ",mq=off");
	ERR("-device: mq=off but netdev 'n' has 2 queue pairs", K, NIC("n") ",mq=off",
	    "-netdev", "tap,id=n,fds=3:4");
	ERR("-device: property 'mq' must be on or off, not 'maybe'", K,
	    "-netdev", "tap,id=n,ifname=t", NIC("n") ",mq=maybe");
}

Test(cli_net, help)
{
	struct run r;

	run_args(&r, "--help", NULL);
	cr_assert_eq(r.res, CLI_EXIT_OK);
	cr_expect_not_null(strstr(r.out, "  -netdev tap,id=ID,ifname=TAP[,queues=N][,vhost=off] | "
				  "tap,id=ID,fds=FD[:FD...] | vhost-user,id=ID,chardev=C | "
				  "id=ID,netdev=TAP"), "%s", r.out);
	cr_expect_not_null(strstr(r.out, "virtio-net-device,netdev=ID[,id=DEV][,mac=MAC]"
				  "[,mq=on|off]"), "%s", r.out);
	run_free(&r);
}
