/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Path resolution inside the layer root for the extraction: the kernel does
 * it (openat2 RESOLVE_IN_ROOT), or, on kernels without openat2, a walk over
 * O_PATH fds that follows symlinks the same way: absolute targets and ".."
 * restart from / stop at the root, at most 40 symlinks, no crossing of mount
 * points. Only directories are resolved this way; the last component of an
 * entry is always handled with *at() calls that do not follow it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util/error-internal.h"
#include "util/cleanup.h"

#include "apply-internal.h"

bool cstor_apply__no_openat2;

/* 1 = use openat2, 0 = the kernel said ENOSYS. Races only cost one extra
 * failing call. */
static int have_openat2 = 1;
static int have_setxattrat = 1;

#define MAX_SYMLINKS 40 /* the kernel's MAXSYMLINKS */

static int resolve_openat2(int root_fd, const char *path, int *ret_fd)
{
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	/* EAGAIN: a concurrent rename made ".." resolution unsafe; retry. */
	for (int i = 0; i < 32; i++) {
		long fd = syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
		if (fd >= 0) {
			*ret_fd = (int)fd;
			return 0;
		}
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
	}
	return -EAGAIN;
}

/* Open the chain of real directories @done (no symlinks, no "..") again from
 * the root, after a ".." popped its last component. */
static int rewalk(int root_fd, const char *done, size_t len, int *ret_fd)
{
	_cleanup_close_ int cur = openat(root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0)
		return -errno;
	char name[NAME_MAX + 1];
	for (size_t i = 0; i < len;) {
		size_t j = i;
		while (j < len && done[j] != '/')
			j++;
		memcpy(name, done + i, j - i);
		name[j - i] = 0;
		int fd = openat(cur, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			/* Replaced under us: what the kernel says for races. */
			return errno == ELOOP || errno == ENOTDIR ? -EAGAIN : -errno;
		close(cur);
		cur = fd;
		i = j + 1;
	}
	*ret_fd = TAKE_FD(cur);
	return 0;
}

static int resolve_walk(int root_fd, const char *path, int *ret_fd)
{
	struct stat rst;
	if (fstat(root_fd, &rst) < 0)
		return -errno;
	/* The path still to resolve; symlink targets are spliced in front. */
	size_t cap = strlen(path) + 1;
	_cleanup_free_ char *rest = strdup(path);
	/* The directories resolved so far, for "..". */
	_cleanup_free_ char *done = malloc(PATH_MAX + 1);
	_cleanup_free_ char *target = malloc(PATH_MAX + 1);
	if (!rest || !done || !target)
		return -ENOMEM;
	size_t done_len = 0, pos = 0;
	int links = 0;
	_cleanup_close_ int cur = openat(root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0)
		return -errno;

	for (;;) {
		while (rest[pos] == '/')
			pos++;
		if (!rest[pos])
			break;
		size_t end = pos;
		while (rest[end] && rest[end] != '/')
			end++;
		size_t clen = end - pos;
		char name[NAME_MAX + 1];
		if (clen > NAME_MAX)
			return -ENAMETOOLONG;
		memcpy(name, rest + pos, clen);
		name[clen] = 0;
		pos = end;

		if (streq(name, "."))
			continue;
		if (streq(name, "..")) {
			if (done_len == 0)
				continue; /* the root is its own parent */
			while (done_len > 0 && done[done_len - 1] != '/')
				done_len--;
			if (done_len > 0)
				done_len--;
			int fd = -1, r = rewalk(root_fd, done, done_len, &fd);
			if (r < 0)
				return r;
			close(cur);
			cur = fd;
			continue;
		}

		_cleanup_close_ int fd = openat(cur, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		struct stat st;
		if (fstat(fd, &st) < 0)
			return -errno;
		if (S_ISLNK(st.st_mode)) {
			if (++links > MAX_SYMLINKS)
				return -ELOOP;
			ssize_t n = readlinkat(fd, "", target, PATH_MAX);
			if (n < 0)
				return -errno;
			if (n == 0)
				return -ENOENT;
			if (n >= PATH_MAX)
				return -ENAMETOOLONG;
			/* rest := target + "/" + what follows the link. */
			size_t tail = strlen(rest + pos);
			size_t need = (size_t)n + 1 + tail + 1;
			if (need > 64 * PATH_MAX)
				return -ENAMETOOLONG;
			char *nrest = malloc(MAX(need, cap));
			if (!nrest)
				return -ENOMEM;
			memcpy(nrest, target, (size_t)n);
			nrest[n] = '/';
			memcpy(nrest + n + 1, rest + pos, tail + 1);
			free(rest);
			rest = nrest;
			cap = MAX(need, cap);
			pos = 0;
			if (target[0] == '/') {
				int rfd = openat(root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
				if (rfd < 0)
					return -errno;
				close(cur);
				cur = rfd;
				done_len = 0;
			}
			continue;
		}
		if (!S_ISDIR(st.st_mode))
			return -ENOTDIR;
		/* Kernels without openat2 have no mount IDs in statx either;
		 * a change of device is what a mount point looks like. Only
		 * for directories: overlayfs may report the device of the
		 * lower filesystem for other files. */
		if (st.st_dev != rst.st_dev)
			return -EXDEV;
		if (done_len + 1 + clen > PATH_MAX)
			return -ENAMETOOLONG;
		if (done_len > 0)
			done[done_len++] = '/';
		memcpy(done + done_len, name, clen);
		done_len += clen;
		close(cur);
		cur = TAKE_FD(fd);
	}
	*ret_fd = TAKE_FD(cur);
	return 0;
}

int apply_resolve_dir(int root_fd, const char *path, int *ret_fd)
{
	if (!cstor_apply__no_openat2 && __atomic_load_n(&have_openat2, __ATOMIC_RELAXED)) {
		int r = resolve_openat2(root_fd, path, ret_fd);
		if (r != -ENOSYS)
			return r;
		__atomic_store_n(&have_openat2, 0, __ATOMIC_RELAXED);
	}
	return resolve_walk(root_fd, path, ret_fd);
}

void apply_cache_invalidate(struct apply *a)
{
	a->cache_valid = false;
}

void apply_cache_set(struct apply *a, const char *path, size_t len, int fd)
{
	if (a->cache_cap < len + 1) {
		size_t cap = MAX(len + 1, 256);
		char *p = realloc(a->cache_path, cap);
		if (!p) {
			/* Only a cache: go on without it. */
			close(fd);
			a->cache_valid = false;
			return;
		}
		a->cache_path = p;
		a->cache_cap = cap;
	}
	memcpy(a->cache_path, path, len);
	a->cache_path[len] = 0;
	a->cache_len = len;
	if (a->cache_fd >= 0)
		close(a->cache_fd);
	a->cache_fd = fd;
	a->cache_valid = true;
}

/* Whether lstat() of @path would succeed: 1 yes, 0 no such file, -errno. */
static int lexists(struct apply *a, const char *path, size_t len)
{
	size_t d = len;
	while (d > 0 && path[d - 1] != '/')
		d--;
	_cleanup_close_ int pfd = -1;
	int dfd = a->root_fd;
	if (d > 0) {
		_cleanup_free_ char *dir = strndup(path, d - 1);
		if (!dir)
			return -ENOMEM;
		int r = apply_resolve_dir(a->root_fd, dir, &pfd);
		if (r == -ENOENT)
			return 0;
		if (r < 0)
			return r;
		dfd = pfd;
	}
	_cleanup_free_ char *base = strndup(path + d, len - d);
	if (!base)
		return -ENOMEM;
	struct stat st;
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	return errno == ENOENT ? 0 : -errno;
}

/* Go's MkdirAll(path, 0755) inside the root: an O_PATH fd of the directory. */
static int mkdir_p(struct apply *a, const char *path, size_t len, int *ret_fd, cstor_error *err)
{
	_cleanup_free_ char *p = strndup(path, len);
	if (!p)
		return cstor_error_set(err, ENOMEM, "out of memory");
	int r = apply_resolve_dir(a->root_fd, p, ret_fd);
	if (r != -ENOENT) {
		if (r < 0)
			return cstor_error_errno(err, r, "open directory \"%s\"", p);
		return 0;
	}
	size_t d = len;
	while (d > 0 && path[d - 1] != '/')
		d--;
	_cleanup_close_ int pfd = -1;
	int dfd = a->root_fd;
	if (d > 0) {
		r = mkdir_p(a, path, d - 1, &pfd, err);
		if (r < 0)
			return r;
		dfd = pfd;
	}
	const char *base = p + d;
	if (mkdirat(dfd, base, 0755) < 0) {
		if (errno != EEXIST)
			return cstor_error_errno(err, errno, "create directory \"%s\"", p);
		struct stat st;
		if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
			return cstor_error_errno(err, EEXIST, "create directory \"%s\"", p);
	} else if (a->umask & 0755) {
		/* UnpackLayer runs with umask 0: the mode is exactly 0755. */
		if (fchmodat(dfd, base, 0755, 0) < 0)
			return cstor_error_errno(err, errno, "chmod directory \"%s\"", p);
	}
	int fd = openat(dfd, base, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cstor_error_errno(err, errno, "open directory \"%s\"", p);
	*ret_fd = fd;
	return 0;
}

int apply_parent(struct apply *a, const char *dir, size_t len, bool create, int *ret_fd,
		 cstor_error *err)
{
	if (len == 0) {
		*ret_fd = a->root_fd;
		return 0;
	}
	if (a->cache_valid && a->cache_len == len && memcmp(a->cache_path, dir, len) == 0) {
		*ret_fd = a->cache_fd;
		return 0;
	}
	_cleanup_free_ char *p = strndup(dir, len);
	if (!p)
		return cstor_error_set(err, ENOMEM, "out of memory");
	int fd;
	int r = apply_resolve_dir(a->root_fd, p, &fd);
	if (r == -ENOENT && create) {
		int e = lexists(a, dir, len);
		if (e < 0)
			return cstor_error_errno(err, e, "open directory \"%s\"", p);
		if (e > 0)
			return cstor_error_errno(err, ENOENT, "open directory \"%s\"", p);
		r = mkdir_p(a, dir, len, &fd, err);
		if (r < 0)
			return r;
	} else if (r < 0)
		return cstor_error_errno(err, r, "open directory \"%s\"", p);
	apply_cache_set(a, dir, len, fd);
	*ret_fd = a->cache_valid ? a->cache_fd : a->root_fd;
	if (!a->cache_valid)
		return cstor_error_set(err, ENOMEM, "out of memory");
	return 0;
}

#if !defined(__NR_setxattrat) && !defined(__alpha__)
#define __NR_setxattrat 463 /* Linux 6.13, one number on every other arch */
#endif

int apply_setxattr_at(int dfd, const char *name, const char *key, const void *value, size_t len)
{
#ifdef __NR_setxattrat
	if (!cstor_apply__no_openat2 && __atomic_load_n(&have_setxattrat, __ATOMIC_RELAXED)) {
		struct {
			uint64_t value;
			uint32_t size, flags;
		} args = { (uint64_t)(uintptr_t)value, (uint32_t)len, 0 };
		if (syscall(__NR_setxattrat, dfd, name, AT_SYMLINK_NOFOLLOW, key, &args,
			    sizeof(args)) == 0)
			return 0;
		if (errno != ENOSYS)
			return -errno;
		__atomic_store_n(&have_setxattrat, 0, __ATOMIC_RELAXED);
	}
#endif
	/* The parent through its magic link, the name itself not followed. */
	char p[64 + NAME_MAX];
	snprintf(p, sizeof(p), "/proc/self/fd/%d/%s", dfd, name);
	return RET_NERRNO(lsetxattr(p, key, value, len, 0));
}

bool apply_in_userns(struct apply *a)
{
	if (a->in_userns >= 0)
		return a->in_userns;
	a->in_userns = 0;
	_cleanup_fclose_ FILE *f = fopen("/proc/self/uid_map", "re");
	unsigned long inside, outside, count;
	if (f && fscanf(f, "%lu %lu %lu", &inside, &outside, &count) == 3)
		a->in_userns = !(inside == 0 && outside == 0 && count == 4294967295UL);
	return a->in_userns;
}

mode_t apply_read_umask(void)
{
	/* umask(2) cannot be read without setting it, which would race with
	 * other threads; /proc has it since Linux 4.7. Unknown = assume
	 * everything is masked, so modes are always set explicitly. */
	_cleanup_fclose_ FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	while (f && fgets(line, sizeof(line), f)) {
		unsigned m;
		if (sscanf(line, "Umask: %o", &m) == 1)
			return (mode_t)(m & 0777);
	}
	return 0777;
}

/* ---- names ---- */

const char *apply_confine(const char *clean, size_t len, size_t *ret_len)
{
	while (len > 0) {
		if (clean[0] == '/') {
			clean++;
			len--;
		} else if (len >= 2 && clean[0] == '.' && clean[1] == '.' &&
			   (len == 2 || clean[2] == '/')) {
			clean += 2;
			len -= 2;
		} else if (len == 1 && clean[0] == '.') {
			len = 0;
		} else {
			break;
		}
	}
	*ret_len = len;
	return clean;
}

int apply_check_name(const char *p, size_t len, const char *what, cstor_error *err)
{
	if (len >= PATH_MAX)
		return cstor_error_set(err, ENAMETOOLONG, "%s too long (%zu bytes, at most %d)",
				       what, len, PATH_MAX - 1);
	for (size_t i = 0; i < len;) {
		size_t j = i;
		while (j < len && p[j] != '/')
			j++;
		if (j - i > NAME_MAX)
			return cstor_error_set(err, ENAMETOOLONG,
					       "%s has a component of %zu bytes (at most %d)", what,
					       j - i, NAME_MAX);
		i = j + 1;
	}
	return 0;
}

size_t apply_split(const char *p, size_t len, const char **base)
{
	size_t d = len;
	while (d > 0 && p[d - 1] != '/')
		d--;
	*base = p + d;
	return d ? d - 1 : 0;
}
