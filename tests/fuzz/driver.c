/* Standalone driver for the fuzz harnesses when libFuzzer is not available (gcc builds):
 * replays files given on the command line, then runs a bounded, seeded stream of random and
 * mutated inputs through LLVMFuzzerTestOneInput. A crash or sanitizer report fails the test. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* optional: harnesses may provide well-formed seeds to mutate */
__attribute__((weak)) size_t fuzz_seed(unsigned i, uint8_t *buf, size_t cap);

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void replay(const char *path)
{
	static uint8_t buf[1 << 20];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f) {
		perror(path);
		exit(1);
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
}

static size_t mutate(uint8_t *buf, size_t n, size_t cap)
{
	unsigned k = 1 + next() % 8;

	for (unsigned i = 0; i < k && n; i++) {
		size_t at = next() % n;
		switch (next() % 4) {
		case 0: buf[at] ^= (uint8_t)(1u << (next() % 8)); break;
		case 1: buf[at] = (uint8_t)next(); break;
		case 2: buf[at] = (uint8_t[]){ 0, 0xff, 0x7f, 0x80, '=', ',', '-' }[next() % 7]; break;
		case 3: n = at + 1; break;   /* truncate */
		}
	}
	if (next() % 8 == 0 && n < cap)
		buf[n++] = (uint8_t)next();
	return n;
}

int main(int argc, char **argv)
{
	static uint8_t buf[1 << 16];
	unsigned iters = 20000;
	const char *env = getenv("FUZZ_ITERATIONS");

	if (env)
		iters = (unsigned)strtoul(env, NULL, 10);
	for (int i = 1; i < argc; i++)
		replay(argv[i]);
	for (unsigned i = 0; i < iters; i++) {
		size_t n = 0;

		if (fuzz_seed && (n = fuzz_seed(i, buf, sizeof(buf))) > 0)
			n = mutate(buf, n, sizeof(buf));
		else {
			n = next() % 512;
			for (size_t j = 0; j < n; j++)
				buf[j] = (uint8_t)next();
		}
		LLVMFuzzerTestOneInput(buf, n);
	}
	printf("fuzz: %u inputs, no crash\n", iters);
	return 0;
}
