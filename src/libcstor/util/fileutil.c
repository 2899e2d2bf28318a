/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error-internal.h"
#include "util/failpoint.h"
#include "util/fileutil.h"
#include "util/cleanup.h"

char *cstor_path_join(const char *a, const char *b)
{
	size_t la = strlen(a);
	while (la > 1 && a[la - 1] == '/')
		la--;
	while (b[0] == '/')
		b++;
	char *r = malloc(la + 1 + strlen(b) + 1);
	if (!r)
		return NULL;
	memcpy(r, a, la);
	r[la] = '/';
	strcpy(r + la + 1, b);
	return r;
}

/* After mkdir(@p): its entry in its parent reaches the disk, or a power
 * cut can take the new directory and everything later synced inside it
 * away (a store's first records, found by test-power-cut). Only when a
 * directory is created, so rarely. */
static int sync_parent(char *p, cstor_error *err)
{
	char *slash = strrchr(p, '/');
	if (!slash)
		return 0;
	char c = slash[1];
	slash[slash == p ? 1 : 0] = 0;
	_cleanup_close_ int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	/* EINVAL: a filesystem that cannot sync directories. */
	int r = fd < 0 || (fsync(fd) < 0 && errno != EINVAL)
			? cstor_error_errno(err, errno, "sync directory %s", p)
			: 0;
	if (slash == p)
		slash[1] = c;
	else
		*slash = '/';
	return r;
}

int cstor_mkdir_p(const char *path, mode_t mode, cstor_error *err)
{
	_cleanup_free_ char *p = strdup(path);
	if (!p)
		return cstor_error_set(err, ENOMEM, "out of memory");
	size_t len = strlen(p);
	while (len > 1 && p[len - 1] == '/')
		p[--len] = 0;
	/* Fast path: usually it exists already. */
	struct stat st;
	if (stat(p, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return 0;
		return cstor_error_set(err, ENOTDIR, "%s exists and is not a directory", p);
	}
	/* Next most usual: only the last component is missing (one mkdir,
	 * not one per component from the root). */
	if (mkdir(p, mode) == 0)
		return sync_parent(p, err);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, mode) == 0) {
			int r = sync_parent(p, err);
			if (r < 0)
				return r;
		} else if (errno != EEXIST) {
			return cstor_error_errno(err, errno, "create directory %s", p);
		}
		*s = '/';
	}
	if (mkdir(p, mode) == 0) {
		int r = sync_parent(p, err);
		if (r < 0)
			return r;
	} else if (errno != EEXIST) {
		return cstor_error_errno(err, errno, "create directory %s", p);
	}
	if (stat(p, &st) < 0)
		return cstor_error_errno(err, errno, "stat %s", p);
	if (!S_ISDIR(st.st_mode))
		return cstor_error_set(err, ENOTDIR, "%s exists and is not a directory", p);
	return 0;
}

int cstor_mkdir_parents(const char *path, mode_t mode, cstor_error *err)
{
	_cleanup_free_ char *p = strdup(path);
	if (!p)
		return cstor_error_set(err, ENOMEM, "out of memory");
	char *slash = strrchr(p, '/');
	if (!slash || slash == p)
		return 0;
	*slash = 0;
	return cstor_mkdir_p(p, mode, err);
}

int cstor_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Room the spare keeps beyond the file it stands in for. */
#define SPARE_SLACK (64 * 1024)

static int spare_name(char *buf, size_t size, const char *name)
{
	int n = snprintf(buf, size, ".spare-%s", name);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Make sure the spare of @name exists with blocks for @len bytes and some
 * more. Best effort: a full disk is the reason it exists, not a failure. */
static void spare_keep(int dirfd, const char *name, size_t len)
{
	char sp[4096];
	struct stat st;
	if (spare_name(sp, sizeof(sp), name) < 0)
		return;
	off_t want = (off_t)len + SPARE_SLACK;
	if (fstatat(dirfd, sp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size >= want && st.st_blocks * 512 >= want)
		return;
	_cleanup_close_ int fd = openat(dirfd, sp, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return;
	/* Without fallocate the inode at least is kept. */
	if (fallocate(fd, 0, 0, want) < 0 && (errno == EOPNOTSUPP || errno == ENOSYS) &&
	    ftruncate(fd, want) < 0)
		return; /* best effort, as above */
}

/* Replace @name with @data written into its spare, which needs no new
 * inode and, within its allocated size, no new block. */
static int spare_write(int dirfd, const char *name, const void *data, size_t len,
		       mode_t mode, unsigned flags, const char *what, cstor_error *err)
{
	char sp[4096];
	if (spare_name(sp, sizeof(sp), name) < 0)
		return cstor_error_set(err, ENAMETOOLONG, "file name %s too long", name);
	_cleanup_close_ int fd = openat(dirfd, sp, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return cstor_error_errno(err, errno == ENOENT ? ENOSPC : errno,
					 "write %s: the disk is full and no spare file was kept", what);
	/* Over the allocated blocks first, then cut: truncating before
	 * would hand the blocks back to whoever asks first. */
	size_t off = 0;
	while (off < len) {
		ssize_t n = pwrite(fd, (const char *)data + off, len - off, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return cstor_error_errno(err, n < 0 ? errno : EIO, "write %s into its spare",
						 what);
		off += (size_t)n;
	}
	if (ftruncate(fd, (off_t)len) < 0 || fchmod(fd, mode) < 0)
		return cstor_error_errno(err, errno, "write %s into its spare", what);
	if ((flags & CSTOR_WRITE_DURABLE) && fdatasync(fd) < 0)
		return cstor_error_errno(err, errno, "sync %s", what);
	if (renameat(dirfd, sp, dirfd, name) < 0)
		return cstor_error_errno(err, errno, "replace %s", what);
	if ((flags & CSTOR_WRITE_DURABLE) && fsync(dirfd) < 0)
		return cstor_error_errno(err, errno, "sync directory of %s", what);
	return 0;
}

static bool disk_full(int e)
{
	return e == ENOSPC || e == EDQUOT;
}

int cstor_atomic_write_at(int dirfd, const char *name, const void *data, size_t len,
			  mode_t mode, unsigned flags, const char *what, cstor_error *err)
{
	char tmp[4096];
	_cleanup_close_ int fd = -1;
	for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
		uint32_t rnd = 0;
		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
			rnd = (uint32_t)getpid() * 2654435761u + (uint32_t)attempt;
		int n = snprintf(tmp, sizeof(tmp), ".tmp-%s%u", name, rnd);
		if (n < 0 || (size_t)n >= sizeof(tmp))
			return cstor_error_set(err, ENAMETOOLONG, "file name %s too long", name);
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0 && disk_full(errno) && (flags & CSTOR_WRITE_KEEP_SPARE))
			goto spare;
		if (fd < 0 && errno != EEXIST)
			return cstor_error_errno(err, errno, "create temporary file for %s", what);
	}
	if (fd < 0)
		return cstor_error_set(err, EEXIST, "cannot create a temporary file for %s", what);

	/* Failure points (docs/crash-testing.md): each named by the file,
	 * before its data, before the rename that commits it, after. */
	int r = cstor_failpoint_at("write:before", name);
	if (r == 0)
		r = cstor_write_all(fd, data, len);
	if (r < 0 && disk_full(-r) && (flags & CSTOR_WRITE_KEEP_SPARE)) {
		unlinkat(dirfd, tmp, 0);
		goto spare;
	}
	if (r < 0) {
		cstor_error_errno(err, r, "write %s", what);
		goto fail;
	}
	if ((flags & CSTOR_WRITE_DURABLE) && fdatasync(fd) < 0) {
		r = cstor_error_errno(err, errno, "sync %s", what);
		goto fail;
	}
	if (fchmod(fd, mode) < 0) {
		r = cstor_error_errno(err, errno, "chmod %s", what);
		goto fail;
	}
	if ((r = cstor_failpoint_at("write:before-rename", name)) < 0) {
		cstor_error_errno(err, -r, "replace %s", what);
		goto fail;
	}
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		r = cstor_error_errno(err, errno, "replace %s", what);
		goto fail;
	}
	if ((r = cstor_failpoint_at("write:after-rename", name)) < 0)
		return cstor_error_errno(err, -r, "sync directory of %s", what);
	if (flags & CSTOR_WRITE_DURABLE) {
		/* The rename itself must reach the disk, or a crash can bring
		 * back the old file after we reported success. */
		if (fsync(dirfd) < 0)
			return cstor_error_errno(err, errno, "sync directory of %s", what);
	}
	if (flags & CSTOR_WRITE_KEEP_SPARE)
		spare_keep(dirfd, name, len);
	return 0;
fail:
	unlinkat(dirfd, tmp, 0);
	return r < 0 ? r : -EIO;
spare:
	if ((r = spare_write(dirfd, name, data, len, mode, flags, what, err)) < 0)
		return r;
	/* The old file's inode and blocks are free now: a new spare, if it
	 * fits. */
	spare_keep(dirfd, name, len);
	return 0;
}

int cstor_read_file_at(int dirfd, const char *name, char **out, size_t *out_len,
		       const char *what, cstor_error *err)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return cstor_error_errno(err, errno, "open %s", what);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return cstor_error_errno(err, errno, "stat %s", what);
	size_t cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
	size_t len = 0;
	_cleanup_free_ char *buf = malloc(cap);
	if (!buf)
		return cstor_error_set(err, ENOMEM, "out of memory reading %s", what);
	for (;;) {
		if (len + 1 >= cap) {
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				return cstor_error_set(err, ENOMEM, "out of memory reading %s", what);
			buf = nb;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return cstor_error_errno(err, errno, "read %s", what);
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = 0;
	*out = TAKE_PTR(buf);
	if (out_len)
		*out_len = len;
	return 0;
}
