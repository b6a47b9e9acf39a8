/*
 * The StratoVirt-compatible command line of `bulkhead`: a table of option descriptors, each
 * with a handler filling struct vm_config (-machine, -smp, ... here; -drive, -device, -chardev
 * in cli_disks.c; -netdev in cli_nets.c; the vsock -device in cli_vsock.c; -object and the rng
 * -device in cli_rng.c; the console's -devices in cli_console.c), property lists split by cli_props.c. -config's JSON file (cli_json.c) is applied first, through the same
 * handlers, so the rest of the line overrides it.
 * Every error is one line naming the option; the caller prefixes "bulkhead: " and exits 2.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bulkhead-config.h"
#include "cli.h"
#include "cli_props.h"
#include "util.h"

/* ---- -machine ---- */

static int machine_type(struct cli_state *st, const char *opt, const char *key, const char *val)
{
	int ret = cli_need_val(st, opt, key, val);

	if (ret)
		return ret;
	/* StratoVirt spells it "MicroVm" in JSON and "microvm" on the command line */
	if (strcasecmp(val, "microvm"))
		return cli_fail(st, "%s: unsupported machine type '%s' (only 'microvm')", opt, val);
	return 0;
}

static const struct prop_desc machine_props[] = {
	PROP_HANDLER("type", machine_type),
	PROP_FIELD("acpi", PROP_BOOL, struct vm_config, acpi),
	PROP_FIELD("dump-guest-core", PROP_BOOL, struct vm_config, dump_guest_core),
	PROP_FIELD("mem-share", PROP_BOOL, struct vm_config, mem_share),
};

static int opt_machine(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	return cli_props_parse(st, o->name, arg, "type", machine_props, ARRAY_SIZE(machine_props),
			       st->cfg);
}

/* ---- -smp, -m ---- */

static int smp_cpus(struct cli_state *st, const char *opt, const char *key, const char *val)
{
	uint64_t n;
	int ret = cli_prop_range(st, opt, key, val, false, VM_MIN_CPUS, VM_MAX_CPUS, &n);

	if (!ret)
		st->cfg->ncpus = (unsigned)n;
	return ret;
}

static const struct prop_desc smp_props[] = {
	PROP_HANDLER("cpus", smp_cpus),
};

static int opt_smp(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	return cli_props_parse(st, o->name, arg, "cpus", smp_props, ARRAY_SIZE(smp_props), NULL);
}

/* No suffix means MiB, as StratoVirt and QEMU read it. */
static const struct {
	const char *suffix;
	uint64_t mult;
} mem_units[] = {
	{ "", MiB }, { "M", MiB }, { "m", MiB }, { "MiB", MiB },
	{ "G", GiB }, { "g", GiB }, { "GiB", GiB },
};

static int opt_mem(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	uint64_t n, bytes;
	const char *end;
	size_t u;
	int ret = cli_parse_dec(arg, &n, &end);

	if (ret == -EINVAL)
		return cli_fail(st, "%s: '%s' is not a valid size", o->name, arg);
	for (u = 0; !ret && u < ARRAY_SIZE(mem_units); u++)
		if (!strcmp(end, mem_units[u].suffix))
			break;
	if (!ret && u == ARRAY_SIZE(mem_units))
		return cli_fail(st, "%s: '%s' is not a valid size (units: M, MiB, G, GiB)",
			    o->name, arg);
	if (ret || __builtin_mul_overflow(n, mem_units[u].mult, &bytes) ||
	    bytes < VM_MIN_MEM || bytes > VM_MAX_MEM)
		return cli_fail(st, "%s: '%s' is out of range (256 MiB - 512 GiB)", o->name, arg);
	st->cfg->mem_size = bytes;
	return 0;
}

/* ---- identity ---- */

static int opt_name(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	/* the name ends up in log lines and "key=value" output, one line each */
	for (const char *p = arg; *p; p++)
		if (iscntrl((unsigned char)*p))
			return cli_fail(st, "%s: control characters are not allowed", o->name);
	return cli_copy_str(st, o->name, st->cfg->name, sizeof(st->cfg->name), arg);
}

static int opt_uuid(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	size_t i;

	if (!uuid_wellformed(arg))
		return cli_fail(st, "%s: '%s' is not a UUID (8-4-4-4-12 hex digits)", o->name, arg);
	for (i = 0; arg[i]; i++)
		st->cfg->uuid[i] = (char)tolower((unsigned char)arg[i]);
	st->cfg->uuid[i] = '\0';
	return 0;
}

/* ---- boot ---- */

static int opt_kernel(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	return cli_copy_str(st, o->name, st->cfg->kernel, sizeof(st->cfg->kernel), arg);
}

static int opt_initrd(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	return cli_copy_str(st, o->name, st->cfg->initrd, sizeof(st->cfg->initrd), arg);
}

static int opt_append(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	/* an empty command line is legitimate, so not cli_copy_str() */
	size_t len = strlen(arg);

	if (len >= sizeof(st->cfg->cmdline))
		return cli_fail(st, "%s: too long (%zu characters, max %zu)", o->name, len,
			    sizeof(st->cfg->cmdline) - 1);
	memcpy(st->cfg->cmdline, arg, len + 1);
	return 0;
}

/* ---- host side ---- */

static int opt_serial(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	if (strcmp(arg, "stdio"))
		return cli_fail(st, "%s: '%s' is not supported (only 'stdio')", o->name, arg);
	st->cfg->serial_stdio = true;
	return 0;
}

static int opt_log(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	st->cfg->log_to_file = true;
	if (!arg)       /* bare -D (Kata): log to stderr */
		return 0;
	return cli_copy_str(st, o->name, st->cfg->log_file, sizeof(st->cfg->log_file), arg);
}

static int opt_pidfile(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	int ret = cli_copy_str(st, o->name, st->cfg->pidfile, sizeof(st->cfg->pidfile), arg);

	if (ret)
		return ret;
	/* StratoVirt refuses to overwrite: a stale pidfile may belong to a live VM */
	if (access(arg, F_OK) == 0)
		return cli_fail(st, "%s: '%s' already exists", o->name, arg);
	return 0;
}

static int opt_daemonize(struct cli_state *st, const struct cli_opt *o UNUSED,
			 const char *arg UNUSED)
{
	st->cfg->daemonize = true;
	return 0;
}

/* StratoVirt's spelling of -machine dump-guest-core=off; the last of the two given wins */
static int opt_omit_vm_memory(struct cli_state *st, const struct cli_opt *o UNUSED,
			      const char *arg UNUSED)
{
	st->cfg->dump_guest_core = false;
	return 0;
}

static int opt_mem_path(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	if (arg[0] != '/')
		return cli_fail(st, "%s: '%s' must be an absolute path", o->name, arg);
	return cli_copy_str(st, o->name, st->cfg->mem_path, sizeof(st->cfg->mem_path), arg);
}

static int opt_no_seccomp(struct cli_state *st, const struct cli_opt *o UNUSED,
			  const char *arg UNUSED)
{
	st->cfg->disable_seccomp = true;
	return 0;
}

/* ---- privilege separation (bulkhead extensions) ---- */

/* A name ([A-Za-z0-9._-], not starting with '-') or a number; resolving it is the
 * supervisor's job (getpwnam/getgrnam at startup), so only the shape is checked here. */
static bool runas_word(const char *p, size_t n)
{
	if (n == 0 || n > 32 || p[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)p[i]) && !strchr("._-", p[i]))
			return false;
	return true;
}

static int opt_runas(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	const char *colon = strchr(arg, ':');
	size_t ulen = colon ? (size_t)(colon - arg) : strlen(arg);

	if (!runas_word(arg, ulen) || (colon && !runas_word(colon + 1, strlen(colon + 1))))
		return cli_fail(st, "%s: '%s' is not USER or USER:GROUP (names or numbers)",
				o->name, arg);
	return cli_copy_str(st, o->name, st->cfg->runas, sizeof(st->cfg->runas), arg);
}

static int opt_hotplug_dir(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	struct vm_config *c = st->cfg;

	if (arg[0] != '/')
		return cli_fail(st, "%s: '%s' must be an absolute path", o->name, arg);
	if (c->nhotplug_dirs == VM_MAX_HOTPLUG_DIRS)
		return cli_fail(st, "%s: at most %d directories", o->name, VM_MAX_HOTPLUG_DIRS);
	if (cli_copy_str(st, o->name, c->hotplug_dirs[c->nhotplug_dirs],
			 sizeof(c->hotplug_dirs[0]), arg))
		return -EINVAL;
	c->nhotplug_dirs++;
	return 0;
}

/* ---- -iothread ---- */

static const struct prop_desc iothread_props[] = {
	PROP_FIELD("id", PROP_ID, struct vm_iothread, id),
};

static int opt_iothread(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	struct vm_config *c = st->cfg;
	struct vm_iothread *t;
	int ret;

	if (c->niothreads == VM_MAX_IOTHREADS)
		return cli_fail(st, "%s: at most %d iothreads", o->name, VM_MAX_IOTHREADS);
	t = &c->iothreads[c->niothreads];
	memset(t, 0, sizeof(*t));
	ret = cli_props_parse(st, o->name, arg, NULL, iothread_props, ARRAY_SIZE(iothread_props),
			      t);
	if (ret)
		return ret;
	if (!t->id[0])
		return cli_fail(st, "%s: property 'id' is required", o->name);
	for (unsigned i = 0; i < c->niothreads; i++)
		if (!strcmp(c->iothreads[i].id, t->id))
			return cli_fail(st, "%s: id '%s' is used by another iothread", o->name, t->id);
	c->niothreads++;
	return 0;
}

/* ---- the QMP socket ---- */

/* "unix:PATH" -> PATH into cfg->qmp_path; one QMP socket per VM, as in StratoVirt. */
static int set_qmp_path(struct cli_state *st, const char *opt, const char *path, size_t len)
{
	if (st->cfg->qmp_path[0])
		return cli_fail(st, "%s: only one QMP socket (-qmp or -api-channel)", opt);
	if (len == 0)
		return cli_fail(st, "%s: the socket path must not be empty", opt);
	if (len >= sizeof(st->cfg->qmp_path))
		return cli_fail(st, "%s: socket path too long (%zu characters, max %zu)", opt, len,
			    sizeof(st->cfg->qmp_path) - 1);
	memcpy(st->cfg->qmp_path, path, len);
	st->cfg->qmp_path[len] = '\0';
	return 0;
}

static int opt_api_channel(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	if (strncmp(arg, "unix:", 5))
		return cli_fail(st, "%s: '%s' is not supported (only unix:PATH)", o->name, arg);
	return set_qmp_path(st, o->name, arg + 5, strlen(arg + 5));
}

static bool is_word(const char *p, size_t n, const char *w)
{
	return strlen(w) == n && !strncmp(p, w, n);
}

/* -qmp unix:PATH,server,nowait: we only listen, and never wait for a client before booting
 * (QEMU's default "wait" would hold the VM until someone connects). */
static int opt_qmp(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	const char *path, *end;
	bool server = false, nowait = false;
	size_t n;

	if (strncmp(arg, "unix:", 5))
		return cli_fail(st, "%s: '%s' is not supported (only unix:PATH,server,nowait)",
			    o->name, arg);
	path = arg + 5;
	end = path + strcspn(path, ",");
	for (const char *p = *end ? end + 1 : end; *p; p += n + (p[n] == ',')) {
		n = strcspn(p, ",");
		if (is_word(p, n, "server") || is_word(p, n, "server=on"))
			server = true;
		else if (is_word(p, n, "nowait") || is_word(p, n, "wait=off"))
			nowait = true;
		else
			return cli_fail(st, "%s: unknown property '%.*s'", o->name, (int)n, p);
	}
	if (!server || !nowait)
		return cli_fail(st, "%s: only 'unix:PATH,server,nowait' is supported", o->name);
	return set_qmp_path(st, o->name, path, (size_t)(end - path));
}

/* ---- -config ---- */

/* cli_parse applies the file before every other option (apply_config_file), so there is
 * nothing left to do where it stands on the line. */
static int opt_config(struct cli_state *st UNUSED, const struct cli_opt *o UNUSED,
		      const char *arg UNUSED)
{
	return 0;
}

/* ---- help, version ---- */

/* Positive return: stop parsing and exit 0. */
static int opt_help(struct cli_state *st, const struct cli_opt *o, const char *arg);

static int opt_version(struct cli_state *st, const struct cli_opt *o UNUSED,
		       const char *arg UNUSED)
{
	if (st->out)
		fprintf(st->out, "bulkhead %s\n", BULKHEAD_VERSION);
	return 1;
}

static const struct cli_opt cli_opts[] = {
	{ "-name", ARG_REQUIRED, "NAME", "VM name, 1-255 characters", opt_name },
	{ "-uuid", ARG_REQUIRED, "UUID", "VM UUID (8-4-4-4-12 hex)", opt_uuid },
	{ "-machine", ARG_REQUIRED, "[type=]microvm[,acpi=on|off][,dump-guest-core=on|off]"
	  "[,mem-share=on|off]", "machine type and options", opt_machine },
	{ "-omit_vm_memory", ARG_NONE, NULL, "leave guest memory out of core dumps "
	  "(= -machine dump-guest-core=off)", opt_omit_vm_memory },
	{ "-kernel", ARG_REQUIRED, "PATH", "kernel image (required)", opt_kernel },
	{ "-append", ARG_REQUIRED, "CMDLINE", "kernel command line", opt_append },
	{ "-initrd", ARG_REQUIRED, "PATH", "initial ramdisk", opt_initrd },
	{ "-smp", ARG_REQUIRED, "[cpus=]N", "number of vCPUs, 1-254 (default 1)", opt_smp },
	{ "-m", ARG_REQUIRED, "SIZE[M|MiB|G|GiB]",
	  "memory, 256 MiB-512 GiB; no unit means MiB (default 256)", opt_mem },
	{ "-mem-path", ARG_REQUIRED, "DIR", "back memory with files in DIR (absolute)",
	  opt_mem_path },
	{ "-serial", ARG_REQUIRED, "stdio", "serial port on stdin/stdout", opt_serial },
	{ "-D", ARG_OPTIONAL, "[FILE]", "log to FILE (stderr without FILE)", opt_log },
	{ "-daemonize", ARG_NONE, NULL, "run in the background", opt_daemonize },
	{ "-pidfile", ARG_REQUIRED, "PATH", "write pid to PATH (with -daemonize; must not exist)",
	  opt_pidfile },
	{ "-disable-seccomp", ARG_NONE, NULL, "do not install seccomp filters", opt_no_seccomp },
	{ "-qmp", ARG_REQUIRED, "unix:PATH,server,nowait", "QMP control socket (created mode 0600)",
	  opt_qmp },
	{ "-api-channel", ARG_REQUIRED, "unix:PATH", "QMP control socket (StratoVirt spelling)",
	  opt_api_channel },
	{ "-drive", ARG_REQUIRED, "id=ID,file=PATH[,readonly=on|off][,direct=on|off][,serial=S]"
	  "[,iops=N][,iothread=T][,poll-us=N]",
	  "a raw disk image served by its own bulkhead-blk (max 6)",
	  cli_opt_drive },
	{ "-device", ARG_REQUIRED, "virtio-blk-device,drive=ID[,id=DEV][,num-queues=N] | "
	  "vhost-user-blk-device,chardev=C[,id=DEV] | "
	  "virtio-net-device,netdev=ID[,id=DEV][,mac=MAC][,mq=on|off] | "
	  "vsock,id=ID,guest-cid=N[,uds-path=PATH|,vhostfd=FD] | "
	  "vhost-user-vsock-device,chardev=C[,id=DEV] | "
	  "virtio-rng-device,rng=OBJ[,id=DEV][,max-bytes=N][,period=MS] | "
	  "virtio-serial-device[,id=DEV] | virtconsole,chardev=C[,id=DEV][,nr=0] | "
	  "vhost-user-fs-device,chardev=C,tag=T[,id=DEV][,num-request-queues=N]",
	  "a disk device, a NIC for a -netdev, the VM's vsock device, its entropy device "
	  "(max-bytes 1-2147483648 per period of 1-1000000 ms, default 1000; no limit without "
	  "max-bytes), its console (hvc0) on a server,nowait -chardev socket, with its "
	  "virtio-serial-device, or its virtio-fs device on the socket of a virtiofsd started "
	  "before the VM (tag: what the guest mounts, 1-36 characters; 1-8 request queues, "
	  "default 1)", cli_opt_device },
	{ "-object", ARG_REQUIRED, "rng-random,id=OBJ[,filename=PATH]",
	  "an entropy source for virtio-rng-device (a character device, absolute path; default "
	  "/dev/urandom; max 4)", cli_opt_object },
	{ "-netdev", ARG_REQUIRED, "tap,id=ID,ifname=TAP[,queues=N][,vhost=off] | "
	  "tap,id=ID,fds=FD[:FD...] | vhost-user,id=ID,chardev=C | "
	  "id=ID,netdev=TAP[,mac=MAC][,iothread=T]",
	  "a tap (by name, or inherited fds, one per queue pair, max 8) or an external "
	  "vhost-user backend for a -device virtio-net-device, or with netdev= a NIC by itself "
	  "(max 2 NICs)", cli_opt_netdev },
	{ "-chardev", ARG_REQUIRED, "socket,id=C,path=PATH[,server][,nowait]",
	  "a unix socket: an external vhost-user backend to connect to (vhost-user-blk-device, "
	  "-netdev vhost-user, vhost-user-vsock-device, vhost-user-fs-device, which connects "
	  "even with server,nowait), or with server,nowait the console's socket, made mode 0600 "
	  "and removed at exit (virtconsole)", cli_opt_chardev },
	{ "-runas", ARG_REQUIRED, "USER[:GROUP]", "bulkhead extension: when started as root, run "
	  "every child (core, bulkhead-blk, qmpd) as USER, with no supplementary groups",
	  opt_runas },
	{ "-hotplug-dir", ARG_REQUIRED, "DIR", "bulkhead extension: blockdev-add opens only files "
	  "inside DIR (absolute; may be given several times)", opt_hotplug_dir },
	{ "-iothread", ARG_REQUIRED, "id=ID", "an iothread that -drive and -netdev iothread= may "
	  "name (max 8; recorded: every bulkhead worker has its own event loop)", opt_iothread },
	{ "-config", ARG_REQUIRED, "FILE", "StratoVirt's JSON configuration file (at most 1 MiB), "
	  "applied before the other options, which override its values and add to its devices. "
	  "Keys: boot-source {kernel_image_path, boot_args, initrd_fs_path}; machine-config "
	  "{type, vcpu_count, mem_size (bytes), dump_guest_core, mem-share, mem_path}; drive "
	  "[{drive_id, path_on_host, read_only, direct, serial_num, iothread, iops}]; net "
	  "[{iface_id, host_dev_name, mac, iothread}]; vsock {vsock_id, guest_cid}; serial "
	  "{stdio}; iothread [{id}]", opt_config },
	{ "-help", ARG_NONE, NULL, "print this help (also -h, --help)", opt_help },
	{ "-h", ARG_NONE, NULL, NULL, opt_help },
	{ "--help", ARG_NONE, NULL, NULL, opt_help },
	{ "-version", ARG_NONE, NULL, "print the version (also -V, --version)", opt_version },
	{ "-V", ARG_NONE, NULL, NULL, opt_version },
	{ "--version", ARG_NONE, NULL, NULL, opt_version },
};

static int opt_help(struct cli_state *st, const struct cli_opt *o UNUSED,
		    const char *arg UNUSED)
{
	if (!st->out)
		return 1;
	fprintf(st->out, "Usage: bulkhead -kernel PATH [options]\n\nOptions:\n");
	for (size_t i = 0; i < ARRAY_SIZE(cli_opts); i++) {
		const struct cli_opt *c = &cli_opts[i];

		if (!c->help)   /* aliases */
			continue;
		fprintf(st->out, "  %s%s%s\n      %s\n", c->name, c->metavar ? " " : "",
			c->metavar ? c->metavar : "", c->help);
	}
	return 1;
}

/* ---- the parser ---- */

static void set_defaults(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->acpi = true;
	cfg->dump_guest_core = true;
	cfg->ncpus = VM_MIN_CPUS;
	cfg->mem_size = VM_DEFAULT_MEM;
}

static const struct cli_opt *find_opt(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(cli_opts); i++)
		if (!strcmp(cli_opts[i].name, name))
			return &cli_opts[i];
	return NULL;
}

/* Rules that involve more than one option, checked once everything is read. */
static int check_config(struct cli_state *st)
{
	int ret = cli_resolve_disks(st);

	if (!ret)
		ret = cli_resolve_nets(st);
	if (!ret)
		ret = cli_resolve_rng(st);
	if (!ret)
		ret = cli_resolve_console(st);
	if (ret)
		return ret;
	if (st->cfg->kernel[0] == '\0')
		return cli_fail(st, "-kernel: a kernel image is required");
	if (st->cfg->pidfile[0] && !st->cfg->daemonize)
		return cli_fail(st, "-pidfile: only allowed together with -daemonize");
	return 0;
}

/* Options that describe one device each may come many times. */
static bool repeatable(const struct cli_opt *o)
{
	return o->fn == cli_opt_drive || o->fn == cli_opt_device || o->fn == cli_opt_chardev ||
	       o->fn == cli_opt_netdev || o->fn == opt_hotplug_dir || o->fn == opt_iothread ||
	       o->fn == cli_opt_object;
}

/* o's argument, if it takes one that argv has: advances *i past it. */
static const char *take_arg(const struct cli_opt *o, int argc, char **argv, int *i)
{
	if (o->arg == ARG_REQUIRED && *i + 1 < argc)
		return argv[++*i];
	if (o->arg == ARG_OPTIONAL && *i + 1 < argc && argv[*i + 1][0] != '-')
		return argv[++*i];
	return NULL;
}

/* Handle argv[*i]; advances *i past a consumed argument. <0 error, >0 exit 0. */
static int parse_one(struct cli_state *st, int argc, char **argv, int *i, bool *seen)
{
	const char *a = argv[*i], *arg;
	const struct cli_opt *o;

	if (a[0] != '-')
		return cli_fail(st, "unexpected argument '%s'", a);
	o = find_opt(a);
	if (!o)
		return cli_fail(st, "unknown option '%s'", a);
	if (seen[o - cli_opts] && !repeatable(o))
		return cli_fail(st, "%s: given more than once", o->name);
	st->seq = (unsigned)*i;
	seen[o - cli_opts] = true;
	arg = take_arg(o, argc, argv, i);
	if (o->arg == ARG_REQUIRED && !arg)
		return cli_fail(st, "%s: missing argument", o->name);
	return o->fn(st, o, arg);
}

/*
 * StratoVirt reads -config before the other options wherever it stands, so they override
 * the file: find it walking argv as parse_one does (an option's argument is never taken for
 * an option). Its devices get position 0, before every device of the line. Nothing is read
 * when -help or -version is there: those print and exit whatever the file holds.
 */
static int apply_config_file(struct cli_state *st, int argc, char **argv)
{
	const char *file = NULL;

	for (int i = 1; i < argc; i++) {
		const struct cli_opt *o = find_opt(argv[i]);
		const char *arg;

		if (!o)
			continue;       /* parse_one says what is wrong with it */
		if (o->fn == opt_help || o->fn == opt_version)
			return 0;
		arg = take_arg(o, argc, argv, &i);
		if (o->fn == opt_config && file && arg)
			return cli_fail(st, "%s: given more than once", o->name);
		if (o->fn == opt_config && arg)
			file = arg;
	}
	st->seq = 0;
	return file ? cli_json_load(st, file) : 0;
}

int cli_apply(struct cli_state *st, const char *name, const char *label, const char *arg)
{
	const struct cli_opt *o = find_opt(name);
	struct cli_opt as;

	if (!o)         /* a programming error in cli_json.c's tables */
		return cli_fail(st, "%s: no option %s", label, name);
	as = *o;
	as.name = label;
	return o->fn(st, &as, arg);
}

enum cli_result cli_parse(int argc, char **argv, struct vm_config *cfg, FILE *out,
			  char *err, size_t errlen)
{
	struct cli_state st = { .cfg = cfg, .out = out, .err = err, .errlen = errlen };
	bool seen[ARRAY_SIZE(cli_opts)] = { false };
	int ret;

	if (err && errlen)
		err[0] = '\0';
	set_defaults(cfg);
	if (apply_config_file(&st, argc, argv))
		return CLI_ERROR;
	for (int i = 1; i < argc; i++) {
		ret = parse_one(&st, argc, argv, &i, seen);
		if (ret < 0)
			return CLI_ERROR;
		if (ret > 0)
			return CLI_EXIT_OK;
	}
	return check_config(&st) ? CLI_ERROR : CLI_OK;
}


void cli_print_config(FILE *out, const struct vm_config *cfg)
{
	const char *log = !cfg->log_to_file ? "" : cfg->log_file[0] ? cfg->log_file : "stderr";

	fprintf(out, "name=%s\n", cfg->name);
	fprintf(out, "uuid=%s\n", cfg->uuid);
	fprintf(out, "machine.acpi=%s\n", cli_onoff(cfg->acpi));
	fprintf(out, "machine.dump-guest-core=%s\n", cli_onoff(cfg->dump_guest_core));
	fprintf(out, "machine.mem-share=%s\n", cli_onoff(cfg->mem_share));
	fprintf(out, "kernel=%s\n", cfg->kernel);
	fprintf(out, "initrd=%s\n", cfg->initrd);
	fprintf(out, "append=%s\n", cfg->cmdline);
	fprintf(out, "smp=%u\n", cfg->ncpus);
	fprintf(out, "mem=%llu\n", (unsigned long long)cfg->mem_size);
	fprintf(out, "mem-path=%s\n", cfg->mem_path);
	fprintf(out, "serial=%s\n", cfg->serial_stdio ? "stdio" : "");
	fprintf(out, "log=%s\n", log);
	fprintf(out, "daemonize=%s\n", cli_onoff(cfg->daemonize));
	fprintf(out, "pidfile=%s\n", cfg->pidfile);
	fprintf(out, "disable-seccomp=%s\n", cli_onoff(cfg->disable_seccomp));
	if (cfg->qmp_path[0])   /* only when set, so older golden outputs stay as they were */
		fprintf(out, "qmp=unix:%s\n", cfg->qmp_path);
	if (cfg->runas[0])
		fprintf(out, "runas=%s\n", cfg->runas);
	for (unsigned i = 0; i < cfg->nhotplug_dirs; i++)
		fprintf(out, "hotplug-dir=%s\n", cfg->hotplug_dirs[i]);
	for (unsigned i = 0; i < cfg->niothreads; i++)
		fprintf(out, "iothread.%u=id=%s\n", i, cfg->iothreads[i].id);
	cli_print_devices(out, cfg);
	cli_print_nets(out, cfg);
	cli_print_vsock(out, cfg);
	cli_print_rng(out, cfg);
	cli_print_console(out, cfg);
	cli_print_fs(out, cfg);
}
