/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error-internal.h"
#include "util/cleanup.h"
#include "util/rm.h"

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
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return cstor_error_errno(err, errno, "remove %s", name);
	return 0;
}

void cstor_rm_rf_at_quiet(int dirfd, const char *name)
{
	(void)cstor_rm_rf_at(dirfd, name, NULL);
}
