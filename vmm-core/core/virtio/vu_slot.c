/* A virtio-mmio slot driven by a vhost-user backend: the frontend handshake, guest memory and
 * vrings handed to the worker, KVM ioeventfds (kicks) and an irqfd (completions) so the core
 * stays off the request path, and the one attach/detach path used at boot and after a worker
 * died. Everything here runs with the transport lock held. */
#include "vu_slot.h"

#include "log.h"
#include "util.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/virtio_ring.h>

#include "vm.h"

#define WANT_PROTOCOL ((1ULL << VU_PROTOCOL_F_MQ) | (1ULL << VU_PROTOCOL_F_REPLY_ACK) | \
		       (1ULL << VU_PROTOCOL_F_CONFIG) | (1ULL << VU_PROTOCOL_F_INFLIGHT_SHMFD))

static struct vu_slot *to_slot(struct vmmio *t)
{
	return container_of(t, struct vu_slot, t);
}

/* ---- KVM side: kick and call eventfds ---- */

static uint64_t notify_addr(const struct vu_slot *s)
{
	return s->vm->desc.mmio[s->index].base + VMMIO_QUEUE_NOTIFY;
}

static void teardown_kvm(struct vu_slot *s)
{
	for (unsigned i = 0; i < VMMIO_MAX_QUEUES; i++) {
		if (s->kick_registered[i] &&
		    kvm_ioeventfd(s->vm, notify_addr(s), 4, i, s->kick_fd[i], false) < 0)
			log_warnx("%s: removing the ioeventfd of queue %u failed", s->name, i);
		s->kick_registered[i] = false;
		closep(&s->kick_fd[i]);
	}
	if (s->call_registered && kvm_irqfd(s->vm, s->t.gsi, s->call_fd, false) < 0)
		log_warnx("%s: removing the irqfd failed", s->name);
	s->call_registered = false;
	closep(&s->call_fd);
	s->running = false;
}

static int new_kick(struct vu_slot *s, unsigned i)
{
	int r;

	s->kick_fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->kick_fd[i] < 0)
		return -errno;
	/* DATAMATCH = queue index: the guest writes the index to QueueNotify (len 4) */
	r = kvm_ioeventfd(s->vm, notify_addr(s), 4, i, s->kick_fd[i], true);
	if (r)
		return r;
	s->kick_registered[i] = true;
	return 0;
}

static int new_call(struct vu_slot *s)
{
	int r;

	s->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->call_fd < 0)
		return -errno;
	r = kvm_irqfd(s->vm, s->t.gsi, s->call_fd, true);
	if (r)
		return r;
	s->call_registered = true;
	return 0;
}

/* A request to the backend failed: stop using it. shutdown() rather than close() so the
 * main loop, which watches the fd, sees HUP and detaches it from its own thread. */
static void mark_dead(struct vu_slot *s, const char *what, int err)
{
	if (!s->dead)
		log_warnx("%s: backend %s failed %s: %s", s->name, s->backend_name, what,
			  strerror(-err));
	s->dead = true;
	teardown_kvm(s);
	if (s->sock >= 0)
		shutdown(s->sock, SHUT_RDWR);
}

/* ---- handing the data path to the backend ---- */

static int send_mem_table(struct vu_slot *s)
{
	const struct guest_mem *m = &s->vm->mem;
	struct vu_region r[GUEST_MEM_MAX_REGIONS];
	int fds[GUEST_MEM_MAX_REGIONS];

	for (unsigned i = 0; i < m->nr; i++) {
		/* uaddr = our own mapping, so ring addresses below are core user addresses */
		r[i] = (struct vu_region){ .gpa = m->r[i].gpa, .size = m->r[i].size,
					   .uaddr = (uint64_t)(uintptr_t)m->r[i].hva,
					   .mmap_offset = m->r[i].fd_offset };
		fds[i] = m->r[i].fd;
	}
	return vuf_set_mem_table(&s->front, r, fds, m->nr);
}

static int send_inflight(struct vu_slot *s)
{
	int r;

	if (!(s->acked_protocol & (1ULL << VU_PROTOCOL_F_INFLIGHT_SHMFD)))
		return 0;
	if (s->inflight_fd < 0) {
		/* sized for QueueNumMax: the area outlives any one QueueNum the driver picks */
		r = vuf_get_inflight_fd(&s->front, (uint16_t)s->t.nqueues,
					(uint16_t)s->t.queue_num_max, &s->inflight, &s->inflight_fd);
		if (r)
			return r;
	}
	return vuf_set_inflight_fd(&s->front, &s->inflight, s->inflight_fd);
}

static uint16_t guest_used_idx(struct vu_slot *s, const struct vmmio_queue *q)
{
	struct vring_used *u = guest_ptr(&s->vm->mem, q->used, sizeof(*u));

	/* the transport checked the ring lies in RAM; what the guest shows is what it has seen */
	return u ? __atomic_load_n(&u->idx, __ATOMIC_ACQUIRE) : 0;
}

static uint64_t hva(struct vu_slot *s, uint64_t gpa)
{
	return (uint64_t)(uintptr_t)guest_ptr(&s->vm->mem, gpa, 1);
}

/* Returns 0, a vuf error (the backend failed: *remote = true), or a local -errno. */
static int start_queue(struct vu_slot *s, unsigned i, bool *remote)
{
	const struct vmmio_queue *q = &s->t.q[i];
	struct vu_vring_addr a = { .index = i, .desc = hva(s, q->desc), .used = hva(s, q->used),
				   .avail = hva(s, q->avail) };
	uint64_t one = 1;
	int r;

	*remote = true;
	/* base = the used index the guest sees: with the inflight area, a restarted worker
	 * resubmits what it had taken past that point */
	if ((r = vuf_set_vring_num(&s->front, i, q->num)) ||
	    (r = vuf_set_vring_base(&s->front, i, guest_used_idx(s, q))) ||
	    (r = vuf_set_vring_addr(&s->front, &a)) ||
	    (r = vuf_set_vring_call(&s->front, i, s->call_fd)))
		return r;
	*remote = false;
	if ((r = new_kick(s, i)))
		return r;
	*remote = true;
	if ((r = vuf_set_vring_kick(&s->front, i, s->kick_fd[i])))
		return r;
	if ((s->front.features & (1ULL << VU_F_PROTOCOL_FEATURES)) &&
	    (r = vuf_set_vring_enable(&s->front, i, 1)))
		return r;
	/* requests may already wait (a restart, or a driver quicker than us): look now */
	if (write(s->kick_fd[i], &one, sizeof(one)) < 0)
		log_warn("%s: kick", s->name);
	return 0;
}

static int run_backend(struct vu_slot *s, bool *remote)
{
	uint64_t feat = s->t.driver_features;
	int r;

	if (s->front.features & (1ULL << VU_F_PROTOCOL_FEATURES))
		feat |= 1ULL << VU_F_PROTOCOL_FEATURES;
	*remote = true;
	if ((r = vuf_set_features(&s->front, feat)) || (r = send_mem_table(s)) ||
	    (r = send_inflight(s)))
		return r;
	*remote = false;
	if ((r = new_call(s)))
		return r;
	for (unsigned i = 0; i < s->t.nqueues; i++)
		if (s->t.q[i].ready && (r = start_queue(s, i, remote)))
			return r;
	s->running = true;
	return 0;
}

/* Start the data path if there is a backend; otherwise it starts when one attaches. */
static int try_run(struct vu_slot *s)
{
	bool remote;
	int r;

	if (s->sock < 0 || s->dead || !s->connected)
		return 0;
	r = run_backend(s, &remote);
	if (!r)
		return 0;
	if (remote) {
		mark_dead(s, "the vring setup", r);
		return s->external ? r : 0;
	}
	teardown_kvm(s);
	return r;
}

/* ---- transport ops ---- */

static int slot_start(struct vmmio *t)
{
	return try_run(to_slot(t));
}

static void slot_reset(struct vmmio *t)
{
	struct vu_slot *s = to_slot(t);
	unsigned base;
	int r;

	for (unsigned i = 0; s->running && !s->dead && i < t->nqueues; i++) {
		/* GET_VRING_BASE is how vhost-user stops a ring */
		if (t->q[i].ready && (r = vuf_get_vring_base(&s->front, i, &base)))
			mark_dead(s, "GET_VRING_BASE", r);
	}
	teardown_kvm(s);
	/* a reset driver has nothing in flight: the next start gets a fresh area */
	closep(&s->inflight_fd);
}

static int slot_get_config(struct vmmio *t, uint8_t *buf, uint32_t len)
{
	struct vu_slot *s = to_slot(t);

	if (s->sock < 0 || s->dead)
		return -ENOTCONN;
	return vuf_get_config(&s->front, 0, buf, len);
}

/* Before the backend runs, run_backend's own kick covers what waits; after, the kick goes
 * to the backend as the ioeventfd would have sent it. */
static void slot_notify(struct vmmio *t, unsigned qidx)
{
	struct vu_slot *s = to_slot(t);
	uint64_t one = 1;

	if (!s->running || s->dead || s->kick_fd[qidx] < 0)
		return;
	if (!s->kicks_passed++)
		log_info("%s: a kick for queue %u reached the core, not its ioeventfd: passed on "
			 "(the count comes at exit)", s->name, qidx);
	if (write(s->kick_fd[qidx], &one, sizeof(one)) < 0)
		log_warn("%s: kick", s->name);
}

static const struct vmmio_ops slot_ops = {
	.start = slot_start,
	.reset = slot_reset,
	.get_config = slot_get_config,
	.notify = slot_notify,
};

/* ---- attach / detach ---- */

static int handshake(struct vu_slot *s)
{
	uint64_t feat, pf = 0, nq = 1;
	int r;

	vuf_init(&s->front, s->sock, VU_SLOT_REPLY_TIMEOUT_MS);
	if ((r = vuf_get_features(&s->front, &feat)) || (r = vuf_set_owner(&s->front)))
		return r;
	if (feat & (1ULL << VU_F_PROTOCOL_FEATURES)) {
		if ((r = vuf_get_protocol_features(&s->front, &pf)))
			return r;
		pf &= WANT_PROTOCOL;
		if ((r = vuf_set_protocol_features(&s->front, pf)))
			return r;
	}
	s->acked_protocol = pf;
	/* the device's config space is the backend's (a disk's capacity, a NIC's MAC and link
	 * state): a backend that cannot give it cannot serve a slot -- unless the kind's is
	 * ours (virtio-fs) */
	if (!s->kind->frontend_config && !(pf & (1ULL << VU_PROTOCOL_F_CONFIG))) {
		log_warnx("%s: backend %s offers no config space (VHOST_USER_PROTOCOL_F_CONFIG)",
			  s->name, s->backend_name);
		return -EPROTONOSUPPORT;
	}
	if ((pf & (1ULL << VU_PROTOCOL_F_MQ)) && (r = vuf_get_queue_num(&s->front, &nq)))
		return r;
	if (nq == 0)
		return -EPROTO;
	if (s->kind->queues)
		nq = s->kind->queues(nq > VMMIO_MAX_QUEUES ? VMMIO_MAX_QUEUES : nq, feat,
				     s->t.config);
	vmmio_set_backend(&s->t, s->kind->virtio_id, feat, nq > VMMIO_MAX_QUEUES ? VMMIO_MAX_QUEUES :
			  (unsigned)nq);
	s->connected = true;
	return s->kind->frontend_config ? 0 : vmmio_refresh_config(&s->t, s->kind->config_len);
}

static void drop_backend(struct vu_slot *s)
{
	teardown_kvm(s);
	closep(&s->sock);
	s->connected = false;
	s->dead = false;
}

void vu_slot_detach(struct vu_slot *s, const char *why)
{
	vmmio_lock(&s->t);
	if (s->sock >= 0) {
		log_warnx("%s: backend %s detached: %s", s->name, s->backend_name, why);
		drop_backend(s);
		/* nobody restarts an external backend: the driver has to start over */
		if (s->external)
			vmmio_needs_reset(&s->t, "the external backend went away");
	}
	vmmio_unlock(&s->t);
}

int vu_slot_attach(struct vu_slot *s, int sock, const char *name)
{
	int r;

	if (s->sock >= 0)
		vu_slot_detach(s, "replaced by a new backend");
	vmmio_lock(&s->t);
	s->sock = sock;
	snprintf(s->backend_name, sizeof(s->backend_name), "%s", name);
	s->attaches++;
	r = handshake(s);
	if (!r && (s->t.status & VMMIO_S_DRIVER_OK) && !(s->t.status & VMMIO_S_NEEDS_RESET))
		r = try_run(s);
	if (!r && s->dead)
		r = -EPIPE;
	if (r) {
		log_warnx("%s: attaching backend %s failed: %s", s->name, name, strerror(-r));
		drop_backend(s);
		if (s->external)
			vmmio_needs_reset(&s->t, "the external backend failed");
	} else {
		log_info("%s: backend %s attached%s", s->name, name,
			 s->running ? " to a running device" : "");
	}
	vmmio_unlock(&s->t);
	return r;
}

void vu_slot_set_empty(struct vu_slot *s, const uint8_t mac[6])
{
	uint8_t cfg[WORKER_CONFIG_MAX] = { 0 };

	s->kind->empty_config(cfg, mac);
	vmmio_lock(&s->t);
	vmmio_set_backend(&s->t, s->kind->virtio_id, s->kind->empty_features,
			  s->kind->empty_queues);
	vmmio_set_config(&s->t, cfg, s->kind->config_len);
	vmmio_unlock(&s->t);
}

void vu_slot_set_frontend_config(struct vu_slot *s, const struct core_config *c)
{
	uint8_t cfg[WORKER_CONFIG_MAX] = { 0 };

	s->kind->frontend_config(cfg, c);
	vmmio_lock(&s->t);
	vmmio_set_config(&s->t, cfg, s->kind->config_len);
	vmmio_unlock(&s->t);
}

int vu_slot_plug(struct vu_slot *s, int sock, const char *name)
{
	vmmio_lock(&s->t);
	s->external = false;
	vmmio_unlock(&s->t);
	return vu_slot_attach(s, sock, name);
}

void vu_slot_unplug(struct vu_slot *s)
{
	uint8_t cfg[VMMIO_CONFIG_MAX];

	vmmio_lock(&s->t);
	if (s->sock >= 0)
		log_info("%s: backend %s unplugged", s->name, s->backend_name);
	drop_backend(s);
	/* the in-flight area belongs to the old disk: a new one must not resubmit its requests */
	closep(&s->inflight_fd);
	s->external = false;
	s->backend_name[0] = '\0';
	/* e.g. a disk with no medium: the change bumps ConfigGeneration and raises the config
	 * interrupt so the guest sees it */
	memcpy(cfg, s->t.config, sizeof(cfg));
	s->kind->unplugged_config(cfg);
	vmmio_set_config(&s->t, cfg, s->t.config_len ? s->t.config_len : s->kind->config_len);
	vmmio_unlock(&s->t);
}

int vu_slot_fd(const struct vu_slot *s)
{
	return s->sock;
}

int vu_slot_init(struct vu_slot *s, struct vm *vm, unsigned index,
		 const struct worker_kind_desc *kind, bool external)
{
	const struct mmio_slot_desc *d = &vm->desc.mmio[index];

	memset(s, 0, sizeof(*s));
	s->vm = vm;
	s->index = index;
	s->kind = kind;
	s->external = external;
	s->sock = s->inflight_fd = s->call_fd = -1;
	for (unsigned i = 0; i < VMMIO_MAX_QUEUES; i++)
		s->kick_fd[i] = -1;
	snprintf(s->name, sizeof(s->name), "slot %u", index);
	vmmio_init(&s->t, s->name, d->irq, &slot_ops, s, kvm_irq_pulse, vm, &vm->mem);
	s->t.worker_backed = true;
	return bus_register(&vm->mmio, d->base, d->size, s->name, &vmmio_bus_ops, &s->t);
}

void vu_slot_exit(struct vu_slot *s)
{
	/* the evidence that the core stays off the request path; silent for slots never touched */
	if (s->t.accesses)
		log_info("%s: %" PRIu64 " register accesses, %" PRIu64 " kicks passed on",
			 s->name, s->t.accesses, s->kicks_passed);
	vmmio_lock(&s->t);
	drop_backend(s);
	closep(&s->inflight_fd);
	vmmio_unlock(&s->t);
	vmmio_exit(&s->t);
}
