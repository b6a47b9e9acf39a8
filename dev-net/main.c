/* bulkhead-net: the process. Parses the command line, adopts the tap queues the supervisor
 * opened (or opens an existing tap when started by hand), maps the stats page, enters its
 * sandbox and runs the vhost-user loop (common/vu_loop) with a read and a write event per
 * tap queue. */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <event2/event.h>
#include <linux/bpf.h>

#include "log.h"
#include "sandbox.h"
#include "util.h"
#include "vu_loop.h"

struct tap_ev {
	struct event *rd, *wr;
	struct net_dev *dev;
	unsigned pair;
};

struct mainloop {
	struct vu_loop loop;
	struct net_opts opts;
	struct net_dev dev;
	char role[8 + NET_NAME_MAX];
	char ifname[IFNAMSIZ];
	int taps[NET_MAX_PAIRS];
	struct tap_ev ev[NET_MAX_PAIRS];
	struct net_stats own_stats;     /* without --stats-fd */
	struct net_stats *stats;
	struct net_rss_maps rss;        /* --rss-map-fds, mapped */
};

static struct mainloop ml;

static void on_tap_read(evutil_socket_t fd, short what, void *arg)
{
	struct tap_ev *t = arg;

	(void)fd;
	(void)what;
	net_tap_readable(t->dev, t->pair);
}

static void on_tap_write(evutil_socket_t fd, short what, void *arg)
{
	struct tap_ev *t = arg;

	(void)fd;
	(void)what;
	net_tap_writable(t->dev, t->pair);
}

static void tap_watch(struct net_dev *d, unsigned pair, bool rd, bool wr)
{
	struct mainloop *m = d->loop;
	struct tap_ev *t = &m->ev[pair];

	if (rd)
		event_add(t->rd, NULL);
	else
		event_del(t->rd);
	if (wr)
		event_add(t->wr, NULL);
	else
		event_del(t->wr);
}

static void net_disconnect(void *priv)
{
	net_dev_disconnect(priv);
}

/* The stats page the supervisor reads: a memfd of at least a page, mapped shared. The fd is
 * closed once mapped; the mapping is all the worker needs. */
static int map_stats(struct mainloop *m)
{
	struct stat st;
	void *p;
	int fd = m->opts.stats_fd;

	m->stats = &m->own_stats;
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < NET_STATS_FD_MIN) {
		log_warnx("--stats-fd=%d: want a memfd of at least %u bytes", fd, NET_STATS_FD_MIN);
		return -1;
	}
	p = mmap(NULL, NET_STATS_FD_MIN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		log_warn("--stats-fd=%d: mmap", fd);
		return -1;
	}
	close(fd);
	m->stats = p;
	return 0;
}

/* A number after "\nkey:\t" in an fdinfo text, or 0. */
static unsigned long fdinfo_field(const char *info, const char *key)
{
	const char *p = strstr(info, key);

	return p ? strtoul(p + strlen(key), NULL, 0) : 0;
}

/* One steering map: what its fdinfo says must be an mmapable array of one entry of `size`
 * bytes (anything else is not the map the program reads). Mapped shared, the fd closed: the
 * mapping keeps the map, and the sandbox needs no bpf-map fd. */
static void *map_one(int fd, size_t size)
{
	char path[48], info[1024];
	ssize_t n;
	void *p;
	int f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = open(path, O_RDONLY | O_CLOEXEC);
	n = f < 0 ? -1 : read(f, info, sizeof(info) - 1);
	if (f >= 0)
		close(f);
	info[n > 0 ? n : 0] = 0;
	if (fdinfo_field(info, "\nmap_type:\t") != BPF_MAP_TYPE_ARRAY ||
	    fdinfo_field(info, "\nvalue_size:\t") != size ||
	    fdinfo_field(info, "\nmax_entries:\t") != 1 ||
	    !(fdinfo_field(info, "\nmap_flags:\t") & BPF_F_MMAPABLE)) {
		log_warnx("--rss-map-fds: %d is not a one-entry mmapable BPF array of %zu bytes",
			  fd, size);
		return NULL;
	}
	/* an array's mmap covers its values rounded up to pages: one page here */
	p = mmap(NULL, (size_t)sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		log_warn("--rss-map-fds: mmap of %d", fd);
		return NULL;
	}
	close(fd);
	return p;
}

static int map_rss(struct mainloop *m)
{
	const int *fd = m->opts.rss_fd;

	if (!m->opts.rss)
		return 0;
	_Static_assert(sizeof(struct net_rss_table) <= 4096, "one page per map");
	m->rss.cfg = map_one(fd[0], sizeof(struct net_rss_cfg));
	m->rss.key = m->rss.cfg ? map_one(fd[1], sizeof(struct net_rss_key)) : NULL;
	m->rss.table = m->rss.key ? map_one(fd[2], sizeof(struct net_rss_table)) : NULL;
	return m->rss.table ? 0 : -1;
}

static int open_taps(struct mainloop *m)
{
	const struct net_opts *o = &m->opts;
	char name[IFNAMSIZ];

	if (o->tap) {
		snprintf(m->ifname, sizeof(m->ifname), "%s", o->tap);
		return net_tap_open(o->tap, o->pairs, m->taps);
	}
	for (unsigned i = 0; i < o->ntap_fd; i++) {
		if (net_tap_adopt(o->tap_fd[i], o->pairs, name) < 0)
			return -1;
		if (i && strcmp(name, m->ifname)) {
			log_warnx("--tap-fd=%d is a queue of %s, --tap-fd=%d of %s: one tap per NIC",
				  o->tap_fd[i], name, o->tap_fd[0], m->ifname);
			return -1;
		}
		memcpy(m->ifname, name, sizeof(name));
		m->taps[i] = o->tap_fd[i];
	}
	return 0;
}

static int setup(struct mainloop *m)
{
	const struct net_hooks hooks = { .tap_watch = tap_watch };
	const struct vu_loop_dev dev = { &m->dev.vu, net_nqueues(m->opts.pairs), &net_vu_ops,
					 &m->dev, net_disconnect };
	int r;

	if (open_taps(m) < 0 || map_stats(m) < 0 || map_rss(m) < 0)
		return -1;
	net_stats_attach(m->stats, m->opts.pairs);
	r = net_dev_init(&m->dev, m->taps, m->opts.pairs, m->opts.mac, m->stats, &hooks);
	if (r < 0 || vu_loop_init(&m->loop, &dev) < 0)
		return -1;
	if (m->rss.cfg)
		net_dev_rss(&m->dev, &m->rss);
	m->dev.loop = m;
	for (unsigned p = 0; p < m->opts.pairs; p++) {
		struct tap_ev *t = &m->ev[p];

		t->dev = &m->dev;
		t->pair = p;
		/* level-triggered: a budget-limited pass comes back while frames wait */
		t->rd = event_new(m->loop.base, m->taps[p], EV_READ | EV_PERSIST, on_tap_read, t);
		t->wr = event_new(m->loop.base, m->taps[p], EV_WRITE | EV_PERSIST, on_tap_write, t);
		if (!t->rd || !t->wr)
			return -1;
	}
	if (m->opts.socket_path)
		return vu_loop_listen(&m->loop, m->opts.socket_path);
	return vu_loop_adopt(&m->loop, m->opts.fd);
}

static int enter_sandbox(struct mainloop *m)
{
	int keep[NET_MAX_PAIRS + 2];
	unsigned n = 0;
	struct sandbox_opts so = m->opts.runas;

	/* ---- the taps and the socket are held; nothing more is opened. libevent's epoll fd
	 * and signal pipe are close-on-exec fds we made (keep_cloexec). ---- */
	for (unsigned p = 0; p < m->opts.pairs; p++)
		keep[n++] = m->taps[p];
	keep[n++] = m->loop.conn_fd;
	keep[n++] = m->loop.listen_fd;
	so.no_seccomp = m->opts.no_seccomp;
	so.keep_cloexec = true;
	return sandbox_enter(SANDBOX_DEV_NET, keep, n, &so);
}

static void teardown(struct mainloop *m)
{
	for (unsigned p = 0; p < NET_MAX_PAIRS; p++) {
		if (m->ev[p].rd)
			event_free(m->ev[p].rd);
		if (m->ev[p].wr)
			event_free(m->ev[p].wr);
		m->ev[p].rd = m->ev[p].wr = NULL;
	}
	vu_loop_exit(&m->loop);
	net_dev_exit(&m->dev);
}

int main(int argc, char **argv)
{
	struct mainloop *m = &ml;
	char err[256];
	int r;

	if (net_opts_parse(&m->opts, argc, argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "bulkhead-net: %s\n", err);
		return 2;
	}
	if (m->opts.print_caps) {
		printf("%s\n", net_capabilities);
		return 0;
	}
	if (m->opts.name[0])
		snprintf(m->role, sizeof(m->role), "net/%.*s", NET_NAME_MAX, m->opts.name);
	else
		snprintf(m->role, sizeof(m->role), "net");
	log_init(m->role, STDERR_FILENO);
	signal(SIGPIPE, SIG_IGN);       /* a frontend that vanished is an error return, not death */
	for (unsigned p = 0; p < NET_MAX_PAIRS; p++)
		m->taps[p] = -1;
	r = setup(m);
	if (r == 0)
		r = enter_sandbox(m);
	if (r == 0) {
		const uint8_t *a = m->opts.mac;

		log_info("serving %s, %u queue pair(s), mac %02x:%02x:%02x:%02x:%02x:%02x%s",
			 m->ifname, m->opts.pairs, a[0], a[1], a[2], a[3], a[4], a[5],
			 m->rss.cfg ? ", RSS" : "");
		vu_loop_run(&m->loop);
	}
	teardown(m);
	return r == 0 ? 0 : 1;
}
