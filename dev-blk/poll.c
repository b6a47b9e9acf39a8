/* bulkhead-blk: how long to poll before sleeping (see blk.h, "adaptive polling"). The loop
 * that polls is main.c's; this is the window's arithmetic, testable with any clock. */
#include "blk.h"

#include <string.h>
#include <sys/param.h>

void blk_poll_init(struct blk_poll *p, uint32_t poll_us)
{
	memset(p, 0, sizeof(*p));
	p->max_ns = (uint64_t)poll_us * 1000;
	p->window_ns = MIN((uint64_t)BLK_POLL_START_NS, p->max_ns);
}

void blk_poll_woke(struct blk_poll *p, uint64_t now)
{
	uint64_t slept;

	if (!p->slept_at)
		return;
	slept = now - p->slept_at;
	p->slept_at = 0;
	if (slept <= p->max_ns)
		/* woken soon after giving up: a longer window would have caught it */
		p->window_ns = p->window_ns ? MIN(p->window_ns * 2, p->max_ns)
					    : MIN((uint64_t)BLK_POLL_START_NS, p->max_ns);
	else
		/* asleep for longer than any window: polling was wasted */
		p->window_ns /= 2;
}

void blk_poll_slept(struct blk_poll *p, uint64_t now)
{
	/* 0 means awake: a clock at 0 ns (tests) still counts as asleep */
	p->slept_at = now ? now : 1;
}
