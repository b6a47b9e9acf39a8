/* A small, strict AML decoder for the firmware-table tests: walks a DSDT term list into a
 * flat table of named objects (scopes, devices, names, regions, fields, methods) and asserts
 * on anything it does not know, so the tables cannot grow constructs nobody checked. It is
 * independent of vmm-core/core/boot/aml.c on purpose: the builder's own bugs must not cancel
 * out. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include "le.h"
#include "aml_decode.h"

struct node nodes[AMLD_MAX_NODES];
unsigned nnodes;

/* PkgLength at *pos; returns the end offset of the package and advances *pos. */
size_t dec_pkglen(const uint8_t *p, size_t *pos, size_t limit)
{
	size_t start = *pos;
	uint8_t lead = p[(*pos)++];
	unsigned extra = lead >> 6;
	uint32_t len;

	if (extra == 0) {
		len = lead & 0x3f;
	} else {
		cr_assert_eq(lead & 0x30, 0, "PkgLength reserved bits set");
		len = lead & 0xf;
		for (unsigned i = 0; i < extra; i++)
			len |= (uint32_t)p[(*pos)++] << (4 + 8 * i);
	}
	cr_assert_gt(len, *pos - start, "PkgLength shorter than itself");
	cr_assert_leq(start + len, limit, "package runs past its parent");
	return start + len;
}

void dec_seg(const uint8_t *p, size_t *pos, char *out)
{
	for (int i = 0; i < 4; i++) {
		char c = (char)p[*pos + i];
		cr_assert((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_',
			  "bad NameSeg char 0x%02x", (unsigned)(uint8_t)c);
		cr_assert(i > 0 || !(c >= '0' && c <= '9'), "NameSeg starts with a digit");
	}
	memcpy(out, p + *pos, 4);
	out[4] = 0;
	*pos += 4;
}

/* NameString -> "\\A.B" (absolute) or "A.B" (relative) */
void dec_name(const uint8_t *p, size_t *pos, char *out, size_t cap)
{
	char seg[5];
	unsigned nseg = 1;

	out[0] = 0;
	if (p[*pos] == '\\') {
		strcat(out, "\\");
		(*pos)++;
	}
	if (p[*pos] == 0x2e) {
		nseg = 2;
		(*pos)++;
	} else if (p[*pos] == 0x2f) {
		nseg = p[*pos + 1];
		*pos += 2;
	} else if (p[*pos] == 0) {
		nseg = 0;
		(*pos)++;
	}
	for (unsigned i = 0; i < nseg; i++) {
		dec_seg(p, pos, seg);
		if (i)
			strcat(out, ".");
		cr_assert_lt(strlen(out) + 5, cap);
		strcat(out, seg);
	}
}

static void join(char *out, const char *scope, const char *name)
{
	if (name[0] == '\\')
		snprintf(out, 64, "%s", name);
	else if (!strcmp(scope, "\\"))
		snprintf(out, 64, "\\%s", name);
	else
		snprintf(out, 64, "%s.%s", scope, name);
}

static struct node *new_node(const char *path, enum kind k)
{
	cr_assert_lt(nnodes, AMLD_MAX_NODES);
	struct node *n = &nodes[nnodes++];
	memset(n, 0, sizeof(*n));
	snprintf(n->path, sizeof(n->path), "%s", path);
	n->kind = k;
	return n;
}

/* Integer constants; returns false when the opcode is not one */
bool dec_int(const uint8_t *p, size_t *pos, uint64_t *v)
{
	static const unsigned width[] = { [0x0a] = 1, [0x0b] = 2, [0x0c] = 4, [0x0e] = 8 };
	uint8_t op = p[*pos];

	if (op == 0x00 || op == 0x01) {
		*v = op;
		(*pos)++;
		return true;
	}
	if (op >= sizeof(width) / sizeof(width[0]) || !width[op])
		return false;
	*v = 0;
	for (unsigned i = 0; i < width[op]; i++)
		*v |= (uint64_t)p[*pos + 1 + i] << (8 * i);
	*pos += 1 + width[op];
	return true;
}

static void dec_data(const uint8_t *p, size_t *pos, size_t limit, struct node *n)
{
	uint8_t op = p[*pos];
	size_t end;
	uint64_t v;

	if (dec_int(p, pos, &n->ival)) {
		n->kind = K_INT;
	} else if (op == 0x0d) {
		const char *s = (const char *)p + *pos + 1;
		size_t l = strnlen(s, limit - *pos - 1);
		cr_assert_lt(l, sizeof(n->str));
		memcpy(n->str, s, l + 1);
		n->kind = K_STR;
		*pos += l + 2;
	} else if (op == 0x11) {
		(*pos)++;
		end = dec_pkglen(p, pos, limit);
		cr_assert(dec_int(p, pos, &v), "BufferSize not an integer");
		cr_assert_eq(v, end - *pos, "BufferSize %lu != bytes %zu", (unsigned long)v,
			     end - *pos);
		n->kind = K_BUF;
		n->buf = p + *pos;
		n->buflen = (size_t)v;
		*pos = end;
	} else if (op == 0x12) {
		(*pos)++;
		end = dec_pkglen(p, pos, limit);
		unsigned count = p[(*pos)++];
		n->kind = K_PKG;
		while (*pos < end) {
			cr_assert(dec_int(p, pos, &v), "package element not an integer");
			cr_assert_lt(n->npkg, 8);
			n->pkg[n->npkg++] = v;
		}
		cr_assert_eq(*pos, end);
		cr_assert_eq(count, n->npkg, "NumElements");
	} else {
		cr_assert_fail("unknown data object opcode 0x%02x", op);
	}
	cr_assert_leq(*pos, limit);
}

/* OperationRegion: pkg[] = space, offset, length (all constants here) */
static size_t dec_region(const uint8_t *p, size_t pos, const char *scope)
{
	char name[64], path[64];
	struct node *n;

	dec_name(p, &pos, name, sizeof(name));
	join(path, scope, name);
	n = new_node(path, K_REGION);
	n->pkg[0] = p[pos++];
	cr_assert(dec_int(p, &pos, &n->pkg[1]), "region offset not a constant");
	cr_assert(dec_int(p, &pos, &n->pkg[2]), "region length not a constant");
	n->npkg = 3;
	return pos;
}

/* Field: one K_FIELD node per named unit, ival = bit width, str = region, pkg[0] = flags */
static size_t dec_field(const uint8_t *p, size_t pos, size_t end, const char *scope)
{
	size_t fend = dec_pkglen(p, &pos, end);
	char region[64], seg[5], path[64];
	uint8_t flags;

	dec_name(p, &pos, region, sizeof(region));
	flags = p[pos++];
	while (pos < fend) {
		struct node *n;

		dec_seg(p, &pos, seg);
		join(path, scope, seg);
		n = new_node(path, K_FIELD);
		cr_assert_lt(strlen(region), sizeof(n->str));
		memcpy(n->str, region, strlen(region) + 1);
		n->pkg[0] = flags;
		/* the width is PkgLength-encoded but counts bits, not its own bytes */
		cr_assert_eq(p[pos] >> 6, 0, "field wider than 63 bits");
		n->ival = p[pos++];
	}
	cr_assert_eq(pos, fend, "field list overruns its package");
	return fend;
}

/* Method: ival = MethodFlags, buf/buflen = the body, for the evaluator below */
static size_t dec_method(const uint8_t *p, size_t pos, size_t end, const char *scope)
{
	size_t mend = dec_pkglen(p, &pos, end);
	char name[64], path[64];
	struct node *n;

	dec_name(p, &pos, name, sizeof(name));
	join(path, scope, name);
	n = new_node(path, K_METHOD);
	n->ival = p[pos++];
	n->buf = p + pos;
	n->buflen = mend - pos;
	return mend;
}

void dec_termlist(const uint8_t *p, size_t pos, size_t end, const char *scope)
{
	char name[64], path[64];

	while (pos < end) {
		uint8_t op = p[pos++];
		if (op == 0x5b && p[pos] == 0x80) {
			pos = dec_region(p, pos + 1, scope);
		} else if (op == 0x5b && p[pos] == 0x81) {
			pos = dec_field(p, pos + 1, end, scope);
		} else if (op == 0x14) {
			pos = dec_method(p, pos, end, scope);
		} else if (op == 0x08) {
			dec_name(p, &pos, name, sizeof(name));
			join(path, scope, name);
			dec_data(p, &pos, end, new_node(path, K_INT));
		} else if (op == 0x10 || (op == 0x5b && p[pos] == 0x82)) {
			bool dev = op == 0x5b;
			pos += dev;
			size_t pend = dec_pkglen(p, &pos, end);
			dec_name(p, &pos, name, sizeof(name));
			join(path, scope, name);
			new_node(path, dev ? K_DEVICE : K_SCOPE);
			dec_termlist(p, pos, pend, path);
			pos = pend;
		} else {
			cr_assert_fail("unexpected opcode 0x%02x at %zu", op, pos - 1);
		}
	}
	cr_assert_eq(pos, end, "term list overruns its package");
}

const struct node *find(const char *path, enum kind k)
{
	for (unsigned i = 0; i < nnodes; i++)
		if (!strcmp(nodes[i].path, path)) {
			cr_assert_eq(nodes[i].kind, k, "%s has kind %d", path, nodes[i].kind);
			return &nodes[i];
		}
	cr_assert_fail("%s not found in DSDT", path);
	return NULL;
}

void eisaid_str(uint64_t v, char out[8])
{
	uint32_t id = __builtin_bswap32((uint32_t)v);
	out[0] = (char)('@' + ((id >> 26) & 0x1f));
	out[1] = (char)('@' + ((id >> 21) & 0x1f));
	out[2] = (char)('@' + ((id >> 16) & 0x1f));
	snprintf(out + 3, 5, "%04X", id & 0xffff);
}


struct res dec_res(const struct node *b)
{
	struct res r = { -1, -1, -1, -1, -1, -1, -1, -1, false };
	size_t i = 0;

	while (i < b->buflen) {
		const uint8_t *d = b->buf + i;
		cr_assert(!r.end_tag, "descriptor after end tag");
		if (d[0] & 0x80) {
			size_t l = le_get16(d + 1);
			cr_assert_leq(i + 3 + l, b->buflen);
			if (d[0] == 0x86) {
				cr_assert_eq(l, 9);
				cr_assert_eq(d[3], 1, "ReadWrite");
				r.mem_base = le_get32(d + 4);
				r.mem_size = le_get32(d + 8);
			} else if (d[0] == 0x89) {
				cr_assert_eq(l, 6);
				cr_assert_eq(d[4], 1, "one interrupt");
				r.ext_flags = d[3];
				r.ext_irq = (int)le_get32(d + 5);
			} else {
				cr_assert_fail("large item 0x%02x", d[0]);
			}
			i += 3 + l;
		} else {
			unsigned type = (d[0] >> 3) & 0xf, l = d[0] & 7;
			cr_assert_leq(i + 1 + l, b->buflen);
			if (type == 0x08) {
				cr_assert_eq(l, 7);
				cr_assert_eq(d[1], 1, "Decode16");
				r.io_min = le_get16(d + 2);
				r.io_max = le_get16(d + 4);
				r.io_len = d[7];
			} else if (type == 0x04) {
				cr_assert_eq(l, 2, "IRQNoFlags");
				r.irq_mask = le_get16(d + 1);
			} else if (type == 0x0f) {
				cr_assert_eq(l, 1);
				cr_assert_eq(d[1], 0, "end tag checksum 0 (no checksum)");
				r.end_tag = true;
			} else {
				cr_assert_fail("small item type 0x%x", type);
			}
			i += 1 + l;
		}
	}
	cr_assert(r.end_tag, "no end tag");
	cr_assert_eq(i, b->buflen);
	return r;
}
