/* Supervisor only: the parser state and the helpers (cli_props.c) every option handler of the
 * command line uses, in cli.c, cli_disks.c and cli_nets.c, the disk and network options
 * cli.c's table names, and the JSON config file (cli_json.c). Not for other modules. */
#ifndef BULKHEAD_CLI_PROPS_H
#define BULKHEAD_CLI_PROPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli.h"
#include "log.h"

/* A -device virtio-blk-device waiting for its -drive (which may come later on the line). */
struct blk_device {
	char drive[VM_ID_MAX + 1];
	char id[VM_ID_MAX + 1];
	char serial[VM_SERIAL_MAX + 1];
	char iothread[VM_ID_MAX + 1];
	bool has_serial;
	unsigned num_queues;             /* 0: not given */
};

/* An -object rng-random, for a -device virtio-rng-device to name (cli_rng.c). */
struct rng_object {
	char id[VM_ID_MAX + 1];
	char filename[VM_PATH_MAX];
};

/* A -device virtio-net-device waiting for its -netdev (which may come later on the line). */
struct nic_device {
	char netdev[VM_ID_MAX + 1];
	char id[VM_ID_MAX + 1];
	char iothread[VM_ID_MAX + 1];
	uint8_t mac[6];                  /* all zero when not given (cli_props refuses zero) */
	bool mq, has_mq;
};

struct cli_state {
	struct vm_config *cfg;
	FILE *out;
	char *err;
	size_t errlen;
	unsigned seq;                    /* position of the option being parsed */
	struct vm_drive *drive;          /* the -drive being parsed */
	struct blk_device *blkdev;       /* the -device virtio-blk-device being parsed */
	unsigned nblkdevs;
	struct blk_device blkdevs[VM_MAX_DISKS];
	struct vm_net *net;              /* the -netdev being parsed */
	struct nic_device *nicdev;       /* the -device virtio-net-device being parsed */
	unsigned nnicdevs;
	struct nic_device nicdevs[VM_MAX_NICS];
	struct rng_object *rng_object;   /* the -object being parsed */
	unsigned nrng_objects;
	struct rng_object rng_objects[VM_MAX_RNG_OBJECTS];
};

enum cli_arg { ARG_NONE, ARG_REQUIRED, ARG_OPTIONAL };

struct cli_opt {
	const char *name;
	enum cli_arg arg;
	const char *metavar;     /* for the usage text */
	const char *help;
	int (*fn)(struct cli_state *st, const struct cli_opt *o, const char *arg);
};

#define PROPS_MAX 16
#define PROPS_BUF (3 * VM_PATH_MAX)

struct prop {
	const char *key;
	const char *val;         /* NULL for a bare flag such as ",readonly" */
};

struct props {
	char buf[PROPS_BUF];
	struct prop p[PROPS_MAX];
	unsigned n;
};

/* What a property's value does: a handler, or a field of the object being parsed (the
 * -drive, -chardev, -device ... that cli_props_apply is given) checked by its type. */
enum prop_type {
	PROP_FN,         /* fn decides */
	PROP_ID,         /* QEMU's id rule: a letter, then letters, digits, '-', '.', '_' */
	PROP_STR,        /* a non-empty string */
	PROP_SERIAL,     /* printable characters */
	PROP_BOOL,       /* on|off|true|false; a bare key means on */
	PROP_MAC,        /* xx:xx:xx:xx:xx:xx, unicast, not zero, into a uint8_t[6] */
};

struct prop_desc {
	const char *key;
	int (*fn)(struct cli_state *st, const char *opt, const char *key, const char *val);
	enum prop_type type;
	size_t off, size;        /* the field, for every type but PROP_FN */
};

#define PROP_HANDLER(k, f) { .key = (k), .fn = (f) }
#define PROP_FIELD(k, t, obj, field) \
	{ .key = (k), .type = (t), .off = offsetof(obj, field), .size = sizeof(((obj *)0)->field) }

/* Fill err with one line naming the option; returns -EINVAL. */
PRINTF(2, 3) int cli_fail(struct cli_state *st, const char *fmt, ...);
/* Copy a non-empty string into a fixed-size field. */
int cli_copy_str(struct cli_state *st, const char *opt, char *dst, size_t size, const char *src);
/* Printable characters only, shorter than size. */
int cli_copy_serial(struct cli_state *st, const char *opt, const char *key, char *dst,
		    size_t size, const char *val);
/* Decimal digits only; -EINVAL for none, -ERANGE on overflow; *end past the digits. */
int cli_parse_dec(const char *s, uint64_t *out, const char **end);
const char *cli_onoff(bool b);
int cli_need_val(struct cli_state *st, const char *opt, const char *key, const char *val);
/* A decimal property value in [min, max]; `named` puts the key in the error text. */
int cli_prop_range(struct cli_state *st, const char *opt, const char *key, const char *val,
		   bool named, uint64_t min, uint64_t max, uint64_t *out);
/* on|off|true|false; a bare flag means on. */
int cli_prop_bool(struct cli_state *st, const char *opt, const char *key, const char *val,
		  bool *out);
/* Split "k=v,k=v" (",," is a comma; a leading bare word names defkey) and apply descs. */
int cli_props_split(struct cli_state *st, const char *opt, const char *arg, const char *defkey,
		    struct props *pr);
/* obj: what PROP_FIELD descriptors write into (NULL when there are none) */
int cli_props_apply(struct cli_state *st, const char *opt, const struct props *pr,
		    const struct prop_desc *descs, size_t ndescs, void *obj);
int cli_props_parse(struct cli_state *st, const char *opt, const char *arg, const char *defkey,
		    const struct prop_desc *descs, size_t ndescs, void *obj);
/* The value of key in pr (NULL for a bare flag or when absent). */
const char *cli_props_get(const struct props *pr, const char *key);
/* A PROP_HANDLER for keys already read with cli_props_get (-device's driver, -netdev's type). */
int cli_prop_ignore(struct cli_state *st, const char *opt, const char *key, const char *val);
/* Refuse a non-empty device id another -device (disk or NIC) already has. */
int cli_check_dev_id(struct cli_state *st, const char *opt, const char *id);

/* Run the handler of option name (e.g. "-drive") on arg as if it stood on the command line,
 * its errors naming label instead of the option (cli_json.c: "-config F: drive[0]"). */
int cli_apply(struct cli_state *st, const char *name, const char *label, const char *arg);

/* ---- the JSON configuration file (cli_json.c) ---- */
#define CLI_JSON_MAX (1u << 20)  /* the largest file read, in bytes */
/* Read -config's file and apply it through the options' handlers; one-line errors naming the
 * file and the key's path ("-config vm.json: drive[1].iops: must be 0-1000000"). */
int cli_json_load(struct cli_state *st, const char *file);

/* ---- the disk options (cli_disks.c) ---- */
int cli_opt_drive(struct cli_state *st, const struct cli_opt *o, const char *arg);
int cli_opt_device(struct cli_state *st, const struct cli_opt *o, const char *arg);
int cli_opt_chardev(struct cli_state *st, const struct cli_opt *o, const char *arg);
/* Bind devices to drives and chardevs, and number the disks' slots in command-line order. */
int cli_resolve_disks(struct cli_state *st);
void cli_print_devices(FILE *out, const struct vm_config *c);

/* ---- the network options (cli_nets.c) ---- */
int cli_opt_netdev(struct cli_state *st, const struct cli_opt *o, const char *arg);
/* -device virtio-net-device / virtio-net-mmio, from cli_opt_device */
bool cli_is_net_driver(const char *drv);
int cli_device_net(struct cli_state *st, const char *opt, const struct props *pr);
/* Bind devices to netdevs; every netdev needs exactly one device. */
int cli_resolve_nets(struct cli_state *st);
void cli_print_nets(FILE *out, const struct vm_config *c);

/* ---- the vsock device (cli_vsock.c) ---- */
/* -device vsock / vhost-vsock-device / vhost-user-vsock-device, from cli_opt_device */
bool cli_is_vsock_driver(const char *drv);
int cli_device_vsock(struct cli_state *st, const char *opt, const char *drv,
		     const struct props *pr);
void cli_print_vsock(FILE *out, const struct vm_config *c);

/* ---- the entropy device (cli_rng.c) ---- */
int cli_opt_object(struct cli_state *st, const struct cli_opt *o, const char *arg);
/* -device virtio-rng-device, from cli_opt_device */
bool cli_is_rng_driver(const char *drv);
int cli_device_rng(struct cli_state *st, const char *opt, const struct props *pr);
/* The device's rng= must name an -object rng-random; its filename goes into the config. */
int cli_resolve_rng(struct cli_state *st);
void cli_print_rng(FILE *out, const struct vm_config *c);

/* ---- the console (cli_console.c) ---- */
/* -device virtio-serial-device / virtconsole, from cli_opt_device */
bool cli_is_console_driver(const char *drv);
int cli_device_console(struct cli_state *st, const char *opt, const char *drv,
		       const struct props *pr);
/* The port and its bus come together (its chardev is bound in cli_resolve_disks). */
int cli_resolve_console(struct cli_state *st);
void cli_print_console(FILE *out, const struct vm_config *c);

/* ---- the virtio-fs device (cli_fs.c) ---- */
/* -device vhost-user-fs-device, from cli_opt_device (its chardev is bound in
 * cli_resolve_disks) */
bool cli_is_fs_driver(const char *drv);
int cli_device_fs(struct cli_state *st, const char *opt, const struct props *pr);
void cli_print_fs(FILE *out, const struct vm_config *c);

#endif
