/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Creating one member of a layer in its parent directory, with its owner,
 * mode, times and xattrs set in Go's order. Every call works on a name in
 * an fd of its directory, never follows that name, and never opens a
 * device or fifo.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util/error-internal.h"
#include "util/cleanup.h"
#include "util/rm.h"

#include "apply-internal.h"
#include "tar-internal.h"

/* ---- times ---- */

/* time.Unix(0, 1<<63-1): the end of Go's Chtimes range. */
static const struct timespec go_max_time = { 9223372036, 854775807 };
/* Go's zero time.Time (year 1) in Unix seconds. */
#define GO_ZERO_SEC (-62135596800LL)

static bool ts_before(struct timespec a, struct timespec b)
{
	return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

/* system.Chtimes: outside 1970..2262 means 1970. */
struct timespec apply_go_clamp(struct timespec t)
{
	if (t.tv_sec < 0 || ts_before(go_max_time, t))
		return (struct timespec){ 0, 0 };
	return t;
}

/* createTarFile's times: atime no earlier than mtime; clamped except for
 * symlinks, where Go's zero time means "leave as is". */
static void entry_times(const struct timespec *mtime, const struct timespec *atime,
			bool has_atime, bool clamp, struct timespec ts[2])
{
	struct timespec at = has_atime ? *atime : (struct timespec){ GO_ZERO_SEC, 0 };
	if (ts_before(at, *mtime))
		at = *mtime;
	if (clamp) {
		ts[0] = apply_go_clamp(at);
		ts[1] = apply_go_clamp(*mtime);
		return;
	}
	ts[0] = at;
	ts[1] = *mtime;
	for (int i = 0; i < 2; i++)
		if (ts[i].tv_sec == GO_ZERO_SEC && ts[i].tv_nsec == 0)
			ts[i].tv_nsec = UTIME_OMIT;
}

/* ---- metadata ---- */

/* xattrs that overlayfs interprets (trusted.overlay.*, or user.overlay.*
 * with userxattr): opaque directories, redirects, origins, metacopy. Set
 * from a tarball they would let a layer hide or redirect its parents'
 * files, so they are never taken from one; the store sets the ones it
 * means itself (whiteouts). containers/storage applies them. */
static bool xattr_reserved(const char *name)
{
	return startswith(name, "trusted.overlay.") || startswith(name, "user.overlay.");
}


/* What to set on a new or merged inode; @fd is an open fd of it, or -1 to
 * work by name (@name below @pfd, never following it). */
struct meta {
	const cstor_tar_header *h;
	int fd, pfd;
	const char *name;
	bool chmod, times, clamp_times;
	/* xattrs already filtered (AUFS copies); else the header's */
	const struct cstor_tar_xattr *xattrs;
	size_t n_xattrs;
};

static int set_meta(struct apply *a, const struct meta *m, cstor_error *err)
{
	const cstor_tar_header *h = m->h;
	/* copy --chown names the owner (container IDs, mapped as a header's). */
	uint32_t uid = a->o->chown ? a->o->chown_uid : (uint32_t)h->uid;
	uint32_t gid = a->o->chown ? a->o->chown_gid : (uint32_t)h->gid;
	const struct cstor_idmaps *maps = a->o->maps;
	if (maps && (cstor_idmap_to_host(maps->uids, maps->n_uids, uid, &uid) < 0 ||
		     cstor_idmap_to_host(maps->gids, maps->n_gids, gid, &gid) < 0))
		return cstor_error_set(err, EINVAL,
				       "owner %" PRId64 ":%" PRId64 " cannot be mapped to a host ID "
				       "by the layer's ID mappings",
				       (int64_t)uid, (int64_t)gid);
	int r = m->fd >= 0 ? fchown(m->fd, (uid_t)uid, (gid_t)gid)
			   : fchownat(m->pfd, m->name, (uid_t)uid, (gid_t)gid,
				      AT_SYMLINK_NOFOLLOW);
	if (r < 0 && !(a->o->ignore_chown_errors && (errno == EPERM || errno == EINVAL))) {
		/* Say what works: an unprivileged user gives files away only
		 * inside a user namespace that maps the IDs. */
		if ((errno == EPERM || errno == EINVAL) && geteuid() != 0)
			return cstor_error_errno(
				err, errno,
				"chown to %" PRId64 ":%" PRId64 " (an unprivileged user cannot give "
				"files to other IDs: run in a user namespace, `podman unshare cstor "
				"...` or `unshare -rm cstor ...`, or set the driver option "
				"ignore_chown_errors=true to keep the files yours)",
				(int64_t)uid, (int64_t)gid);
		return cstor_error_errno(err, errno, "chown to %" PRId64 ":%" PRId64, (int64_t)uid,
					 (int64_t)gid);
	}

	/* After chown, which clears setuid/setgid. */
	if (m->chmod) {
		mode_t mode = (mode_t)(h->mode & 07777);
		r = m->fd >= 0 ? fchmod(m->fd, mode) : fchmodat(m->pfd, m->name, mode, 0);
		if (r < 0)
			return cstor_error_errno(err, errno, "chmod to %04o", (unsigned)mode);
	}

	if (m->times) {
		struct timespec ts[2];
		entry_times(&h->mtime, &h->atime, h->has_atime, m->clamp_times, ts);
		r = m->fd >= 0 ? futimens(m->fd, ts)
			       : utimensat(m->pfd, m->name, ts, AT_SYMLINK_NOFOLLOW);
		if (r < 0)
			return cstor_error_errno(err, errno, "set times");
	}

	const struct cstor_tar_xattr *x = m->xattrs ? m->xattrs : h->xattrs;
	size_t nx = m->xattrs ? m->n_xattrs : h->n_xattrs;
	for (size_t i = 0; i < nx; i++) {
		if (streq(x[i].name, "security.selinux") || xattr_reserved(x[i].name))
			continue;
		if (!m->xattrs && !apply_xattr_from_go(h, i))
			continue;
		r = m->fd >= 0 ? RET_NERRNO(fsetxattr(m->fd, x[i].name, x[i].value,
						       x[i].value_len, 0))
			       : apply_setxattr_at(m->pfd, m->name, x[i].name, x[i].value,
						   x[i].value_len);
		/* Like Go: a filesystem without xattrs (or that namespace)
		 * loses them; in a user namespace so do privileged ones. */
		if (r == -EOPNOTSUPP || (r == -EPERM && apply_in_userns(a)))
			continue;
		if (r < 0)
			return cstor_error_errno(err, r, "set xattr %s", x[i].name);
	}
	return 0;
}

/* Whether a mode given at creation may differ from the wanted one: the
 * umask took bits, or chown will clear setuid/setgid. */
static bool creation_mode_inexact(struct apply *a, int64_t mode)
{
	return (mode & (06000 | (int64_t)a->umask)) != 0;
}

/* ---- creating entries ---- */

/* Make room for a new entry at @name: whatever is there goes (Go's
 * RemoveAll). Never opens or follows it. */
int apply_remove_existing(struct apply *a, int pfd, const char *name, cstor_error *err)
{
	apply_cache_invalidate(a);
	int r = cstor_rm_rf_at(pfd, name, err);
	return r < 0 ? cstor_error_wrap(err, r, "replace existing") : 0;
}

static int write_all(int fd, const void *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p = (const char *)p + w;
		n -= (size_t)w;
	}
	return 0;
}

/* The content of a new regular file: the current member's, or @len bytes
 * at @off of @src_fd (an AUFS hard link source). */
static int copy_content(struct apply *a, int fd, int src_fd, uint64_t off, uint64_t len,
			cstor_error *err)
{
	/* Straight out of the reader's buffer: no copy in between. */
	if (src_fd < 0)
		return cstor_tar_reader_copy_to_fd(a->r, fd, err);
	loff_t in = (loff_t)off;
	while (len > 0) {
		ssize_t n = copy_file_range(src_fd, &in, fd, NULL, (size_t)MIN(len, 1u << 30), 0);
		if (n > 0) {
			len -= (uint64_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || (errno != EXDEV && errno != EINVAL && errno != ENOSYS &&
			       errno != EOPNOTSUPP))
			return cstor_error_errno(err, n == 0 ? EIO : errno, "copy AUFS hard link");
		break;
	}
	_cleanup_free_ char *buf = len ? malloc(128 * 1024) : NULL;
	if (len && !buf)
		return cstor_error_set(err, ENOMEM, "out of memory");
	while (len > 0) {
		ssize_t n = pread(src_fd, buf, (size_t)MIN(len, 128u * 1024), in);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return cstor_error_errno(err, n == 0 ? EIO : errno, "read AUFS hard link");
		int r = write_all(fd, buf, (size_t)n);
		if (r < 0)
			return cstor_error_errno(err, r, "write");
		in += n;
		len -= (uint64_t)n;
	}
	return 0;
}

int apply_create_regular(struct apply *a, const cstor_tar_header *h, int pfd, const char *base,
			  int src_fd, uint64_t src_off, uint64_t src_len,
			  const struct cstor_tar_xattr *xattrs, size_t n_xattrs, cstor_error *err)
{
	/* O_EXCL: never writes through whatever is there (a symlink, a
	 * device, a file hard-linked elsewhere); that is replaced. */
	const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC;
	mode_t mode = (mode_t)(h->mode & 07777);
	_cleanup_close_ int fd = openat(pfd, base, flags, mode);
	if (fd < 0 && errno == EEXIST) {
		int r = apply_remove_existing(a, pfd, base, err);
		if (r < 0)
			return r;
		fd = openat(pfd, base, flags, mode);
	}
	if (fd < 0)
		return cstor_error_errno(err, errno, "create file");
	int r = copy_content(a, fd, src_fd, src_off, src_len, err);
	if (r < 0)
		return r;
	/* Asynchronous: it only queues the dirty pages for writing. Best
	 * effort: the final sync is what makes the file durable. */
	if (a->o->start_writeback && h->size > 0)
		(void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	struct meta m = {
		.h = h, .fd = fd, .pfd = pfd, .name = base,
		.chmod = creation_mode_inexact(a, h->mode), .times = true, .clamp_times = true,
		.xattrs = xattrs, .n_xattrs = n_xattrs,
	};
	return set_meta(a, &m, err);
}

int apply_create_dir(struct apply *a, const cstor_tar_header *h, int pfd, const char *rel,
		      size_t rel_len, const char *base, cstor_error *err)
{
	mode_t mode = (mode_t)(h->mode & 07777);
	if (mkdirat(pfd, base, mode) < 0) {
		if (errno != EEXIST)
			return cstor_error_errno(err, errno, "create directory");
		/* A directory over a directory merges; anything else goes. */
		struct stat st;
		if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return cstor_error_errno(err, errno, "stat existing");
		if (!S_ISDIR(st.st_mode)) {
			int r = apply_remove_existing(a, pfd, base, err);
			if (r < 0)
				return r;
			if (mkdirat(pfd, base, mode) < 0)
				return cstor_error_errno(err, errno, "create directory");
		}
	}
	int fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cstor_error_errno(err, errno, "open directory");
	/* Times come at the end, after the content. The mode always: a merged
	 * directory has its old one, a new one may have inherited setgid. */
	struct meta m = { .h = h, .fd = fd, .pfd = pfd, .name = base, .chmod = true };
	int r = set_meta(a, &m, err);
	if (r < 0) {
		close(fd);
		return r;
	}
	/* Its members most likely come next. Last: @pfd may be the old
	 * cached fd this closes. */
	apply_cache_set(a, rel, rel_len, fd);
	return 0;
}

int apply_create_symlink(struct apply *a, const cstor_tar_header *h, int pfd, const char *base,
			  cstor_error *err)
{
	if (symlinkat(h->linkname, pfd, base) < 0) {
		if (errno != EEXIST)
			return cstor_error_errno(err, errno, "create symlink");
		int r = apply_remove_existing(a, pfd, base, err);
		if (r < 0)
			return r;
		if (symlinkat(h->linkname, pfd, base) < 0)
			return cstor_error_errno(err, errno, "create symlink");
	}
	struct meta m = { .h = h, .fd = -1, .pfd = pfd, .name = base, .times = true };
	return set_meta(a, &m, err);
}

/* system.Mkdev: Go packs major/minor into 32 bits, dropping higher ones. */
static dev_t go_mkdev(int64_t major, int64_t minor)
{
	return (dev_t)(uint32_t)(((minor & 0xfff00) << 12) | ((major & 0xfff) << 8) |
				 (minor & 0xff));
}

int apply_create_node(struct apply *a, const cstor_tar_header *h, int pfd, const char *base,
		       cstor_error *err)
{
	mode_t type = h->typeflag == '3' ? S_IFCHR : h->typeflag == '4' ? S_IFBLK : S_IFIFO;
	mode_t mode = type | (mode_t)(h->mode & 07777);
	dev_t dev = type == S_IFIFO ? 0 : go_mkdev(h->devmajor, h->devminor);
	int r = RET_NERRNO(mknodat(pfd, base, mode, dev));
	if (r == -EEXIST) {
		r = apply_remove_existing(a, pfd, base, err);
		if (r < 0)
			return r;
		r = RET_NERRNO(mknodat(pfd, base, mode, dev));
	}
	/* Devices cannot be made in a user namespace; Go skips them there. */
	if (r == -EPERM && type != S_IFIFO && apply_in_userns(a))
		return 0;
	if (r < 0)
		return cstor_error_errno(err, r, "create %s",
					 type == S_IFIFO ? "fifo" : "device node");
	/* By name: a device is never opened. */
	struct meta m = {
		.h = h, .fd = -1, .pfd = pfd, .name = base,
		.chmod = creation_mode_inexact(a, h->mode), .times = true, .clamp_times = true,
	};
	return set_meta(a, &m, err);
}

/* Resolve a hard link target inside the root: its directory in *ret_pfd
 * (owned; -1 for the root itself, use a->root_fd) and its stat. */
static int link_target(struct apply *a, const char *trel, size_t tlen, int *ret_pfd,
		       struct stat *st, cstor_error *err)
{
	const char *tbase;
	size_t td = apply_split(trel, tlen, &tbase);
	int tpfd = -1;
	if (td > 0) {
		_cleanup_free_ char *tdir = strndup(trel, td);
		if (!tdir)
			return cstor_error_set(err, ENOMEM, "out of memory");
		int r = apply_resolve_dir(a->root_fd, tdir, &tpfd);
		if (r < 0)
			return cstor_error_errno(err, r, "hard link target \"%.*s\"", (int)tlen,
						 trel);
	}
	if (fstatat(tpfd >= 0 ? tpfd : a->root_fd, tbase, st, AT_SYMLINK_NOFOLLOW) < 0) {
		int e = errno;
		if (tpfd >= 0)
			close(tpfd);
		return cstor_error_errno(err, e, "hard link target \"%.*s\"", (int)tlen, trel);
	}
	*ret_pfd = tpfd;
	return 0;
}

int apply_create_hardlink(struct apply *a, const cstor_tar_header *h, int pfd, const char *base,
			   cstor_error *err)
{
	size_t clen, tlen;
	_cleanup_free_ char *clean =
		cstor_tar__path_clean(h->linkname, strlen(h->linkname), &clen);
	if (!clean)
		return cstor_error_set(err, ENOMEM, "out of memory");

	/* UnpackLayer turns links into .wh..wh.plnk/ into copies of the
	 * member kept there, with that member's metadata. */
	if (a->o->whiteouts == CSTOR_WHITEOUT_EXECUTE && startswith(clean, WH_LINK_DIR)) {
		const char *lbase;
		apply_split(clean, clen, &lbase);
		const struct apply_plnk *p = apply_plnk_find(a, lbase);
		if (!p)
			return cstor_error_set(err, EBADMSG, "invalid aufs hardlink \"%s\"",
					       h->linkname);
		cstor_tar_header src = {
			.name = h->name, .linkname = (char *)"", .typeflag = '0',
			.mode = p->mode, .uid = p->uid, .gid = p->gid,
			.mtime = p->mtime, .atime = p->atime, .has_atime = p->has_atime,
		};
		return apply_create_regular(a, &src, pfd, base, a->plnk_fd, p->off, p->len, p->xattrs,
				      p->n_xattrs, err);
	}

	const char *trel = apply_confine(clean, clen, &tlen);
	int r = apply_check_name(trel, tlen, "hard link target", err);
	if (r < 0)
		return r;
	if (tlen == 0)
		return cstor_error_set(err, EPERM, "hard link to the root directory");
	const char *tbase;
	apply_split(trel, tlen, &tbase);

	_cleanup_close_ int tpfd = -1;
	struct stat tst;
	r = link_target(a, trel, tlen, &tpfd, &tst, err);
	if (r < 0)
		return r;
	/* No AT_SYMLINK_FOLLOW: a link to a symlink links the symlink. */
	if (linkat(tpfd >= 0 ? tpfd : a->root_fd, tbase, pfd, base, 0) < 0) {
		if (errno != EEXIST)
			return cstor_error_errno(err, errno, "hard link to \"%s\"", h->linkname);
		r = apply_remove_existing(a, pfd, base, err);
		if (r < 0)
			return r;
		/* The removal may have changed what the target path means. */
		if (tpfd >= 0)
			close(tpfd);
		tpfd = -1;
		r = link_target(a, trel, tlen, &tpfd, &tst, err);
		if (r < 0)
			return r;
		if (linkat(tpfd >= 0 ? tpfd : a->root_fd, tbase, pfd, base, 0) < 0)
			return cstor_error_errno(err, errno, "hard link to \"%s\"", h->linkname);
	}
	/* The header's owner, mode and times go to the shared inode, as in
	 * Go; mode and times only when it is not a symlink. */
	bool lnk = S_ISLNK(tst.st_mode);
	struct meta m = {
		.h = h, .fd = -1, .pfd = pfd, .name = base,
		.chmod = !lnk, .times = !lnk, .clamp_times = true,
	};
	return set_meta(a, &m, err);
}

int apply_root_meta(struct apply *a, const cstor_tar_header *h, cstor_error *err)
{
	_cleanup_close_ int fd = openat(a->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return cstor_error_errno(err, errno, "open root directory");
	struct meta m = { .h = h, .fd = fd, .pfd = a->root_fd, .name = ".", .chmod = true };
	return set_meta(a, &m, err);
}
