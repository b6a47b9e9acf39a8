/* Receive-side scaling for multi-queue NICs: the supervisor loads bulkhead-net's steering
 * program (dev-net/rss.bpf.c, embedded at build time) with libbpf and attaches it to the tap
 * (TUNSETSTEERINGEBPF). The worker gets the three map fds and writes the guest's RSS
 * configuration into them through mmap; it never calls bpf() (its sandbox forbids it). Where
 * bpf() is refused or the load fails, the NIC goes without F_RSS and the tap's own flow hash
 * keeps choosing queues. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/if_tun.h>
#include <bpf/libbpf.h>

#include "net_rss.h"
#include "supervisor_priv.h"
#include "rss_bpf_obj.h"

static const char *const map_names[NET_RSS_MAPS] = {
	NET_RSS_MAP_CFG, NET_RSS_MAP_KEY, NET_RSS_MAP_TABLE,
};

/* libbpf's own diagnostics are many lines per failure; the caller logs one with the errno. */
static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

static int fail(char *err, size_t errlen, int r, const char *what)
{
	snprintf(err, errlen, "%s: %s", what, strerror(-r));
	return r;
}

void sup_rss_close(struct sup_rss *r)
{
	if (r->prog_fd >= 0)
		close(r->prog_fd);
	r->prog_fd = -1;
	for (unsigned i = 0; i < NET_RSS_MAPS; i++) {
		if (r->map_fd[i] >= 0)
			close(r->map_fd[i]);
		r->map_fd[i] = -1;
	}
}

/* Our own close-on-exec copies of the object's fds, so the object can go. */
static int keep_fds(struct bpf_object *obj, struct bpf_program *p, struct sup_rss *r)
{
	r->prog_fd = fcntl(bpf_program__fd(p), F_DUPFD_CLOEXEC, 3);
	if (r->prog_fd < 0)
		return -errno;
	for (unsigned i = 0; i < NET_RSS_MAPS; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(obj, map_names[i]);

		if (!m)
			return -ENOENT;
		r->map_fd[i] = fcntl(bpf_map__fd(m), F_DUPFD_CLOEXEC, 3);
		if (r->map_fd[i] < 0)
			return -errno;
	}
	return 0;
}

int sup_rss_load(struct sup_rss *r, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = "bulkhead_rss");
	struct bpf_object *obj;
	struct bpf_program *p;
	int ret;

	r->prog_fd = -1;
	for (unsigned i = 0; i < NET_RSS_MAPS; i++)
		r->map_fd[i] = -1;
	libbpf_set_print(quiet);
	obj = bpf_object__open_mem(rss_bpf_obj, sizeof(rss_bpf_obj), &opts);
	if (!obj)
		return fail(err, errlen, -errno, "opening the steering program");
	p = bpf_object__find_program_by_name(obj, NET_RSS_PROG "_prog");
	/* its section name is not one libbpf knows: TUNSETSTEERINGEBPF takes socket filters */
	ret = p ? bpf_program__set_type(p, BPF_PROG_TYPE_SOCKET_FILTER) : -ENOENT;
	if (ret == 0)
		ret = bpf_object__load(obj);
	if (ret == 0)
		ret = keep_fds(obj, p, r);
	bpf_object__close(obj);
	if (ret < 0) {
		sup_rss_close(r);
		return fail(err, errlen, ret, "loading the steering program");
	}
	return 0;
}

void sup_rss_detach(int tap)
{
	int none = -1;

	if (ioctl(tap, TUNSETSTEERINGEBPF, &none) < 0)
		log_warn("taking the steering program off the tap");
}

int sup_rss_attach(int tap, struct sup_rss *r, char *err, size_t errlen)
{
	int ret = sup_rss_load(r, err, errlen);

	if (ret < 0)
		return ret;
	/* Privileged, and safe: tap is a queue of the NIC's own tap, opened or checked by us for
	 * this VM, and the program is the one built into us. The steering program belongs to the
	 * tap device, not the queue: one call covers every queue. The tap holds a reference to
	 * the program, so our fd can go; the maps stay ours and the worker's. */
	if (ioctl(tap, TUNSETSTEERINGEBPF, &r->prog_fd) < 0) {
		ret = -errno;
		sup_rss_close(r);
		return fail(err, errlen, ret, "TUNSETSTEERINGEBPF");
	}
	close(r->prog_fd);
	r->prog_fd = -1;
	return 0;
}
