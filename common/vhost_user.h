/* vhost-user message codec (QEMU docs/interop/vhost-user.rst): the wire format, one receive
 * and send path with fd passing, and per-request validation of payload size and fd count
 * before anything uses a message. Shared by the backend dispatcher and the frontend. */
#ifndef BULKHEAD_VHOST_USER_H
#define BULKHEAD_VHOST_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum vu_request {
	VU_GET_FEATURES = 1,
	VU_SET_FEATURES = 2,
	VU_SET_OWNER = 3,
	VU_RESET_OWNER = 4,
	VU_SET_MEM_TABLE = 5,
	VU_SET_LOG_BASE = 6,
	VU_SET_LOG_FD = 7,
	VU_SET_VRING_NUM = 8,
	VU_SET_VRING_ADDR = 9,
	VU_SET_VRING_BASE = 10,
	VU_GET_VRING_BASE = 11,
	VU_SET_VRING_KICK = 12,
	VU_SET_VRING_CALL = 13,
	VU_SET_VRING_ERR = 14,
	VU_GET_PROTOCOL_FEATURES = 15,
	VU_SET_PROTOCOL_FEATURES = 16,
	VU_GET_QUEUE_NUM = 17,
	VU_SET_VRING_ENABLE = 18,
	VU_GET_CONFIG = 24,
	VU_SET_CONFIG = 25,
	VU_GET_INFLIGHT_FD = 31,
	VU_SET_INFLIGHT_FD = 32,
	VU_GET_MAX_MEM_SLOTS = 36,
	VU_REQUEST_MAX = 41,
};

#define VU_PROTOCOL_F_MQ             0
#define VU_PROTOCOL_F_REPLY_ACK      3
#define VU_PROTOCOL_F_CONFIG         9
#define VU_PROTOCOL_F_INFLIGHT_SHMFD 12
#define VU_F_PROTOCOL_FEATURES       30   /* bit in GET/SET_FEATURES */

#define VU_HDR_VERSION    0x1u
#define VU_HDR_REPLY      (1u << 2)
#define VU_HDR_NEED_REPLY (1u << 3)
#define VU_HDR_FLAGS_MASK (0x3u | VU_HDR_REPLY | VU_HDR_NEED_REPLY)

#define VU_MAX_REGIONS    8
#define VU_MAX_FDS        8
#define VU_MAX_CONFIG     256
#define VU_MAX_PAYLOAD    4096
#define VU_VRING_IDX_MASK 0xffu
#define VU_VRING_NOFD     (1u << 8)   /* SET_VRING_KICK/CALL/ERR: no fd follows */

struct vu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
} __attribute__((packed));

struct vu_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t uaddr;
	uint64_t mmap_offset;
};

struct vu_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct vu_region r[VU_MAX_REGIONS];
};

struct vu_vring_state {
	uint32_t index;
	uint32_t num;
};

struct vu_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc;      /* frontend user addresses */
	uint64_t used;
	uint64_t avail;
	uint64_t log;
};

struct vu_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t region[VU_MAX_CONFIG];
};
#define VU_CONFIG_HDR_SIZE 12

struct vu_inflight {
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint16_t num_queues;
	uint16_t queue_size;
	uint16_t padding[2];
};

struct vu_msg {
	struct vu_hdr hdr;
	union {
		uint64_t u64;
		struct vu_vring_state state;
		struct vu_vring_addr addr;
		struct vu_mem_table mem;
		struct vu_config config;
		struct vu_inflight inflight;
		uint8_t raw[VU_MAX_PAYLOAD];
	} p;
	int fds[VU_MAX_FDS];
	unsigned nfds;
};

/*
 * Receive one message: header, then exactly hdr.size payload bytes (refused above
 * VU_MAX_PAYLOAD), with any fds. Returns 1, 0 on orderly EOF, or -errno (-EPROTO for a
 * malformed frame). Fds received with a refused message are closed.
 */
int vu_msg_recv(int sock, struct vu_msg *m);
/* Send m (hdr.size bytes of payload) with m->nfds fds. Returns 0 or -errno. */
int vu_msg_send(int sock, const struct vu_msg *m);
void vu_msg_close_fds(struct vu_msg *m);

/*
 * Check a request from a frontend before it is used: known request, version flag, payload
 * size exactly what the request carries (GET_CONFIG/SET_CONFIG: header + size <= 256;
 * SET_MEM_TABLE: 8 + nregions * 32 with 1 <= nregions <= 8), fd count exactly what it
 * carries (SET_MEM_TABLE: nregions; SET_VRING_KICK/CALL/ERR: 1, or 0 with VU_VRING_NOFD;
 * SET_INFLIGHT_FD: 1; others 0). Returns 0 or -EPROTO with a reason in *why.
 */
int vu_msg_check_request(const struct vu_msg *m, const char **why);
/* Same for a reply the frontend receives to `request`. */
int vu_msg_check_reply(const struct vu_msg *m, uint32_t request, const char **why);

const char *vu_request_name(uint32_t request);

#endif
