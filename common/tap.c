/* Tap queues (tap.h). No /sys lookups: they show the network namespace sysfs was mounted in,
 * not ours. TUNSETIFF on a name that exists attaches and never creates; what it refuses says
 * what the interface is. */
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/if_tun.h>

#define TAP_FLAGS (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)

static int attach(const char *ifname, short flags)
{
	struct ifreq ifr = { .ifr_flags = flags };
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC), e;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, TUNSETIFF, &ifr) == 0)
		return fd;
	e = errno;
	close(fd);
	return -e;
}

static const char *why(int err, unsigned queues)
{
	switch (err) {
	case EBUSY:  return "busy: another process holds it";
	case EPERM:
	case EACCES: return "permission denied: not its owner or group, and no CAP_NET_ADMIN";
	case EINVAL: return queues > 1 ? "not a tap, or a tap with one queue (queue pairs need "
				  "a multi_queue tap)" : "not a tap device";
	default:     return strerror(err);
	}
}

int tap_open(const char *ifname, unsigned queues, int *fds, char *err, size_t errlen)
{
	short mq = queues > 1 ? IFF_MULTI_QUEUE : 0;
	unsigned i;

	/* TUNSETIFF would create a missing tap: the one asked for must already be there */
	if (!if_nametoindex(ifname)) {
		snprintf(err, errlen, "tap '%s' does not exist", ifname);
		return -1;
	}
	for (i = 0; i < queues; i++) {
		fds[i] = attach(ifname, TAP_FLAGS | mq);
		/* one queue of a multi_queue tap: the flag must match the tap's */
		if (fds[i] == -EINVAL && i == 0 && !mq) {
			mq = IFF_MULTI_QUEUE;
			fds[i] = attach(ifname, TAP_FLAGS | mq);
		}
		if (fds[i] < 0) {
			snprintf(err, errlen, "tap '%s': %s", ifname, why(-fds[i], queues));
			break;
		}
	}
	if (i == queues)
		return 0;
	while (i-- > 0)
		close(fds[i]);
	return -1;
}

static int getiff(int fd, struct ifreq *ifr)
{
	memset(ifr, 0, sizeof(*ifr));
	if (ioctl(fd, TUNGETIFF, ifr) == 0)
		return 0;
	/* a queue a killed worker detached (TUNSETQUEUE) reports no device: attach it again */
	if (errno == EBADFD) {
		struct ifreq a = { .ifr_flags = IFF_ATTACH_QUEUE };

		if (ioctl(fd, TUNSETQUEUE, &a) == 0 && ioctl(fd, TUNGETIFF, ifr) == 0)
			return 0;
		errno = EBADFD;
	}
	return -1;
}

int tap_check_queues(const int *fds, unsigned n, char *ifname, char *err, size_t errlen)
{
	char name[IFNAMSIZ];

	for (unsigned i = 0; i < n; i++) {
		if (tap_check(fds[i], n, i ? name : ifname, err, errlen) < 0)
			return -1;
		if (i && strcmp(name, ifname)) {
			snprintf(err, errlen, "fd %d is a queue of tap %s, fd %d of %s: one tap's "
				 "queues, please", fds[i], name, fds[0], ifname);
			return -1;
		}
	}
	return 0;
}

int tap_check(int fd, unsigned queues, char *ifname, char *err, size_t errlen)
{
	struct ifreq ifr;

	if (getiff(fd, &ifr) < 0) {
		snprintf(err, errlen, "fd %d is not a tap queue: %s", fd, strerror(errno));
		return -1;
	}
	if ((ifr.ifr_flags & (IFF_TUN | IFF_TAP)) != IFF_TAP ||
	    (ifr.ifr_flags & (IFF_NO_PI | IFF_VNET_HDR)) != (IFF_NO_PI | IFF_VNET_HDR)) {
		snprintf(err, errlen, "fd %d (%.*s) is not a tap with vnet_hdr and no_pi (flags %#x)",
			 fd, IFNAMSIZ, ifr.ifr_name, (unsigned)(unsigned short)ifr.ifr_flags);
		return -1;
	}
	if (queues > 1 && !(ifr.ifr_flags & IFF_MULTI_QUEUE)) {
		snprintf(err, errlen, "fd %d (%.*s): %u queue pairs need a multi_queue tap", fd,
			 IFNAMSIZ, ifr.ifr_name, queues);
		return -1;
	}
	if (ifname) {
		memcpy(ifname, ifr.ifr_name, IFNAMSIZ);
		ifname[IFNAMSIZ - 1] = '\0';
	}
	return 0;
}
