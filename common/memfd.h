/* Sealed memfds: shared memory that no holder can shrink or grow. A peer that could truncate
 * shared memory would make every other holder's next access SIGBUS. */
#ifndef BULKHEAD_MEMFD_H
#define BULKHEAD_MEMFD_H

#include <stdint.h>

/* A zero-filled memfd of exactly size bytes with F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_SEAL, close-on-
 * exec. Returns the fd or -errno. */
int memfd_sealed(const char *name, uint64_t size);

#endif
