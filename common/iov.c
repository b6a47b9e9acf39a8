/* Scatter-gather helpers (see iov.h). */
#include "iov.h"

#include <string.h>

/* Copy n bytes between buf and the iovecs at byte skip; to_iov picks the direction. */
static bool copy(const struct iovec *iov, unsigned cnt, uint64_t skip, uint8_t *buf, size_t n,
		 bool to_iov)
{
	for (unsigned i = 0; i < cnt && n; i++) {
		size_t l = iov[i].iov_len, c;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		c = l - skip < n ? l - skip : n;
		if (to_iov)
			memcpy((uint8_t *)iov[i].iov_base + skip, buf, c);
		else
			memcpy(buf, (uint8_t *)iov[i].iov_base + skip, c);
		buf += c;
		n -= c;
		skip = 0;
	}
	return n == 0;
}

bool iov_read(const struct iovec *iov, unsigned cnt, uint64_t skip, void *dst, size_t n)
{
	return copy(iov, cnt, skip, dst, n, false);
}

bool iov_write(const struct iovec *iov, unsigned cnt, uint64_t skip, const void *src, size_t n)
{
	return copy(iov, cnt, skip, (uint8_t *)(uintptr_t)src, n, true);
}

void iov_advance(struct iovec **iov, unsigned *cnt, uint64_t n)
{
	while (*cnt && n >= (*iov)->iov_len) {
		n -= (*iov)->iov_len;
		(*iov)++;
		(*cnt)--;
	}
	if (*cnt && n) {
		(*iov)->iov_base = (uint8_t *)(*iov)->iov_base + n;
		(*iov)->iov_len -= n;
	}
}

uint64_t iov_size(const struct iovec *iov, unsigned cnt)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < cnt; i++)
		n += iov[i].iov_len;
	return n;
}
