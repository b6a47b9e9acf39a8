/* Schema-driven validation of QMP "arguments": missing, unexpected, duplicated and ill-typed
 * members are refused with a message naming the member; strings are length-checked against
 * the fixed-size fields they will be copied into, so nothing is ever truncated silently. */
#include "args.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* set desc and fail; members are named dotted, as QEMU names nested ones ("file.filename") */
#define FAIL(desc, n, fmt, ...) (snprintf((desc), (n), fmt, __VA_ARGS__), -EINVAL)

static bool id_wellformed(const char *s)
{
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '.' || *s == '_'))
			return false;
	return true;
}

static int parse_string(yajl_val v, const struct qmp_arg *a, const char *name, char *dst,
			char *desc, size_t n)
{
	size_t len;

	if (!YAJL_IS_STRING(v))
		return FAIL(desc, n, "Parameter '%s' expects a string", name);
	len = strlen(v->u.string);
	if (len >= a->size)
		return FAIL(desc, n, "Parameter '%s' is too long (at most %u bytes)", name,
			     (unsigned)a->size - 1);
	/* the core's decoder refuses empty required strings: never relay one */
	if (a->required && len == 0)
		return FAIL(desc, n, "Parameter '%s' must not be empty", name);
	if (a->type == ARG_ID && !id_wellformed(v->u.string))
		return FAIL(desc, n, "Parameter '%s' expects an identifier", name);
	memcpy(dst, v->u.string, len + 1);
	return 0;
}

static int parse_member(yajl_val v, const struct qmp_arg *a, const char *name, char *dst,
			uint32_t *present, char *desc, size_t n)
{
	uint64_t u;

	switch (a->type) {
	case ARG_STR:
	case ARG_ID:
		return parse_string(v, a, name, dst + a->off, desc, n);
	case ARG_BOOL:
		if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v))
			return FAIL(desc, n, "Parameter '%s' expects a boolean", name);
		dst[a->off] = YAJL_IS_TRUE(v);
		return 0;
	case ARG_U64:
		/* yajl drops INT_VALID on overflow, so this is exactly 0..INT64_MAX */
		if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 0)
			return FAIL(desc, n, "Parameter '%s' expects a non-negative integer", name);
		u = (uint64_t)YAJL_GET_INTEGER(v);
		memcpy(dst + a->off, &u, sizeof(u));
		return 0;
	case ARG_OBJ: {
		char prefix[160];

		if (!YAJL_IS_OBJECT(v))
			return FAIL(desc, n, "Parameter '%s' expects an object", name);
		snprintf(prefix, sizeof(prefix), "%s.", name);
		return qmp_args_parse(v, a->sub, prefix, dst, present, desc, n);
	}
	case ARG_ARRAY:
		if (!YAJL_IS_ARRAY(v))
			return FAIL(desc, n, "Parameter '%s' expects an array", name);
		memcpy(dst + a->off, &v, sizeof(v));
		return 0;
	}
	return FAIL(desc, n, "Parameter '%s' has an unknown type", name);
}

/* the member called name, or NULL; *count says how often it occurs */
static yajl_val lookup(yajl_val obj, const char *name, unsigned *count)
{
	yajl_val found = NULL;

	*count = 0;
	for (size_t i = 0; i < obj->u.object.len; i++)
		if (!strcmp(obj->u.object.keys[i], name)) {
			if (!found)
				found = obj->u.object.values[i];
			(*count)++;
		}
	return found;
}

static bool in_schema(const struct qmp_arg *schema, const char *key)
{
	for (const struct qmp_arg *a = schema; a && a->name; a++)
		if (!strcmp(a->name, key))
			return true;
	return false;
}

int qmp_args_parse(yajl_val obj, const struct qmp_arg *schema, const char *prefix, void *dst,
		   uint32_t *present, char *desc, size_t n)
{
	char name[128];
	unsigned count;
	int r;

	/* schema order first, as QEMU's visitor does: a missing member beats an unexpected one */
	for (const struct qmp_arg *a = schema; a && a->name; a++) {
		yajl_val v = lookup(obj, a->name, &count);

		snprintf(name, sizeof(name), "%s%s", prefix, a->name);
		if (count > 1)
			return FAIL(desc, n, "Parameter '%s' is duplicated", name);
		if (!v) {
			if (a->required)
				return FAIL(desc, n, "Parameter '%s' is missing", name);
			continue;
		}
		r = parse_member(v, a, name, dst, present, desc, n);
		if (r < 0)
			return r;
		*present |= a->flag;
	}
	for (size_t i = 0; i < obj->u.object.len; i++)
		if (!in_schema(schema, obj->u.object.keys[i]))
			return FAIL(desc, n, "Parameter '%s%.64s' is unexpected", prefix,
				    obj->u.object.keys[i]);
	return 0;
}
