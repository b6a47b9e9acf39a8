/* bulkhead-vsock's kernel mode: a vhost-user <-> vhost-kernel bridge. Given an open
 * /dev/vhost-vsock (from the supervisor, which set the guest's CID on it, or by hand), the
 * worker hands the kernel what the frontend gave it - the guest memory table as this process
 * maps it, the RX and TX rings, their bases and their kick and call eventfds - and the kernel
 * carries the data between the rings and host AF_VSOCK sockets. The worker keeps only control
 * and the event queue (the transport reset after a restart, io.c). The ioctls happen in this
 * process, never in the core (DESIGN.md §1: the kernel's vhost is another peer of the
 * worker's, like a host socket in unix-socket mode). */
#include "vsock.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/vhost.h>

#include "log.h"

/* What the guest may see of the kernel device's features: what both modes serve. */
#define KERNEL_FEATURES ((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_EVENT_IDX) | \
			 (1ULL << VIRTIO_RING_F_INDIRECT_DESC))

static int vhost(struct vsock_dev *d, unsigned long req, const char *what, void *arg)
{
	if (ioctl(d->vhost_fd, req, arg) < 0) {
		int e = errno;

		log_warnx("vhost-vsock: %s: %s", what, strerror(e));
		return -e;
	}
	return 0;
}

int vsock_kernel_init(struct vsock_dev *d, int fd)
{
	uint64_t f;

	d->vhost_fd = fd;
	/* before the sandbox: the kernel binds the device to this process's memory and starts
	 * its worker thread here */
	if (vhost(d, VHOST_SET_OWNER, "VHOST_SET_OWNER", NULL) < 0 ||
	    vhost(d, VHOST_GET_FEATURES, "VHOST_GET_FEATURES", &f) < 0)
		return -1;
	if ((f & KERNEL_FEATURES) != KERNEL_FEATURES) {
		log_warnx("vhost-vsock: the kernel offers features %#llx, want %#llx",
			  (unsigned long long)f, (unsigned long long)KERNEL_FEATURES);
		return -1;
	}
	d->vhost_features = f & KERNEL_FEATURES;
	return 0;
}

/* The guest's memory as this process maps it: the kernel reads the rings and buffers through
 * our mappings (it works in our address space). */
static int set_mem(struct vsock_dev *d)
{
	/* struct vhost_memory ends in a flexible array: room for every region after it */
	uint64_t buf[(sizeof(struct vhost_memory) +
		      VQ_MAX_REGIONS * sizeof(struct vhost_memory_region)) / sizeof(uint64_t)];
	struct vhost_memory *t = (struct vhost_memory *)buf;
	const struct vq_mem *mem = &d->vu.mem;

	memset(buf, 0, sizeof(buf));
	t->nregions = mem->nr;
	for (unsigned i = 0; i < mem->nr; i++)
		t->regions[i] = (struct vhost_memory_region){
			.guest_phys_addr = mem->r[i].gpa, .memory_size = mem->r[i].size,
			.userspace_addr = (uintptr_t)mem->r[i].hva };
	return vhost(d, VHOST_SET_MEM_TABLE, "VHOST_SET_MEM_TABLE", t);
}

static int set_running(struct vsock_dev *d, bool on)
{
	int v = on;

	if (d->vhost_running == on)
		return 0;
	if (vhost(d, VHOST_VSOCK_SET_RUNNING, on ? "start" : "stop", &v) < 0)
		return -1;
	d->vhost_running = on;
	return 0;
}

static bool both_started(const struct vsock_dev *d)
{
	return d->vu.q[VSOCK_Q_RX].started && d->vu.q[VSOCK_Q_RX].enabled &&
	       d->vu.q[VSOCK_Q_TX].started && d->vu.q[VSOCK_Q_TX].enabled;
}

/* The kernel refuses ring changes while it runs: stop it, hand the ring over, and run again
 * once both rings are there. A ring the kernel cannot take breaks the queue (the frontend
 * sees the device need a reset), never the process. */
void vsock_kernel_start(struct vsock_dev *d, unsigned qidx)
{
	struct vu_queue *q = &d->vu.q[qidx];
	uint64_t features = d->features & d->vhost_features;
	struct vhost_vring_state num = { .index = qidx, .num = q->num };
	struct vhost_vring_state base = { .index = qidx, .num = vq_get_base(&q->vq) };
	struct vhost_vring_addr addr = { .index = qidx,
					 .desc_user_addr = (uintptr_t)q->vq.desc,
					 .avail_user_addr = (uintptr_t)q->vq.avail,
					 .used_user_addr = (uintptr_t)q->vq.used };
	struct vhost_vring_file kick = { .index = qidx, .fd = q->kick_fd };
	struct vhost_vring_file call = { .index = qidx, .fd = q->call_fd };

	if (set_running(d, false) < 0 || set_mem(d) < 0 ||
	    vhost(d, VHOST_SET_FEATURES, "VHOST_SET_FEATURES", &features) < 0 ||
	    vhost(d, VHOST_SET_VRING_NUM, "VHOST_SET_VRING_NUM", &num) < 0 ||
	    vhost(d, VHOST_SET_VRING_BASE, "VHOST_SET_VRING_BASE", &base) < 0 ||
	    vhost(d, VHOST_SET_VRING_ADDR, "VHOST_SET_VRING_ADDR", &addr) < 0 ||
	    vhost(d, VHOST_SET_VRING_KICK, "VHOST_SET_VRING_KICK", &kick) < 0 ||
	    vhost(d, VHOST_SET_VRING_CALL, "VHOST_SET_VRING_CALL", &call) < 0) {
		vq_break(&q->vq, "the kernel's vhost-vsock refused the ring");
		return;
	}
	if (both_started(d) && set_running(d, true) < 0)
		vq_break(&q->vq, "the kernel's vhost-vsock did not start");
}

/* Take the ring back: where the kernel got is the queue's base (GET_VRING_BASE). */
void vsock_kernel_stop(struct vsock_dev *d, unsigned qidx)
{
	struct vhost_vring_state base = { .index = qidx };

	if (set_running(d, false) < 0)
		return;
	if (vhost(d, VHOST_GET_VRING_BASE, "VHOST_GET_VRING_BASE", &base) == 0)
		vq_set_base(&d->vu.q[qidx].vq, (uint16_t)base.num);
}
