/* vhost-user frontend: the side the core (and the test harness) speaks to drive a backend.
 * Blocking request/reply over a connected socket; every reply is validated with
 * vu_msg_check_reply and a backend that lies gets -EPROTO, never a crash. */
#ifndef BULKHEAD_VU_FRONTEND_H
#define BULKHEAD_VU_FRONTEND_H

#include <stdint.h>

#include "vhost_user.h"

struct vu_front {
	int sock;
	uint64_t features;           /* offered by the backend */
	uint64_t protocol_features;  /* offered by the backend */
	uint64_t acked_protocol;     /* what we SET_PROTOCOL_FEATURES */
	int timeout_ms;              /* per reply; a hung backend is a failed backend */
};

void vuf_init(struct vu_front *f, int sock, int timeout_ms);

int vuf_get_features(struct vu_front *f, uint64_t *features);
int vuf_set_features(struct vu_front *f, uint64_t features);
int vuf_get_protocol_features(struct vu_front *f, uint64_t *pf);
int vuf_set_protocol_features(struct vu_front *f, uint64_t pf);
int vuf_set_owner(struct vu_front *f);
int vuf_get_queue_num(struct vu_front *f, uint64_t *n);
/* regions[i] with fds[i]; each fd is sent, not closed */
int vuf_set_mem_table(struct vu_front *f, const struct vu_region *regions, const int *fds,
		      unsigned n);
int vuf_set_vring_num(struct vu_front *f, unsigned idx, unsigned num);
int vuf_set_vring_addr(struct vu_front *f, const struct vu_vring_addr *a);
int vuf_set_vring_base(struct vu_front *f, unsigned idx, unsigned base);
int vuf_get_vring_base(struct vu_front *f, unsigned idx, unsigned *base);
/* fd < 0 sends VU_VRING_NOFD */
int vuf_set_vring_kick(struct vu_front *f, unsigned idx, int fd);
int vuf_set_vring_call(struct vu_front *f, unsigned idx, int fd);
int vuf_set_vring_enable(struct vu_front *f, unsigned idx, int enable);
int vuf_get_config(struct vu_front *f, uint32_t offset, uint8_t *buf, uint32_t len);
/* *fd receives a new fd owned by the caller */
int vuf_get_inflight_fd(struct vu_front *f, uint16_t num_queues, uint16_t queue_size,
			struct vu_inflight *out, int *fd);
int vuf_set_inflight_fd(struct vu_front *f, const struct vu_inflight *in, int fd);

#endif
