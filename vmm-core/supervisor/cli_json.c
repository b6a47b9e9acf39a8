/*
 * -config FILE: StratoVirt's JSON configuration file, parsed with yajl's tree API and applied
 * through the command line's own handlers (cli_apply), so each key is checked exactly as the
 * option it stands for: a "drive" entry is a -drive, a "net" entry the older manual's -netdev
 * id=,netdev=TAP, "vsock" a -device vsock, "machine-config"'s vcpu_count a -smp. Every error is
 * one line naming the file and the key's path: "-config vm.json: drive[1].iops: must be
 * 0-1000000".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "cli_props.h"
#include "util.h"

/* The schema nests three levels; yajl_tree_free recurses once per level, so deeper input
 * is refused before yajl builds it. */
#define JSON_DEPTH_MAX 16
#define LABEL_MAX 512            /* "-config FILE: PATH", as long as an error line */

enum jkind {
	J_STR,          /* a string, as it is */
	J_BOOL,         /* true or false: on or off; with no property, true gives the option
			 * the key as its argument (serial's stdio: -serial stdio), false nothing */
	J_UINT,         /* a whole number in [min, max] */
	J_MEM,          /* bytes (as the manual has it), a whole number of MiB: -m's unit */
};

/* A key of the file and the option property it becomes. */
struct jkey {
	const char *name;
	const char *option;      /* the option of this key alone; NULL: the section's */
	const char *prop;        /* NULL: the option's bare argument */
	enum jkind kind;
	uint64_t min, max;       /* J_UINT */
	bool required;
	size_t size;             /* nonzero: checked here as cli_copy_str fills a field this
				  * large, since the option's own check would not name the key */
};

struct jctx;

struct jsection {
	const char *name;
	const char *option;      /* every entry is one such option; NULL: one option per key */
	const char *driver;      /* -device's leading word */
	const char *flags;       /* bare properties after the keys ("server,nowait"), or NULL */
	bool array;              /* a list of entries */
	bool either;             /* an entry, or a list of them (the manuals differ) */
	/* what else an entry needs on the command line, once its option went well */
	int (*then)(struct jctx *j, yajl_val obj);
	const struct jkey *keys;
	size_t nkeys;
};

struct jctx {
	struct cli_state *st;
	const char *file;
	char where[32];          /* the object being read: "drive[1]", "machine-config" */
};

/* Designated initializers: what a key leaves out is zero (-Wmissing-field-initializers). */
#define K_STR(n, opt, p)         { .name = (n), .option = (opt), .prop = (p), .kind = J_STR }
#define K_BOOL(n, opt, p)        { .name = (n), .option = (opt), .prop = (p), .kind = J_BOOL }
#define K_UINT(n, opt, p, lo, hi) \
	{ .name = (n), .option = (opt), .prop = (p), .kind = J_UINT, .min = (lo), .max = (hi) }
#define K_REQ(n, p, k, lo, hi) \
	{ .name = (n), .prop = (p), .kind = (k), .min = (lo), .max = (hi), .required = true }

static const struct jkey boot_keys[] = {
	{ .name = "kernel_image_path", .option = "-kernel", .kind = J_STR, .required = true },
	K_STR("boot_args", "-append", NULL),
	K_STR("initrd_fs_path", "-initrd", NULL),
};

static const struct jkey machine_keys[] = {
	K_STR("type", "-machine", "type"),
	K_UINT("vcpu_count", "-smp", NULL, VM_MIN_CPUS, VM_MAX_CPUS),
	{ .name = "mem_size", .option = "-m", .kind = J_MEM },
	K_BOOL("dump_guest_core", "-machine", "dump-guest-core"),
	K_BOOL("mem-share", "-machine", "mem-share"),
	K_STR("mem_path", "-mem-path", NULL),
};

static const struct jkey iothread_keys[] = {
	K_REQ("id", "id", J_STR, 0, 0),
};

static const struct jkey drive_keys[] = {
	K_REQ("drive_id", "id", J_STR, 0, 0),
	{ .name = "path_on_host", .prop = "file", .kind = J_STR, .required = true,
	  .size = VM_PATH_MAX },
	K_BOOL("read_only", NULL, "readonly"),
	K_BOOL("direct", NULL, "direct"),
	K_STR("serial_num", NULL, "serial"),
	K_STR("iothread", NULL, "iothread"),
	K_UINT("iops", NULL, "iops", 0, VM_MAX_IOPS),
};

/* The older manual's NIC: -netdev id=,netdev=TAP[,mac=][,iothread=], a NIC by itself. */
static const struct jkey net_keys[] = {
	K_REQ("iface_id", "id", J_STR, 0, 0),
	K_REQ("host_dev_name", "netdev", J_STR, 0, 0),
	K_STR("mac", NULL, "mac"),
	K_STR("iothread", NULL, "iothread"),
};

static const struct jkey vsock_keys[] = {
	K_REQ("vsock_id", "id", J_STR, 0, 0),
	K_REQ("guest_cid", "guest-cid", J_UINT, VM_VSOCK_CID_MIN, VM_VSOCK_CID_MAX),
};

static const struct jkey serial_keys[] = {
	K_BOOL("stdio", "-serial", NULL),
};

/* The console: its socket (-chardev socket,id=,path=,server,nowait; then_console adds the
 * virtio-serial-device and the virtconsole on it). One manual writes an object, another a
 * list of one. */
static const struct jkey console_keys[] = {
	K_REQ("console_id", "id", J_STR, 0, 0),
	{ .name = "socket_path", .prop = "path", .kind = J_STR, .required = true,
	  .size = VM_SUN_PATH_MAX },
};

static int then_console(struct jctx *j, yajl_val obj);

#define SECTION(n, opt, drv, arr, k) { .name = n, .option = opt, .driver = drv, .array = arr, \
				       .keys = k, .nkeys = ARRAY_SIZE(k) }

/* In the order they are applied: iothreads before the devices that name them. */
static const struct jsection sections[] = {
	SECTION("boot-source", NULL, NULL, false, boot_keys),
	SECTION("machine-config", NULL, NULL, false, machine_keys),
	SECTION("iothread", "-iothread", NULL, true, iothread_keys),
	SECTION("drive", "-drive", NULL, true, drive_keys),
	SECTION("net", "-netdev", NULL, true, net_keys),
	SECTION("vsock", "-device", "vsock", false, vsock_keys),
	SECTION("serial", NULL, NULL, false, serial_keys),
	{ .name = "console", .option = "-chardev", .driver = "socket", .flags = "server,nowait",
	  .either = true, .then = then_console, .keys = console_keys,
	  .nkeys = ARRAY_SIZE(console_keys) },
};

/* Devices bulkhead does not have: refused by name, never skipped. */
static const char *const unsupported[] = { "balloon" };

/* "-config FILE: WHERE.KEY: MESSAGE"; no key names the object, an empty where the top. */
PRINTF(4, 5) static int jfail(const struct jctx *j, const char *where, const char *key,
			      const char *fmt, ...)
{
	char msg[256], path[128] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* a key is echoed from the file, so its length is capped */
	if (key)
		snprintf(path, sizeof(path), "%s%s%.64s: ", where, *where ? "." : "", key);
	else if (*where)
		snprintf(path, sizeof(path), "%s: ", where);
	return cli_fail(j->st, "-config %s: %s%s", j->file, path, msg);
}

/* ---- the file ---- */

/* The whole file, NUL-terminated for yajl_tree_parse; at most CLI_JSON_MAX bytes. */
static int read_file(struct jctx *j, char **out, size_t *len)
{
	size_t n = 0;
	ssize_t r = 1;
	char *buf;
	int fd = open(j->file, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return jfail(j, "", NULL, "cannot open: %s", strerror(errno));
	buf = *out = malloc(CLI_JSON_MAX + 2);
	/* one byte past the cap tells a file that is too big */
	while (buf && n <= CLI_JSON_MAX && r != 0) {
		r = read(fd, buf + n, CLI_JSON_MAX + 1 - n);
		if (r < 0 && errno != EINTR)
			break;
		n += r > 0 ? (size_t)r : 0;
	}
	if (!buf || r < 0) {
		int e = buf ? errno : ENOMEM;

		close(fd);
		return jfail(j, "", NULL, "cannot read: %s", strerror(e));
	}
	close(fd);
	if (n > CLI_JSON_MAX)
		return jfail(j, "", NULL, "larger than %u bytes", CLI_JSON_MAX);
	if (n == 0)
		return jfail(j, "", NULL, "the file is empty");
	buf[n] = '\0';
	*len = n;
	return 0;
}

/*
 * What yajl must not be given: a NUL byte would end its input early (yajl_tree_parse takes a
 * C string) and \u0000 a string early (the tree holds C strings), silently either way; nesting
 * is bounded (JSON_DEPTH_MAX). Comments, which yajl_tree_parse would take, are not JSON (nor
 * does StratoVirt's serde_json take them); refusing them keeps this scan to strings and
 * brackets, as a '[' in a comment is not structure.
 */
static int scan(struct jctx *j, const char *buf, size_t len)
{
	bool in_str = false, escaped = false;
	unsigned depth = 0;

	for (size_t i = 0; i < len; i++) {
		char c = buf[i];

		if (c == '\0')
			return jfail(j, "", NULL, "a NUL byte at offset %zu", i);
		if (escaped) {
			if (c == 'u' && !strncmp(buf + i + 1, "0000", 4))
				return jfail(j, "", NULL, "\\u0000 at offset %zu: strings may not hold "
					     "NUL characters", i - 1);
			escaped = false;
		} else if (in_str) {
			escaped = c == '\\';
			in_str = c != '"';
		} else if (c == '"') {
			in_str = true;
		} else if (c == '/') {
			return jfail(j, "", NULL, "'/' at offset %zu: comments are not JSON", i);
		} else if ((c == '[' || c == '{') && ++depth > JSON_DEPTH_MAX) {
			return jfail(j, "", NULL, "nested deeper than %d levels", JSON_DEPTH_MAX);
		} else if ((c == ']' || c == '}') && depth) {
			depth--;
		}
	}
	return 0;
}

/* yajl's message is several lines (the text, then a caret under it): its first line only. */
static int parse(struct jctx *j, const char *buf, yajl_val *root)
{
	static const char prefix[] = "parse error: ";
	char err[256] = "", *msg = err;

	*root = yajl_tree_parse(buf, err, sizeof(err));
	if (*root)
		return 0;
	if (!strncmp(msg, prefix, sizeof(prefix) - 1))
		msg += sizeof(prefix) - 1;
	msg[strcspn(msg, "\r\n")] = '\0';
	for (size_t n = strlen(msg); n && (msg[n - 1] == ' ' || msg[n - 1] == '\t'); n--)
		msg[n - 1] = '\0';
	return jfail(j, "", NULL, "invalid JSON: %s", *msg ? msg : "cannot parse");
}

/* ---- values ---- */

static yajl_val member(yajl_val obj, const char *key)
{
	for (size_t i = 0; i < obj->u.object.len; i++)
		if (!strcmp(obj->u.object.keys[i], key))
			return obj->u.object.values[i];
	return NULL;
}

static bool seen_before(yajl_val obj, size_t i)
{
	for (size_t k = 0; k < i; k++)
		if (!strcmp(obj->u.object.keys[k], obj->u.object.keys[i]))
			return true;
	return false;
}

/*
 * A whole number from the number's own text, so that 1.5, 1e3 and -1 are told from one out of
 * range: -ERANGE (not reported) when it is outside [min, max].
 */
static int whole_number(struct jctx *j, const char *key, yajl_val v, uint64_t min, uint64_t max,
			uint64_t *out)
{
	const char *r, *end;
	int ret;

	if (!YAJL_IS_NUMBER(v))
		return jfail(j, j->where, key, "must be a number");
	r = YAJL_GET_NUMBER(v);
	ret = cli_parse_dec(r[0] == '-' ? r + 1 : r, out, &end);
	if (ret == -EINVAL || (!ret && *end))
		return jfail(j, j->where, key, "must be a whole number");
	if (ret || (r[0] == '-' && *out) || *out < min || *out > max)
		return -ERANGE;
	return 0;
}

/* A value as the option's argument text: in buf for numbers and booleans. */
static int value_text(struct jctx *j, const struct jkey *k, yajl_val v, char *buf, size_t size,
		      const char **text)
{
	uint64_t n;
	int ret;

	switch (k->kind) {
	case J_BOOL:
		if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v))
			return jfail(j, j->where, k->name, "must be true or false");
		*text = cli_onoff(YAJL_IS_TRUE(v));
		return 0;
	case J_UINT:
		ret = whole_number(j, k->name, v, k->min, k->max, &n);
		if (ret == -ERANGE)
			return jfail(j, j->where, k->name, "must be %llu-%llu",
				     (unsigned long long)k->min, (unsigned long long)k->max);
		break;
	case J_MEM:
		ret = whole_number(j, k->name, v, VM_MIN_MEM, VM_MAX_MEM, &n);
		if (ret == -ERANGE)
			return jfail(j, j->where, k->name, "must be %llu-%llu bytes (256 MiB - 512 GiB)",
				     VM_MIN_MEM, VM_MAX_MEM);
		/* -m's unit: no other size reaches the core from the command line, nor then
		 * from the file */
		if (!ret && n % MiB)
			return jfail(j, j->where, k->name, "must be a whole number of MiB (a multiple "
				     "of 1048576 bytes)");
		n /= MiB;
		break;
	case J_STR:
	default:
		if (!YAJL_IS_STRING(v))
			return jfail(j, j->where, k->name, "must be a string");
		*text = YAJL_GET_STRING(v);
		return 0;
	}
	if (!ret) {
		snprintf(buf, size, "%llu", (unsigned long long)n);
		*text = buf;
	}
	return ret;
}

/* cli_copy_str's checks, naming the key (k->size: see struct jkey). */
static int check_size(struct jctx *j, const struct jkey *k, const char *text)
{
	char label[LABEL_MAX], scratch[VM_PATH_MAX];

	if (!k->size || k->size > sizeof(scratch))
		return 0;
	snprintf(label, sizeof(label), "-config %s: %s.%s", j->file, j->where, k->name);
	return cli_copy_str(j->st, label, scratch, k->size, text);
}

/* ---- options ---- */

/* An option argument being built: "prop=value,prop=value", commas doubled as the property
 * splitter reads them (cli_props_split). */
struct jarg {
	char s[PROPS_BUF];
	size_t n;
	bool full;
};

static void arg_put(struct jarg *a, char c)
{
	if (a->n + 1 < sizeof(a->s))
		a->s[a->n++] = c;
	else
		a->full = true;
	a->s[a->n] = '\0';
}

static void arg_add(struct jarg *a, const char *prop, const char *val)
{
	if (a->n)
		arg_put(a, ',');
	for (const char *p = prop; p && *p; p++)
		arg_put(a, *p);
	if (prop)
		arg_put(a, '=');
	for (const char *p = val; *p; p++) {
		if (*p == ',')
			arg_put(a, ',');
		arg_put(a, *p);
	}
}

/*
 * The handlers name a property after the option ("LABEL: id 'x' must start with a letter");
 * in the file it is a key, so the key joins the path and the word goes: "-config F:
 * drive[0].drive_id: 'x' must start with a letter". A message without a property's word is
 * about the object ("drive[6]: at most 6 drives"), or about `only`, the single key an option
 * was run for ("boot-source.kernel_image_path: must not be empty").
 */
static void restate(struct jctx *j, const char *label, const struct jkey *keys, size_t nkeys,
		    const struct jkey *only)
{
	struct cli_state *st = j->st;
	const struct jkey *k = only;
	size_t n = strlen(label);
	char rest[LABEL_MAX];
	const char *r;

	if (!st->err || strncmp(st->err, label, n) || strncmp(st->err + n, ": ", 2))
		return;
	r = st->err + n + 2;
	for (size_t i = 0; i < nkeys; i++) {
		size_t w = keys[i].prop ? strlen(keys[i].prop) : 0;

		if (w && !strncmp(r, keys[i].prop, w) && r[w] == ' ') {
			k = &keys[i];
			r += w + 1;
			break;
		}
	}
	if (!k)
		return;
	snprintf(rest, sizeof(rest), "%s", r);
	cli_fail(st, "%s.%s: %s", label, k->name, rest);
}

static int run(struct jctx *j, const char *option, const char *arg, const struct jkey *keys,
	       size_t nkeys, const struct jkey *only)
{
	char label[LABEL_MAX];
	int ret;

	snprintf(label, sizeof(label), "-config %s: %s", j->file, j->where);
	ret = cli_apply(j->st, option, label, arg);
	if (ret)
		restate(j, label, keys, nkeys, only);
	return ret;
}

/* boot-source, machine-config, serial: each key is an option of its own. */
static int apply_key(struct jctx *j, const struct jkey *k, yajl_val v)
{
	struct jarg a = { .n = 0 };
	const char *text;
	char num[24];
	int ret = value_text(j, k, v, num, sizeof(num), &text);

	if (ret)
		return ret;
	if (k->kind == J_BOOL && !k->prop) {
		if (!YAJL_IS_TRUE(v))
			return 0;
		text = k->name;
	}
	if (!k->prop)       /* a bare argument is the option's as it is: -kernel PATH */
		return run(j, k->option, text, k, 1, k);
	arg_add(&a, k->prop, text);
	if (a.full)
		return jfail(j, j->where, k->name, "too long");
	return run(j, k->option, a.s, k, 1, k);
}

/* drive, net, vsock, iothread: an entry is one option, its keys the properties. */
static int apply_joined(struct jctx *j, const struct jsection *s, yajl_val obj)
{
	struct jarg a = { .n = 0 };
	int ret = 0;

	if (s->driver)
		arg_add(&a, NULL, s->driver);
	for (size_t i = 0; !ret && i < s->nkeys; i++) {
		const struct jkey *k = &s->keys[i];
		yajl_val v = member(obj, k->name);
		const char *text;
		char num[24];

		if (!v)
			continue;
		ret = value_text(j, k, v, num, sizeof(num), &text);
		if (!ret)
			ret = check_size(j, k, text);
		if (!ret)
			arg_add(&a, k->prop, text);
	}
	if (ret)
		return ret;
	if (s->flags) {
		/* as they are, not escaped: their commas separate properties */
		arg_put(&a, ',');
		for (const char *f = s->flags; *f; f++)
			arg_put(&a, *f);
	}
	if (a.full)
		return jfail(j, j->where, NULL, "too long for %s (at most %d characters)", s->option,
			     PROPS_BUF - 1);
	ret = run(j, s->option, a.s, s->keys, s->nkeys, NULL);
	return !ret && s->then ? s->then(j, obj) : ret;
}

static int then_console(struct jctx *j, yajl_val obj)
{
	struct jarg a = { .n = 0 };
	int ret = run(j, "-device", "virtio-serial-device", console_keys,
		      ARRAY_SIZE(console_keys), NULL);

	arg_add(&a, NULL, "virtconsole");
	arg_add(&a, "chardev", member(obj, "console_id")->u.string);
	return ret ? ret : run(j, "-device", a.s, console_keys, ARRAY_SIZE(console_keys), NULL);
}

static const struct jkey *find_key(const struct jsection *s, const char *name)
{
	for (size_t i = 0; i < s->nkeys; i++)
		if (!strcmp(s->keys[i].name, name))
			return &s->keys[i];
	return NULL;
}

/* One object of a section: known keys each once (an unknown key fails first, so a key is
 * compared with at most nkeys others), the required ones there, then applied. */
static int apply_object(struct jctx *j, const struct jsection *s, yajl_val obj)
{
	int ret = 0;

	if (!YAJL_IS_OBJECT(obj))
		return jfail(j, j->where, NULL, "must be an object");
	for (size_t i = 0; i < obj->u.object.len; i++) {
		const char *key = obj->u.object.keys[i];

		if (!find_key(s, key))
			return jfail(j, j->where, key, "unknown key");
		if (seen_before(obj, i))
			return jfail(j, j->where, key, "given more than once");
	}
	for (size_t i = 0; i < s->nkeys; i++)
		if (s->keys[i].required && !member(obj, s->keys[i].name))
			return jfail(j, j->where, s->keys[i].name, "must be given");
	if (s->option)
		return apply_joined(j, s, obj);
	for (size_t i = 0; !ret && i < s->nkeys; i++) {
		yajl_val v = member(obj, s->keys[i].name);

		if (v)
			ret = apply_key(j, &s->keys[i], v);
	}
	return ret;
}

static int apply_section(struct jctx *j, const struct jsection *s, yajl_val v)
{
	int ret = 0;

	snprintf(j->where, sizeof(j->where), "%s", s->name);
	if (!s->array && !(s->either && YAJL_IS_ARRAY(v)))
		return apply_object(j, s, v);
	if (!YAJL_IS_ARRAY(v))
		return jfail(j, s->name, NULL, "must be an array");
	/* an entry past a section's limit fails in its option ("at most 6 drives"), so a long
	 * array stops there */
	for (size_t i = 0; !ret && i < v->u.array.len; i++) {
		snprintf(j->where, sizeof(j->where), "%s[%zu]", s->name, i);
		ret = apply_object(j, s, v->u.array.values[i]);
	}
	return ret;
}

static const struct jsection *find_section(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(sections); i++)
		if (!strcmp(sections[i].name, name))
			return &sections[i];
	return NULL;
}

static bool is_unsupported(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(unsupported); i++)
		if (!strcmp(unsupported[i], name))
			return true;
	return false;
}

static int apply_root(struct jctx *j, yajl_val root)
{
	int ret = 0;

	if (!YAJL_IS_OBJECT(root))
		return jfail(j, "", NULL, "must be a JSON object");
	for (size_t i = 0; i < root->u.object.len; i++) {
		const char *key = root->u.object.keys[i];

		if (is_unsupported(key))
			return jfail(j, "", key, "not supported yet");
		if (!find_section(key))
			return jfail(j, "", key, "unknown key");
		if (seen_before(root, i))
			return jfail(j, "", key, "given more than once");
	}
	for (size_t i = 0; !ret && i < ARRAY_SIZE(sections); i++) {
		yajl_val v = member(root, sections[i].name);

		if (v)
			ret = apply_section(j, &sections[i], v);
	}
	return ret;
}

int cli_json_load(struct cli_state *st, const char *file)
{
	struct jctx j = { .st = st, .file = file };
	yajl_val root = NULL;
	char *buf = NULL;
	size_t len = 0;
	int ret = read_file(&j, &buf, &len);

	if (!ret)
		ret = scan(&j, buf, len);
	if (!ret)
		ret = parse(&j, buf, &root);
	if (!ret)
		ret = apply_root(&j, root);
	yajl_tree_free(root);
	free(buf);
	return ret;
}
