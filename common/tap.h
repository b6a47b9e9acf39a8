/* Tap queues for NICs, shared by the supervisor (which opens them for bulkhead-net) and
 * bulkhead-net started by hand (--tap): attach to an existing tap, never create one. Errors
 * are one line in err, for the caller to print or answer. */
#ifndef BULKHEAD_TAP_H
#define BULKHEAD_TAP_H

#include <stddef.h>

/* queues queue fds (O_NONBLOCK, close-on-exec) of the existing tap ifname, with IFF_NO_PI and
 * IFF_VNET_HDR; a multi_queue tap serves one queue too. 0, or -1 with err. */
int tap_open(const char *ifname, unsigned queues, int *fds, char *err, size_t errlen);

/* Is fd a queue of a tap with IFF_NO_PI and IFF_VNET_HDR (multi_queue for queues > 1)? A
 * queue a killed worker had detached (TUNSETQUEUE) is attached again. ifname (IFNAMSIZ bytes)
 * gets the tap's name. 0, or -1 with err. */
int tap_check(int fd, unsigned queues, char *ifname, char *err, size_t errlen);
/* tap_check of n fds that must be n queues of one tap (ifname, IFNAMSIZ bytes, gets its
 * name). 0, or -1 with err. */
int tap_check_queues(const int *fds, unsigned n, char *ifname, char *err, size_t errlen);

#endif
