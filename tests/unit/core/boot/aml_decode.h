/* The tests' AML decoder (aml_decode.c): DSDT term lists -> a flat table of named nodes,
 * with criterion assertions on anything malformed or unknown. */
#ifndef BULKHEAD_TEST_AML_DECODE_H
#define BULKHEAD_TEST_AML_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AMLD_MAX_NODES 128

enum kind { K_SCOPE, K_DEVICE, K_INT, K_STR, K_BUF, K_PKG, K_REGION, K_FIELD, K_METHOD };

struct node {
	char path[64];
	enum kind kind;
	uint64_t ival;
	char str[32];
	const uint8_t *buf;
	size_t buflen;
	uint64_t pkg[8];
	unsigned npkg;
};

/* Resource template walker: fills what it finds, asserts on anything unknown. */
struct res {
	int io_min, io_max, io_len, irq_mask;
	int64_t mem_base, mem_size;
	int ext_irq, ext_flags;
	bool end_tag;
};

/* Filled by dec_termlist; reset nnodes to 0 before decoding another table. */
extern struct node nodes[AMLD_MAX_NODES];
extern unsigned nnodes;

/* PkgLength at *pos; returns the end offset of the package and advances *pos. */
size_t dec_pkglen(const uint8_t *p, size_t *pos, size_t limit);
void dec_seg(const uint8_t *p, size_t *pos, char *out);
/* NameString -> "\\A.B" (absolute) or "A.B" (relative) */
void dec_name(const uint8_t *p, size_t *pos, char *out, size_t cap);
/* Integer constants; returns false when the opcode is not one */
bool dec_int(const uint8_t *p, size_t *pos, uint64_t *v);
void dec_termlist(const uint8_t *p, size_t pos, size_t end, const char *scope);
/* The node at path, which must exist and be of kind k */
const struct node *find(const char *path, enum kind k);
void eisaid_str(uint64_t v, char out[8]);
struct res dec_res(const struct node *b);

#endif
