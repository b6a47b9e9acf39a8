/* The JSON side of qmpd: stream framing with caps, output building, value re-serialization. */
#include "json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* ---- framer ----
 * Only the lexical structure matters here: strings (with escapes) and bracket depth. yajl
 * parses each complete value afterwards, so the framer never has to judge validity, only
 * where a value ends, and it bounds what yajl is ever given (size, depth). */

void qmp_framer_init(struct qmp_framer *f)
{
	memset(f, 0, sizeof(*f));
}

static bool is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool ends_scalar(unsigned char c)
{
	return is_ws(c) || strchr("{}[],:\"", c) != NULL;
}

/* one byte inside a string literal; returns true at its closing quote */
static bool string_byte(struct qmp_framer *f, unsigned char c)
{
	if (f->uhex) {
		int h = hexval(c);

		if (h < 0) {
			f->uhex = 0;    /* malformed escape: yajl will say so */
			return c == '"';
		}
		f->uval = (uint16_t)(f->uval << 4 | h);
		if (--f->uhex == 0 && f->uval == 0)
			f->nul = true;
		return false;
	}
	if (f->esc) {
		f->esc = false;
		if (c == 'u') {
			f->uhex = 4;
			f->uval = 0;
		}
		return false;
	}
	if (c == '\\')
		f->esc = true;
	else if (c == '\0')
		f->nul = true;
	return c == '"';
}

static void reset_value(struct qmp_framer *f)
{
	memset(f, 0, sizeof(*f));
}

static enum qmp_frame_status ready(struct qmp_framer *f, size_t end, struct qmp_frame *fr)
{
	fr->off = f->start;
	fr->len = end - f->start;
	fr->has_nul = f->nul;
	fr->consumed = end;
	reset_value(f);
	return QMP_FRAME_READY;
}

static enum qmp_frame_status more(struct qmp_framer *f, size_t len, struct qmp_frame *fr)
{
	if (!f->in_value) {
		fr->consumed = len;             /* whitespace between values */
		f->pos = 0;
	} else if (f->skipping) {
		f->skipped += len - f->start;   /* a too-deep value is dropped as it arrives */
		fr->consumed = len;
		f->pos = f->start = 0;
	} else {
		fr->consumed = f->start;
		f->pos = len - f->start;
		f->start = 0;
	}
	return QMP_FRAME_MORE;
}

/*
 * One structural byte outside strings. Returns MORE to keep scanning, or an event; *end is
 * where a finished value stops (exclusive).
 */
static enum qmp_frame_status structural(struct qmp_framer *f, unsigned char c, size_t i,
					size_t *end)
{
	switch (c) {
	case '"':
		f->in_str = true;
		break;
	case '{':
	case '[':
		if (++f->depth > QMP_DEPTH_MAX && !f->skipping) {
			*end = i + 1;
			return QMP_FRAME_TOO_DEEP;
		}
		break;
	case '}':
	case ']':
		if (f->depth == 0 || --f->depth == 0) {
			*end = i + 1;   /* a stray closer is a one-byte value yajl rejects */
			return f->skipping ? QMP_FRAME_SKIPPED : QMP_FRAME_READY;
		}
		break;
	case ',':
	case ':':
		if (f->depth == 0) {
			*end = i + 1;
			return QMP_FRAME_READY;
		}
		break;
	case '\0':
		f->nul = true;
		/* fall through */
	default:
		if (f->depth == 0 && !is_ws(c))
			f->scalar = true;   /* a bare number or literal at top level */
	}
	return QMP_FRAME_MORE;
}

/* Scan one byte of a value; returns an event or MORE. */
static enum qmp_frame_status value_byte(struct qmp_framer *f, unsigned char c, size_t i,
					size_t *end)
{
	if (f->in_str) {
		if (string_byte(f, c)) {
			f->in_str = false;
			if (f->depth == 0) {
				*end = i + 1;
				return QMP_FRAME_READY;
			}
		}
		return QMP_FRAME_MORE;
	}
	if (f->scalar) {
		if (ends_scalar(c)) {
			*end = i;       /* the terminator belongs to what follows */
			return QMP_FRAME_READY;
		}
		if (c == '\0')
			f->nul = true;
		return QMP_FRAME_MORE;
	}
	return structural(f, c, i, end);
}

enum qmp_frame_status qmp_framer_next(struct qmp_framer *f, const char *buf, size_t len,
				      struct qmp_frame *fr)
{
	enum qmp_frame_status st;
	size_t end = 0;

	memset(fr, 0, sizeof(*fr));
	for (size_t i = f->pos; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (!f->in_value) {
			if (is_ws(c))
				continue;
			f->in_value = true;
			f->start = i;
		}
		if (i + 1 - f->start + f->skipped > QMP_MSG_MAX) {
			fr->consumed = len;
			reset_value(f);
			return QMP_FRAME_TOO_BIG;
		}
		st = value_byte(f, c, i, &end);
		switch (st) {
		case QMP_FRAME_MORE:
			continue;
		case QMP_FRAME_READY:
			return ready(f, end, fr);
		case QMP_FRAME_TOO_DEEP:
			/* report now, then drop the rest of this value as it arrives */
			f->skipping = true;
			f->skipped = end - f->start;
			f->start = f->pos = 0;
			fr->consumed = end;
			return st;
		default:   /* SKIPPED */
			fr->consumed = end;
			reset_value(f);
			return st;
		}
	}
	return more(f, len, fr);
}

/* ---- output ---- */

void jb_init(struct jbuf *b)
{
	memset(b, 0, sizeof(*b));
}

void jb_free(struct jbuf *b)
{
	free(b->p);
	jb_init(b);
}

void jb_reset(struct jbuf *b)
{
	b->len = 0;
	b->failed = false;
}

static bool reserve(struct jbuf *b, size_t n)
{
	size_t want, cap;
	char *p;

	if (b->failed)
		return false;
	if (__builtin_add_overflow(b->len, n + 1, &want)) {
		b->failed = true;
		return false;
	}
	if (want <= b->cap)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap < want)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->failed = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void jb_raw(struct jbuf *b, const char *s, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void jb_lit(struct jbuf *b, const char *s)
{
	jb_raw(b, s, strlen(s));
}

/* Length of a valid UTF-8 sequence at s (n bytes left), or 0. Strings from the core are
 * NUL-terminated but otherwise arbitrary bytes, so they are checked before they go out. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	len = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (n < len)
		return 0;
	cp = s[0] & (0x3f >> (len - 1));
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static void escape_byte(struct jbuf *b, unsigned char c)
{
	char tmp[8];

	switch (c) {
	case '"': jb_raw(b, "\\\"", 2); break;
	case '\\': jb_raw(b, "\\\\", 2); break;
	case '\n': jb_raw(b, "\\n", 2); break;
	case '\r': jb_raw(b, "\\r", 2); break;
	case '\t': jb_raw(b, "\\t", 2); break;
	default:
		snprintf(tmp, sizeof(tmp), "\\u%04x", c);
		jb_raw(b, tmp, 6);
	}
}

void jb_strn(struct jbuf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run = 0;

	jb_raw(b, "\"", 1);
	while (i < n) {
		size_t k;

		if (u[i] >= 0x20 && u[i] < 0x80 && u[i] != '"' && u[i] != '\\') {
			i++;
			run++;
			continue;
		}
		jb_raw(b, s + i - run, run);
		run = 0;
		if (u[i] < 0x80) {
			escape_byte(b, u[i++]);
		} else if ((k = utf8_len(u + i, n - i)) > 0) {
			jb_raw(b, s + i, k);
			i += k;
		} else {
			jb_raw(b, "\\ufffd", 6);   /* not UTF-8: a replacement character */
			i++;
		}
	}
	jb_raw(b, s + i - run, run);
	jb_raw(b, "\"", 1);
}

void jb_str(struct jbuf *b, const char *s)
{
	jb_strn(b, s, strlen(s));
}

void jb_u64(struct jbuf *b, uint64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%" PRIu64, v);

	jb_raw(b, tmp, (size_t)n);
}

void jb_i64(struct jbuf *b, int64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%" PRId64, v);

	jb_raw(b, tmp, (size_t)n);
}

void jb_bool(struct jbuf *b, bool v)
{
	jb_lit(b, v ? "true" : "false");
}

static int write_object(struct jbuf *b, yajl_val v, unsigned depth)
{
	jb_raw(b, "{", 1);
	for (size_t i = 0; i < v->u.object.len; i++) {
		if (i)
			jb_raw(b, ",", 1);
		jb_str(b, v->u.object.keys[i]);
		jb_raw(b, ":", 1);
		if (json_write_value(b, v->u.object.values[i], depth - 1) < 0)
			return -E2BIG;
	}
	jb_raw(b, "}", 1);
	return 0;
}

static int write_array(struct jbuf *b, yajl_val v, unsigned depth)
{
	jb_raw(b, "[", 1);
	for (size_t i = 0; i < v->u.array.len; i++) {
		if (i)
			jb_raw(b, ",", 1);
		if (json_write_value(b, v->u.array.values[i], depth - 1) < 0)
			return -E2BIG;
	}
	jb_raw(b, "]", 1);
	return 0;
}

int json_write_value(struct jbuf *b, yajl_val v, unsigned depth)
{
	if (!v || depth == 0)
		return -E2BIG;
	switch (v->type) {
	case yajl_t_string:
		jb_str(b, v->u.string);
		return 0;
	case yajl_t_number:
		/* yajl keeps the number's text, so 1.50 or 1e3 go back exactly as they came */
		jb_lit(b, v->u.number.r);
		return 0;
	case yajl_t_object:
		return write_object(b, v, depth);
	case yajl_t_array:
		return write_array(b, v, depth);
	case yajl_t_true:
		jb_lit(b, "true");
		return 0;
	case yajl_t_false:
		jb_lit(b, "false");
		return 0;
	default:
		jb_lit(b, "null");
		return 0;
	}
}

void json_error_text(const char *err, char *out, size_t n)
{
	static const char prefix[] = "parse error: ";
	size_t len;

	if (!strncmp(err, prefix, sizeof(prefix) - 1))
		err += sizeof(prefix) - 1;
	len = strcspn(err, "\r\n");
	while (len && (err[len - 1] == ' ' || err[len - 1] == '\t'))
		len--;
	if (len >= n)
		len = n - 1;
	memcpy(out, err, len);
	out[len] = '\0';
}
