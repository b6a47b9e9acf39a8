/* JSON for qmpd, the only process that sees JSON: a streaming framer that cuts a client's byte
 * stream into complete top-level values (QEMU style) with size and depth caps, a growable
 * output buffer with correct string escaping, and a writer that re-serializes a yajl value
 * (used to echo "id" verbatim). No event loop here. */
#ifndef BULKHEAD_QMPD_JSON_H
#define BULKHEAD_QMPD_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_tree.h>

#define QMP_MSG_MAX   (64 * 1024)   /* one message; beyond it the client is disconnected */
#define QMP_DEPTH_MAX 32            /* nesting of objects and arrays in one message */

/* ---- framer ---- */

enum qmp_frame_status {
	QMP_FRAME_MORE,        /* no complete value in the bytes given */
	QMP_FRAME_READY,       /* one complete value: buf[off, off + len) */
	QMP_FRAME_TOO_DEEP,    /* the current value nests too deep: report once, it is skipped */
	QMP_FRAME_SKIPPED,     /* the end of a too-deep value was reached; nothing to report */
	QMP_FRAME_TOO_BIG,     /* the current value passed QMP_MSG_MAX */
};

struct qmp_frame {
	size_t consumed;       /* bytes at the front of buf the caller must now drop */
	size_t off, len;       /* READY: where the value is */
	bool has_nul;          /* READY: a NUL byte or a \u0000 escape (yajl strings cannot hold it) */
};

struct qmp_framer {
	size_t pos;            /* bytes of the caller's buffer already scanned */
	size_t start;          /* offset of the current value */
	size_t skipped;        /* bytes of the current value already dropped (too-deep values) */
	uint32_t depth;
	uint8_t uhex;          /* hex digits of a \uXXXX escape still to come */
	uint16_t uval;
	bool in_value, in_str, esc, scalar, skipping, nul;
};

void qmp_framer_init(struct qmp_framer *f);
/*
 * Scan buf[0, len) (the caller's unprocessed bytes; the same bytes again on the next call,
 * minus what it dropped) and report at most one event. The caller drops fr->consumed bytes
 * from the front of its buffer after handling the event, and calls again until MORE.
 */
enum qmp_frame_status qmp_framer_next(struct qmp_framer *f, const char *buf, size_t len,
				      struct qmp_frame *fr);

/* ---- output ---- */

struct jbuf {
	char *p;
	size_t len, cap;
	bool failed;           /* an allocation failed: the content is incomplete */
};

void jb_init(struct jbuf *b);
void jb_free(struct jbuf *b);
void jb_reset(struct jbuf *b);
void jb_raw(struct jbuf *b, const char *s, size_t n);
void jb_lit(struct jbuf *b, const char *s);     /* append s as is */
void jb_str(struct jbuf *b, const char *s);     /* append s as a JSON string literal */
void jb_strn(struct jbuf *b, const char *s, size_t n);
void jb_u64(struct jbuf *b, uint64_t v);
void jb_i64(struct jbuf *b, int64_t v);
void jb_bool(struct jbuf *b, bool v);
/* Serialize a parsed value. Returns 0, or -E2BIG past depth levels (framed input never is). */
int json_write_value(struct jbuf *b, yajl_val v, unsigned depth);

/* The first line of a yajl error, without its "parse error: " prefix, into out. */
void json_error_text(const char *yajl_err, char *out, size_t n);

#endif
