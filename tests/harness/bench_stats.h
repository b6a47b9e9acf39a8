/* What hx-bench and uring-bench measure besides IOPS, the same way in both: per-request
 * latency (its 50th and 99th percentile) and CPU time per I/O, and the one line of results
 * scripts/bench-blk.sh reads. */
#ifndef BULKHEAD_BENCH_STATS_H
#define BULKHEAD_BENCH_STATS_H

#include <stdint.h>
#include <sys/types.h>

#include "util.h"           /* mono_ns, the clock of both */

#define BENCH_LAT_MAX (8u << 20)    /* latencies kept; a longer run samples the first ones */

struct bench_stats {
	uint32_t *lat_ns;           /* one per completed request, capped at BENCH_LAT_MAX */
	uint64_t nlat;
	uint64_t ios, errors;
	uint64_t start_ns, end_ns;
	int64_t cpu0_us, cpu_us;    /* CPU time of the process measured: at start, and used
				     * (-1: unknown) */
	pid_t cpu_pid;              /* whose CPU time counts (0: this process) */
};

/* CPU time (user + system, all threads) of pid (0: this process) in microseconds (in clock
 * ticks for another process: 10 ms at HZ=100); -1 when it cannot be read (then the result
 * line says cpu_us_per_io=n/a). */
int64_t bench_cpu_us(pid_t pid);
/* Start measuring: the clock, and the CPU time of cpu_pid. -1 without memory. */
int bench_begin(struct bench_stats *s, pid_t cpu_pid);
void bench_done(struct bench_stats *s, uint64_t latency_ns, int ok);
void bench_end(struct bench_stats *s);
/* "iops=N ios=N seconds=S errors=N lat_p50_us=X lat_p99_us=X cpu_us_per_io=X" on stdout */
void bench_print(const struct bench_stats *s);
void bench_free(struct bench_stats *s);

#endif
