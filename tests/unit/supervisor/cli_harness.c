/* The command-line tests' shared helpers (cli_harness.h). */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_harness.h"

#define MAXARGS 64

/* Parse a NULL-terminated argument list (argv[0] is supplied). */
static void run_v(struct run *r, va_list ap)
{
	char *argv[MAXARGS + 1];
	int argc = 0;
	size_t len;
	FILE *out;

	argv[argc++] = (char *)"bulkhead";
	for (char *a; (a = va_arg(ap, char *)); )
		argv[argc++] = a;
	cr_assert_lt(argc, MAXARGS);
	argv[argc] = NULL;
	memset(r->err, 'X', sizeof(r->err));    /* prove err is (re)written */
	out = open_memstream(&r->out, &len);
	cr_assert_not_null(out);
	r->res = cli_parse(argc, argv, &r->cfg, out, r->err, sizeof(r->err));
	fclose(out);
	out = open_memstream(&r->config, &len);
	cr_assert_not_null(out);
	cli_print_config(out, &r->cfg);
	fclose(out);
}

void run_free(struct run *r)
{
	free(r->out);
	free(r->config);
}

void expect_golden(const char *golden, ...)
{
	struct run r;
	va_list ap;

	va_start(ap, golden);
	run_v(&r, ap);
	va_end(ap);
	cr_assert_eq(r.res, CLI_OK, "parse failed: %s", r.err);
	cr_expect_str_eq(r.err, "");
	cr_expect_str_eq(r.out, "");
	cr_expect_str_eq(r.config, golden);
	run_free(&r);
}

void expect_error(const char *want, ...)
{
	struct run r;
	va_list ap;

	va_start(ap, want);
	run_v(&r, ap);
	va_end(ap);
	cr_expect_eq(r.res, CLI_ERROR, "expected error '%s', got result %d", want, r.res);
	cr_expect_str_eq(r.err, want);
	cr_expect_null(strchr(r.err, '\n'), "error is not one line: %s", r.err);
	run_free(&r);
}

void run_args(struct run *r, ...)
{
	va_list ap;

	va_start(ap, r);
	run_v(r, ap);
	va_end(ap);
}

struct run parse2(const char *opt, const char *arg)
{
	struct run r;

	run_args(&r, "-kernel", "/k", opt, arg, NULL);
	return r;
}

