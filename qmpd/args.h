/* Argument schemas of QMP commands: each member has a name, a type, whether it is required
 * and where its value goes in a fixed-size, pointer-free destination struct. Validation names
 * the offending argument the way QEMU does ("Parameter 'node-name' is missing"). */
#ifndef BULKHEAD_QMPD_ARGS_H
#define BULKHEAD_QMPD_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_tree.h>

enum qmp_arg_type {
	ARG_STR,        /* a string that fits the destination (size incl. NUL) */
	ARG_ID,         /* a string that is also an identifier: [A-Za-z][A-Za-z0-9._-]* */
	ARG_BOOL,       /* stored as uint8_t 0/1 */
	ARG_U64,        /* a non-negative integer, stored as uint64_t */
	ARG_OBJ,        /* an object validated against sub */
	ARG_ARRAY,      /* any array; the yajl_val is stored (the caller checks elements) */
};

struct qmp_arg {
	const char *name;               /* NULL ends a schema */
	enum qmp_arg_type type;
	bool required;
	uint16_t size;                  /* ARG_STR, ARG_ID: destination bytes incl. NUL */
	size_t off;                     /* destination offset */
	const struct qmp_arg *sub;      /* ARG_OBJ members */
	uint32_t flag;                  /* or'ed into *present when the member is given */
};

/*
 * Check obj (an object) against schema and store the members into dst. prefix names the
 * enclosing member for nested objects ("file."). Returns 0, or -EINVAL with a message in desc.
 */
int qmp_args_parse(yajl_val obj, const struct qmp_arg *schema, const char *prefix, void *dst,
		   uint32_t *present, char *desc, size_t n);

#endif
