/* bulkhead-hvc's host side: one client at a time on the listening socket. The next one
 * waits in the backlog (the listener is not watched while a client is attached) and is
 * accepted when this one goes. Nothing here blocks: the client is nonblocking, sends carry
 * MSG_NOSIGNAL, and a client that stops reading only stops the transmitq (console.c). */
#include "console.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "util.h"

#define SEND_FLAGS (MSG_NOSIGNAL | MSG_DONTWAIT)

void con_accept(struct con_dev *d)
{
	int s;

	if (d->client_fd >= 0)
		return;
	s = accept4(d->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (s < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warnx_rl(&d->rl, "console socket: accept: %s", strerror(errno));
		return;
	}
	d->client_fd = s;
	d->accepting = false;
	d->wr_watch = false;
	d->stats.clients++;
	log_info("client connected (%u bytes of output buffered)", d->out.len);
	d->hooks.watch(d);
	/* what the guest wrote meanwhile comes first; input it typed already is read too */
	con_flush(d);
	con_rx_process(d);
}

void con_client_close(struct con_dev *d, const char *why)
{
	if (d->client_fd < 0)
		return;
	log_info("client gone: %s (%u bytes of output kept)", why, d->out.len);
	d->hooks.forget(d);
	closep(&d->client_fd);
	d->accepting = true;
	d->wr_watch = false;
	d->hooks.watch(d);
	/* with nobody to wait for, the transmitq goes on (dropping the oldest output) */
	if (d->tx_blocked || d->holding) {
		d->tx_blocked = false;
		d->hooks.later(d);
	}
}

void con_flush(struct con_dev *d)
{
	bool sent = false;

	while (d->client_fd >= 0 && d->out.len) {
		struct iovec v[2];
		struct msghdr mh = { .msg_iov = v };
		ssize_t n;

		mh.msg_iovlen = con_buf_iov(&d->out, v);
		n = sendmsg(d->client_fd, &mh, SEND_FLAGS);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			/* what it did not take stays in the ring for the next client */
			con_client_close(d, strerror(errno));
			return;
		}
		con_buf_drop(&d->out, (uint32_t)n);
		d->stats.sent_bytes += (uint64_t)n;
		sent = true;
	}
	if (d->client_fd < 0)
		return;
	if (d->wr_watch != (d->out.len > 0)) {
		d->wr_watch = d->out.len > 0;
		d->hooks.watch(d);
	}
	/* room again: the transmitq may go on (through the loop, not from inside this pass) */
	if (sent && d->tx_blocked) {
		d->tx_blocked = false;
		d->hooks.later(d);
	}
}

void con_client_readable(struct con_dev *d)
{
	con_rx_process(d);
}

void con_client_writable(struct con_dev *d)
{
	con_flush(d);
}

/* The client is readable but there is nowhere to put its input (no receive buffer, or no
 * frontend): it stays in the socket. Only a client that hung up both ways is closed now - it
 * can read no output and send no more, and it holds the place of the next one. A half-closed
 * one (shutdown(SHUT_WR)) still reads; its EOF is read once the guest posts buffers. The
 * readability watch is edge-triggered: this runs once per arrival, never in a loop. */
void con_client_idle_check(struct con_dev *d)
{
	struct pollfd p = { .fd = d->client_fd, .events = POLLIN };

	if (d->client_fd < 0 || poll(&p, 1, 0) <= 0)
		return;
	if (p.revents & (POLLHUP | POLLERR))
		con_client_close(d, "hung up with unread input");
}
