/* What the fuzz harnesses (tests/fuzz/fuzz_*.c) share, so that each keeps only its own logic:
 * the cursor that reads an input's fields, the writer of well-formed seeds, the event loop that
 * stands behind struct vu_watch, the memfd guest RAM a vhost-user backend maps and the split
 * rings a harness drives in it as the guest, and the frontend's side of vhost-user messages.
 * Built once (fuzzlib.c) and linked into every target, gcc replay driver and libFuzzer alike
 * (tests/fuzz/meson.build). The readers keep the formats the harnesses document: fields are
 * little-endian and read as zeros past the end of the input, so a cut input still runs. */
#ifndef BULKHEAD_FUZZLIB_H
#define BULKHEAD_FUZZLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/uio.h>

/* An oracle: a broken invariant is a crash for libFuzzer and the replay driver alike. */
#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

/* ---- reading the input ---- */

struct input {
	const uint8_t *p;
	size_t n;           /* bytes left */
};

/* The next len bytes into dst, zero-filled once the input runs out. */
void take(struct input *in, void *dst, size_t len);
unsigned take8(struct input *in);
unsigned take16(struct input *in);      /* le16 */
uint32_t take32(struct input *in);      /* le32 */
uint64_t take64(struct input *in);      /* le64 */

/* ---- writing seeds ---- */

struct out {
	uint8_t *p;
	size_t n, cap;
};

/* Appends n bytes, or nothing when they do not all fit: a seed is cut, never overrun. */
void emit(struct out *o, const void *p, size_t n);
void emit8(struct out *o, unsigned v);
void emit16(struct out *o, unsigned v);     /* le16 */
void emit32(struct out *o, uint32_t v);     /* le32 */

/* ---- the event loop stand-in: a struct vu_watch of { w_add, w_del, NULL } ---- */

#define WATCH_MAX 64    /* more than a backend's socket and kick fds (1 + VU_MAX_QUEUES) */

struct watch_ent {
	int fd;
	void (*cb)(void *arg);
	void *arg;
};

/* What the library watches now; a harness empties it before each input, and finds it empty
 * again once the library has let go of everything. */
extern struct watch_ent watched[WATCH_MAX];
extern unsigned nwatched;

void w_add(void *loop, int fd, void (*cb)(void *arg), void *arg);
void w_del(void *loop, int fd);     /* aborts on an fd that is not watched */
/* The callback watching fd runs, as when it turns readable; nothing when none does. */
void w_fire(int fd);

/* ---- guest RAM shared with a vhost-user backend, and the guest's side of its rings ---- */

/* The RAM (a memfd, so VU_SET_MEM_TABLE can pass it) of the harness: mapped by the first
 * guest_setup, which later calls keep. */
extern uint8_t *guest;
extern int guest_fd;

/* 0 once guest maps size bytes of a memfd called name; -1 when it cannot (tried again). */
int guest_setup(const char *name, size_t size);

/* Where the frontend says guest RAM is in its address space: ring addresses are given there. */
#define FRONTEND_UADDR 0x100000ULL

/* Queue q's split ring in guest RAM: the descriptor table at q * RING_STRIDE (16 entries at
 * most), the avail ring at RING_AVAIL past it, the used ring at RING_USED. */
#define RING_STRIDE 0x400u
#define RING_AVAIL  0x100u
#define RING_USED   0x200u

/* Descriptor slot of queue q's table, in the ring's little-endian layout. */
void ring_desc(unsigned q, unsigned slot, uint64_t addr, uint32_t len, uint16_t flags,
	       uint16_t next);
/* Offers the chain at head on queue q (of qsize entries): the avail entry at *avail_idx,
 * then the index moves on, stored with release order as a driver does. */
void ring_publish(unsigned q, unsigned qsize, uint16_t *avail_idx, uint16_t head);

/* ---- the frontend's side of vhost-user ---- */

struct vu_dev;

#define SEND_FDS_MAX 15     /* what a 4-bit input field can ask for: past the protocol's 8 */

/* sendmsg of iov with nfds (at most SEND_FDS_MAX) descriptors as SCM_RIGHTS, not blocking. */
ssize_t send_fds(int sock, const struct iovec *iov, size_t iovlen, const int *fds,
		 unsigned nfds);
/* Reads and drops whatever the backend replied (closing any fds in it), so the socket never
 * fills. */
void drain_replies(int sock);
/* One message (header, payload and fd, when fd >= 0) through dev's dispatcher, replies
 * dropped; fd is closed here, the backend has its own copy. False when the connection is
 * finished. */
bool frontend_msg(struct vu_dev *dev, int sock, uint32_t req, const void *p, uint32_t len,
		  int fd);
/* VU_SET_MEM_TABLE: all of guest as one region at FRONTEND_UADDR. */
bool frontend_mem_table(struct vu_dev *dev, int sock);
/* Queue q started with qsize entries at base, its rings where ring_desc and ring_publish put
 * them, fresh call and kick eventfds; then enabled when enable (with protocol features, a
 * queue starts disabled). */
bool frontend_start_queue(struct vu_dev *dev, int sock, unsigned q, unsigned qsize,
			  uint16_t base, bool enable);

#endif
