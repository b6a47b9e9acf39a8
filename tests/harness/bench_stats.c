/* Latency percentiles and CPU time per I/O for the block benchmarks (bench_stats.h). */
#include "bench_stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

int64_t bench_cpu_us(pid_t pid)
{
	unsigned long long ut, st;
	char path[64], buf[1024], *p;
	long hz = sysconf(_SC_CLK_TCK);
	size_t n;
	FILE *f;

	if (!pid) {
		struct rusage ru;

		if (getrusage(RUSAGE_SELF, &ru) < 0)
			return -1;
		return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
		       (int64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
	}
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* fields 14 and 15 (utime, stime) count from after the ")" that ends the name */
	p = strrchr(buf, ')');
	if (!p || hz <= 0 || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
				    &ut, &st) != 2)
		return -1;
	return (int64_t)((ut + st) * 1000000 / (unsigned long long)hz);
}

int bench_begin(struct bench_stats *s, pid_t cpu_pid)
{
	memset(s, 0, sizeof(*s));
	s->lat_ns = malloc(BENCH_LAT_MAX * sizeof(*s->lat_ns));
	if (!s->lat_ns)
		return -1;
	s->cpu_pid = cpu_pid;
	s->cpu0_us = bench_cpu_us(cpu_pid);
	s->start_ns = mono_ns();
	return 0;
}

void bench_done(struct bench_stats *s, uint64_t latency_ns, int ok)
{
	s->ios++;
	if (!ok)
		s->errors++;
	if (s->nlat < BENCH_LAT_MAX)
		s->lat_ns[s->nlat++] = latency_ns > UINT32_MAX ? UINT32_MAX : (uint32_t)latency_ns;
}

void bench_end(struct bench_stats *s)
{
	int64_t cpu = bench_cpu_us(s->cpu_pid);

	s->end_ns = mono_ns();
	s->cpu_us = s->cpu0_us >= 0 && cpu >= s->cpu0_us ? cpu - s->cpu0_us : -1;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static double pct_us(const struct bench_stats *s, double pct)
{
	uint64_t i;

	if (!s->nlat)
		return 0;
	i = (uint64_t)(pct / 100.0 * (double)(s->nlat - 1) + 0.5);
	return s->lat_ns[i] / 1000.0;
}

void bench_print(const struct bench_stats *s)
{
	double secs = (double)(s->end_ns - s->start_ns) / 1e9;
	char cpu[32] = "n/a";

	qsort(s->lat_ns, s->nlat, sizeof(*s->lat_ns), cmp_u32);
	if (s->ios && s->cpu_us >= 0)
		snprintf(cpu, sizeof(cpu), "%.2f", (double)s->cpu_us / (double)s->ios);
	printf("iops=%.0f ios=%llu seconds=%.2f errors=%llu lat_p50_us=%.1f lat_p99_us=%.1f "
	       "cpu_us_per_io=%s\n", secs > 0 ? (double)s->ios / secs : 0.0,
	       (unsigned long long)s->ios, secs, (unsigned long long)s->errors,
	       pct_us(s, 50), pct_us(s, 99), cpu);
}

void bench_free(struct bench_stats *s)
{
	free(s->lat_ns);
	s->lat_ns = NULL;
}
