/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-layer apply locks: <runroot>/<driver>-layers/apply-<id>.lock, an OFD
 * write lock held by the process applying a tarball to layer <id>. It
 * excludes concurrent applies to one layer and tells a running apply from
 * an interrupted one (a dead process holds no lock).
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "util/error-internal.h"
#include "records/apply-lock.h"
#include "util/cleanup.h"

static int apply_lock_path(char *buf, size_t size, const char *run_dir, const char *id)
{
	int n = snprintf(buf, size, "%s/apply-%s.lock", run_dir, id);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Take the apply lock of @id (non-blocking); the fd holds it until closed. */
int cstor_apply_lock_take(int *fd_out, const char *run_dir, const char *id, cstor_error *err)
{
	char p[4096];
	if (apply_lock_path(p, sizeof(p), run_dir, id) < 0)
		return cstor_error_set(err, ENAMETOOLONG, "layer ID %s too long", id);
	_cleanup_close_ int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return cstor_error_errno(err, errno, "open %s", p);
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
		if (errno == EAGAIN || errno == EACCES)
			return cstor_error_set(err, EBUSY, "an apply into layer %s is in progress", id);
		return cstor_error_errno(err, errno, "lock %s", p);
	}
	*fd_out = TAKE_FD(fd);
	return 0;
}

void cstor_apply_lock_release(const char *run_dir, const char *id, int fd)
{
	char p[4096];
	if (fd < 0)
		return;
	/* Unlink while holding it: nobody can be waiting on it (we only
	 * try-lock) and a stale file would only cost a lookup. */
	if (apply_lock_path(p, sizeof(p), run_dir, id) == 0)
		unlink(p);
	close(fd);
}

bool cstor_apply_in_progress(const char *run_dir, const char *id)
{
	char p[4096];
	if (apply_lock_path(p, sizeof(p), run_dir, id) < 0)
		return false;
	_cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return false;
	return fl.l_type != F_UNLCK;
}
