/* The entropy device of the command line: -object rng-random,id=OBJ,filename=PATH (QEMU's and
 * StratoVirt's backend object; several may be declared) and -device virtio-rng-device,rng=OBJ
 * [,id=][,max-bytes=N][,period=MS], one per VM, in the rng slot, served by bulkhead-rng. */
#include <stdio.h>
#include <string.h>

#include "cli_props.h"
#include "util.h"
#include "worker_kinds.h"

#define RNG_DEFAULT_FILENAME "/dev/urandom"     /* QEMU's rng-random default */

bool cli_is_rng_driver(const char *drv)
{
	return worker_kind_by_driver(drv) == WORKER_RNG;
}

static int rng_filename(struct cli_state *st, const char *opt, const char *key, const char *val)
{
	struct rng_object *o = st->rng_object;
	int ret = cli_need_val(st, opt, key, val);

	if (ret)
		return ret;
	if (val[0] != '/')
		return cli_fail(st, "%s: %s must be an absolute path", opt, key);
	return cli_copy_str(st, opt, o->filename, sizeof(o->filename), val);
}

static const struct prop_desc rng_object_props[] = {
	PROP_HANDLER("qom-type", cli_prop_ignore),
	PROP_FIELD("id", PROP_ID, struct rng_object, id),
	PROP_HANDLER("filename", rng_filename),
};

/* -object TYPE,id=ID,...: rng-random only (the iothread object is -iothread here) */
int cli_opt_object(struct cli_state *st, const struct cli_opt *opt, const char *arg)
{
	struct rng_object *o;
	struct props pr;
	const char *type;
	int ret = cli_props_split(st, opt->name, arg, "qom-type", &pr);

	if (ret)
		return ret;
	type = cli_props_get(&pr, "qom-type");
	if (!type || !*type)
		return cli_fail(st, "%s: a type is required (rng-random)", opt->name);
	if (strcmp(type, "rng-random"))
		return cli_fail(st, "%s: type '%s' is not supported (rng-random)", opt->name, type);
	if (st->nrng_objects == VM_MAX_RNG_OBJECTS)
		return cli_fail(st, "%s: at most %d rng-random objects", opt->name,
				VM_MAX_RNG_OBJECTS);
	o = st->rng_object = &st->rng_objects[st->nrng_objects];
	memset(o, 0, sizeof(*o));
	ret = cli_props_apply(st, opt->name, &pr, rng_object_props, ARRAY_SIZE(rng_object_props),
			      o);
	st->rng_object = NULL;
	if (ret)
		return ret;
	if (!o->id[0])
		return cli_fail(st, "%s: property 'id' is required", opt->name);
	for (unsigned i = 0; i < st->nrng_objects; i++)
		if (!strcmp(st->rng_objects[i].id, o->id))
			return cli_fail(st, "%s: duplicate object id '%s'", opt->name, o->id);
	if (!o->filename[0])
		snprintf(o->filename, sizeof(o->filename), "%s", RNG_DEFAULT_FILENAME);
	st->nrng_objects++;
	return 0;
}

static int rng_max_bytes(struct cli_state *st, const char *opt, const char *key, const char *val)
{
	return cli_prop_range(st, opt, key, val, true, 1, VM_RNG_MAX_BYTES,
			      &st->cfg->rng.max_bytes);
}

static int rng_period(struct cli_state *st, const char *opt, const char *key, const char *val)
{
	return cli_prop_range(st, opt, key, val, true, 1, VM_RNG_MAX_PERIOD,
			      &st->cfg->rng.period_ms);
}

static const struct prop_desc rng_props[] = {
	PROP_HANDLER("driver", cli_prop_ignore),
	PROP_FIELD("id", PROP_ID, struct vm_rng, id),
	PROP_FIELD("rng", PROP_ID, struct vm_rng, object),
	PROP_HANDLER("max-bytes", rng_max_bytes),
	PROP_HANDLER("period", rng_period),
};

int cli_device_rng(struct cli_state *st, const char *opt, const struct props *pr)
{
	struct vm_rng *r = &st->cfg->rng;
	int ret;

	if (r->present)
		return cli_fail(st, "%s: at most %d virtio-rng device", opt, VM_MAX_RNGS);
	memset(r, 0, sizeof(*r));
	r->period_ms = VM_RNG_DEFAULT_PERIOD;
	ret = cli_props_apply(st, opt, pr, rng_props, ARRAY_SIZE(rng_props), r);
	if (!ret)
		ret = cli_check_dev_id(st, opt, r->id);
	if (!ret && !r->object[0])
		ret = cli_fail(st, "%s: virtio-rng-device needs rng= (an -object rng-random id)",
			       opt);
	if (ret)
		return ret;
	r->present = true;
	return 0;
}

/* The device's rng= names one of the objects (which may come later on the line). */
int cli_resolve_rng(struct cli_state *st)
{
	struct vm_rng *r = &st->cfg->rng;

	if (!r->present)
		return 0;
	for (unsigned i = 0; i < st->nrng_objects; i++)
		if (!strcmp(st->rng_objects[i].id, r->object)) {
			snprintf(r->filename, sizeof(r->filename), "%s",
				 st->rng_objects[i].filename);
			return 0;
		}
	return cli_fail(st, "-device virtio-rng-device: rng '%s' is no -object rng-random",
			r->object);
}

void cli_print_rng(FILE *out, const struct vm_config *c)
{
	const struct vm_rng *r = &c->rng;

	if (r->present)
		fprintf(out, "rng=id=%s,rng=%s,filename=%s,max-bytes=%llu,period=%llu\n", r->id,
			r->object, r->filename, (unsigned long long)r->max_bytes,
			(unsigned long long)r->period_ms);
}
