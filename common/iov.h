/* Scatter-gather helpers over the iovecs of a popped descriptor chain: a device reads its
 * headers, and writes its replies, wherever the driver split them. */
#ifndef BULKHEAD_IOV_H
#define BULKHEAD_IOV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Gather n bytes at byte `skip` of iov into dst; false if the iovecs hold fewer. */
bool iov_read(const struct iovec *iov, unsigned cnt, uint64_t skip, void *dst, size_t n);
/* Scatter n bytes of src at byte `skip` of iov; false if the iovecs hold fewer. */
bool iov_write(const struct iovec *iov, unsigned cnt, uint64_t skip, const void *src, size_t n);
/* Drop the first n bytes of the iovecs (in place: *iov and *cnt move on). */
void iov_advance(struct iovec **iov, unsigned *cnt, uint64_t n);
/* Total bytes. */
uint64_t iov_size(const struct iovec *iov, unsigned cnt);

#endif
