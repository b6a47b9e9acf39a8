/* The JSON form of the core's events, as the StratoVirt manual shows them:
 * {"event":"STOP","data":{},"timestamp":{"seconds":S,"microseconds":U}}. The timestamp is
 * the core's (taken when it happened), not the time qmpd forwards it. */
#include <stdio.h>

#include "commands.h"
#include "util.h"

static const char *const event_names[QMP_EV_MAX] = {
	[QMP_EV_STOP] = "STOP",
	[QMP_EV_RESUME] = "RESUME",
	[QMP_EV_SHUTDOWN] = "SHUTDOWN",
	[QMP_EV_RESET] = "RESET",
	[QMP_EV_POWERDOWN] = "POWERDOWN",
	[QMP_EV_DEVICE_DELETED] = "DEVICE_DELETED",
	[QMP_EV_BALLOON_CHANGE] = "BALLOON_CHANGE",
	[QMP_EV_BACKEND_FAILED] = "BACKEND_FAILED",
};

/* SHUTDOWN and RESET: {"guest":B,"reason":R}; reason only when the core gave one */
static void guest_reason(struct jbuf *b, const struct qmp_event *e)
{
	jb_lit(b, "{\"guest\":");
	jb_bool(b, e->guest);
	if (e->reason[0]) {
		jb_lit(b, ",\"reason\":");
		jb_str(b, e->reason);
	}
	jb_lit(b, "}");
}

static void event_data(struct jbuf *b, const struct qmp_event *e)
{
	switch (e->kind) {
	case QMP_EV_SHUTDOWN:
	case QMP_EV_RESET:
		guest_reason(b, e);
		break;
	case QMP_EV_DEVICE_DELETED:
		/* microvm devices have no QOM path of their own: the manual shows the id twice */
		jb_lit(b, "{\"device\":");
		jb_str(b, e->device);
		jb_lit(b, ",\"path\":");
		jb_str(b, e->device);
		jb_lit(b, "}");
		break;
	case QMP_EV_BACKEND_FAILED:
		jb_lit(b, "{\"device\":");
		jb_str(b, e->device);
		jb_lit(b, "}");
		break;
	case QMP_EV_BALLOON_CHANGE:
		jb_lit(b, "{\"actual\":");
		jb_u64(b, e->actual);
		jb_lit(b, "}");
		break;
	default:
		jb_lit(b, "{}");
	}
}

void qmp_format_event(struct jbuf *out, const struct qmp_event *e)
{
	const char *name = e->kind < QMP_EV_MAX && event_names[e->kind] ?
			   event_names[e->kind] : "UNKNOWN";

	jb_lit(out, "{\"event\":");
	jb_str(out, name);
	jb_lit(out, ",\"data\":");
	event_data(out, e);
	jb_lit(out, ",\"timestamp\":{\"seconds\":");
	jb_u64(out, e->seconds);
	jb_lit(out, ",\"microseconds\":");
	jb_u64(out, e->microseconds);
	jb_lit(out, "}}\r\n");
}
