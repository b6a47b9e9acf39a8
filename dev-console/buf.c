/* bulkhead-hvc's output ring: the guest's console output waiting for a client, a fixed
 * number of bytes allocated once at startup (the guest cannot grow it). */
#include "console.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/param.h>

int con_buf_init(struct con_buf *b, uint32_t cap)
{
	memset(b, 0, sizeof(*b));
	if (!cap)
		return -EINVAL;
	b->data = malloc(cap);
	if (!b->data)
		return -ENOMEM;
	b->cap = cap;
	return 0;
}

void con_buf_exit(struct con_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* Copy n bytes in at the tail; the caller made room. */
static void copy_in(struct con_buf *b, const uint8_t *src, uint32_t n)
{
	uint32_t tail = (uint32_t)(((uint64_t)b->head + b->len) % b->cap);
	uint32_t first = MIN(n, b->cap - tail);

	memcpy(b->data + tail, src, first);
	memcpy(b->data, src + first, n - first);
	b->len += n;
}

uint32_t con_buf_put(struct con_buf *b, const void *src, size_t n)
{
	uint32_t k = (uint32_t)MIN(n, (size_t)con_buf_room(b));

	copy_in(b, src, k);
	return k;
}

uint64_t con_buf_put_over(struct con_buf *b, const void *src, size_t n)
{
	const uint8_t *s = src;
	uint64_t dropped = 0;

	if (n >= b->cap) {
		/* only the last cap bytes of src survive, and nothing that was there */
		dropped = b->len + (n - b->cap);
		s += n - b->cap;
		n = b->cap;
		b->head = 0;
		b->len = 0;
	} else if (n > con_buf_room(b)) {
		uint32_t k = (uint32_t)n - con_buf_room(b);

		con_buf_drop(b, k);
		dropped = k;
	}
	copy_in(b, s, (uint32_t)n);
	return dropped;
}

unsigned con_buf_iov(const struct con_buf *b, struct iovec v[2])
{
	uint32_t first = MIN(b->len, b->cap - b->head);

	if (!b->len)
		return 0;
	v[0] = (struct iovec){ b->data + b->head, first };
	if (first == b->len)
		return 1;
	v[1] = (struct iovec){ b->data, b->len - first };
	return 2;
}

void con_buf_drop(struct con_buf *b, uint32_t n)
{
	n = MIN(n, b->len);
	b->head = (uint32_t)(((uint64_t)b->head + n) % b->cap);
	b->len -= n;
	if (!b->len)
		b->head = 0;
}
