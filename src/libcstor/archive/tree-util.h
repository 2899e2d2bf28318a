/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers shared by the change computation (changes.c) and the diff export
 * (export.c): safe lookups in hostile layer trees, sorted directory listings,
 * xattrs of entries that must not be opened, and small hash tables.
 *
 * Layer content is never trusted: every lookup is relative to a directory
 * fd, no symlink inside a tree is ever followed, and fds are O_CLOEXEC.
 */
#ifndef CSTOR_ARCHIVE_TREE_UTIL_H
#define CSTOR_ARCHIVE_TREE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <cstor/error.h>

/*
 * Open the directory @path (relative, no "." or ".." components, "" for the
 * root itself) below @root_fd for reading, without following any symlink on
 * the way. Returns the fd or -errno (ENOENT, ENOTDIR, ELOOP when a component
 * is a symlink, ...). Paths longer than PATH_MAX work too.
 */
int cstor_tree__open_dir(int root_fd, const char *path);
/* Use the component-by-component fallback from now on, as on kernels
 * without openat2 (for tests). */
void cstor_tree__disable_openat2(void);

/* The entries of one directory, sorted bytewise by name like Go's
 * os.ReadDir / filepath.Walk order. Buffers are reused between reads. */
struct cstor_tree__entry {
	size_t off; /* of the name in buf */
	uint64_t ino;
	unsigned char type; /* DT_* from getdents, DT_UNKNOWN possible */
};

struct cstor_tree__names {
	char *buf;
	size_t len, cap;
	struct cstor_tree__entry *v;
	size_t n, cap_v;
};

int cstor_tree__read_names(struct cstor_tree__names *l, int dirfd);
void cstor_tree__names_done(struct cstor_tree__names *l);

static inline const char *cstor_tree__name(const struct cstor_tree__names *l, size_t i)
{
	return l->buf + l->v[i].off;
}

/*
 * Depth-first walk over directories without recursion, fds or per-level
 * copies of the path: @fn processes one directory completely (open it by
 * @rel below its root, classify its entries) and lists the subdirectories
 * to visit next with cstor_tree__sub_add(), each with @extra_len bytes of
 * caller data that come back as @extra when it is visited. Memory is the
 * pending subdirectory names along the current path plus one path.
 */
struct cstor_tree__subs {
	char *names;
	size_t len, cap, pos;
	unsigned char *extra;
	size_t elen, ecap, epos;
};

int cstor_tree__sub_add(struct cstor_tree__subs *s, const char *name, const void *extra,
			size_t extra_len);

typedef int (*cstor_tree__dir_fn)(void *ctx, const char *rel, const unsigned char *extra,
				  struct cstor_tree__subs *subs, cstor_error *err);

/* @fn is first called for the root with rel "" and @root_extra. Stops at
 * the first error @fn returns. */
int cstor_tree__walk(size_t extra_len, const unsigned char *root_extra, cstor_tree__dir_fn fn,
		     void *ctx, cstor_error *err);

/* "/proc/self/fd/<dirfd>/<name>": with the l*xattr calls this reaches the
 * entry itself (a symlink stays a symlink) through the directory fd, for
 * entries that cannot or must not be opened (symlinks, devices, fifos). */
#define CSTOR_TREE_PROC_PATH_MAX (32 + 256)
void cstor_tree__proc_path(char *buf, int dirfd, const char *name);

/* Grow-on-ERANGE buffers for xattr calls. */
struct cstor_tree__xbuf {
	char *list;
	size_t list_cap;
	char *value;
	size_t value_cap;
};

void cstor_tree__xbuf_done(struct cstor_tree__xbuf *b);
/* List xattr names of @fd (if >= 0) or @path (l-variant) into b->list.
 * Returns the byte length, 0 when the filesystem has no xattrs, or -errno. */
ssize_t cstor_tree__listxattr(struct cstor_tree__xbuf *b, int fd, const char *path);
/* Value into b->value: its length, -ENODATA when absent, or -errno. */
ssize_t cstor_tree__getxattr(struct cstor_tree__xbuf *b, int fd, const char *path,
			     const char *key);

/* Device numbers as containers/storage computes them (pkg/archive
 * archive_unix.go): 12-bit major, 20-bit minor. Used both for tar headers
 * and to recognise overlay whiteouts, so that both agree with Go even for
 * numbers the formula truncates. */
static inline uint64_t cstor_tree__go_major(dev_t rdev)
{
	return ((uint64_t)rdev >> 8) & 0xfff;
}

static inline uint64_t cstor_tree__go_minor(dev_t rdev)
{
	return ((uint64_t)rdev & 0xff) | (((uint64_t)rdev >> 12) & 0xfff00);
}

/* An overlay whiteout: a character device 0/0. */
static inline bool cstor_tree__is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && cstor_tree__go_major(st->st_rdev) == 0 &&
	       cstor_tree__go_minor(st->st_rdev) == 0;
}

/*
 * Open-addressing map from a pair of 64-bit keys (dev and inode, or an ID
 * and 0) to an owned string (may be NULL). Used for hard links, uname/gname
 * caches and size accounting.
 */
struct cstor_tree__map_slot {
	uint64_t k1, k2;
	char *value;
	bool used;
};

struct cstor_tree__map {
	struct cstor_tree__map_slot *slots;
	size_t n, cap;
};

/* The slot of the key, or NULL. */
struct cstor_tree__map_slot *cstor_tree__map_get(const struct cstor_tree__map *m, uint64_t k1,
						 uint64_t k2);
/* Insert (the key must be absent); takes @value. -ENOMEM (value freed). */
int cstor_tree__map_put(struct cstor_tree__map *m, uint64_t k1, uint64_t k2, char *value);
void cstor_tree__map_done(struct cstor_tree__map *m);

/* Go's time rounding to whole seconds (half away from zero for times after
 * 1970), as archive/tar's writer applies to header times it is given. */
int64_t cstor_tree__round_seconds(const struct timespec *ts);

#endif
