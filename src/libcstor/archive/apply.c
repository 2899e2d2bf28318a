/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layer extraction (see apply.h). The flow per member is Go's UnpackLayer
 * (EXECUTE) or Unpack (OVERLAY, KEEP) step by step; the comments point out
 * where we differ and why.
 *
 * Differences from containers/storage 1.43, all on archives no layer tool
 * writes:
 *   - A whiteout whose target is "", "." or ".." (".wh.", ".wh..",
 *     ".wh...") is an error; Go would remove the directory holding it or
 *     the parent (in the chroot, the whole layer).
 *   - A member that resolves to the root ("..", "/", "./") with a type
 *     other than directory is an error; Go removes the layer's content and
 *     then fails.
 *   - Directory times restored at the end do not follow a symlink that
 *     replaced the directory in the meantime, and a directory that was
 *     removed by a later member is skipped; Go follows the symlink (inside
 *     the chroot) and fails with ENOENT respectively.
 *   - The root keeps the times of its "./" member; Go's chroot helper
 *     creates and removes a temporary directory in it afterwards, so there
 *     the root's mtime is the time of the apply.
 *   - OVERLAY: an opaque marker whose directory is not a directory (a file,
 *     a whiteout device) is an error; Go sets the xattr on that inode.
 *   - Missing parents are 0755 root-owned in every mode; Go's Unpack makes
 *     them 0777 minus the umask and chowns them to 0:0 explicitly (same
 *     result under the usual umask 022, except below a setgid directory).
 * Everything else, quirks included, is Go's: type '7' is refused, a pax
 * global header ('g') removes an existing file of its name, hard links
 * take their own header's owner, mode and times (shared with the target),
 * xattrs come from SCHILY.xattr.* only.
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

#include "error-internal.h"
#include "util/cleanup.h"
#include "util/rm.h"

#include "apply-internal.h"
#include "tar-internal.h"

/* ---- names ---- */

/* Go's filepath.Join("/", clean) made relative: the root confines leading
 * "/" and "../" (the chroot does it in Go). "" is the root. */
static const char *confine(const char *clean, size_t len, size_t *ret_len)
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

static int check_name(const char *p, size_t len, const char *what, cstor_error *err)
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

/* Length of the directory part of @p (no trailing slash), base in *base. */
static size_t split(const char *p, size_t len, const char **base)
{
	size_t d = len;
	while (d > 0 && p[d - 1] != '/')
		d--;
	*base = p + d;
	return d ? d - 1 : 0;
}

static bool valid_whiteout_target(const char *t)
{
	return t[0] && !streq(t, ".") && !streq(t, "..");
}

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
static struct timespec go_clamp(struct timespec t)
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
		ts[0] = go_clamp(at);
		ts[1] = go_clamp(*mtime);
		return;
	}
	ts[0] = at;
	ts[1] = *mtime;
	for (int i = 0; i < 2; i++)
		if (ts[i].tv_sec == GO_ZERO_SEC && ts[i].tv_nsec == 0)
			ts[i].tv_nsec = UTIME_OMIT;
}

/* ---- metadata ---- */

bool apply_xattr_from_go(const cstor_tar_header *h, size_t i)
{
	bool libarchive = false;
	for (size_t k = 0; k < h->n_pax && !libarchive; k++)
		libarchive = startswith(h->pax[k].key, "LIBARCHIVE.xattr.") != NULL;
	if (!libarchive)
		return true;
	for (size_t k = 0; k < h->n_pax; k++) {
		const char *n = startswith(h->pax[k].key, "SCHILY.xattr.");
		if (n && streq(n, h->xattrs[i].name))
			return true;
	}
	return false;
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
	int r = m->fd >= 0 ? fchown(m->fd, (uid_t)h->uid, (gid_t)h->gid)
			   : fchownat(m->pfd, m->name, (uid_t)h->uid, (gid_t)h->gid,
				      AT_SYMLINK_NOFOLLOW);
	if (r < 0 && !(a->o->ignore_chown_errors && (errno == EPERM || errno == EINVAL)))
		return cstor_error_errno(err, errno, "chown to %" PRId64 ":%" PRId64, h->uid,
					 h->gid);

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
		if (streq(x[i].name, "security.selinux"))
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
static int remove_existing(struct apply *a, int pfd, const char *name, cstor_error *err)
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

static int copy_content(struct apply *a, int fd, int src_fd, cstor_error *err)
{
	/* Straight out of the reader's buffer: no copy in between. */
	if (src_fd < 0)
		return cstor_tar_reader_copy_to_fd(a->r, fd, err);
	loff_t off = 0;
	for (;;) {
		ssize_t n = copy_file_range(src_fd, &off, fd, NULL, 1 << 30, 0);
		if (n == 0)
			return 0;
		if (n > 0)
			continue;
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
			return cstor_error_errno(err, errno, "copy AUFS hard link");
		break;
	}
	_cleanup_free_ char *buf = malloc(128 * 1024);
	if (!buf)
		return cstor_error_set(err, ENOMEM, "out of memory");
	for (;;) {
		ssize_t n = pread(src_fd, buf, 128 * 1024, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cstor_error_errno(err, errno, "read AUFS hard link");
		if (n == 0)
			return 0;
		int r = write_all(fd, buf, (size_t)n);
		if (r < 0)
			return cstor_error_errno(err, r, "write");
		off += n;
	}
}

static int create_regular(struct apply *a, const cstor_tar_header *h, int pfd, const char *base,
			  int src_fd, const struct cstor_tar_xattr *xattrs, size_t n_xattrs,
			  cstor_error *err)
{
	/* O_EXCL: never writes through whatever is there (a symlink, a
	 * device, a file hard-linked elsewhere); that is replaced. */
	const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC;
	mode_t mode = (mode_t)(h->mode & 07777);
	_cleanup_close_ int fd = openat(pfd, base, flags, mode);
	if (fd < 0 && errno == EEXIST) {
		int r = remove_existing(a, pfd, base, err);
		if (r < 0)
			return r;
		fd = openat(pfd, base, flags, mode);
	}
	if (fd < 0)
		return cstor_error_errno(err, errno, "create file");
	int r = copy_content(a, fd, src_fd, err);
	if (r < 0)
		return r;
	struct meta m = {
		.h = h, .fd = fd, .pfd = pfd, .name = base,
		.chmod = creation_mode_inexact(a, h->mode), .times = true, .clamp_times = true,
		.xattrs = xattrs, .n_xattrs = n_xattrs,
	};
	return set_meta(a, &m, err);
}

static int create_dir(struct apply *a, const cstor_tar_header *h, int pfd, const char *rel,
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
			int r = remove_existing(a, pfd, base, err);
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

static int create_symlink(struct apply *a, const cstor_tar_header *h, int pfd, const char *base,
			  cstor_error *err)
{
	if (symlinkat(h->linkname, pfd, base) < 0) {
		if (errno != EEXIST)
			return cstor_error_errno(err, errno, "create symlink");
		int r = remove_existing(a, pfd, base, err);
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

static int create_node(struct apply *a, const cstor_tar_header *h, int pfd, const char *base,
		       cstor_error *err)
{
	mode_t type = h->typeflag == '3' ? S_IFCHR : h->typeflag == '4' ? S_IFBLK : S_IFIFO;
	mode_t mode = type | (mode_t)(h->mode & 07777);
	dev_t dev = type == S_IFIFO ? 0 : go_mkdev(h->devmajor, h->devminor);
	int r = RET_NERRNO(mknodat(pfd, base, mode, dev));
	if (r == -EEXIST) {
		r = remove_existing(a, pfd, base, err);
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
	size_t td = split(trel, tlen, &tbase);
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

static int create_hardlink(struct apply *a, const cstor_tar_header *h, int pfd, const char *base,
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
		split(clean, clen, &lbase);
		const struct apply_plnk *p = apply_plnk_find(a, lbase);
		if (!p)
			return cstor_error_set(err, EBADMSG, "invalid aufs hardlink \"%s\"",
					       h->linkname);
		cstor_tar_header src = {
			.name = h->name, .linkname = (char *)"", .typeflag = '0',
			.mode = p->mode, .uid = p->uid, .gid = p->gid,
			.mtime = p->mtime, .atime = p->atime, .has_atime = p->has_atime,
		};
		return create_regular(a, &src, pfd, base, p->fd, p->xattrs, p->n_xattrs, err);
	}

	const char *trel = confine(clean, clen, &tlen);
	int r = check_name(trel, tlen, "hard link target", err);
	if (r < 0)
		return r;
	if (tlen == 0)
		return cstor_error_set(err, EPERM, "hard link to the root directory");
	const char *tbase;
	split(trel, tlen, &tbase);

	_cleanup_close_ int tpfd = -1;
	struct stat tst;
	r = link_target(a, trel, tlen, &tpfd, &tst, err);
	if (r < 0)
		return r;
	/* No AT_SYMLINK_FOLLOW: a link to a symlink links the symlink. */
	if (linkat(tpfd >= 0 ? tpfd : a->root_fd, tbase, pfd, base, 0) < 0) {
		if (errno != EEXIST)
			return cstor_error_errno(err, errno, "hard link to \"%s\"", h->linkname);
		r = remove_existing(a, pfd, base, err);
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

/* ---- bookkeeping ---- */

static int add_dir_time(struct apply *a, const cstor_tar_header *h, const char *rel, size_t len)
{
	if (a->n_dirs == a->cap_dirs) {
		size_t cap = a->cap_dirs ? a->cap_dirs * 2 : 64;
		struct apply_dirtime *d = realloc(a->dirs, cap * sizeof(*d));
		if (!d)
			return -ENOMEM;
		a->dirs = d;
		a->cap_dirs = cap;
	}
	struct apply_dirtime *d = &a->dirs[a->n_dirs];
	if (!(d->path = strndup(rel, len)))
		return -ENOMEM;
	/* The final Chtimes takes the header's atime as is: 1970 when
	 * absent. */
	d->atime = go_clamp(h->has_atime ? h->atime : (struct timespec){ 0, 0 });
	d->mtime = go_clamp(h->mtime);
	a->n_dirs++;
	return 0;
}

static int id_insert(uint32_t **v, size_t *n, uint32_t id)
{
	size_t lo = 0, hi = *n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if ((*v)[mid] == id)
			return 0;
		if ((*v)[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	uint32_t *nv = realloc(*v, (*n + 1) * sizeof(**v));
	if (!nv)
		return -ENOMEM;
	memmove(nv + lo + 1, nv + lo, (*n - lo) * sizeof(*nv));
	nv[lo] = id;
	*v = nv;
	(*n)++;
	return 0;
}

/* containers/storage's uidset/gidset logger: every header but those whose
 * path.Base() starts with ".wh.". */
static int log_ids(struct apply *a, const cstor_tar_header *h)
{
	struct cstor_apply_stats *st = a->stats;
	if (!st)
		return 0;
	st->bytes += (uint64_t)h->size;
	size_t n = strlen(h->name);
	while (n > 0 && h->name[n - 1] == '/')
		n--;
	size_t b = n;
	while (b > 0 && h->name[b - 1] != '/')
		b--;
	if (n - b >= 4 && memcmp(h->name + b, WH_PREFIX, 4) == 0)
		return 0;
	if (id_insert(&st->uids, &st->n_uids, (uint32_t)h->uid) < 0 ||
	    id_insert(&st->gids, &st->n_gids, (uint32_t)h->gid) < 0)
		return -ENOMEM;
	return 0;
}

/* ---- one member ---- */

static int apply_root(struct apply *a, const cstor_tar_header *h, cstor_error *err)
{
	_cleanup_close_ int fd = openat(a->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return cstor_error_errno(err, errno, "open root directory");
	struct meta m = { .h = h, .fd = fd, .pfd = a->root_fd, .name = ".", .chmod = true };
	int r = set_meta(a, &m, err);
	if (r < 0)
		return r;
	if (add_dir_time(a, h, "", 0) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	if (a->stats)
		a->stats->files++;
	return 0;
}

static int apply_member(struct apply *a, const cstor_tar_header *h, cstor_error *err)
{
	const bool execute = a->o->whiteouts == CSTOR_WHITEOUT_EXECUTE;
	size_t glen, rlen;
	_cleanup_free_ char *gclean = cstor_tar__path_clean(h->name, strlen(h->name), &glen);
	if (!gclean)
		return cstor_error_set(err, ENOMEM, "out of memory");
	const char *rel = confine(gclean, glen, &rlen);
	int r = check_name(rel, rlen, "name", err);
	if (r < 0)
		return r;
	const char *base;
	size_t dlen = split(rel, rlen, &base);

	/* Go first makes the parent directory of every member but the root,
	 * whatever the member turns out to be. */
	int pfd = -1, pr = 0;
	if (rlen > 0)
		pr = apply_parent(a, rel, dlen, true, &pfd, err);

	if (execute && startswith(gclean, WH_META_PREFIX)) {
		if (pr < 0)
			return pr;
		if (startswith(gclean, WH_LINK_DIR) && h->typeflag == '0') {
			const char *lbase;
			split(gclean, glen, &lbase);
			r = apply_plnk_save(a, h, lbase, err);
			if (r < 0)
				return r;
		}
		if (!streq(gclean, WH_OPAQUE))
			return 0;
	}

	if (rlen == 0) {
		if (a->o->skip_existing_root && streq(gclean, "."))
			return 0;
		if (h->typeflag == 'g')
			return 0;
		if (h->typeflag != '5')
			return cstor_error_set(err, EBADMSG,
					       "would replace the root directory (type '%c')",
					       h->typeflag);
		return apply_root(a, h, err);
	}

	bool whiteout = startswith(base, WH_PREFIX) != NULL;
	if (execute && whiteout) {
		/* Through a dangling symlink there is nothing to remove, and
		 * Go's walk of an opaque directory does not follow it. */
		if (pr == -ENOENT) {
			cstor_error_clear(err);
			return 0;
		}
		if (pr < 0)
			return pr;
		if (streq(base, WH_OPAQUE))
			return apply_whiteout_opaque(a, rel, dlen, err);
		if (!valid_whiteout_target(base + 4))
			return cstor_error_set(err, EBADMSG, "invalid whiteout");
		return apply_whiteout_remove(a, rel, dlen, base + 4, err);
	}

	if (a->o->whiteouts == CSTOR_WHITEOUT_OVERLAY && whiteout) {
		bool opaque = streq(base, WH_OPAQUE);
		/* "rm -rf /foo/bar" gives .wh.foo, then foo/.wh.bar under the
		 * whiteout device: Go ignores the second. */
		if (pr == -ENOTDIR && !opaque) {
			cstor_error_clear(err);
			return 0;
		}
		if (pr < 0)
			return pr;
		if (!opaque && !valid_whiteout_target(base + 4))
			return cstor_error_set(err, EBADMSG, "invalid whiteout");
		/* Unpack removes what has the member's own name first. */
		struct stat st;
		if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    !(S_ISDIR(st.st_mode) && h->typeflag == '5')) {
			r = remove_existing(a, pfd, base, err);
			if (r < 0)
				return r;
		}
		if (opaque)
			return apply_whiteout_opaque_xattr(a, pfd, err);
		return apply_whiteout_mknod(a, pfd, base + 4, h, err);
	}
	if (pr < 0)
		return pr;

	switch (h->typeflag) {
	case '0':
		r = create_regular(a, h, pfd, base, -1, NULL, 0, err);
		break;
	case '5':
		r = create_dir(a, h, pfd, rel, rlen, base, err);
		if (r >= 0 && add_dir_time(a, h, rel, rlen) < 0)
			r = cstor_error_set(err, ENOMEM, "out of memory");
		break;
	case '1':
		r = create_hardlink(a, h, pfd, base, err);
		break;
	case '2':
		r = create_symlink(a, h, pfd, base, err);
		break;
	case '3':
	case '4':
	case '6':
		r = create_node(a, h, pfd, base, err);
		break;
	case 'g': {
		/* Go ignores the header only after removing what has its
		 * name. */
		struct stat st;
		if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0)
			r = remove_existing(a, pfd, base, err);
		if (r >= 0 && execute && apply_pathset_add(&a->unpacked, rel, rlen) < 0)
			r = cstor_error_set(err, ENOMEM, "out of memory");
		return r;
	}
	default:
		return cstor_error_set(err, ENOTSUP, "unhandled tar header type %d",
				       (unsigned char)h->typeflag);
	}
	if (r < 0)
		return r;
	if (execute && apply_pathset_add(&a->unpacked, rel, rlen) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	if (a->stats)
		a->stats->files++;
	return 0;
}

static int restore_dir_times(struct apply *a, cstor_error *err)
{
	for (size_t i = 0; i < a->n_dirs; i++) {
		const struct apply_dirtime *d = &a->dirs[i];
		struct timespec ts[2] = { d->atime, d->mtime };
		size_t len = strlen(d->path);
		int pfd = a->root_fd;
		const char *base = ".";
		if (len > 0) {
			size_t dl = split(d->path, len, &base);
			int r = apply_parent(a, d->path, dl, false, &pfd, err);
			if (r == -ENOENT || r == -ENOTDIR) {
				cstor_error_clear(err);
				continue;
			}
			if (r < 0)
				return cstor_error_wrap(err, r, "apply layer: directory \"%s\"",
							d->path);
		}
		if (utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0 && errno != ENOENT)
			return cstor_error_errno(err, errno,
						 "apply layer: directory \"%s\": set times",
						 len ? d->path : ".");
	}
	return 0;
}

int cstor_apply_tar(int root_fd, cstor_tar_reader *r, const struct cstor_apply_options *o,
		    cstor_tarsplit_packer *packer, struct cstor_apply_stats *stats,
		    cstor_error *err)
{
	static const struct cstor_apply_options defaults = { 0 };
	if (stats)
		*stats = (struct cstor_apply_stats){ 0 };
	if (root_fd < 0 || !r)
		return cstor_error_set(err, EINVAL, "apply layer: invalid arguments");
	if (!o)
		o = &defaults;
	if ((unsigned)o->whiteouts > CSTOR_WHITEOUT_KEEP)
		return cstor_error_set(err, EINVAL, "apply layer: unknown whiteout mode %d",
				       (int)o->whiteouts);

	struct apply a = {
		.root_fd = root_fd, .o = o, .r = r, .stats = stats,
		.cache_fd = -1, .in_userns = -1, .umask = apply_read_umask(),
	};
	int ret;
	const cstor_tar_header *h;
	for (;;) {
		ret = cstor_tar_reader_next(r, &h, err);
		if (ret < 0) {
			/* The reader's message names the entry or the offset. */
			ret = cstor_error_wrap(err, ret, "apply layer");
			break;
		}
		if (ret == 0)
			break;
		if (log_ids(&a, h) < 0) {
			ret = cstor_error_set(err, ENOMEM, "apply layer: out of memory");
			break;
		}
		ret = apply_member(&a, h, err);
		if (ret >= 0 && packer)
			ret = cstor_tarsplit_packer_add_entry(packer, r, h, err);
		if (ret < 0) {
			ret = cstor_error_wrap(err, ret, "apply layer: entry \"%s\"", h->name);
			break;
		}
	}
	if (ret == 0)
		ret = restore_dir_times(&a, err);
	if (ret == 0 && packer) {
		ret = cstor_tarsplit_packer_finish(packer, r, err);
		if (ret < 0)
			ret = cstor_error_wrap(err, ret, "apply layer: record tar-split");
	}

	if (a.cache_fd >= 0)
		close(a.cache_fd);
	free(a.cache_path);
	for (size_t i = 0; i < a.n_dirs; i++)
		free(a.dirs[i].path);
	free(a.dirs);
	apply_pathset_free(&a.unpacked);
	apply_plnk_free(&a);
	return ret;
}

void cstor_apply_stats_done(struct cstor_apply_stats *st)
{
	if (!st)
		return;
	free(st->uids);
	free(st->gids);
	*st = (struct cstor_apply_stats){ 0 };
}
