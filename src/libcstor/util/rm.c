/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error-internal.h"
#include "util/cleanup.h"
#include "util/failpoint.h"
#include "util/rm.h"
#include "util/strv.h"

/* Empty the directory open at @fd. Depth is bounded by the kernel's path
 * limits of what could be created; recursion uses one fd per level. */
static int empty_dir(int fd, int depth, const char *what, cstor_error *err)
{
	if (depth > 4096)
		return cstor_error_set(err, ELOOP, "remove %s: directory tree too deep", what);
	int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (dfd < 0)
		return cstor_error_errno(err, errno, "remove %s", what);
	_cleanup_closedir_ DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return cstor_error_errno(err, errno, "remove %s", what);
	}
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (unlinkat(fd, de->d_name, 0) == 0 || errno == ENOENT)
			continue;
		if (errno != EISDIR && errno != EPERM)
			return cstor_error_errno(err, errno, "remove %s/%s", what, de->d_name);
		_cleanup_close_ int sub = openat(fd, de->d_name,
						 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			if (errno == ENOENT)
				continue;
			return cstor_error_errno(err, errno, "remove %s/%s", what, de->d_name);
		}
		/* Root can write anywhere, but not into a directory whose
		 * mode lacks w for others when not root: make it ours. */
		struct stat st;
		if (fstat(sub, &st) == 0 && !(st.st_mode & S_IWUSR))
			fchmod(sub, (st.st_mode & 07777) | S_IRWXU);
		int r = empty_dir(sub, depth + 1, what, err);
		if (r < 0)
			return r;
		if (unlinkat(fd, de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT)
			return cstor_error_errno(err, errno, "remove %s/%s", what, de->d_name);
		errno = 0;
	}
	return 0;
}

int cstor_rm_rf_at(int dirfd, const char *name, cstor_error *err)
{
	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return cstor_error_errno(err, errno, "remove %s", name);
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : cstor_error_errno(err, errno, "remove %s", name);
	struct stat st;
	if (fstat(fd, &st) == 0 && !(st.st_mode & S_IWUSR))
		fchmod(fd, (st.st_mode & 07777) | S_IRWXU);
	int r = empty_dir(fd, 0, name, err);
	if (r < 0)
		return r;
	/* Dying here leaves an empty directory: a delete half done. */
	if ((r = cstor_failpoint("rm:emptied")) < 0)
		return cstor_error_errno(err, -r, "remove %s", name);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return cstor_error_errno(err, errno, "remove %s", name);
	return 0;
}

void cstor_rm_rf_at_quiet(int dirfd, const char *name)
{
	(void)cstor_rm_rf_at(dirfd, name, NULL);
}

int cstor_rm_contents_at(int dirfd, const char *name, const char *what, cstor_error *err)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cstor_error_errno(err, errno, "open %s", what);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return cstor_error_errno(err, errno, "stat %s", what);
	bool chmodded = false;
	if (!(st.st_mode & S_IWUSR) && fchmod(fd, (st.st_mode & 07777) | S_IRWXU) == 0)
		chmodded = true;
	int r = empty_dir(fd, 0, what, err);
	if (chmodded && fchmod(fd, st.st_mode & 07777) < 0 && r == 0)
		r = cstor_error_errno(err, errno, "chmod %s", what);
	return r;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int cstor_list_subdirs_at(char ***out, int dirfd, const char *const *skip, const char *what,
			  cstor_error *err)
{
	*out = NULL;
	int dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return cstor_error_errno(err, errno, "open %s", what);
	_cleanup_closedir_ DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return cstor_error_errno(err, errno, "open %s", what);
	}
	_cleanup_strv_free_ char **v = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((errno = 0, de = readdir(d))) {
		if (de->d_name[0] == '.' || strv_contains((char *const *)skip, de->d_name))
			continue;
		struct stat st;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (strv_append(&v, de->d_name) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
		n++;
	}
	if (errno)
		return cstor_error_errno(err, errno, "read %s", what);
	if (n)
		qsort(v, n, sizeof(*v), cmp_str);
	if (!v && !(v = calloc(1, sizeof(*v))))
		return cstor_error_set(err, ENOMEM, "out of memory");
	*out = TAKE_PTR(v);
	return 0;
}
