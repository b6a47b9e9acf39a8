/* Command-line helpers shared by the worker programs (bulkhead-blk, -net, -vsock): the
 * getopt_long loop with one-line error messages, strict decimal numbers, and the format of an
 * error line. main prints the line and exits 2. */
#ifndef BULKHEAD_OPTS_H
#define BULKHEAD_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <getopt.h>

#include "log.h"

/* Format the one-line reason into err; returns -EINVAL. */
int opt_fail(char *err, size_t errlen, const char *fmt, ...) PRINTF(3, 4);

/* Decimal only, no sign, no trailing text, within [min, max]. */
bool opt_number(const char *s, unsigned long long min, unsigned long long max,
		unsigned long long *v);

/* The options every worker shares, with their error lines: --socket-path (fits sun_path),
 * a descriptor number (--fd, --blk-fd, --tap-fd, ...: opt names it), --name (1..max
 * characters without blanks or '/', copied into out of outlen bytes). 0 or -EINVAL. */
int opt_socket_path(const char *arg, const char **out, char *err, size_t errlen);
int opt_fd(const char *opt, const char *arg, int *fd, char *err, size_t errlen);
int opt_name(const char *arg, unsigned max, char *out, size_t outlen, char *err, size_t errlen);

/* Handles one option c (the long option's val) with its argument; 0 or -EINVAL with err. */
typedef int (*opt_one_fn)(void *ctx, int c, const char *arg, char *err, size_t errlen);

/* Run getopt_long over argv (long options only; restartable, so tests parse repeatedly),
 * calling one() per option; unknown options, missing arguments and stray arguments are
 * errors. 0 or -EINVAL with err. */
int opt_parse(int argc, char **argv, const struct option *longopts, opt_one_fn one, void *ctx,
	      char *err, size_t errlen);

#endif
