/* The AML builder (vmm-core/core/boot/aml.c): encodings against hand-assembled bytes, PkgLength
 * boundaries read back by the tests' independent decoder, sticky errors. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "aml.h"
#include "aml_decode.h"
#include "util.h"

Test(aml, pkglen_encoding_boundaries)
{
	static const struct { uint32_t v; int n; uint8_t b[4]; } cases[] = {
		{ 0, 1, { 0x00 } },
		{ 63, 1, { 0x3f } },
		{ 64, 2, { 0x40, 0x04 } },
		{ 0x123, 2, { 0x43, 0x12 } },
		{ 4095, 2, { 0x4f, 0xff } },
		{ 4096, 3, { 0x80, 0x00, 0x01 } },
		{ 0xfffff, 3, { 0x8f, 0xff, 0xff } },
		{ 0x100000, 4, { 0xc0, 0x00, 0x00, 0x01 } },
		{ 0xfffffff, 4, { 0xcf, 0xff, 0xff, 0xff } },
	};
	uint8_t out[4];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(out, 0x55, sizeof(out));
		cr_assert_eq(aml_pkglen_encode(out, cases[i].v), cases[i].n, "len %u", cases[i].v);
		cr_assert_eq(memcmp(out, cases[i].b, (size_t)cases[i].n), 0, "bytes for %u",
			     cases[i].v);
	}
	cr_assert_eq(aml_pkglen_encode(out, 0x10000000), -EINVAL);
}

/* Wrap n content bytes in a Scope and check the PkgLength the decoder reads covers them
 * exactly: the self-inclusive length is where off-by-one bugs live. */
static void check_wrapped(uint8_t *buf, size_t cap, size_t n)
{
	struct aml a;
	size_t mark, pos = 1, end;

	aml_init(&a, buf, cap);
	mark = aml_scope_begin(&a, "ABCD");
	for (size_t i = 0; i < n - 4; i++)
		aml_bytes(&a, (uint8_t[]){ (uint8_t)(i * 7) }, 1);
	aml_end(&a, mark);
	cr_assert_eq(aml_error(&a), 0, "n %zu", n);
	cr_assert_eq(buf[0], 0x10);
	end = dec_pkglen(buf, &pos, a.len);
	cr_assert_eq(end, a.len, "content %zu: package end %zu != written %zu", n, end, a.len);
	cr_assert_eq(a.len - pos, n, "content %zu moved", n);
	cr_assert_eq(memcmp(buf + pos, "ABCD", 4), 0);
	for (size_t i = 0; i < n - 4; i++)
		cr_assert_eq(buf[pos + 4 + i], (uint8_t)(i * 7), "content %zu byte %zu", n, i);
	size_t lead = pos - 1;
	size_t want = n + 1 <= 63 ? 1 : n + 2 <= 4095 ? 2 : n + 3 <= 0xfffff ? 3 : 4;
	cr_assert_eq(lead, want, "content %zu: %zu PkgLength bytes, want %zu", n, lead, want);
}

Test(aml, pkglen_self_inclusive_boundaries)
{
	size_t cap = 2 * MiB;
	uint8_t *buf = malloc(cap);
	static const size_t base[] = { 63, 4095, 0xfffff };

	cr_assert_not_null(buf);
	for (size_t b = 0; b < 3; b++)
		for (size_t n = base[b] - 4; n <= base[b] + 4; n++)
			check_wrapped(buf, cap, n);
	check_wrapped(buf, cap, 4);
	free(buf);
}

Test(aml, namestrings_and_integers)
{
	uint8_t buf[64];
	struct aml a;

	aml_init(&a, buf, sizeof(buf));
	aml_namestring(&a, "\\_SB_.COM1");
	aml_namestring(&a, "A.B.C");
	aml_namestring(&a, "_S5");
	aml_namestring(&a, "^FOO");
	cr_assert_eq(aml_error(&a), 0);
	static const uint8_t want[] = {
		'\\', 0x2e, '_', 'S', 'B', '_', 'C', 'O', 'M', '1',
		0x2f, 3, 'A', '_', '_', '_', 'B', '_', '_', '_', 'C', '_', '_', '_',
		'_', 'S', '5', '_',
		'^', 'F', 'O', 'O', '_',
	};
	cr_assert_eq(a.len, sizeof(want));
	cr_assert_eq(memcmp(buf, want, sizeof(want)), 0);

	aml_init(&a, buf, sizeof(buf));
	aml_integer(&a, 0);
	aml_integer(&a, 1);
	aml_integer(&a, 0xff);
	aml_integer(&a, 0x100);
	aml_integer(&a, 0x10000);
	aml_integer(&a, 0x100000000ull);
	aml_eisaid(&a, "PNP0501");
	static const uint8_t ints[] = {
		0x00, 0x01, 0x0a, 0xff, 0x0b, 0x00, 0x01, 0x0c, 0x00, 0x00, 0x01, 0x00,
		0x0e, 0, 0, 0, 0, 1, 0, 0, 0,
		0x0c, 0x41, 0xd0, 0x05, 0x01,   /* EISAID("PNP0501") == 0x0105d041 */
	};
	cr_assert_eq(aml_error(&a), 0);
	cr_assert_eq(a.len, sizeof(ints));
	cr_assert_eq(memcmp(buf, ints, sizeof(ints)), 0);
}

/* The GED's constructs against hand-assembled bytes (ACPI 6.4 §20.2.5). */
Test(aml, methods_regions_and_fields)
{
	uint8_t buf[64];
	struct aml a;
	size_t m, c, f;

	aml_init(&a, buf, sizeof(buf));
	aml_opregion(&a, "EREG", AML_SPACE_SYSTEM_MEMORY, 0xfea00000, 4);
	f = aml_field_begin(&a, "EREG", AML_FIELD_DWORD_ACC | AML_FIELD_WRITE_AS_ZEROS);
	aml_field_unit(&a, "ESEL", 32);
	aml_end(&a, f);
	m = aml_method_begin(&a, "_EVT", 1, true);
	aml_op(&a, AML_STORE);
	aml_namestring(&a, "ESEL");
	aml_local(&a, 0);
	c = aml_if_begin(&a);
	aml_op(&a, AML_LEQUAL);
	aml_op(&a, AML_AND);
	aml_local(&a, 7);
	aml_integer(&a, 2);
	aml_op(&a, AML_NULL_NAME);
	aml_integer(&a, 2);
	aml_op(&a, AML_NOTIFY);
	aml_namestring(&a, "PWRB");
	aml_integer(&a, 0x80);
	aml_end(&a, c);
	aml_end(&a, m);
	cr_assert_eq(aml_error(&a), 0);
	static const uint8_t want[] = {
		0x5b, 0x80, 'E', 'R', 'E', 'G', 0x00, 0x0c, 0x00, 0x00, 0xa0, 0xfe, 0x0a, 0x04,
		0x5b, 0x81, 0x0b, 'E', 'R', 'E', 'G', 0x43, 'E', 'S', 'E', 'L', 0x20,
		0x14, 0x1d, '_', 'E', 'V', 'T', 0x09,
		0x70, 'E', 'S', 'E', 'L', 0x60,
		0xa0, 0x10, 0x93, 0x7b, 0x67, 0x0a, 0x02, 0x00, 0x0a, 0x02,
		0x86, 'P', 'W', 'R', 'B', 0x0a, 0x80,
	};
	cr_assert_eq(a.len, sizeof(want), "%zu bytes, want %zu", a.len, sizeof(want));
	cr_assert_eq(memcmp(buf, want, sizeof(want)), 0);
}

Test(aml, method_and_field_errors)
{
	uint8_t buf[32];
	struct aml a;

	aml_init(&a, buf, sizeof(buf));
	aml_method_begin(&a, "_EVT", 8, false);
	cr_assert_eq(aml_error(&a), -EINVAL, "8 arguments");
	aml_init(&a, buf, sizeof(buf));
	aml_local(&a, 8);
	cr_assert_eq(aml_error(&a), -EINVAL, "Local8");
	static const char *bad[] = { "", "ESELX", "A.B", "\\ESEL", "esel", "1SEL" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		aml_init(&a, buf, sizeof(buf));
		aml_field_unit(&a, bad[i], 32);
		cr_assert_eq(aml_error(&a), -EINVAL, "field name '%s'", bad[i]);
		cr_assert_eq(a.len, 0);
	}
	aml_init(&a, buf, sizeof(buf));
	aml_field_unit(&a, "WIDE", AML_PKGLEN_MAX + 1);
	cr_assert_eq(aml_error(&a), -EINVAL, "width");
	aml_init(&a, buf, sizeof(buf));
	aml_field_unit(&a, "W", 64);
	cr_assert_eq(aml_error(&a), 0);
	cr_assert_eq(a.len, 6, "W___ and a 2-byte width");
	cr_assert_eq(memcmp(buf, (uint8_t[]){ 'W', '_', '_', '_', 0x40, 0x04 }, 6), 0);
}

Test(aml, errors_are_sticky)
{
	uint8_t buf[8];
	struct aml a;

	aml_init(&a, buf, sizeof(buf));
	aml_namestring(&a, "abc");
	cr_assert_eq(aml_error(&a), -EINVAL, "lower case");
	aml_init(&a, buf, sizeof(buf));
	aml_namestring(&a, "TOOLONG");
	cr_assert_eq(aml_error(&a), -EINVAL);
	aml_init(&a, buf, sizeof(buf));
	aml_namestring(&a, "1ABC");
	cr_assert_eq(aml_error(&a), -EINVAL);
	aml_init(&a, buf, sizeof(buf));
	aml_eisaid(&a, "PNP05G1");
	cr_assert_eq(aml_error(&a), -EINVAL);
	aml_init(&a, buf, sizeof(buf));
	aml_res_irq_noflags(&a, 16);
	cr_assert_eq(aml_error(&a), -EINVAL);

	aml_init(&a, buf, sizeof(buf));
	aml_string(&a, "LNRO0005");             /* 10 bytes > 8 */
	cr_assert_eq(aml_error(&a), -ENOSPC);
	size_t len = a.len;
	aml_integer(&a, 0);
	aml_end(&a, 0);
	cr_assert_eq(a.len, len, "nothing written after an error");
	cr_assert_eq(aml_error(&a), -ENOSPC, "first error kept");

	/* PkgLength insertion that no longer fits */
	aml_init(&a, buf, sizeof(buf));
	size_t m = aml_package_begin(&a, 1);
	aml_integer(&a, 0x12345);               /* op + count + DWord + One = 8: full */
	aml_integer(&a, 1);
	cr_assert_eq(aml_error(&a), 0);
	aml_end(&a, m);
	cr_assert_eq(aml_error(&a), -ENOSPC);
}
