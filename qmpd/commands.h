/* The QMP command table (name -> argument schema, checks, handler or core relay) and the JSON
 * form of everything qmpd says: greeting, replies, errors and events. Input is a parsed yajl
 * tree; output goes to a struct jbuf. No sockets, no event loop. */
#ifndef BULKHEAD_QMPD_COMMANDS_H
#define BULKHEAD_QMPD_COMMANDS_H

#include <stdbool.h>

#include "fds.h"
#include "ipc_qmp.h"
#include "json.h"

/* QEMU version the greeting and query-version report (what StratoVirt reports) */
#define QMP_QEMU_MAJOR 5
#define QMP_QEMU_MINOR 0
#define QMP_QEMU_MICRO 0

enum qmp_class {
	QMP_CLASS_GENERIC,
	QMP_CLASS_COMMAND_NOT_FOUND,
	QMP_CLASS_DEVICE_NOT_FOUND,
	QMP_CLASS_DEVICE_NOT_ACTIVE,
};

struct qmp_command;

/* One validated input object. */
struct qmp_call {
	const struct qmp_command *cmd;   /* NULL when the command is unknown */
	yajl_val id;                     /* the input's "id" (points into the tree), or NULL */
	struct qmp_request req;          /* what goes to the core, for relayed commands */
	yajl_val enable;                 /* qmp_capabilities "enable" */
	/* getfd/closefd "fdname"; netdev_add "fd" or "fds" ("a:b"): the session's fds that go
	 * with the request (qmp_fds_take) */
	char fdnames[QMP_FDNAMES_MAX];
	enum qmp_class err_class;
	char desc[QMP_DESC_MAX];         /* set when qmp_call_parse fails */
};

/* What query-name and query-uuid answer: -name and -uuid, as the supervisor passed them
 * (name: 1-255 bytes without control characters; uuid: 36 characters, 8-4-4-4-12). Either
 * may be empty (not given). Returns 0, or -EINVAL for a value outside those limits. */
int qmp_identity_set(const char *name, const char *uuid);

/* Validate one input object against the table. Returns 0, or -EINVAL with err_class/desc. */
int qmp_call_parse(yajl_val root, bool negotiated, struct qmp_call *c);
/* true: answered in qmpd by qmp_call_local(); false: c->req goes to the core */
bool qmp_call_is_local(const struct qmp_call *c);
/* Run a local command (fds: the client's, for getfd/closefd); writes its "return" value to ret.
 * Returns 0 or -EINVAL (c->desc). */
int qmp_call_local(struct qmp_call *c, bool *negotiated, struct qmp_fdset *fds,
		   struct jbuf *ret);
/* The command's name, for log lines */
const char *qmp_command_name(const struct qmp_command *cmd);
/* the enum qmp_cmd a relayed command carries (0 for local ones) */
uint32_t qmp_command_core_cmd(const struct qmp_command *cmd);

/* Whole messages, each ending in "\r\n". id_json is a serialized "id" or NULL. */
void qmp_format_greeting(struct jbuf *out);
void qmp_format_return(struct jbuf *out, const char *value_json, const char *id_json);
void qmp_format_error(struct jbuf *out, enum qmp_class cls, const char *desc,
		      const char *id_json);
/* The core's answer to cmd. */
void qmp_format_reply(struct jbuf *out, const struct qmp_command *cmd,
		      const struct qmp_reply *r, const char *id_json);
/* events.c */
void qmp_format_event(struct jbuf *out, const struct qmp_event *e);

#endif
