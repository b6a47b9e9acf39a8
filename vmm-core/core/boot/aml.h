/* A tiny ACPI Machine Language (AML) byte-code builder: just enough of ACPI 6 chapter 20 to
 * write the microvm DSDT (Scope, Device, Name, Package, integers, strings, EISAID and
 * ResourceTemplate buffers, and the OperationRegion, Field and _EVT method of the Generic
 * Event Device). Writes into a caller-provided buffer; errors are sticky so a
 * sequence of calls needs one check at the end. Included by bulkhead-core only. */
#ifndef BULKHEAD_AML_H
#define BULKHEAD_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest value a PkgLength can carry: 4 bits + 3 bytes = 28 bits. */
#define AML_PKGLEN_MAX 0x0fffffffu

struct aml {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int err;            /* first error (-ENOSPC, -EINVAL); later calls do nothing */
};

void aml_init(struct aml *a, void *buf, size_t cap);
/* 0 when every call since aml_init succeeded, else the first -errno. */
int aml_error(const struct aml *a);

/* Encode len as a PkgLength into out; returns the number of bytes (1..4) or -EINVAL. */
int aml_pkglen_encode(uint8_t out[4], uint32_t len);

/* Raw bytes and terms */
void aml_bytes(struct aml *a, const void *p, size_t n);
void aml_namestring(struct aml *a, const char *path);   /* "\\_SB_.COM1", "_HID", "^FOO" */
void aml_integer(struct aml *a, uint64_t v);            /* Zero/One/Ones or smallest const */
void aml_string(struct aml *a, const char *s);
void aml_eisaid(struct aml *a, const char *id);         /* "PNP0501" -> compressed DWord */
void aml_name(struct aml *a, const char *name);         /* NameOp NameString; data follows */

/*
 * Nested objects: *_begin returns a mark, the caller writes the contents, then the matching
 * end call inserts the PkgLength in front of them (its size is only known at the end).
 */
size_t aml_scope_begin(struct aml *a, const char *name);
size_t aml_device_begin(struct aml *a, const char *name);
size_t aml_package_begin(struct aml *a, uint8_t nelems);
void aml_end(struct aml *a, size_t mark);               /* closes scope/device/package */

/* ResourceTemplate() == Buffer whose bytes are resource descriptors plus an end tag. */
size_t aml_restemplate_begin(struct aml *a);
void aml_restemplate_end(struct aml *a, size_t mark);
void aml_res_io16(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len);
void aml_res_irq_noflags(struct aml *a, unsigned irq);  /* irq 0..15 */
void aml_res_mem32_fixed(struct aml *a, bool rw, uint32_t base, uint32_t size);
/* Interrupt(ResourceConsumer, Edge, ActiveHigh, Exclusive) { irq } */
void aml_res_interrupt_edge_high(struct aml *a, uint32_t irq);

/*
 * Control methods and the few expressions a GED's _EVT needs. AML operators are prefix:
 * aml_op writes the opcode only, the caller then writes the operands in order, e.g.
 * Store (ESEL, Local0) is aml_op(AML_STORE); aml_namestring("ESEL"); aml_local(0).
 * Method and If bodies are closed with aml_end, like a Device.
 */
#define AML_NULL_NAME 0x00      /* as a Target: the result is not stored */
#define AML_STORE     0x70      /* source, target */
#define AML_AND       0x7b      /* operand, operand, target */
#define AML_NOTIFY    0x86      /* object, value */
#define AML_LEQUAL    0x93      /* operand, operand */
size_t aml_method_begin(struct aml *a, const char *name, unsigned nargs, bool serialized);
size_t aml_if_begin(struct aml *a);                     /* predicate, then the body */
void aml_op(struct aml *a, uint8_t op);
void aml_local(struct aml *a, unsigned n);              /* Local0..Local7 */

/* OperationRegion (name, space, offset, len) */
#define AML_SPACE_SYSTEM_MEMORY 0x00
void aml_opregion(struct aml *a, const char *name, uint8_t space, uint64_t offset,
		  uint64_t len);
/* Field (region, flags) { name, bits ... }: flags are AccessType | LockRule | UpdateRule */
#define AML_FIELD_DWORD_ACC      0x03
#define AML_FIELD_NO_LOCK        0x00
#define AML_FIELD_WRITE_AS_ZEROS 0x40
size_t aml_field_begin(struct aml *a, const char *region, uint8_t flags);
void aml_field_unit(struct aml *a, const char *name, uint32_t bits);

#endif
