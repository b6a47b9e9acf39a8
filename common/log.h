/* Logging for every bulkhead process, in the style of OpenBSD vmd: each line carries the
 * process role; *_warn appends strerror(errno), *_warnx does not. */
#ifndef BULKHEAD_LOG_H
#define BULKHEAD_LOG_H

#include <stdbool.h>
#include <stdint.h>

#define PRINTF(f, a) __attribute__((format(printf, f, a)))

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* role is copied; fd is where lines go (stderr by default). */
void log_init(const char *role, int fd);
void log_set_level(enum log_level lvl);
void log_set_fd(int fd);
int log_get_fd(void);

void log_warn(const char *fmt, ...) PRINTF(1, 2);
void log_warnx(const char *fmt, ...) PRINTF(1, 2);
void log_info(const char *fmt, ...) PRINTF(1, 2);
void log_debug(const char *fmt, ...) PRINTF(1, 2);
/* Programming or startup errors only: never on input from a guest or a peer. */
void fatal(const char *fmt, ...) PRINTF(1, 2) __attribute__((noreturn));
void fatalx(const char *fmt, ...) PRINTF(1, 2) __attribute__((noreturn));

/*
 * Rate limit for guest-triggerable messages: at most `burst` lines per `interval_ms`,
 * then one "suppressed N" summary when the window reopens.
 */
struct ratelimit {
	uint64_t window_start_ms;
	unsigned interval_ms;
	unsigned burst;
	unsigned printed;
	unsigned suppressed;
};
#define RATELIMIT_INIT(ms, n) { 0, (ms), (n), 0, 0 }
bool ratelimit_ok(struct ratelimit *rl);

#define log_warnx_rl(rl, ...) do { if (ratelimit_ok(rl)) log_warnx(__VA_ARGS__); } while (0)

#endif
