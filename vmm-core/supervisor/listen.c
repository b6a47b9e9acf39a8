/* The unix sockets bulkhead listens on for others (QMP, a console's chardev): created here,
 * mode 0600 from the start, a stale one (nobody listening) replaced, anything else at the path
 * refused; removed at exit only if it is still the one we made. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "supervisor_priv.h"
#include "util.h"

#define LISTEN_BACKLOG 64

static int listen_error(const char *what, const char *path, const char *why)
{
	fprintf(stderr, "bulkhead: %s '%s': %s\n", what, path, why);
	return -1;
}

/* A socket nobody listens on is what a killed bulkhead leaves behind: it may be replaced.
 * Anything else at PATH (a file, a live socket) is not ours to remove. */
static int check_stale(const char *what, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : listen_error(what, path, strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return listen_error(what, path, "exists and is not a socket");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return listen_error(what, path, strerror(errno));
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (r == 0)
		return listen_error(what, path, "in use by a running process");
	if (errno != ECONNREFUSED)
		return listen_error(what, path, strerror(errno));
	log_info("%s '%s' is stale; replacing it", what, path);
	return unlink(path) < 0 ? listen_error(what, path, strerror(errno)) : 0;
}

int sup_listen_unix(struct sup_listener *l, const char *what, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int r;

	l->fd = -1;
	l->abs[0] = '\0';
	if (strlen(path) >= sizeof(sa.sun_path))
		return listen_error(what, path, "longer than a unix socket address takes");
	if (check_stale(what, path) < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		return listen_error(what, path, strerror(errno));
	/* 0600 from the start: no moment in which another user could connect */
	old = umask(0177);
	r = bind(l->fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(l->fd, LISTEN_BACKLOG) < 0 || stat(path, &st) < 0) {
		listen_error(what, path, strerror(errno));
		closep(&l->fd);
		return -1;
	}
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	/* -daemonize changes our directory: remember where a relative path pointed */
	if (path[0] == '/' || !getcwd(l->abs, sizeof(l->abs) - VM_SUN_PATH_MAX - 1))
		snprintf(l->abs, sizeof(l->abs), "%s", path);
	else
		snprintf(l->abs + strlen(l->abs), sizeof(l->abs) - strlen(l->abs), "/%s", path);
	return 0;
}

void sup_listener_close(struct sup_listener *l)
{
	struct stat st;

	closep(&l->fd);
	/* only our own socket: someone may have replaced it meanwhile */
	if (l->abs[0] && lstat(l->abs, &st) == 0 && st.st_dev == l->dev && st.st_ino == l->ino)
		unlink(l->abs);
	l->abs[0] = '\0';
}
