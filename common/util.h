/* Small helpers shared by every bulkhead process: sizes, container_of, checked arithmetic. */
#ifndef BULKHEAD_UTIL_H
#define BULKHEAD_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#define KiB (1024ULL)
#define MiB (1024ULL * KiB)
#define GiB (1024ULL * MiB)

#define ALIGN_UP(x, a)   (((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a) - 1))

#define UNUSED __attribute__((unused))

/* CLOCK_MONOTONIC in nanoseconds */
static inline uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* true when [base, base+len) wraps around the 64-bit address space */
static inline bool range_overflows(uint64_t base, uint64_t len)
{
	uint64_t end;
	return __builtin_add_overflow(base, len, &end);
}

/* true when [a, a+alen) lies wholly inside [b, b+blen); overflow-safe */
static inline bool range_within(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	if (range_overflows(a, alen) || range_overflows(b, blen))
		return false;
	return a >= b && a + alen <= b + blen;
}

/* The value of a hexadecimal digit, or -1. */
static inline int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A UUID in its canonical text form: 8-4-4-4-12 hex digits (either case). */
static inline bool uuid_wellformed(const char *s)
{
	static const char pattern[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
	size_t i;

	for (i = 0; pattern[i] && s[i]; i++)
		if (pattern[i] == '-' ? s[i] != '-' : hexval((unsigned char)s[i]) < 0)
			return false;
	return !pattern[i] && !s[i];
}

static inline void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}
#define _cleanup_close_ __attribute__((cleanup(closep)))

#endif
