/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util/error-internal.h"
#include "util/cleanup.h"
#include "util/macro.h"

#include "tree-util.h"

/* Set once openat2 turned out to be missing (kernels before 5.6, some
 * seccomp filters); the component walk below does the same job. */
static int no_openat2;

/* One component at a time: each openat names a single entry with
 * O_NOFOLLOW, so a symlink anywhere fails with ELOOP/ENOTDIR instead of
 * being followed. */
static int open_dir_walk(int root_fd, const char *path)
{
	_cleanup_close_ int cur = -1;
	const char *p = path;
	char comp[NAME_MAX + 1];
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (len == 0 || len > NAME_MAX)
			return len ? -ENAMETOOLONG : -EINVAL;
		memcpy(comp, p, len);
		comp[len] = 0;
		int flags = O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | (slash ? O_PATH : O_RDONLY);
		int fd = openat(cur >= 0 ? cur : root_fd, comp, flags);
		if (fd < 0)
			return -errno;
		closep(&cur);
		cur = fd;
		if (!slash)
			return TAKE_FD(cur);
		p = slash + 1;
	}
}

static int openat2_dir(int dirfd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	return fd < 0 ? -errno : (int)fd;
}

/* A path longer than PATH_MAX, in pieces that fit, each below the last. */
static int open_dir_pieces(int root_fd, const char *path)
{
	_cleanup_close_ int cur = -1;
	char piece[PATH_MAX];
	const char *p = path;
	for (;;) {
		size_t len = strlen(p);
		bool last = len < sizeof(piece);
		if (!last) {
			len = sizeof(piece) - 1;
			while (len > 0 && p[len] != '/')
				len--;
			if (len == 0)
				return -ENAMETOOLONG;
		}
		memcpy(piece, p, len);
		piece[len] = 0;
		int fd = openat2_dir(cur >= 0 ? cur : root_fd, piece, last ? O_RDONLY : O_PATH);
		if (fd < 0)
			return fd;
		closep(&cur);
		cur = fd;
		if (last)
			return TAKE_FD(cur);
		p += len + 1;
	}
}

void cstor_tree__disable_openat2(void)
{
	__atomic_store_n(&no_openat2, 1, __ATOMIC_RELAXED);
}

int cstor_tree__open_dir(int root_fd, const char *path)
{
	if (!path[0]) {
		int fd = openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		return fd < 0 ? -errno : fd;
	}
	if (!__atomic_load_n(&no_openat2, __ATOMIC_RELAXED)) {
		int fd = openat2_dir(root_fd, path, O_RDONLY);
		if (fd == -ENAMETOOLONG)
			fd = open_dir_pieces(root_fd, path);
		if (fd >= 0)
			return fd;
		/* EAGAIN: a concurrent rename made the kernel give up; the
		 * component walk has no such retry condition. */
		if (fd == -ENOSYS || fd == -EPERM)
			__atomic_store_n(&no_openat2, 1, __ATOMIC_RELAXED);
		else if (fd != -EAGAIN)
			return fd;
	}
	return open_dir_walk(root_fd, path);
}

static int name_cmp(const void *a, const void *b, void *buf)
{
	const struct cstor_tree__entry *x = a, *y = b;
	return strcmp((const char *)buf + x->off, (const char *)buf + y->off);
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

int cstor_tree__read_names(struct cstor_tree__names *l, int dirfd)
{
	/* getdents on our own fd: no DIR allocation, and the caller's offset
	 * is ours to move (every fd passed here was opened for this read). */
	_Alignas(8) char dbuf[32 * 1024];
	l->len = 0;
	l->n = 0;
	if (lseek(dirfd, 0, SEEK_SET) < 0)
		return -errno;
	for (;;) {
		long n = syscall(SYS_getdents64, dirfd, dbuf, sizeof(dbuf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		for (long pos = 0; pos < n;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(dbuf + pos);
			pos += d->d_reclen;
			const char *nm = d->d_name;
			/* Go's readdirnames skips ino 0 (a deleted slot). */
			if (d->d_ino == 0 || streq(nm, ".") || streq(nm, ".."))
				continue;
			size_t nl = strlen(nm) + 1;
			if (l->len + nl > l->cap) {
				size_t cap = MAX(l->cap * 2, l->len + nl + 256);
				char *p = realloc(l->buf, cap);
				if (!p)
					return -ENOMEM;
				l->buf = p;
				l->cap = cap;
			}
			if (l->n == l->cap_v) {
				size_t cap = l->cap_v ? l->cap_v * 2 : 16;
				struct cstor_tree__entry *v = realloc(l->v, cap * sizeof(*v));
				if (!v)
					return -ENOMEM;
				l->v = v;
				l->cap_v = cap;
			}
			memcpy(l->buf + l->len, nm, nl);
			l->v[l->n++] = (struct cstor_tree__entry){ l->len, d->d_ino, d->d_type };
			l->len += nl;
		}
	}
	if (l->n > 1)
		qsort_r(l->v, l->n, sizeof(*l->v), name_cmp, l->buf);
	return 0;
}

void cstor_tree__names_done(struct cstor_tree__names *l)
{
	free(l->buf);
	free(l->v);
	*l = (struct cstor_tree__names){ 0 };
}

void cstor_tree__proc_path(char *buf, int dirfd, const char *name)
{
	snprintf(buf, CSTOR_TREE_PROC_PATH_MAX, "/proc/self/fd/%d/%s", dirfd, name);
}

void cstor_tree__xbuf_done(struct cstor_tree__xbuf *b)
{
	free(b->list);
	free(b->value);
	*b = (struct cstor_tree__xbuf){ 0 };
}

/* Call @fn with the buffer, growing it on ERANGE (the attribute may grow
 * between the size query and the read, hence the loop). */
static ssize_t grow_call(char **buf, size_t *cap, int fd, const char *path, const char *key)
{
	for (;;) {
		if (!*buf) {
			*cap = 256;
			*buf = malloc(*cap);
			if (!*buf)
				return -ENOMEM;
		}
		ssize_t n;
		if (key)
			n = fd >= 0 ? fgetxattr(fd, key, *buf, *cap) : lgetxattr(path, key, *buf, *cap);
		else
			n = fd >= 0 ? flistxattr(fd, *buf, *cap) : llistxattr(path, *buf, *cap);
		if (n >= 0)
			return n;
		if (errno != ERANGE)
			return -errno;
		if (key)
			n = fd >= 0 ? fgetxattr(fd, key, NULL, 0) : lgetxattr(path, key, NULL, 0);
		else
			n = fd >= 0 ? flistxattr(fd, NULL, 0) : llistxattr(path, NULL, 0);
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

ssize_t cstor_tree__listxattr(struct cstor_tree__xbuf *b, int fd, const char *path)
{
	ssize_t n = grow_call(&b->list, &b->list_cap, fd, path, NULL);
	if (n == -ENOTSUP)
		return 0;
	return n;
}

ssize_t cstor_tree__getxattr(struct cstor_tree__xbuf *b, int fd, const char *path,
			     const char *key)
{
	return grow_call(&b->value, &b->value_cap, fd, path, key);
}

static size_t map_slot(const struct cstor_tree__map *m, uint64_t k1, uint64_t k2)
{
	uint64_t h = k2 * 0x9e3779b97f4a7c15ull ^ k1 * 0xc2b2ae3d27d4eb4full;
	h ^= h >> 29;
	size_t mask = m->cap - 1;
	size_t i = (size_t)h & mask;
	while (m->slots[i].used && !(m->slots[i].k1 == k1 && m->slots[i].k2 == k2))
		i = (i + 1) & mask;
	return i;
}

struct cstor_tree__map_slot *cstor_tree__map_get(const struct cstor_tree__map *m, uint64_t k1,
						 uint64_t k2)
{
	if (m->n == 0)
		return NULL;
	struct cstor_tree__map_slot *s = &m->slots[map_slot(m, k1, k2)];
	return s->used ? s : NULL;
}

int cstor_tree__map_put(struct cstor_tree__map *m, uint64_t k1, uint64_t k2, char *value)
{
	if ((m->n + 1) * 2 > m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		struct cstor_tree__map_slot *old = m->slots;
		size_t old_cap = m->cap;
		m->slots = calloc(cap, sizeof(*m->slots));
		if (!m->slots) {
			m->slots = old;
			free(value);
			return -ENOMEM;
		}
		m->cap = cap;
		for (size_t i = 0; i < old_cap; i++)
			if (old[i].used)
				m->slots[map_slot(m, old[i].k1, old[i].k2)] = old[i];
		free(old);
	}
	m->slots[map_slot(m, k1, k2)] = (struct cstor_tree__map_slot){ k1, k2, value, true };
	m->n++;
	return 0;
}

void cstor_tree__map_done(struct cstor_tree__map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].used)
			free(m->slots[i].value);
	free(m->slots);
	*m = (struct cstor_tree__map){ 0 };
}

int64_t cstor_tree__round_seconds(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec + (ts->tv_nsec >= 500000000 ? 1 : 0);
}

int cstor_tree__sub_add(struct cstor_tree__subs *s, const char *name, const void *extra,
			size_t extra_len)
{
	size_t nl = strlen(name) + 1;
	if (s->len + nl > s->cap) {
		size_t cap = MAX(s->cap * 2, s->len + nl + 256);
		char *p = realloc(s->names, cap);
		if (!p)
			return -ENOMEM;
		s->names = p;
		s->cap = cap;
	}
	if (extra_len && s->elen + extra_len > s->ecap) {
		size_t cap = MAX(s->ecap * 2, s->elen + extra_len + 64);
		unsigned char *p = realloc(s->extra, cap);
		if (!p)
			return -ENOMEM;
		s->extra = p;
		s->ecap = cap;
	}
	memcpy(s->names + s->len, name, nl);
	s->len += nl;
	if (extra_len) {
		memcpy(s->extra + s->elen, extra, extra_len);
		s->elen += extra_len;
	}
	return 0;
}

struct walk_frame {
	size_t path_len;
	struct cstor_tree__subs subs;
};

struct walk {
	struct walk_frame *v;
	size_t depth, cap; /* frames past depth keep their buffers for reuse */
	char *path;
	size_t path_cap;
};

static void walk_done(struct walk *w)
{
	for (size_t i = 0; i < w->cap; i++) {
		free(w->v[i].subs.names);
		free(w->v[i].subs.extra);
	}
	free(w->v);
	free(w->path);
}

static int walk_push(struct walk *w, size_t path_len)
{
	if (w->depth == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		struct walk_frame *v = realloc(w->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		memset(v + w->cap, 0, (cap - w->cap) * sizeof(*v));
		w->v = v;
		w->cap = cap;
	}
	struct walk_frame *f = &w->v[w->depth++];
	f->path_len = path_len;
	f->subs.len = f->subs.pos = f->subs.elen = f->subs.epos = 0;
	return 0;
}

int cstor_tree__walk(size_t extra_len, const unsigned char *root_extra, cstor_tree__dir_fn fn,
		     void *ctx, cstor_error *err)
{
	_cleanup_(walk_done) struct walk w = { 0 };
	w.path_cap = 256;
	w.path = malloc(w.path_cap);
	if (!w.path || walk_push(&w, 0) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	w.path[0] = 0;
	int r = fn(ctx, w.path, root_extra, &w.v[0].subs, err);
	while (r >= 0 && w.depth > 0) {
		struct walk_frame *f = &w.v[w.depth - 1];
		if (f->subs.pos >= f->subs.len) {
			w.depth--;
			continue;
		}
		const char *name = f->subs.names + f->subs.pos;
		size_t nl = strlen(name);
		const unsigned char *extra = f->subs.extra ? f->subs.extra + f->subs.epos : NULL;
		f->subs.pos += nl + 1;
		f->subs.epos += extra_len;
		size_t len = f->path_len + (f->path_len ? 1 : 0) + nl;
		if (len + 1 > w.path_cap) {
			size_t cap = MAX(w.path_cap * 2, len + 1);
			char *p = realloc(w.path, cap);
			if (!p)
				return cstor_error_set(err, ENOMEM, "out of memory");
			w.path = p;
			w.path_cap = cap;
		}
		char *o = w.path + f->path_len;
		if (f->path_len)
			*o++ = '/';
		memcpy(o, name, nl + 1);
		/* The parent's buffers (name, extra) stay put: only the frame
		 * array moves when it grows. */
		if (walk_push(&w, len) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
		r = fn(ctx, w.path, extra, &w.v[w.depth - 1].subs, err);
	}
	return r < 0 ? r : 0;
}
