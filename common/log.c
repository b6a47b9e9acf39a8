/* Role-prefixed logging with rate limiting for guest-triggerable messages. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static char log_role[32] = "bulkhead";
static int log_fd = 2;
static enum log_level log_level = LOG_LVL_INFO;

void log_init(const char *role, int fd)
{
	snprintf(log_role, sizeof(log_role), "%s", role);
	log_fd = fd;
	if (getenv("BULKHEAD_DEBUG"))
		log_level = LOG_LVL_DEBUG;
}

void log_set_level(enum log_level lvl) { log_level = lvl; }
void log_set_fd(int fd) { log_fd = fd; }
int log_get_fd(void) { return log_fd; }

static void vlog(enum log_level lvl, int err, const char *fmt, va_list ap)
{
	char buf[1024];
	int n, m;

	if (lvl > log_level)
		return;
	n = snprintf(buf, sizeof(buf), "%s: ", log_role);
	m = vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	if (m > 0)
		n += m;
	if (n >= (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	if (err) {
		m = snprintf(buf + n, sizeof(buf) - n, ": %s", strerror(err));
		if (m > 0)
			n += m;
		if (n >= (int)sizeof(buf) - 2)
			n = sizeof(buf) - 2;
	}
	buf[n++] = '\n';
	/* one write per line so lines from several processes do not interleave */
	if (write(log_fd, buf, n) < 0) {
		/* nothing sensible to do: the log is the error channel */
	}
}

#define LOGFN(name, lvl, with_errno)                      \
	void name(const char *fmt, ...)                   \
	{                                                 \
		int saved = errno;                        \
		va_list ap;                               \
		va_start(ap, fmt);                        \
		vlog(lvl, with_errno ? saved : 0, fmt, ap); \
		va_end(ap);                               \
		errno = saved;                            \
	}

LOGFN(log_warn, LOG_LVL_WARN, 1)
LOGFN(log_warnx, LOG_LVL_WARN, 0)
LOGFN(log_info, LOG_LVL_INFO, 0)
LOGFN(log_debug, LOG_LVL_DEBUG, 0)

void fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERR, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

static uint64_t now_ms(void)
{
	return mono_ns() / 1000000;
}

bool ratelimit_ok(struct ratelimit *rl)
{
	uint64_t now = now_ms();

	if (now - rl->window_start_ms >= rl->interval_ms) {
		if (rl->suppressed)
			log_warnx("%u similar messages suppressed", rl->suppressed);
		rl->window_start_ms = now;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	if (rl->printed < rl->burst) {
		rl->printed++;
		return true;
	}
	rl->suppressed++;
	return false;
}
