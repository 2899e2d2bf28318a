/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util/error-internal.h"
#include "util/cleanup.h"
#include "util/copy.h"

#ifndef FICLONE
#define FICLONE _IOW(0x94, 9, int)
#endif

#define RW_BUF_SIZE (1024 * 1024)
/* copy_file_range moves at most this per call on any kernel; asking for
 * less keeps one call from holding the inode locks for too long. */
#define CFR_CHUNK ((size_t)1 << 30)

struct link_entry {
	dev_t dev;
	ino_t ino;
	char *path; /* destination path relative to the root; NULL: free slot */
};

/* One directory on the way down from the root: its entries, read in full
 * before descending, so that no fd of it needs to stay open. */
struct frame {
	char *names;  /* NUL-terminated names back to back, each after a d_type byte */
	size_t names_len;
	size_t next;  /* offset of the next entry in names */
	struct stat st;  /* source directory */
	dev_t dst_dev;
	ino_t dst_ino;
	size_t path_len; /* length of this directory's path in copy_state.path */
};

struct copy_state {
	unsigned flags;
	bool try_reflink;
	bool try_copy_file_range;
	bool try_noatime;

	int src; /* current source directory */
	int dst; /* current destination directory */
	int dst_root;
	dev_t dst_root_dev;
	ino_t dst_root_ino;

	struct frame *stack;
	size_t depth, stack_cap;

	char *path; /* relative path of the entry being copied, "" for the root */
	size_t path_cap;

	struct link_entry *links;
	size_t links_count, links_cap;

	uint8_t *rw_buf;
	char *xattr_names;
	size_t xattr_names_cap;
	char *xattr_value;
	size_t xattr_value_cap;
};

static void copy_state_done(struct copy_state *s)
{
	int saved = errno;
	closep(&s->src);
	closep(&s->dst);
	closep(&s->dst_root);
	for (size_t i = 0; i < s->depth; i++)
		free(s->stack[i].names);
	free(s->stack);
	for (size_t i = 0; i < s->links_cap; i++)
		free(s->links[i].path);
	free(s->links);
	free(s->path);
	free(s->rw_buf);
	free(s->xattr_names);
	free(s->xattr_value);
	errno = saved;
}

static const char *display(const struct copy_state *s)
{
	return s->path && s->path[0] ? s->path : ".";
}

/* "copy <path>: <what>: <strerror>" */
static int fail_errno(struct copy_state *s, cstor_error *err, int code, const char *what)
{
	return cstor_error_errno(err, code, "copy %s: %s", display(s), what);
}

/* Make s->path the directory at @dir_len plus @name. */
static int path_set(struct copy_state *s, size_t dir_len, const char *name, cstor_error *err)
{
	size_t nl = strlen(name);
	size_t need = dir_len + 1 + nl + 1;
	if (need > s->path_cap) {
		size_t cap = MAX(need, s->path_cap * 2);
		char *p = realloc(s->path, cap);
		if (!p)
			return cstor_error_set(err, ENOMEM, "copy: out of memory");
		s->path = p;
		s->path_cap = cap;
	}
	size_t l = dir_len;
	if (l > 0)
		s->path[l++] = '/';
	memcpy(s->path + l, name, nl + 1);
	return 0;
}

/* ---- hard links ------------------------------------------------------------ */

static size_t link_slot(const struct copy_state *s, dev_t dev, ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)dev * 0xc2b2ae3d27d4eb4full;
	size_t mask = s->links_cap - 1;
	size_t i = (size_t)(h >> 17) & mask;
	while (s->links[i].path && !(s->links[i].dev == dev && s->links[i].ino == ino))
		i = (i + 1) & mask;
	return i;
}

static const char *link_lookup(const struct copy_state *s, const struct stat *st)
{
	if (s->links_count == 0)
		return NULL;
	return s->links[link_slot(s, st->st_dev, st->st_ino)].path;
}

static int link_remember(struct copy_state *s, const struct stat *st, cstor_error *err)
{
	if ((s->links_count + 1) * 2 > s->links_cap) {
		size_t cap = s->links_cap ? s->links_cap * 2 : 64;
		struct link_entry *old = s->links;
		size_t old_cap = s->links_cap;
		s->links = calloc(cap, sizeof(*s->links));
		if (!s->links) {
			s->links = old;
			return cstor_error_set(err, ENOMEM, "copy: out of memory");
		}
		s->links_cap = cap;
		for (size_t i = 0; i < old_cap; i++)
			if (old[i].path)
				s->links[link_slot(s, old[i].dev, old[i].ino)] = old[i];
		free(old);
	}
	char *p = strdup(s->path);
	if (!p)
		return cstor_error_set(err, ENOMEM, "copy: out of memory");
	size_t i = link_slot(s, st->st_dev, st->st_ino);
	s->links[i] = (struct link_entry){ st->st_dev, st->st_ino, p };
	s->links_count++;
	return 0;
}

/* ---- metadata -------------------------------------------------------------- */

/* Grow-and-retry wrapper for the size protocol of listxattr and getxattr. */
static ssize_t xattr_call(char **buf, size_t *cap, ssize_t (*fn)(void *, char *, size_t),
			  void *arg)
{
	for (;;) {
		if (!*buf) {
			*cap = 4096;
			*buf = malloc(*cap);
			if (!*buf)
				return -ENOMEM;
		}
		ssize_t n = fn(arg, *buf, *cap);
		if (n >= 0)
			return n;
		if (errno != ERANGE)
			return -errno;
		n = fn(arg, NULL, 0);
		if (n < 0)
			return -errno;
		size_t want = MAX((size_t)n + 1, *cap * 2);
		char *p = realloc(*buf, want);
		if (!p)
			return -ENOMEM;
		*buf = p;
		*cap = want;
	}
}

/* Where an xattr lives: an fd, or (for nodes that cannot be opened: symlinks,
 * devices, fifos, sockets) a /proc/self/fd/<dirfd>/<name> path used with the
 * l* calls, which resolves through the directory fd without following the
 * node itself. */
struct xattr_target {
	int fd;
	const char *path;
	const char *name; /* set by the caller of the callbacks */
};

static ssize_t do_list(void *arg, char *buf, size_t len)
{
	struct xattr_target *t = arg;
	return t->fd >= 0 ? flistxattr(t->fd, buf, len) : llistxattr(t->path, buf, len);
}

static ssize_t do_get(void *arg, char *buf, size_t len)
{
	struct xattr_target *t = arg;
	return t->fd >= 0 ? fgetxattr(t->fd, t->name, buf, len) : lgetxattr(t->path, t->name, buf, len);
}

static int copy_xattrs(struct copy_state *s, struct xattr_target *src, struct xattr_target *dst,
		       cstor_error *err)
{
	if (s->flags & CSTOR_COPY_NO_XATTRS)
		return 0;
	ssize_t n = xattr_call(&s->xattr_names, &s->xattr_names_cap, do_list, src);
	if (n == -ENOTSUP)
		return 0;
	if (n < 0)
		return fail_errno(s, err, (int)n, "listing xattrs");
	for (const char *name = s->xattr_names; name < s->xattr_names + n;
	     name += strlen(name) + 1) {
		src->name = name;
		ssize_t v = xattr_call(&s->xattr_value, &s->xattr_value_cap, do_get, src);
		if (v == -ENODATA)
			continue; /* removed since listing */
		if (v < 0)
			return cstor_error_errno(err, (int)v, "copy %s: reading xattr %s", display(s),
						 name);
		int r = dst->fd >= 0 ? fsetxattr(dst->fd, name, s->xattr_value, (size_t)v, 0)
				     : lsetxattr(dst->path, name, s->xattr_value, (size_t)v, 0);
		if (r < 0)
			return cstor_error_errno(err, errno, "copy %s: setting xattr %s", display(s),
						 name);
	}
	return 0;
}

static int chown_result(struct copy_state *s, int r, cstor_error *err)
{
	if (r >= 0)
		return 0;
	if ((s->flags & CSTOR_COPY_IGNORE_CHOWN_ERRORS) && (errno == EPERM || errno == EINVAL))
		return 0;
	return fail_errno(s, err, errno, "changing owner");
}

/* Owner first (chown clears setuid/setgid and security.capability), then
 * xattrs (an ACL xattr rewrites the group bits), then the mode, and the
 * times last so that nothing disturbs them. */
static int set_metadata_fd(struct copy_state *s, int src_fd, int dst_fd, const struct stat *st,
			   cstor_error *err)
{
	int r = chown_result(s, fchown(dst_fd, st->st_uid, st->st_gid), err);
	if (r < 0)
		return r;
	struct xattr_target xs = { src_fd, NULL, NULL }, xd = { dst_fd, NULL, NULL };
	r = copy_xattrs(s, &xs, &xd, err);
	if (r < 0)
		return r;
	if (fchmod(dst_fd, st->st_mode & 07777) < 0)
		return fail_errno(s, err, errno, "changing mode");
	struct timespec ts[2] = { st->st_atim, st->st_mtim };
	if (futimens(dst_fd, ts) < 0)
		return fail_errno(s, err, errno, "setting times");
	return 0;
}

static int set_metadata_at(struct copy_state *s, const char *name, const struct stat *st,
			   cstor_error *err)
{
	int r = chown_result(s, fchownat(s->dst, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW),
			     err);
	if (r < 0)
		return r;
	if (!(s->flags & CSTOR_COPY_NO_XATTRS)) {
		char sp[64 + NAME_MAX], dp[64 + NAME_MAX];
		snprintf(sp, sizeof(sp), "/proc/self/fd/%d/%s", s->src, name);
		snprintf(dp, sizeof(dp), "/proc/self/fd/%d/%s", s->dst, name);
		struct xattr_target xs = { -1, sp, NULL }, xd = { -1, dp, NULL };
		r = copy_xattrs(s, &xs, &xd, err);
		if (r < 0)
			return r;
	}
	/* Symlinks have no mode of their own on Linux. The node was just made
	 * by mknodat, so following is not a concern for the others. */
	if (!S_ISLNK(st->st_mode) && fchmodat(s->dst, name, st->st_mode & 07777, 0) < 0)
		return fail_errno(s, err, errno, "changing mode");
	struct timespec ts[2] = { st->st_atim, st->st_mtim };
	if (utimensat(s->dst, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return fail_errno(s, err, errno, "setting times");
	return 0;
}

/* ---- file content ---------------------------------------------------------- */

static bool cfr_unsupported(int e)
{
	/* EXDEV: different filesystems (kernels ≥ 5.19 refuse most of those);
	 * EINVAL/EOPNOTSUPP: filesystem without support; ENOSYS: old kernel;
	 * EBADF: some filesystems report an unsupported pair this way. */
	return e == EXDEV || e == EINVAL || e == EOPNOTSUPP || e == ENOSYS || e == EBADF;
}

/* Copy [off, off+len) at the same offsets. Stops early if the source ends. */
static int copy_range(struct copy_state *s, int sfd, int dfd, off_t off, off_t len,
		      cstor_error *err)
{
	while (len > 0 && s->try_copy_file_range) {
		loff_t in = off, out = off;
		ssize_t n = copy_file_range(sfd, &in, dfd, &out, (size_t)MIN((off_t)CFR_CHUNK, len), 0);
		if (n > 0) {
			off += n;
			len -= n;
			continue;
		}
		if (n == 0)
			break; /* source shorter than stat said, or a pseudo file: try read() */
		if (errno == EINTR)
			continue;
		if (!cfr_unsupported(errno))
			return fail_errno(s, err, errno, "copy_file_range");
		s->try_copy_file_range = false;
	}
	if (len > 0 && !s->rw_buf) {
		s->rw_buf = malloc(RW_BUF_SIZE);
		if (!s->rw_buf)
			return cstor_error_set(err, ENOMEM, "copy: out of memory");
	}
	while (len > 0) {
		ssize_t n = pread(sfd, s->rw_buf, (size_t)MIN((off_t)RW_BUF_SIZE, len), off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return fail_errno(s, err, errno, "reading");
		}
		if (n == 0)
			break; /* the file shrank while we copied it */
		for (ssize_t done = 0; done < n;) {
			ssize_t w = pwrite(dfd, s->rw_buf + done, (size_t)(n - done), off + done);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				return fail_errno(s, err, errno, "writing");
			}
			done += w;
		}
		off += n;
		len -= n;
	}
	return 0;
}

static int copy_data(struct copy_state *s, int sfd, int dfd, const struct stat *st,
		     cstor_error *err)
{
	if (st->st_size == 0)
		return 0;
	if (s->try_reflink) {
		if (ioctl(dfd, FICLONE, sfd) == 0)
			return 0;
		/* Like Go: one refusal (ext4, a different filesystem) means the
		 * rest of this tree will not reflink either. A real I/O error
		 * shows up again in the fallback. */
		s->try_reflink = false;
	}

	/* Fewer allocated blocks than the size implies holes; only then is it
	 * worth walking the extents. */
	if ((off_t)st->st_blocks * 512 < st->st_size) {
		off_t off = 0;
		while (off < st->st_size) {
			off_t data = lseek(sfd, off, SEEK_DATA);
			if (data < 0) {
				if (errno == ENXIO)
					break; /* only a hole is left */
				/* No SEEK_DATA support: copy the rest densely. */
				int r = copy_range(s, sfd, dfd, off, st->st_size - off, err);
				if (r < 0)
					return r;
				break;
			}
			off_t hole = lseek(sfd, data, SEEK_HOLE);
			if (hole < 0)
				return fail_errno(s, err, errno, "finding holes");
			hole = MIN(hole, st->st_size);
			int r = copy_range(s, sfd, dfd, data, hole - data, err);
			if (r < 0)
				return r;
			off = hole;
		}
		/* A trailing hole exists only as the file size. */
		if (ftruncate(dfd, st->st_size) < 0)
			return fail_errno(s, err, errno, "setting size");
		return 0;
	}
	return copy_range(s, sfd, dfd, 0, st->st_size, err);
}

/* ---- entries --------------------------------------------------------------- */

static int open_source_file(struct copy_state *s, const char *name)
{
	/* O_NONBLOCK: if the entry was swapped for a fifo since readdir, open
	 * must not hang (it has no effect on regular files). O_NOATIME: leave
	 * the parent layer's atimes alone; needs ownership or CAP_FOWNER. */
	int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
	if (s->try_noatime) {
		int fd = openat(s->src, name, flags | O_NOATIME);
		if (fd >= 0 || errno != EPERM)
			return fd;
		s->try_noatime = false;
	}
	return openat(s->src, name, flags);
}

static int open_source_dir(struct copy_state *s, const char *name)
{
	int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	if (s->try_noatime) {
		int fd = openat(s->src, name, flags | O_NOATIME);
		if (fd >= 0 || errno != EPERM)
			return fd;
		s->try_noatime = false;
	}
	return openat(s->src, name, flags);
}

static int copy_regular(struct copy_state *s, int sfd, const char *name, const struct stat *st,
			cstor_error *err)
{
	_cleanup_close_ int dfd =
		openat(s->dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (dfd < 0)
		return fail_errno(s, err, errno, "creating file");
	int r = copy_data(s, sfd, dfd, st, err);
	if (r < 0)
		return r;
	return set_metadata_fd(s, sfd, dfd, st, err);
}

static int copy_symlink(struct copy_state *s, const char *name, const struct stat *st,
			cstor_error *err)
{
	/* st_size is the target length, except on a few pseudo filesystems
	 * that report 0. */
	size_t cap = st->st_size > 0 ? (size_t)st->st_size + 1 : 4096;
	for (;;) {
		_cleanup_free_ char *target = malloc(cap);
		if (!target)
			return cstor_error_set(err, ENOMEM, "copy: out of memory");
		ssize_t n = readlinkat(s->src, name, target, cap);
		if (n < 0)
			return fail_errno(s, err, errno, "reading symlink");
		if ((size_t)n == cap) {
			cap *= 2; /* grew since lstat */
			continue;
		}
		target[n] = 0;
		/* readlink moves the atime (relatime); take the metadata after
		 * it, or the copy would carry an atime the source no longer has. */
		struct stat now;
		if (fstatat(s->src, name, &now, AT_SYMLINK_NOFOLLOW) < 0)
			return fail_errno(s, err, errno, "stat");
		if (!S_ISLNK(now.st_mode))
			return cstor_error_set(err, EAGAIN,
					       "copy %s: file changed type during the copy",
					       display(s));
		if (symlinkat(target, s->dst, name) < 0)
			return fail_errno(s, err, errno, "creating symlink");
		return set_metadata_at(s, name, &now, err);
	}
}

static int copy_special(struct copy_state *s, const char *name, const struct stat *st,
			cstor_error *err)
{
	if ((S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) && (s->flags & CSTOR_COPY_SKIP_DEVICES))
		return 0;
	/* mknod works for sockets too: the inode is all a copy can have. */
	if (mknodat(s->dst, name, (st->st_mode & S_IFMT) | 0600, st->st_rdev) < 0)
		return fail_errno(s, err, errno, "creating node");
	return set_metadata_at(s, name, st, err);
}

static int read_entries(struct copy_state *s, int fd, struct frame *f, cstor_error *err)
{
	/* getdents64 straight on our fd: no DIR stream, no extra fd. The fd
	 * is fresh, so its offset is at the start. */
	char buf[32768] __attribute__((aligned(8)));
	size_t cap = 0;
	for (;;) {
		ssize_t n = getdents64(fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return fail_errno(s, err, errno, "reading directory");
		}
		if (n == 0)
			break;
		for (ssize_t off = 0; off < n;) {
			struct dirent64 *de = (struct dirent64 *)(buf + off);
			off += de->d_reclen;
			if (streq(de->d_name, ".") || streq(de->d_name, ".."))
				continue;
			size_t l = strlen(de->d_name) + 2;
			if (f->names_len + l > cap) {
				size_t ncap = MAX(cap * 2, f->names_len + l + 256);
				char *p = realloc(f->names, ncap);
				if (!p)
					return cstor_error_set(err, ENOMEM, "copy: out of memory");
				f->names = p;
				cap = ncap;
			}
			f->names[f->names_len] = (char)de->d_type;
			memcpy(f->names + f->names_len + 1, de->d_name, l - 1);
			f->names_len += l;
		}
	}
	return 0;
}

/* Enter the directory @name: create it in the destination, list the source
 * and make both current. */
static int push_dir(struct copy_state *s, int sfd, const char *name, const struct stat *st,
		    cstor_error *err)
{
	_cleanup_close_ int src = sfd;
	if (st->st_dev == s->dst_root_dev && st->st_ino == s->dst_root_ino)
		return cstor_error_set(err, EINVAL, "copy %s: cannot copy a directory into itself",
				       display(s));
	/* 0700 until the contents are in: the real mode may forbid writing,
	 * and a default ACL set too early would be inherited by the copies. */
	if (mkdirat(s->dst, name, 0700) < 0)
		return fail_errno(s, err, errno, "creating directory");
	_cleanup_close_ int dst = openat(s->dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dst < 0)
		return fail_errno(s, err, errno, "opening new directory");
	struct stat dst_st;
	if (fstat(dst, &dst_st) < 0)
		return fail_errno(s, err, errno, "stat new directory");

	if (s->depth == s->stack_cap) {
		size_t cap = s->stack_cap ? s->stack_cap * 2 : 32;
		struct frame *p = realloc(s->stack, cap * sizeof(*p));
		if (!p)
			return cstor_error_set(err, ENOMEM, "copy: out of memory");
		s->stack = p;
		s->stack_cap = cap;
	}
	struct frame *f = &s->stack[s->depth];
	*f = (struct frame){ .st = *st,
			     .dst_dev = dst_st.st_dev,
			     .dst_ino = dst_st.st_ino,
			     .path_len = strlen(s->path) };
	s->depth++;
	int r = read_entries(s, src, f, err);
	if (r < 0)
		return r;
	/* Listing may have moved the atime when O_NOATIME was not allowed. */
	if (fstat(src, &f->st) < 0)
		return fail_errno(s, err, errno, "stat");
	closep(&s->src);
	closep(&s->dst);
	s->src = TAKE_FD(src);
	s->dst = TAKE_FD(dst);
	return 0;
}

/* Open the parent of the current directory through "..", checking that it
 * is the directory we came from (a rename in the meantime would otherwise
 * make us write elsewhere). */
static int open_parent(struct copy_state *s, int fd, dev_t dev, ino_t ino, cstor_error *err)
{
	_cleanup_close_ int p = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p < 0)
		return fail_errno(s, err, errno, "opening parent directory");
	struct stat st;
	if (fstat(p, &st) < 0)
		return fail_errno(s, err, errno, "stat parent directory");
	if (st.st_dev != dev || st.st_ino != ino)
		return cstor_error_set(err, ESTALE, "copy %s: directory moved during the copy",
				       display(s));
	return TAKE_FD(p);
}

/* Leave the current directory: its metadata goes on last, so its times are
 * not disturbed by creating its entries. */
static int pop_dir(struct copy_state *s, cstor_error *err)
{
	struct frame *f = &s->stack[s->depth - 1];
	s->path[f->path_len] = 0;

	_cleanup_close_ int psrc = -1, pdst = -1;
	if (s->depth > 1) {
		/* Before the mode is set: with it, even "..", may be out of
		 * reach for an unprivileged caller. */
		const struct frame *parent = &s->stack[s->depth - 2];
		psrc = open_parent(s, s->src, parent->st.st_dev, parent->st.st_ino, err);
		if (psrc < 0)
			return psrc;
		pdst = open_parent(s, s->dst, parent->dst_dev, parent->dst_ino, err);
		if (pdst < 0)
			return pdst;
	}
	int r = set_metadata_fd(s, s->src, s->dst, &f->st, err);
	if (r < 0)
		return r;

	free(f->names);
	s->depth--;
	closep(&s->src);
	closep(&s->dst);
	if (s->depth > 0) {
		s->src = TAKE_FD(psrc);
		s->dst = TAKE_FD(pdst);
		s->path[s->stack[s->depth - 1].path_len] = 0;
	}
	return 0;
}

static int copy_entry(struct copy_state *s, const char *name, unsigned char d_type,
		      cstor_error *err)
{
	struct stat st;
	_cleanup_close_ int fd = -1;

	/* For the common types open first and fstat the fd: one syscall less
	 * than fstatat+open, and no window between the two. */
	if (d_type == DT_REG || d_type == DT_DIR) {
		fd = d_type == DT_REG ? open_source_file(s, name) : open_source_dir(s, name);
		if (fd < 0 && errno != ELOOP && errno != ENOTDIR && errno != ENXIO)
			return fail_errno(s, err, errno, "opening");
		if (fd >= 0 && fstat(fd, &st) < 0)
			return fail_errno(s, err, errno, "stat");
		/* Replaced by another type since readdir: start over below. */
		if (fd >= 0 && !(d_type == DT_REG ? S_ISREG(st.st_mode) : S_ISDIR(st.st_mode)))
			closep(&fd);
	}
	if (fd < 0) {
		if (fstatat(s->src, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return fail_errno(s, err, errno, "stat");
		if (S_ISREG(st.st_mode)) {
			fd = open_source_file(s, name);
			if (fd < 0)
				return fail_errno(s, err, errno, "opening");
			if (fstat(fd, &st) < 0)
				return fail_errno(s, err, errno, "stat");
			if (!S_ISREG(st.st_mode))
				return cstor_error_set(err, EAGAIN,
						       "copy %s: file changed type during the copy",
						       display(s));
		} else if (S_ISDIR(st.st_mode)) {
			fd = open_source_dir(s, name);
			if (fd < 0)
				return fail_errno(s, err, errno, "opening");
			if (fstat(fd, &st) < 0)
				return fail_errno(s, err, errno, "stat");
		}
	}

	if (S_ISDIR(st.st_mode))
		return push_dir(s, TAKE_FD(fd), name, &st, err);

	if (st.st_nlink > 1) {
		const char *first = link_lookup(s, &st);
		if (first) {
			if (linkat(s->dst_root, first, s->dst, name, 0) < 0)
				return fail_errno(s, err, errno, "creating hard link");
			return 0;
		}
	}

	int r;
	switch (st.st_mode & S_IFMT) {
	case S_IFREG:
		r = copy_regular(s, fd, name, &st, err);
		break;
	case S_IFLNK:
		r = copy_symlink(s, name, &st, err);
		break;
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK:
		r = copy_special(s, name, &st, err);
		break;
	default:
		return cstor_error_set(err, EBADMSG, "copy %s: unknown file type 0%o", display(s),
				       (unsigned)(st.st_mode & S_IFMT));
	}
	if (r < 0)
		return r;
	if (st.st_nlink > 1)
		return link_remember(s, &st, err);
	return 0;
}

int cstor_copy_tree(int src_dirfd, int dst_dirfd, unsigned flags, cstor_error *err)
{
	if (flags & ~(CSTOR_COPY_NO_REFLINK | CSTOR_COPY_NO_XATTRS |
		      CSTOR_COPY_IGNORE_CHOWN_ERRORS | CSTOR_COPY_SKIP_DEVICES))
		return cstor_error_set(err, EINVAL, "copy: unknown flags 0x%x", flags);

	_cleanup_(copy_state_done) struct copy_state s = {
		.flags = flags,
		.try_reflink = !(flags & CSTOR_COPY_NO_REFLINK),
		.try_copy_file_range = true,
		.try_noatime = true,
		.src = -1,
		.dst = -1,
		.dst_root = -1,
	};
	int r = path_set(&s, 0, "", err);
	if (r < 0)
		return r;

	/* Our own fds: the caller's may be O_PATH, and we must not move their
	 * directory offsets. */
	int src_flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
	_cleanup_close_ int src = openat(src_dirfd, ".", src_flags | O_NOATIME);
	if (src < 0 && errno == EPERM) {
		s.try_noatime = false;
		src = openat(src_dirfd, ".", src_flags);
	}
	if (src < 0)
		return fail_errno(&s, err, errno, "opening source");
	s.dst = openat(dst_dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s.dst < 0)
		return fail_errno(&s, err, errno, "opening destination");
	s.dst_root = fcntl(s.dst, F_DUPFD_CLOEXEC, 3);
	if (s.dst_root < 0)
		return fail_errno(&s, err, errno, "dup");
	struct stat st, dst_st;
	if (fstat(src, &st) < 0 || fstat(s.dst, &dst_st) < 0)
		return fail_errno(&s, err, errno, "stat");
	s.dst_root_dev = dst_st.st_dev;
	s.dst_root_ino = dst_st.st_ino;
	if (st.st_dev == dst_st.st_dev && st.st_ino == dst_st.st_ino)
		return cstor_error_set(err, EINVAL, "copy: source and destination are the same");

	/* The root frame: like push_dir, minus creating the directory. */
	s.stack = calloc(32, sizeof(*s.stack));
	if (!s.stack)
		return cstor_error_set(err, ENOMEM, "copy: out of memory");
	s.stack_cap = 32;
	s.stack[0] = (struct frame){
		.st = st, .dst_dev = dst_st.st_dev, .dst_ino = dst_st.st_ino, .path_len = 0
	};
	s.depth = 1;
	r = read_entries(&s, src, &s.stack[0], err);
	if (r < 0)
		return r;
	if (fstat(src, &s.stack[0].st) < 0)
		return fail_errno(&s, err, errno, "stat");
	s.src = TAKE_FD(src);

	while (s.depth > 0) {
		struct frame *f = &s.stack[s.depth - 1];
		if (f->next >= f->names_len) {
			r = pop_dir(&s, err);
			if (r < 0)
				return r;
			continue;
		}
		unsigned char d_type = (unsigned char)f->names[f->next];
		const char *name = f->names + f->next + 1;
		f->next += strlen(name) + 2;
		r = path_set(&s, f->path_len, name, err);
		if (r < 0)
			return r;
		r = copy_entry(&s, name, d_type, err);
		if (r < 0)
			return r;
	}
	return 0;
}
