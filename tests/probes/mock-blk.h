/* A simulated virtio-mmio v2 virtio-blk device for the host-side test of the probe driver
 * (host-test.c). It implements vmmio_read/vmmio_write (virtio.h, PROBE_HOST_TEST), runs the
 * queue synchronously on every QueueNotify, and records the first thing the driver did that
 * the virtio spec forbids, so the test fails on driver bugs as well as on missing checks. */
#ifndef PROBE_MOCK_BLK_H
#define PROBE_MOCK_BLK_H

#include <stdbool.h>
#include <stdint.h>

#define MOCK_SECTORS 2048   /* 1 MiB disk: 256 blocks of 4 KiB */

enum mock_fault {
	MOCK_OK,
	MOCK_SILENT,          /* never completes a request */
	MOCK_BAD_ID,          /* completes with a used id that is not the head */
	MOCK_PAST_END_OK,     /* answers OK to reads beyond the capacity */
	MOCK_CORRUPT_BLOCK5,  /* 4 KiB reads of block 5 return one wrong byte */
	MOCK_WRITE_DROPPED,   /* writes answer OK but change nothing */
	MOCK_USED_LEN_HUGE,   /* used len claims more bytes than the chain can take */
};

struct mock_blk {
	/* what the device is: set by the test before the driver runs */
	uint64_t base;
	uint32_t magic, version, device_id, qmax;
	uint64_t features;
	bool refuse_features_ok;
	bool ro;
	const char *serial;
	enum mock_fault fault;
	uint8_t disk[MOCK_SECTORS * 512];
	/* transport state */
	uint32_t status, dev_sel, drv_sel, qsel, qnum, qready;
	uint64_t drv_features, desc, avail, used;
	uint16_t last_avail, used_idx;
	/* what the driver did */
	unsigned nreq, nnotify, nwrap;
	char violation[256];   /* first spec violation by the driver, "" if none */
};

extern struct mock_blk mock;

/* A device of MOCK_SECTORS sectors at base offering VERSION_1|FLUSH|BLK_SIZE|SEG_MAX
 * (and RO when ro), queue size max 256, serial "mockserial". */
void mock_init(uint64_t base, bool ro);

#endif
