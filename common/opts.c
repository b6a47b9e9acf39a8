/* Worker command-line helpers (see opts.h). */
#include "opts.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

int opt_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

bool opt_number(const char *s, unsigned long long min, unsigned long long max,
		unsigned long long *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return !errno && !*end && *v >= min && *v <= max;
}

int opt_socket_path(const char *arg, const char **out, char *err, size_t errlen)
{
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;

	if (!*arg || strlen(arg) > max)
		return opt_fail(err, errlen, "--socket-path: want 1..%zu bytes", max);
	*out = arg;
	return 0;
}

int opt_fd(const char *opt, const char *arg, int *fd, char *err, size_t errlen)
{
	unsigned long long v;

	if (!opt_number(arg, 0, INT_MAX, &v))
		return opt_fail(err, errlen, "--%s: not a file descriptor: '%s'", opt, arg);
	*fd = (int)v;
	return 0;
}

int opt_name(const char *arg, unsigned max, char *out, size_t outlen, char *err, size_t errlen)
{
	if (!*arg || strlen(arg) > max || strlen(arg) >= outlen || strpbrk(arg, " \t\n/"))
		return opt_fail(err, errlen, "--name: want 1..%u characters without spaces or '/'",
				max);
	snprintf(out, outlen, "%s", arg);
	return 0;
}

int opt_parse(int argc, char **argv, const struct option *longopts, opt_one_fn one, void *ctx,
	      char *err, size_t errlen)
{
	int c, r;

	optind = 0;         /* 0: full reinitialisation, so tests can parse repeatedly */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == '?' || c == ':') {
			const char *bad = argv[optind - 1];

			if (optopt)
				return opt_fail(err, errlen, "bad option or missing argument: %s", bad);
			return opt_fail(err, errlen, "unknown or ambiguous option: %s", bad);
		}
		r = one(ctx, c, optarg, err, errlen);
		if (r < 0)
			return r;
	}
	if (optind < argc)
		return opt_fail(err, errlen, "unexpected argument: %s", argv[optind]);
	return 0;
}
