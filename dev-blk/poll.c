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
	uint64_t idle;

	if (!p->idle_since)
		return;
	idle = now - p->idle_since;
	p->idle_since = 0;
	if (idle > p->max_ns)
		/* idle for longer than any window: polling was wasted (an O_DIRECT read that
		 * takes longer than the window ends here too); below the first window, none */
		p->window_ns = p->window_ns / 2 < BLK_POLL_START_NS ? 0 : p->window_ns / 2;
	else if (idle > p->window_ns)
		/* work came soon after the window gave up: a longer one would have caught it */
		p->window_ns = p->window_ns ? MIN(p->window_ns * 2, p->max_ns)
					    : MIN((uint64_t)BLK_POLL_START_NS, p->max_ns);
}

void blk_poll_slept(struct blk_poll *p, uint64_t idle_since)
{
	/* 0 means awake: a clock at 0 ns (tests) still counts as asleep */
	p->idle_since = idle_since ? idle_since : 1;
}
