/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared state of the layer extraction (apply.c), its path resolution inside
 * the root (apply-resolve.c) and whiteout handling (apply-whiteout.c). Not
 * for use outside these files.
 */
#ifndef CSTOR_ARCHIVE_APPLY_INTERNAL_H
#define CSTOR_ARCHIVE_APPLY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "apply.h"

/* Go's archive/pkg whiteout names. */
#define WH_PREFIX ".wh."
#define WH_META_PREFIX ".wh..wh."
#define WH_LINK_DIR ".wh..wh.plnk"
#define WH_OPAQUE ".wh..wh..opq"

/* A set of relative paths (exact byte match). */
struct apply_pathset {
	struct apply_pathset_slot {
		char *s; /* NULL = free slot */
		size_t len;
		uint64_t hash;
	} *slots;
	size_t n, cap;
};

int apply_pathset_add(struct apply_pathset *set, const char *s, size_t len);
bool apply_pathset_has(const struct apply_pathset *set, const char *s, size_t len);
void apply_pathset_free(struct apply_pathset *set);

/* A directory whose times are restored after the archive. */
struct apply_dirtime {
	char *path; /* relative, "" for the root */
	struct timespec atime, mtime;
};

/* A regular file under the top-level ".wh..wh.plnk/" kept aside as the
 * source of AUFS hard links; the contents of all of them go one after the
 * other into one unnamed file (apply.plnk_fd). */
struct apply_plnk {
	char *base;
	uint64_t off, len;
	int64_t mode, uid, gid;
	struct timespec mtime, atime;
	bool has_atime;
	struct cstor_tar_xattr *xattrs; /* only those Go would set */
	size_t n_xattrs;
};

struct apply {
	int root_fd;
	const struct cstor_apply_options *o;
	cstor_tar_reader *r;
	struct cstor_apply_stats *stats;

	/* The last parent directory used: most members follow their
	 * siblings, so this saves a resolution from the root per member.
	 * Any removal in the tree may change what a path resolves to and
	 * drops the key (the fd stays open while a caller may hold it). */
	char *cache_path;
	size_t cache_len, cache_cap;
	bool cache_valid;
	int cache_fd;

	mode_t umask;
	int in_userns; /* -1 = not checked yet */

	struct apply_pathset unpacked; /* EXECUTE: paths this archive created */
	struct apply_dirtime *dirs;
	size_t n_dirs, cap_dirs;
	struct apply_plnk *plnk;
	size_t n_plnk;
	int plnk_fd;
	uint64_t plnk_end;
};

/* ---- apply-create.c ---- */

/* Whether Go sees xattr @i of @h: it reads SCHILY.xattr.* records only,
 * the reader also decodes LIBARCHIVE.xattr.*. */
bool apply_xattr_from_go(const cstor_tar_header *h, size_t i);

/* Go's system.Chtimes range: outside 1970..2262 means 1970. */
struct timespec apply_go_clamp(struct timespec t);

/* Remove whatever is at @name below @pfd (Go's RemoveAll before a member
 * takes its place), never following or opening it. */
int apply_remove_existing(struct apply *a, int pfd, const char *name, cstor_error *err);

/*
 * Create member @h as @base in the directory @pfd, replacing what is there
 * (a directory over a directory merges), then set its metadata. Regular
 * files take the member's content, or @src_len bytes at @src_off of
 * @src_fd with @xattrs (already filtered) when @src_fd >= 0 (AUFS hard
 * links). A directory becomes the cached parent for @rel.
 */
int apply_create_regular(struct apply *a, const cstor_tar_header *h, int pfd, const char *base,
			 int src_fd, uint64_t src_off, uint64_t src_len,
			 const struct cstor_tar_xattr *xattrs, size_t n_xattrs, cstor_error *err);
int apply_create_dir(struct apply *a, const cstor_tar_header *h, int pfd, const char *rel,
		     size_t rel_len, const char *base, cstor_error *err);
int apply_create_symlink(struct apply *a, const cstor_tar_header *h, int pfd, const char *base,
			 cstor_error *err);
int apply_create_node(struct apply *a, const cstor_tar_header *h, int pfd, const char *base,
		      cstor_error *err);
int apply_create_hardlink(struct apply *a, const cstor_tar_header *h, int pfd, const char *base,
			  cstor_error *err);
/* The "./" member's owner, mode and xattrs on the root (times at the end). */
int apply_root_meta(struct apply *a, const cstor_tar_header *h, cstor_error *err);

/* ---- apply-resolve.c ---- */

/* Go's filepath.Join("/", clean) made relative (@clean is filepath.Clean
 * output): leading "/" and "../" stop at the root. "" is the root. Points
 * into @clean. */
const char *apply_confine(const char *clean, size_t len, size_t *ret_len);
/* ENAMETOOLONG, with a message, for paths of PATH_MAX or more and
 * components over NAME_MAX. */
int apply_check_name(const char *p, size_t len, const char *what, cstor_error *err);
/* Length of the directory part of @p (no trailing slash), base in *base. */
size_t apply_split(const char *p, size_t len, const char **base);

/* Open the directory @path (relative, cleaned, not empty) inside the root,
 * following symlinks inside it: an O_PATH fd. -errno, no message. */
int apply_resolve_dir(int root_fd, const char *path, int *ret_fd);

/*
 * The directory @dir (@len bytes, "" = the root) for creating an entry in
 * it: a borrowed fd, valid until the next apply_parent() or the end of the
 * apply. With @create, missing directories are made (0755) when Go would
 * make them: only when the path does not exist as seen by lstat(), so a
 * dangling symlink gives -ENOENT. Sets @err.
 */
int apply_parent(struct apply *a, const char *dir, size_t len, bool create, int *ret_fd,
		 cstor_error *err);
/* Make @fd (owned) the cached directory @path. */
void apply_cache_set(struct apply *a, const char *path, size_t len, int fd);
void apply_cache_invalidate(struct apply *a);

/* lsetxattr() of @name below @dfd, never following it. -errno. */
int apply_setxattr_at(int dfd, const char *name, const char *key, const void *value, size_t len);

bool apply_in_userns(struct apply *a);
mode_t apply_read_umask(void);

/* ---- apply-whiteout.c ---- */

/* EXECUTE: remove @dir/@target (cleaned relative dir of @dir_len bytes). */
int apply_whiteout_remove(struct apply *a, const char *dir, size_t dir_len, const char *target,
			  cstor_error *err);
/* EXECUTE: empty @dir of everything not in a->unpacked. */
int apply_whiteout_opaque(struct apply *a, const char *dir, size_t dir_len, cstor_error *err);
/* OVERLAY: char device 0/0 for @target in @pfd, owned by the member. */
int apply_whiteout_mknod(struct apply *a, int pfd, const char *target, const cstor_tar_header *h,
			 cstor_error *err);
/* OVERLAY: opaque xattr on the directory @pfd. */
int apply_whiteout_opaque_xattr(struct apply *a, int pfd, cstor_error *err);

/* EXECUTE: keep the current member (a regular file under .wh..wh.plnk/). */
int apply_plnk_save(struct apply *a, const cstor_tar_header *h, const char *base,
		    cstor_error *err);
const struct apply_plnk *apply_plnk_find(const struct apply *a, const char *base);
void apply_plnk_free(struct apply *a);

#endif
