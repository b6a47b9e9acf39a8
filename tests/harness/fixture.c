/* Test fixture: temp dir, patterned image, one worker, one attached harness (fixture.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"

uint8_t fx_byte(uint64_t sector, uint32_t i, uint8_t seed)
{
	/* differs per sector, per offset and per seed, and is never zero */
	return (uint8_t)(((sector * 131 + i * 7 + seed * 29) % 255) + 1);
}

void fx_pattern(uint8_t *buf, uint64_t sector, uint32_t len, uint8_t seed)
{
	for (uint32_t i = 0; i < len; i++)
		buf[i] = fx_byte(sector + i / 512, i % 512, seed);
}

int fx_host_has(struct fx *x, uint64_t sector, uint32_t len, uint8_t seed)
{
	uint8_t *got = malloc(len), *want = malloc(len);
	int ok = 0;

	if (got && want && pread(x->imgfd, got, len, (off_t)(sector * 512)) == (ssize_t)len) {
		fx_pattern(want, sector, len, seed);
		ok = memcmp(got, want, len) == 0;
	}
	free(got);
	free(want);
	return ok;
}

int fx_host_zero(struct fx *x, uint64_t off, uint64_t len)
{
	uint8_t buf[4096];

	while (len) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);
		if (pread(x->imgfd, buf, n, (off_t)off) != (ssize_t)n)
			return 0;
		for (size_t i = 0; i < n; i++)
			if (buf[i])
				return 0;
		off += n;
		len -= n;
	}
	return 1;
}

int fx_setup(struct fx *x, uint64_t img_size)
{
	uint8_t *buf = malloc(1 << 20);
	uint64_t off;

	memset(x, 0, sizeof(*x));
	x->imgfd = -1;
	x->w.pid = -1;
	x->w.sock = -1;
	if (!buf)
		return -ENOMEM;
	snprintf(x->dir, sizeof(x->dir), "/tmp/bhx.XXXXXX");
	if (!mkdtemp(x->dir)) {
		x->dir[0] = 0;
		free(buf);
		return -errno;
	}
	snprintf(x->img, sizeof(x->img), "%s/disk.img", x->dir);
	snprintf(x->sock, sizeof(x->sock), "%s/blk.sock", x->dir);
	x->img_size = img_size;
	x->imgfd = open(x->img, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (x->imgfd < 0)
		goto fail;
	for (off = 0; off < img_size; off += 1 << 20) {
		uint32_t n = img_size - off < (1 << 20) ? (uint32_t)(img_size - off) : 1 << 20;
		fx_pattern(buf, off / 512, n, 0);
		if (pwrite(x->imgfd, buf, n, (off_t)off) != n)
			goto fail;
	}
	free(buf);
	return fsync(x->imgfd) < 0 ? -errno : 0;
fail:
	free(buf);
	return -errno;
}

int fx_start(struct fx *x, bool path_mode, const char *const *args)
{
	const char *argv[32];
	char file[160];
	int n = 0;

	snprintf(file, sizeof(file), "--blk-file=%s", x->img);
	argv[n++] = file;
	for (; args && *args && n < 30; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	return hx_worker_spawn(&x->w, hx_blk_bin(), path_mode ? x->sock : NULL, argv);
}

int fx_connect(struct fx *x)
{
	int fd;

	if (x->w.path[0])
		return hx_worker_connect(&x->w, HX_TIMEOUT_MS);
	fd = x->w.sock;
	x->w.sock = -1;     /* the caller owns it now */
	return fd < 0 ? -ENOTCONN : fd;
}

int fx_attach(struct fx *x, unsigned nq, unsigned opts)
{
	int r, fd;

	if (!x->h_ready) {
		r = hx_init(&x->h, 16ULL << 20);
		if (r < 0)
			return r;
		x->h_ready = true;
	}
	fd = fx_connect(x);
	if (fd < 0)
		return fd;
	return hx_attach(&x->h, fd, nq, HX_QSIZE, opts);
}

static int fresh_io(struct fx *x, struct hx *h, uint64_t sector, uint8_t seed)
{
	uint8_t buf[4096], back[4096];
	int r, fd = hx_worker_connect(&x->w, HX_TIMEOUT_MS);

	if (fd < 0)
		return fd;
	r = hx_attach(h, fd, 1, HX_QSIZE, 0);
	if (r < 0)
		return r;
	fx_pattern(buf, sector, sizeof(buf), seed);
	r = hx_blk_do(h, 0, VIRTIO_BLK_T_OUT, sector, buf, sizeof(buf));
	if (r != VIRTIO_BLK_S_OK)
		return r < 0 ? r : -EIO;
	r = hx_blk_do(h, 0, VIRTIO_BLK_T_IN, sector, back, sizeof(back));
	if (r != VIRTIO_BLK_S_OK)
		return r < 0 ? r : -EIO;
	if (memcmp(buf, back, sizeof(buf)) || !fx_host_has(x, sector, sizeof(buf), seed))
		return -EIO;
	return 0;
}

int fx_fresh_io(struct fx *x, uint64_t sector, uint8_t seed)
{
	struct hx h;
	int r = hx_init(&h, 8ULL << 20);

	if (r < 0)
		return r;
	r = fresh_io(x, &h, sector, seed);
	hx_exit(&h);
	return r;
}

void fx_teardown(struct fx *x)
{
	char path[160];

	if (x->h_ready)
		hx_exit(&x->h);
	x->h_ready = false;
	hx_worker_kill(&x->w);
	if (x->imgfd >= 0)
		close(x->imgfd);
	x->imgfd = -1;
	if (x->dir[0]) {
		unlink(x->img);
		unlink(x->sock);
		snprintf(path, sizeof(path), "%s", x->dir);
		rmdir(path);
	}
	x->dir[0] = 0;
}
