/* The pieces every option handler of the command line shares (cli_props.h): one-line errors,
 * bounded copies, numbers, on/off, MAC addresses, device ids, and the "key=value,..."
 * property-list splitter. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_props.h"
#include "util.h"

/* Fill err with one line; returns -EINVAL so handlers can `return cli_fail(...)`. */
PRINTF(2, 3) int cli_fail(struct cli_state *st, const char *fmt, ...)
{
	va_list ap;

	if (!st->err || !st->errlen)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(st->err, st->errlen, fmt, ap);
	va_end(ap);
	/* values are echoed back quoted; a newline in one must not split the message */
	for (char *p = st->err; *p; p++)
		if (iscntrl((unsigned char)*p))
			*p = '?';
	return -EINVAL;
}

/* Copy a non-empty string into a fixed-size config field. */
int cli_copy_str(struct cli_state *st, const char *opt, char *dst, size_t size,
		 const char *src)
{
	size_t len = strlen(src);

	if (len == 0)
		return cli_fail(st, "%s: must not be empty", opt);
	if (len >= size)
		return cli_fail(st, "%s: too long (%zu characters, max %zu)", opt, len, size - 1);
	memcpy(dst, src, len + 1);
	return 0;
}

/*
 * Decimal digits only, so "-1", "+2", " 3", "0x10" and "" are refused (strtoul would take
 * most of them). *end points past the digits; -ERANGE on 64-bit overflow.
 */
int cli_parse_dec(const char *s, uint64_t *out, const char **end)
{
	uint64_t v = 0;
	const char *p = s;

	for (; *p >= '0' && *p <= '9'; p++) {
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(*p - '0'), &v))
			return -ERANGE;
	}
	if (p == s)
		return -EINVAL;
	*out = v;
	*end = p;
	return 0;
}

const char *cli_onoff(bool b)
{
	return b ? "on" : "off";
}

/* ---- "key=value,key=value" property lists ---- */

static int props_add(struct cli_state *st, const char *opt, struct props *pr, char *item,
		     const char *defkey)
{
	char *eq = strchr(item, '=');
	struct prop *p;

	if (pr->n == PROPS_MAX)
		return cli_fail(st, "%s: too many properties (max %d)", opt, PROPS_MAX);
	p = &pr->p[pr->n];
	if (eq) {
		*eq = '\0';
		p->key = item;
		p->val = eq + 1;
	} else if (pr->n == 0 && defkey) {
		/* a leading bare value names the default key: "microvm", "4" */
		p->key = defkey;
		p->val = item;
	} else {
		p->key = item;
		p->val = NULL;
	}
	if (*p->key == '\0')
		return cli_fail(st, "%s: empty property name", opt);
	for (unsigned i = 0; i < pr->n; i++)
		if (!strcmp(pr->p[i].key, p->key))
			return cli_fail(st, "%s: property '%s' given more than once", opt, p->key);
	pr->n++;
	return 0;
}

/* Split arg into pr; ",," is a literal comma as in QEMU, so paths may contain commas. */
int cli_props_split(struct cli_state *st, const char *opt, const char *arg,
		    const char *defkey, struct props *pr)
{
	const char *r = arg;
	char *w = pr->buf, *item = w;
	int ret;

	if (strlen(arg) >= sizeof(pr->buf))
		return cli_fail(st, "%s: argument too long", opt);
	pr->n = 0;
	for (;;) {
		if (r[0] == ',' && r[1] == ',') {
			*w++ = ',';
			r += 2;
		} else if (*r == ',' || *r == '\0') {
			*w++ = '\0';
			ret = props_add(st, opt, pr, item, defkey);
			if (ret || *r == '\0')
				return ret;
			r++;
			item = w;
		} else {
			*w++ = *r++;
		}
	}
}

/* QEMU's rule for ids: a letter, then letters, digits, '-', '.', '_'. */
static int copy_id(struct cli_state *st, const char *opt, const char *key, char *dst,
		   size_t size, const char *val)
{
	int ret = cli_need_val(st, opt, key, val);

	if (ret)
		return ret;
	if (!isalpha((unsigned char)val[0]))
		return cli_fail(st, "%s: %s '%s' must start with a letter", opt, key, val);
	for (const char *p = val; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-._", *p))
			return cli_fail(st, "%s: %s '%s' may only hold letters, digits, '-', '.', '_'",
				    opt, key, val);
	if (strlen(val) >= size)
		return cli_fail(st, "%s: %s '%s' is too long (max %zu)", opt, key, val, size - 1);
	strcpy(dst, val);
	return 0;
}

int cli_copy_serial(struct cli_state *st, const char *opt, const char *key, char *dst,
		    size_t size, const char *val)
{
	int ret = cli_need_val(st, opt, key, val);

	if (ret)
		return ret;
	for (const char *p = val; *p; p++)
		if (!isprint((unsigned char)*p))
			return cli_fail(st, "%s: %s may only hold printable characters", opt, key);
	if (strlen(val) >= size)
		return cli_fail(st, "%s: %s '%s' is too long (max %zu bytes)", opt, key, val,
			    size - 1);
	strcpy(dst, val);
	return 0;
}

/* A NIC's own address: six hex pairs, unicast (a multicast source address is invalid on the
 * wire) and not zero (zero is what "not given" looks like). */
static int copy_mac(struct cli_state *st, const char *opt, const char *key, uint8_t *mac,
		    const char *val)
{
	bool ok;
	int ret = cli_need_val(st, opt, key, val);

	if (ret)
		return ret;
	ok = strlen(val) == 17;
	for (size_t i = 0; ok && i < 17; i++)
		ok = i % 3 == 2 ? val[i] == ':' : isxdigit((unsigned char)val[i]) != 0;
	if (!ok)
		return cli_fail(st, "%s: %s '%s' is not a MAC address (six hex pairs separated by ':')",
			    opt, key, val);
	for (unsigned i = 0; i < 6; i++)
		mac[i] = (uint8_t)strtoul(val + 3 * i, NULL, 16);
	if (mac[0] & 1)
		return cli_fail(st, "%s: %s '%s' is a multicast address", opt, key, val);
	if (!(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		return cli_fail(st, "%s: %s '%s' is all zeros", opt, key, val);
	return 0;
}

static int apply_one(struct cli_state *st, const char *opt, const struct prop_desc *d,
		     const struct prop *p, void *obj)
{
	char *field;
	int ret;

	/* A handler-only list (-smp's) has no object: obj is NULL, and NULL + 0 is already
	 * undefined behaviour (clang's UBSan stopped fuzz-cli on the first seed). */
	if (d->type == PROP_FN)
		return d->fn(st, opt, p->key, p->val);
	field = (char *)obj + d->off;
	switch (d->type) {
	case PROP_ID:
		return copy_id(st, opt, p->key, field, d->size, p->val);
	case PROP_SERIAL:
		return cli_copy_serial(st, opt, p->key, field, d->size, p->val);
	case PROP_BOOL:
		return cli_prop_bool(st, opt, p->key, p->val, (bool *)field);
	case PROP_MAC:
		return copy_mac(st, opt, p->key, (uint8_t *)field, p->val);
	case PROP_STR:
	default:
		ret = cli_need_val(st, opt, p->key, p->val);
		return ret ? ret : cli_copy_str(st, opt, field, d->size, p->val);
	}
}

/* Apply each property as the descriptor its key names says; unknown keys are errors. */
int cli_props_apply(struct cli_state *st, const char *opt, const struct props *pr,
		    const struct prop_desc *descs, size_t ndescs, void *obj)
{
	for (unsigned i = 0; i < pr->n; i++) {
		const struct prop *p = &pr->p[i];
		size_t d;
		int ret;

		for (d = 0; d < ndescs; d++)
			if (!strcmp(descs[d].key, p->key))
				break;
		if (d == ndescs)
			return cli_fail(st, "%s: unknown property '%s'", opt, p->key);
		ret = apply_one(st, opt, &descs[d], p, obj);
		if (ret)
			return ret;
	}
	return 0;
}

int cli_props_parse(struct cli_state *st, const char *opt, const char *arg,
		    const char *defkey, const struct prop_desc *descs, size_t ndescs, void *obj)
{
	struct props pr;
	int ret = cli_props_split(st, opt, arg, defkey, &pr);

	return ret ? ret : cli_props_apply(st, opt, &pr, descs, ndescs, obj);
}

const char *cli_props_get(const struct props *pr, const char *key)
{
	for (unsigned i = 0; i < pr->n; i++)
		if (!strcmp(pr->p[i].key, key))
			return pr->p[i].val;
	return NULL;
}

int cli_prop_ignore(struct cli_state *st UNUSED, const char *opt UNUSED, const char *key UNUSED,
		    const char *val UNUSED)
{
	return 0;
}

/* QMP's device_del names a device by its id, whatever its kind, so ids are one namespace.
 * Called before the device being parsed is counted; NIC devices are still pending then, an
 * old-form -netdev (a NIC by itself) is already in cfg->nets with has_device. */
int cli_check_dev_id(struct cli_state *st, const char *opt, const char *id)
{
	const struct vm_config *c = st->cfg;
	bool used = false;

	if (!id[0])
		return 0;
	for (unsigned i = 0; i < st->nblkdevs; i++)
		used |= !strcmp(st->blkdevs[i].id, id);
	for (unsigned i = 0; i < c->nvhost_user_blk; i++)
		used |= !strcmp(c->vhost_user_blk[i].dev_id, id);
	for (unsigned i = 0; i < st->nnicdevs; i++)
		used |= !strcmp(st->nicdevs[i].id, id);
	for (unsigned i = 0; i < c->nnets; i++)
		used |= c->nets[i].has_device && !strcmp(c->nets[i].dev_id, id);
	used |= c->vsock.present && !strcmp(c->vsock.id, id);
	used |= c->rng.present && !strcmp(c->rng.id, id);
	used |= c->console.present && !strcmp(c->console.id, id);
	used |= c->console.has_bus && !strcmp(c->console.bus_id, id);
	return used ? cli_fail(st, "%s: id '%s' is used by another device", opt, id) : 0;
}

int cli_need_val(struct cli_state *st, const char *opt, const char *key, const char *val)
{
	return val ? 0 : cli_fail(st, "%s: property '%s' needs a value", opt, key);
}

int cli_prop_range(struct cli_state *st, const char *opt, const char *key, const char *val,
		   bool named, uint64_t min, uint64_t max, uint64_t *out)
{
	const char *end, *k = named ? key : "", *sp = named ? " " : "";
	int ret = cli_need_val(st, opt, key, val);

	if (ret)
		return ret;
	ret = cli_parse_dec(val, out, &end);
	if (ret == -EINVAL || (!ret && *end))
		return cli_fail(st, "%s: %s%s'%s' is not a valid number", opt, k, sp, val);
	if (ret || *out < min || *out > max)
		return cli_fail(st, "%s: %s%s'%s' is out of range (%llu-%llu)", opt, k, sp, val,
				(unsigned long long)min, (unsigned long long)max);
	return 0;
}

/* on|off|true|false; a bare flag (",readonly") means on, as in QEMU. */
int cli_prop_bool(struct cli_state *st, const char *opt, const char *key, const char *val,
		  bool *out)
{
	if (!val || !strcmp(val, "on") || !strcmp(val, "true"))
		*out = true;
	else if (!strcmp(val, "off") || !strcmp(val, "false"))
		*out = false;
	else
		return cli_fail(st, "%s: property '%s' must be on or off, not '%s'", opt, key, val);
	return 0;
}
