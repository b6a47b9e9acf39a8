/* Standalone driver for the fuzz harnesses when libFuzzer is not available (gcc builds):
 * replays the files and directories given on the command line (the seed corpus and the
 * regression inputs of tests/fuzz/), then runs a bounded, seeded stream of random and mutated
 * inputs through LLVMFuzzerTestOneInput, mutating the corpus files and the harness's own
 * seeds. A crash or sanitizer report fails the test.
 *
 *   fuzz-X [FILE|DIR]...              replay, then FUZZ_ITERATIONS (20000) mutated inputs
 *   fuzz-X --write-seeds DIR          write the harness's fuzz_seed() inputs as files
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define REPLAY_MAX  (1u << 20)
#define MUT_CAP    (1u << 16)
#define MAX_SEEDS  4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* optional: harnesses may provide well-formed seeds to mutate */
__attribute__((weak)) size_t fuzz_seed(unsigned i, uint8_t *buf, size_t cap);

struct seed {
	uint8_t *p;
	size_t n;
};

static struct seed seeds[MAX_SEEDS];
static unsigned nseeds;
static unsigned replayed;

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void die(const char *what, const char *path)
{
	fprintf(stderr, "fuzz driver: %s: %s: %s\n", what, path, strerror(errno));
	exit(1);
}

/* Run one file and keep it (up to MUT_CAP bytes) as a seed for the mutation phase. */
static void replay_file(const char *path)
{
	static uint8_t buf[REPLAY_MAX];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		die("open", path);
	n = fread(buf, 1, sizeof(buf), f);
	if (ferror(f))
		die("read", path);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	replayed++;
	if (nseeds < MAX_SEEDS && n <= MUT_CAP && (seeds[nseeds].p = malloc(n ? n : 1))) {
		memcpy(seeds[nseeds].p, buf, n);
		seeds[nseeds++].n = n;
	}
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* A file, or every regular file of a directory in name order (the replay is reproducible).
 * A path that does not exist is an error: a typo must not silently skip a corpus. */
static void replay(const char *path)
{
	struct dirent **ents;
	struct stat st;
	int n;

	if (stat(path, &st) < 0)
		die("stat", path);
	if (!S_ISDIR(st.st_mode)) {
		replay_file(path);
		return;
	}
	n = scandir(path, &ents, NULL, by_name);
	if (n < 0)
		die("scandir", path);
	for (int i = 0; i < n; i++) {
		char full[4096];

		snprintf(full, sizeof(full), "%s/%s", path, ents[i]->d_name);
		if (ents[i]->d_name[0] != '.' && stat(full, &st) == 0 && S_ISREG(st.st_mode))
			replay_file(full);
		free(ents[i]);
	}
	free(ents);
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

/* Every distinct fuzz_seed() input as DIR/seed-NN, to start a corpus from. */
static int write_seeds(const char *dir)
{
	static uint8_t buf[MUT_CAP], prev[64][MUT_CAP];
	static size_t prevn[64];
	unsigned out = 0;

	if (!fuzz_seed) {
		fprintf(stderr, "fuzz driver: this harness has no fuzz_seed()\n");
		return 1;
	}
	for (unsigned i = 0; i < 64 && out < 64; i++) {
		size_t n = fuzz_seed(i, buf, sizeof(buf));
		char path[4096];
		bool dup = false;
		FILE *f;

		for (unsigned j = 0; j < out && !dup; j++)
			dup = prevn[j] == n && !memcmp(prev[j], buf, n);
		if (!n || dup)
			continue;
		memcpy(prev[out], buf, n);
		prevn[out] = n;
		snprintf(path, sizeof(path), "%s/seed-%02u", dir, out++);
		if (!(f = fopen(path, "wb")) || fwrite(buf, 1, n, f) != n || fclose(f))
			die("write", path);
	}
	printf("fuzz: %u seeds written to %s\n", out, dir);
	return 0;
}

int main(int argc, char **argv)
{
	static uint8_t buf[MUT_CAP];
	unsigned iters = 20000;
	const char *env = getenv("FUZZ_ITERATIONS");

	if (argc == 3 && !strcmp(argv[1], "--write-seeds"))
		return write_seeds(argv[2]);
	if (env)
		iters = (unsigned)strtoul(env, NULL, 10);
	for (int i = 1; i < argc; i++)
		replay(argv[i]);
	for (unsigned i = 0; i < iters; i++) {
		size_t n = 0;

		/* a quarter of the inputs mutate a corpus file, the rest as before: the
		 * harness's own seeds where it has them, else random bytes (odd i only: the
		 * harnesses pick their seeds by i % 3, which still sees every residue, or give
		 * seeds for even i alone) */
		if (nseeds && i % 4 == 3) {
			const struct seed *s = &seeds[next() % nseeds];

			memcpy(buf, s->p, s->n);
			n = mutate(buf, s->n, sizeof(buf));
		} else if (fuzz_seed && (n = fuzz_seed(i, buf, sizeof(buf))) > 0) {
			n = mutate(buf, n, sizeof(buf));
		} else {
			n = next() % 512;
			for (size_t j = 0; j < n; j++)
				buf[j] = (uint8_t)next();
		}
		LLVMFuzzerTestOneInput(buf, n);
	}
	printf("fuzz: %u files replayed, %u inputs, no crash\n", replayed, iters);
	return 0;
}
