/* Test fixture shared by the harness test programs: a private temp directory with a
 * patterned raw image, one bulkhead-blk worker on it, and a harness attached to it. Teardown
 * kills the worker and removes every file it made. */
#ifndef BULKHEAD_HX_FIXTURE_H
#define BULKHEAD_HX_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "harness.h"

#define FX_IMG_SIZE (8ULL << 20)

struct fx {
	char dir[64];
	char img[128];
	char sock[128];
	int imgfd;               /* host view of the image, O_RDWR */
	uint64_t img_size;
	struct hx_worker w;
	struct hx h;
	bool h_ready;
};

/* Initial image contents: byte i of sector s (seed 0 on creation). */
uint8_t fx_byte(uint64_t sector, uint32_t i, uint8_t seed);
void fx_pattern(uint8_t *buf, uint64_t sector, uint32_t len, uint8_t seed);
/* 1 when host bytes [sector*512, +len) hold fx_pattern(sector, seed), else 0. */
int fx_host_has(struct fx *x, uint64_t sector, uint32_t len, uint8_t seed);
/* 1 when the host range is all zero bytes. */
int fx_host_zero(struct fx *x, uint64_t off, uint64_t len);

/* Temp dir and image of img_size bytes with the seed-0 pattern. 0 or -errno. */
int fx_setup(struct fx *x, uint64_t img_size);
/* Start bulkhead-blk on the image with extra args (NULL-terminated, may be NULL); path_mode
 * uses --socket-path=<dir>/blk.sock, else --fd. */
int fx_start(struct fx *x, bool path_mode, const char *const *args);
/* Connect (path mode) or take the socketpair end, init RAM and attach nq queues. */
int fx_attach(struct fx *x, unsigned nq, unsigned opts);
/* Only the connection: a connected socket for raw messages (path mode connects again). */
int fx_connect(struct fx *x);
/* On a NEW connection (path mode): a fresh harness attaches one queue, writes 4 KiB of
 * pattern seed at sector, reads it back and finds it on the host. 0, or -errno / -EIO. */
int fx_fresh_io(struct fx *x, uint64_t sector, uint8_t seed);
void fx_teardown(struct fx *x);

#endif
