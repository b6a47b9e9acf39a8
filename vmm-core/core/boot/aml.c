/* Tiny AML builder (ACPI 6.x, section 20.2 "AML Grammar Definition"); see aml.h. */
#include <errno.h>
#include <string.h>
#include "aml.h"
#include "le.h"

#define OP_ZERO         0x00
#define OP_ONE          0x01
#define OP_NAME         0x08
#define OP_BYTE         0x0a
#define OP_WORD         0x0b
#define OP_DWORD        0x0c
#define OP_STRING       0x0d
#define OP_QWORD        0x0e
#define OP_SCOPE        0x10
#define OP_BUFFER       0x11
#define OP_PACKAGE      0x12
#define OP_METHOD       0x14
#define OP_LOCAL0       0x60
#define OP_IF           0xa0
#define OP_DUAL_NAME    0x2e
#define OP_MULTI_NAME   0x2f
#define OP_EXT          0x5b
#define OP_EXT_REGION   0x80
#define OP_EXT_FIELD    0x81
#define OP_EXT_DEVICE   0x82
#define METHOD_ARGS_MAX 7
#define METHOD_SERIALIZED 0x08
#define LOCALS_MAX      8
#define CHAR_ROOT       '\\'
#define CHAR_PARENT     '^'

void aml_init(struct aml *a, void *buf, size_t cap)
{
	a->buf = buf;
	a->cap = cap;
	a->len = 0;
	a->err = 0;
}

int aml_error(const struct aml *a)
{
	return a->err;
}

static void fail(struct aml *a, int err)
{
	if (!a->err)
		a->err = err;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (a->err)
		return;
	if (n > a->cap - a->len) {
		fail(a, -ENOSPC);
		return;
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

static void byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

/* Put n bytes in front of the contents that start at 'at' (used to place a PkgLength). */
static void insert(struct aml *a, size_t at, const uint8_t *p, size_t n)
{
	if (a->err)
		return;
	if (at > a->len) {
		fail(a, -EINVAL);
		return;
	}
	if (n > a->cap - a->len) {
		fail(a, -ENOSPC);
		return;
	}
	memmove(a->buf + at + n, a->buf + at, a->len - at);
	memcpy(a->buf + at, p, n);
	a->len += n;
}

/*
 * PkgLength: one byte holds 0..63; otherwise bits 7:6 of the lead byte count the 1..3
 * bytes that follow, bits 3:0 are the low nibble and each following byte adds 8 bits.
 */
int aml_pkglen_encode(uint8_t out[4], uint32_t len)
{
	int extra, i;

	if (len > AML_PKGLEN_MAX)
		return -EINVAL;
	if (len <= 0x3f) {
		out[0] = (uint8_t)len;
		return 1;
	}
	extra = len <= 0xfff ? 1 : len <= 0xfffff ? 2 : 3;
	out[0] = (uint8_t)((extra << 6) | (len & 0xf));
	for (i = 1; i <= extra; i++)
		out[i] = (uint8_t)(len >> (4 + 8 * (i - 1)));
	return extra + 1;
}

/*
 * A PkgLength counts its own bytes, so the encoded size depends on the value it encodes.
 * Try the short forms first: content 63 needs 2 bytes (total 65), not 1 (total 64 > 63).
 */
static int pkglen_for(uint8_t out[4], size_t content)
{
	static const uint32_t limit[4] = { 0x3f, 0xfff, 0xfffff, AML_PKGLEN_MAX };
	size_t n;

	for (n = 1; n <= 4; n++)
		if (content <= limit[n - 1] - n)
			return aml_pkglen_encode(out, (uint32_t)(content + n));
	return -EINVAL;
}

/* Smallest integer encoding of v; out must hold 9 bytes. */
static size_t int_encode(uint8_t out[9], uint64_t v)
{
	size_t n, i;

	if (v <= 1) {
		out[0] = v ? OP_ONE : OP_ZERO;
		return 1;
	}
	if (v <= 0xff) {
		out[0] = OP_BYTE;
		n = 1;
	} else if (v <= 0xffff) {
		out[0] = OP_WORD;
		n = 2;
	} else if (v <= 0xffffffff) {
		out[0] = OP_DWORD;
		n = 4;
	} else {
		out[0] = OP_QWORD;
		n = 8;
	}
	for (i = 0; i < n; i++)
		out[1 + i] = (uint8_t)(v >> (8 * i));
	return n + 1;
}

void aml_integer(struct aml *a, uint64_t v)
{
	uint8_t tmp[9];

	aml_bytes(a, tmp, int_encode(tmp, v));
}

void aml_string(struct aml *a, const char *s)
{
	const char *c;

	for (c = s; *c; c++) {
		/* AsciiCharList is 0x01-0x7f; anything else would end or corrupt the string */
		if ((unsigned char)*c > 0x7f) {
			fail(a, -EINVAL);
			return;
		}
	}
	byte(a, OP_STRING);
	aml_bytes(a, s, strlen(s) + 1);
}

static bool lead_char(char c)
{
	return (c >= 'A' && c <= 'Z') || c == '_';
}

static bool name_char(char c)
{
	return lead_char(c) || (c >= '0' && c <= '9');
}

/* One NameSeg of 1..4 chars ending at '.' or NUL, padded with '_'; returns chars used. */
static size_t name_seg(const char *s, uint8_t seg[4])
{
	size_t n = 0;

	if (!lead_char(s[0]))
		return 0;
	while (s[n] && s[n] != '.') {
		if (n == 4 || !name_char(s[n]))
			return 0;
		seg[n] = (uint8_t)s[n];
		n++;
	}
	memset(seg + n, '_', 4 - n);
	return n;
}

void aml_namestring(struct aml *a, const char *path)
{
	uint8_t segs[255][4];
	size_t nseg = 0, used;
	const char *p = path;

	if (*p == CHAR_ROOT)
		byte(a, *p++);
	else
		while (*p == CHAR_PARENT)
			byte(a, *p++);
	while (*p) {
		used = nseg < 255 ? name_seg(p, segs[nseg]) : 0;
		if (!used) {
			fail(a, -EINVAL);
			return;
		}
		nseg++;
		p += used;
		if (*p == '.' && *++p == '\0') {
			fail(a, -EINVAL);  /* trailing dot */
			return;
		}
	}
	if (nseg == 0) {
		byte(a, 0x00);          /* NullName */
	} else if (nseg == 2) {
		byte(a, OP_DUAL_NAME);
	} else if (nseg > 2) {
		byte(a, OP_MULTI_NAME);
		byte(a, (uint8_t)nseg);
	}
	aml_bytes(a, segs, nseg * 4);
}

void aml_eisaid(struct aml *a, const char *id)
{
	uint32_t v = 0;
	int i;

	if (strlen(id) != 7) {
		fail(a, -EINVAL);
		return;
	}
	/* three letters, 5 bits each ('A' == 1), then four hex digits: 7 chars in 32 bits */
	for (i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z') {
			fail(a, -EINVAL);
			return;
		}
		v = (v << 5) | (uint32_t)(id[i] - 0x40);
	}
	for (i = 3; i < 7; i++) {
		char c = id[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else {
			fail(a, -EINVAL);
			return;
		}
		v = (v << 4) | d;
	}
	/* the id is stored big-endian, i.e. the AML integer is the byte-swapped value */
	byte(a, OP_DWORD);
	aml_bytes(a, (uint8_t[4]){ v >> 24, v >> 16, v >> 8, v }, 4);
}

void aml_name(struct aml *a, const char *name)
{
	byte(a, OP_NAME);
	aml_namestring(a, name);
}

/* An opcode of n bytes, then PkgLength (inserted at the mark by aml_end), then a name. */
static size_t named_begin(struct aml *a, const uint8_t *op, size_t n, const char *name)
{
	size_t mark;

	aml_bytes(a, op, n);
	mark = a->len;
	aml_namestring(a, name);
	return mark;
}

size_t aml_scope_begin(struct aml *a, const char *name)
{
	return named_begin(a, (uint8_t[]){ OP_SCOPE }, 1, name);
}

size_t aml_device_begin(struct aml *a, const char *name)
{
	return named_begin(a, (uint8_t[]){ OP_EXT, OP_EXT_DEVICE }, 2, name);
}

size_t aml_package_begin(struct aml *a, uint8_t nelems)
{
	size_t mark;

	byte(a, OP_PACKAGE);
	mark = a->len;
	byte(a, nelems);
	return mark;
}

void aml_end(struct aml *a, size_t mark)
{
	uint8_t pl[4];
	int n;

	if (a->err)
		return;
	if (mark > a->len) {
		fail(a, -EINVAL);
		return;
	}
	n = pkglen_for(pl, a->len - mark);
	if (n < 0) {
		fail(a, n);
		return;
	}
	insert(a, mark, pl, (size_t)n);
}

size_t aml_restemplate_begin(struct aml *a)
{
	byte(a, OP_BUFFER);
	return a->len;
}

/* DefBuffer := BufferOp PkgLength BufferSize ByteList; BufferSize is itself a TermArg. */
void aml_restemplate_end(struct aml *a, size_t mark)
{
	uint8_t hdr[4 + 9], size[9];
	size_t nsize, bytes;
	int n;

	/* End Tag; checksum 0 means "treat as checksummed correctly" */
	aml_bytes(a, (uint8_t[]){ 0x79, 0x00 }, 2);
	if (a->err)
		return;
	if (mark > a->len) {
		fail(a, -EINVAL);
		return;
	}
	bytes = a->len - mark;
	nsize = int_encode(size, bytes);
	n = pkglen_for(hdr, nsize + bytes);
	if (n < 0) {
		fail(a, n);
		return;
	}
	memcpy(hdr + n, size, nsize);
	insert(a, mark, hdr, (size_t)n + nsize);
}

void aml_res_io16(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
	/* small item 0x08 (I/O port), 7 bytes; info bit 0: decodes 16 address bits */
	aml_bytes(a, (uint8_t[]){ 0x47, 0x01, min, min >> 8, max, max >> 8, align, len }, 8);
}

void aml_res_irq_noflags(struct aml *a, unsigned irq)
{
	uint16_t mask;

	if (irq > 15) {
		fail(a, -EINVAL);
		return;
	}
	/* small item 0x04 (IRQ) with 2 bytes: no flags byte == edge, active high, exclusive */
	mask = (uint16_t)(1u << irq);
	aml_bytes(a, (uint8_t[]){ 0x22, mask, mask >> 8 }, 3);
}

void aml_res_mem32_fixed(struct aml *a, bool rw, uint32_t base, uint32_t size)
{
	uint8_t d[12] = { 0x86, 9, 0, rw ? 1 : 0 };   /* large item 0x06, 9 data bytes */

	le_put32(d + 4, base);
	le_put32(d + 8, size);
	aml_bytes(a, d, sizeof(d));
}

void aml_res_interrupt_edge_high(struct aml *a, uint32_t irq)
{
	/* large item 0x09, 6 data bytes; flags: bit0 consumer, bit1 edge, bit2 0 = high,
	 * bit3 0 = exclusive; then a table of one interrupt number */
	uint8_t d[9] = { 0x89, 6, 0, 0x03, 1 };

	le_put32(d + 5, irq);
	aml_bytes(a, d, sizeof(d));
}

size_t aml_method_begin(struct aml *a, const char *name, unsigned nargs, bool serialized)
{
	size_t mark = named_begin(a, (uint8_t[]){ OP_METHOD }, 1, name);

	if (nargs > METHOD_ARGS_MAX)
		fail(a, -EINVAL);
	/* MethodFlags: ArgCount in bits 2:0, SerializeFlag in bit 3, SyncLevel 0 */
	byte(a, (uint8_t)(nargs | (serialized ? METHOD_SERIALIZED : 0)));
	return mark;
}

size_t aml_if_begin(struct aml *a)
{
	byte(a, OP_IF);
	return a->len;
}

void aml_op(struct aml *a, uint8_t op)
{
	byte(a, op);
}

void aml_local(struct aml *a, unsigned n)
{
	if (n >= LOCALS_MAX) {
		fail(a, -EINVAL);
		return;
	}
	byte(a, (uint8_t)(OP_LOCAL0 + n));
}

void aml_opregion(struct aml *a, const char *name, uint8_t space, uint64_t offset,
		  uint64_t len)
{
	aml_bytes(a, (uint8_t[]){ OP_EXT, OP_EXT_REGION }, 2);
	aml_namestring(a, name);
	byte(a, space);
	aml_integer(a, offset);
	aml_integer(a, len);
}

size_t aml_field_begin(struct aml *a, const char *region, uint8_t flags)
{
	size_t mark = named_begin(a, (uint8_t[]){ OP_EXT, OP_EXT_FIELD }, 2, region);

	byte(a, flags);
	return mark;
}

/* NamedField := NameSeg PkgLength, where the "PkgLength" is the width in bits and does not
 * count its own bytes (unlike a package's). */
void aml_field_unit(struct aml *a, const char *name, uint32_t bits)
{
	uint8_t seg[4], pl[4];
	size_t used = name_seg(name, seg);
	int n;

	/* one NameSeg, no path: fields live in the scope of their region */
	if (used == 0 || name[used] != '\0') {
		fail(a, -EINVAL);
		return;
	}
	n = aml_pkglen_encode(pl, bits);
	if (n < 0) {
		fail(a, n);
		return;
	}
	aml_bytes(a, seg, 4);
	aml_bytes(a, pl, (size_t)n);
}
