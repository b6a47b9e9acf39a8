/* bulkhead-vsock host side: the VM's socket (a host peer's accept and CONNECT line, then the
 * REQUEST to the guest) and a guest's REQUEST for host port P (a connect to NAME_P by its bare
 * name, in the socket directory that is our working directory). The stream itself is io.c's. */
#include "vsock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

void vsock_accept(struct vsock_dev *d)
{
	for (unsigned i = 0; i < 16; i++) {
		int s = accept4(d->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct vsock_conn *c;

		if (s < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("%s: accept", d->uds_name);
			return;
		}
		c = vsock_conn_new(&d->tab);
		if (!c) {
			/* accepted and closed: a full table must not leave peers in the backlog */
			d->stats.conns_full++;
			log_warnx_rl(&d->rl, "%s: %u connections: host peer refused", d->uds_name,
				     d->tab.max);
			close(s);
			continue;
		}
		c->fd = s;
		c->state = VSOCK_LINE;
		d->stats.conns_opened++;
		vsock_conn_sync(d, c);
	}
}

/* The host peer's CONNECT line: consumed exactly (data after it stays in the socket for the
 * guest), then the REQUEST goes to the guest. */
void vsock_read_line(struct vsock_dev *d, struct vsock_conn *c)
{
	size_t room = VSOCK_LINE_MAX - c->line_len, linelen;
	uint32_t port;
	ssize_t n;
	int r;

	n = recv(c->fd, c->line + c->line_len, room, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		vsock_conn_close(d, c, false);
		return;
	}
	r = vsock_connect_line(c->line, c->line_len + (size_t)n, &port, &linelen);
	if (r < 0) {
		d->stats.bad_lines++;
		log_warnx_rl(&d->rl, "%s: host peer sent no CONNECT line: closed", d->uds_name);
		vsock_conn_close(d, c, false);
		return;
	}
	/* a partial line is taken whole (it is all line); a complete one up to its '\n' */
	n = recv(c->fd, c->line + c->line_len, r ? linelen - c->line_len : (size_t)n,
		 MSG_DONTWAIT);
	if (n <= 0) {
		vsock_conn_close(d, c, false);
		return;
	}
	c->line_len += (unsigned)n;
	if (!r)
		return;
	vsock_conn_hash(&d->tab, c, vsock_local_port(&d->tab, port), port);
	c->state = VSOCK_CONNECTING;
	vsock_pend(d, c, VSOCK_PEND_REQUEST);
	vsock_conn_sync(d, c);
	vsock_rx_process(d);
}

/* A guest REQUEST for host port p->dst_port: connect to NAME_<port> in our directory. */
void vsock_guest_connect(struct vsock_dev *d, const struct vsock_pkt *p)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vsock_conn *c = vsock_conn_new(&d->tab);
	int s;

	if (!c) {
		d->stats.conns_full++;
		log_warnx_rl(&d->rl, "guest connect to %u: %u connections: refused", p->dst_port,
			     d->tab.max);
		vsock_rst_queue(d, p->dst_port, p->src_port);
		return;
	}
	/* uds_name has no '/' and the suffix is digits: a name in our directory, always */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", d->uds_name, p->dst_port);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	/* unix connect never says EINPROGRESS: it is done, or refused (EAGAIN: backlog full) */
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		d->stats.refused++;
		log_debug("guest connect to %s: %s", sa.sun_path, strerror(errno));
		if (s >= 0)
			close(s);
		vsock_conn_free(&d->tab, c);
		vsock_rst_queue(d, p->dst_port, p->src_port);
		return;
	}
	c->fd = s;
	vsock_conn_hash(&d->tab, c, p->dst_port, p->src_port);
	vsock_peer_update(c, p);
	c->state = VSOCK_RESPONDING;
	d->stats.conns_opened++;
	vsock_pend(d, c, VSOCK_PEND_RESPONSE);
}
