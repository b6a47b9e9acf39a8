/* The command-line tests' shared helpers (cli_harness.h). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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


/* ---- -config files ---- */

static char json_dir[] = "/tmp/bulkhead-cli-json-XXXXXX";

void json_dir_enter(void)
{
	cr_assert_not_null(mkdtemp(json_dir), "mkdtemp: %m");
	cr_assert_eq(chdir(json_dir), 0, "chdir: %m");
}

void json_dir_leave(void)
{
	DIR *d = opendir(json_dir);
	struct dirent *e;

	cr_assert_not_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	cr_assert_eq(chdir("/"), 0);
	cr_expect_eq(rmdir(json_dir), 0, "rmdir %s: %m", json_dir);
}

void json_write_raw(const char *name, const void *p, size_t len)
{
	FILE *f = fopen(name, "w");

	cr_assert_not_null(f, "%s: %m", name);
	cr_assert_eq(fwrite(p, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

void json_write(const char *name, const char *text)
{
	char *json = strdup(text);

	cr_assert_not_null(json);
	for (char *c = json; *c; c++)
		if (*c == '\'')
			*c = '"';
	json_write_raw(name, json, strlen(json));
	free(json);
}
