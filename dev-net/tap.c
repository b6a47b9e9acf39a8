/* bulkhead-net tap queues: checking the fds the supervisor passed (or opening an existing tap
 * when started by hand), and the header size and offloads the acked features ask of them. The
 * worker never creates a tap nor configures host networking: whoever runs it does that. */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <linux/if_tun.h>
#include <linux/virtio_config.h>

#include "log.h"
#include "tap.h"
#include "util.h"

#define BIT(b) (1ULL << (b))

unsigned net_hdr_len(uint64_t f)
{
	return f & (BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_MRG_RXBUF)) ? NET_HDR_LEN
									   : NET_HDR_LEN_LEGACY;
}

unsigned net_tap_offloads(uint64_t f)
{
	unsigned o = 0;

	/* the tap refuses segmentation offloads without checksum offload (tun set_offload) */
	if (!(f & BIT(VIRTIO_NET_F_GUEST_CSUM)))
		return 0;
	o = TUN_F_CSUM;
	if (f & BIT(VIRTIO_NET_F_GUEST_TSO4))
		o |= TUN_F_TSO4;
	if (f & BIT(VIRTIO_NET_F_GUEST_TSO6))
		o |= TUN_F_TSO6;
	if ((o & (TUN_F_TSO4 | TUN_F_TSO6)) && (f & BIT(VIRTIO_NET_F_GUEST_ECN)))
		o |= TUN_F_TSO_ECN;
	return o;
}

int net_tap_adopt(int fd, unsigned pairs, char *ifname)
{
	char err[160];
	int fl;

	if (fcntl(fd, F_GETFD) < 0) {
		log_warnx("--tap-fd=%d: not an open file descriptor", fd);
		return -1;
	}
	if (tap_check(fd, pairs, ifname, err, sizeof(err)) < 0) {
		log_warnx("--tap-fd=%d: %s", fd, err);
		return -1;
	}
	/* the loop must never block on a tap: RX reads until EAGAIN */
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		log_warn("--tap-fd=%d: O_NONBLOCK", fd);
		return -1;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	return 0;
}

int net_tap_open(const char *ifname, unsigned pairs, int *fds)
{
	char err[160];

	if (tap_open(ifname, pairs, fds, err, sizeof(err)) < 0) {
		log_warnx("--tap=%s: %s", ifname, err);
		return -1;
	}
	return 0;
}
