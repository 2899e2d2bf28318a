/* SPDX-License-Identifier: Apache-2.0 */
/*
 * copy: files between host paths and layers, as containers-storage's
 * `copy` (chrootarchive.CopyWithTar) does it: the source is archived and
 * the archive extracted at the target, so owners, modes, times, links and
 * devices travel as they do in a layer tarball.
 *
 * Go extracts chrooted into the target directory but finds that directory
 * (and the source) by plain host paths under the mount point, so a symlink
 * planted in a layer ("etc -> /etc") takes it outside the layer. Here every
 * path inside a layer is resolved by the kernel inside the layer's mounted
 * root (openat2 RESOLVE_IN_ROOT), missing target directories are made one
 * component at a time under fds resolved the same way, and the extraction
 * is archive/apply's, confined to the target directory like Go's chroot.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstor/layer.h>
#include <cstor/mount.h>

#include "archive/apply.h"
#include "archive/export.h"
#include "archive/tar.h"
#include "util/cleanup.h"
#include "util/error-internal.h"
#include "util/strv.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(cstor_layer *, cstor_layer_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(cstor_tar_writer *, cstor_tar_writer_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(cstor_tar_reader *, cstor_tar_reader_free);

/* One side of a copy: a layer's mounted root, or the host. */
struct end {
	char *layer;     /* the spec's layer part, NULL for the host */
	const char *rel; /* the path part */
	char *id;
	cstor_mount_hold *hold;
	int root_fd; /* the layer's mount point; -1 for the host */
};

static void end_done(struct end *e, cstor_store *store)
{
	if (e->hold) {
		cstor_error ignored = CSTOR_ERROR_INIT;
		/* Like Go, a failed unmount does not fail the copy. */
		cstor_mount_hold_release(e->hold, store, &ignored);
		cstor_error_clear(&ignored);
		e->hold = NULL;
	}
	if (e->root_fd >= 0)
		close(e->root_fd);
	e->root_fd = -1;
	free(e->layer);
	free(e->id);
	e->layer = e->id = NULL;
}

static int end_open(struct end *e, cstor_store *store, const char *spec, bool source,
		    cstor_error *err)
{
	*e = (struct end){ .root_fd = -1, .rel = spec };
	const char *colon = strchr(spec, ':');
	if (!colon)
		return 0;
	if (!(e->layer = strndup(spec, (size_t)(colon - spec))))
		return cstor_error_set(err, ENOMEM, "out of memory");
	e->rel = colon + 1;
	_cleanup_(cstor_layer_freep) cstor_layer *l = NULL;
	int r = cstor_store_layer(&l, store, e->layer, err);
	if (r < 0)
		return cstor_error_wrap(err, r, "error finding layer \"%s\"", e->layer);
	if (!(e->id = strdup(cstor_layer_id(l))))
		return cstor_error_set(err, ENOMEM, "out of memory");
	cstor_mount_options mo = CSTOR_MOUNT_OPTIONS_INIT;
	mo.description = source ? "cstor copy (source)" : "cstor copy (target)";
	/* A read-only store's layer can be read from, never written to. */
	if (source)
		mo.flags |= CSTOR_MOUNT_READ_ONLY_IF_NEEDED;
	_cleanup_free_ char *mp = NULL;
	r = cstor_store_mount_hold(&e->hold, &mp, store, e->id, &mo, err);
	if (r < 0)
		return cstor_error_wrap(err, r, "error mounting layer \"%s\"", e->id);
	e->root_fd = open(mp, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (e->root_fd < 0)
		return cstor_error_errno(err, errno, "open %s", mp);
	return 0;
}

/* Open @path as @e sees it: inside the layer's root, or on the host. */
static int end_openat(const struct end *e, const char *path, int flags)
{
	if (e->root_fd < 0)
		return openat(AT_FDCWD, path[0] ? path : ".", flags | O_CLOEXEC);
	while (*path == '/')
		path++;
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, e->root_fd, path[0] ? path : ".", &how, sizeof(how));
	return fd < 0 ? -1 : (int)fd;
}

/* The directory @path of @e, made (0755) with its missing parents. */
static int end_mkdir_p(const struct end *e, const char *path, int *out, cstor_error *err)
{
	_cleanup_free_ char *p = strdup(path);
	if (!p)
		return cstor_error_set(err, ENOMEM, "out of memory");
	int fd = end_openat(e, p, O_PATH | O_DIRECTORY);
	if (fd >= 0) {
		*out = fd;
		return 0;
	}
	if (errno != ENOENT)
		return cstor_error_errno(err, errno, "open directory \"%s\"", path);
	/* Component by component: each parent is resolved afresh inside the
	 * root, and mkdirat never follows the new name. */
	size_t len = strlen(p);
	for (size_t i = 0; i <= len; i++) {
		if (i < len && p[i] != '/')
			continue;
		if (i > 0 && p[i - 1] == '/')
			continue;
		char c = p[i];
		p[i] = '\0';
		const char *base = strrchr(p, '/');
		base = base ? base + 1 : p;
		if (base[0]) {
			int d = end_openat(e, p, O_PATH | O_DIRECTORY);
			if (d < 0 && errno == ENOENT) {
				_cleanup_free_ char *parent = strndup(p, (size_t)(base - p));
				if (!parent)
					return cstor_error_set(err, ENOMEM, "out of memory");
				_cleanup_close_ int pfd = end_openat(e, parent, O_PATH | O_DIRECTORY);
				if (pfd < 0)
					return cstor_error_errno(err, errno, "open directory \"%s\"",
								 parent[0] ? parent : "/");
				if (mkdirat(pfd, base, 0755) < 0 && errno != EEXIST)
					return cstor_error_errno(err, errno, "create directory \"%s\"",
								 p);
				d = end_openat(e, p, O_PATH | O_DIRECTORY);
			}
			if (d < 0)
				return cstor_error_errno(err, errno, "open directory \"%s\"", p);
			close(d);
		}
		p[i] = c;
	}
	fd = end_openat(e, path, O_PATH | O_DIRECTORY);
	if (fd < 0)
		return cstor_error_errno(err, errno, "open directory \"%s\"", path);
	*out = fd;
	return 0;
}

/* ---- the archive between the two sides: a producer thread writes it into
 * a socket (send with MSG_NOSIGNAL: an extraction that stops early gives the
 * producer EPIPE, not SIGPIPE), the caller's thread extracts it. */

struct producer {
	int fd;      /* write side */
	int src_fd;  /* the source: a directory, or the object itself */
	bool is_dir;
	const char *name; /* the member name of a non-directory */
	struct stat st;
	int r;
	cstor_error err;
};

static int sock_write(void *ctx, const void *buf, size_t len)
{
	int fd = *(int *)ctx;
	const char *p = buf;
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static ssize_t sock_read(void *ctx, void *buf, size_t len)
{
	int fd = *(int *)ctx;
	for (;;) {
		ssize_t n = read(fd, buf, len);
		if (n >= 0 || errno != EINTR)
			return n < 0 ? -errno : n;
	}
}

/* A non-directory as Go's CopyFileWithTar archives it: one member from the
 * stat of the (followed) source, no xattrs. */
static int produce_one(struct producer *p)
{
	_cleanup_(cstor_tar_writer_freep) cstor_tar_writer *w = NULL;
	int r = cstor_tar_writer_new(&w, sock_write, &p->fd, &p->err);
	if (r < 0)
		return r;
	cstor_tar_header h = { 0 };
	h.name = (char *)p->name;
	h.linkname = (char *)"";
	h.uname = h.gname = (char *)"";
	h.format = CSTOR_TAR_FORMAT_PAX;
	h.mode = p->st.st_mode & (S_IFMT | 07777);
	h.uid = p->st.st_uid;
	h.gid = p->st.st_gid;
	h.mtime = p->st.st_mtim;
	_cleanup_close_ int cfd = -1;
	switch (p->st.st_mode & S_IFMT) {
	case S_IFREG: {
		h.typeflag = '0';
		h.size = p->st.st_size;
		char proc[64];
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", p->src_fd);
		cfd = open(proc, O_RDONLY | O_CLOEXEC);
		if (cfd < 0)
			return cstor_error_errno(&p->err, errno, "open \"%s\"", p->name);
		break;
	}
	case S_IFCHR:
	case S_IFBLK:
		h.typeflag = S_ISCHR(p->st.st_mode) ? '3' : '4';
		h.devmajor = major(p->st.st_rdev);
		h.devminor = minor(p->st.st_rdev);
		break;
	case S_IFIFO:
		h.typeflag = '6';
		break;
	default:
		return cstor_error_set(&p->err, ENOTSUP, "\"%s\": cannot copy a socket", p->name);
	}
	if ((r = cstor_tar_writer_header(w, &h, &p->err)) < 0)
		return r;
	if (cfd >= 0 && (r = cstor_tar_writer_data_fd(w, cfd, &p->err)) < 0)
		return r;
	return cstor_tar_writer_close(w, &p->err);
}

static void *produce(void *arg)
{
	struct producer *p = arg;
	if (p->is_dir)
		p->r = cstor_export_tree(p->src_fd, sock_write, &p->fd, NULL, &p->err);
	else
		p->r = produce_one(p);
	/* End of the stream, also after an error. */
	shutdown(p->fd, SHUT_WR);
	return NULL;
}

static int copy_one(struct end *src, const struct end *dst, const cstor_copy_options *o,
		    cstor_error *err)
{
	_cleanup_close_ int sfd = end_openat(src, src->rel, O_PATH);
	if (sfd < 0)
		return cstor_error_errno(err, errno, "open \"%s\"", src->rel);
	struct producer p = { .fd = -1, .src_fd = sfd, .err = CSTOR_ERROR_INIT };
	if (fstat(sfd, &p.st) < 0)
		return cstor_error_errno(err, errno, "stat \"%s\"", src->rel);
	p.is_dir = S_ISDIR(p.st.st_mode);

	/* Where the archive is extracted: the target directory itself for a
	 * directory's contents, else the target's parent. */
	_cleanup_free_ char *target = NULL;
	const char *trel = dst->rel;
	size_t tl = strlen(trel);
	/* A host target ending in "/" takes the source's name. In a layer
	 * only the root does: Go joins the path to the mount point, which
	 * drops a trailing slash ("L:/dir/" writes the file "dir"). */
	bool into = tl == 0 || (trel[tl - 1] == '/' &&
				(dst->root_fd < 0 || strspn(trel, "/") == tl));
	if (!p.is_dir && into) {
		_cleanup_free_ char *s = strdup(src->rel);
		if (!s)
			return cstor_error_set(err, ENOMEM, "out of memory");
		const char *b = basename(s);
		if (asprintf(&target, "%s%s", trel, b) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
	} else if (!(target = strdup(trel)))
		return cstor_error_set(err, ENOMEM, "out of memory");
	/* Trailing slashes name the directory itself. */
	for (size_t n = strlen(target); n > 1 && target[n - 1] == '/'; n--)
		target[n - 1] = '\0';

	_cleanup_close_ int dfd = -1;
	_cleanup_free_ char *name = NULL;
	int r;
	if (p.is_dir) {
		r = end_mkdir_p(dst, target, &dfd, err);
	} else {
		char *slash = strrchr(target, '/');
		const char *base = slash ? slash + 1 : target;
		if (!base[0] || streq(base, ".") || streq(base, ".."))
			return cstor_error_set(err, EINVAL, "\"%s\": not a file name to copy to",
					       dst->rel);
		if (!(name = strdup(base)))
			return cstor_error_set(err, ENOMEM, "out of memory");
		if (slash)
			slash[slash == target ? 1 : 0] = '\0';
		r = end_mkdir_p(dst, slash ? target : "", &dfd, err);
	}
	if (r < 0)
		return r;
	p.name = name;

	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return cstor_error_errno(err, errno, "socketpair");
	_cleanup_close_ int rfd = sv[0];
	p.fd = sv[1];
	pthread_t t;
	int e = pthread_create(&t, NULL, produce, &p);
	if (e != 0) {
		close(p.fd);
		return cstor_error_errno(err, e, "start a thread");
	}
	struct cstor_apply_options ao = {
		.whiteouts = CSTOR_WHITEOUT_KEEP,
		.skip_existing_root = true,
		.chown = o && o->chown,
		.chown_uid = o ? o->uid : 0,
		.chown_gid = o ? o->gid : 0,
	};
	_cleanup_(cstor_tar_reader_freep) cstor_tar_reader *rd = NULL;
	r = cstor_tar_reader_new(&rd, sock_read, &rfd, 0, err);
	if (r == 0)
		r = cstor_apply_tar(dfd, rd, &ao, NULL, NULL, err);
	/* Unblock a producer still writing, then collect its result. */
	shutdown(rfd, SHUT_RDWR);
	pthread_join(t, NULL);
	close(p.fd);
	if (p.r < 0 && (r == 0 || p.r != -EPIPE)) {
		cstor_error_clear(err);
		cstor_error_move(err, &p.err);
		return p.r;
	}
	cstor_error_clear(&p.err);
	if (r < 0 || !p.is_dir)
		return r;
	/* Go's archive of a directory starts with the directory itself,
	 * whose owner (or --chown's) and mode the target directory takes. */
	_cleanup_close_ int tfd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tfd < 0)
		return cstor_error_errno(err, errno, "open \"%s\"", dst->rel);
	uid_t uid = ao.chown ? (uid_t)ao.chown_uid : p.st.st_uid;
	gid_t gid = ao.chown ? (gid_t)ao.chown_gid : p.st.st_gid;
	if (fchown(tfd, uid, gid) < 0)
		return cstor_error_errno(err, errno, "chown \"%s\"", dst->rel);
	if (fchmod(tfd, p.st.st_mode & 07777) < 0)
		return cstor_error_errno(err, errno, "chmod \"%s\"", dst->rel);
	struct timespec ts[2] = { p.st.st_atim, p.st.st_mtim };
	if (futimens(tfd, ts) < 0)
		return cstor_error_errno(err, errno, "set the times of \"%s\"", dst->rel);
	return 0;
}

int cstor_store_copy(cstor_store *store, const char *const *sources, const char *target,
		     const cstor_copy_options *opts, cstor_error *err)
{
	if (opts && (opts->version != CSTOR_COPY_OPTIONS_VERSION || opts->flags))
		return cstor_error_set(err, EINVAL, "copy: unknown options version or flags");
	if (!sources || !sources[0] || !target)
		return cstor_error_set(err, EINVAL, "copy: a source and a target are needed");
	struct end dst;
	int r = end_open(&dst, store, target, false, err);
	for (size_t i = 0; r == 0 && sources[i]; i++) {
		struct end src;
		r = end_open(&src, store, sources[i], true, err);
		if (r == 0 && (r = copy_one(&src, &dst, opts, err)) < 0)
			cstor_error_wrap(err, r, "error copying \"%s\" to \"%s\"", sources[i], target);
		end_done(&src, store);
	}
	end_done(&dst, store);
	return r;
}

/* The archive of a host directory, read by a staged apply: the same
 * producer as copy's, on a thread, through a socket. */
struct sock_ctx {
	int fd;
};

static long sock_read_long(void *ctx, void *buf, size_t len)
{
	return (long)sock_read(ctx, buf, len);
}

int cstor_store_apply_dir_staged(int64_t *size, cstor_store *store, const char *ref,
				 const char *dir, cstor_error *err)
{
	_cleanup_close_ int sfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		return cstor_error_errno(err, errno, "open directory %s", dir);
	struct producer p = { .fd = -1, .src_fd = sfd, .is_dir = true, .err = CSTOR_ERROR_INIT };
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return cstor_error_errno(err, errno, "socketpair");
	_cleanup_close_ int rfd = sv[0];
	p.fd = sv[1];
	pthread_t t;
	int e = pthread_create(&t, NULL, produce, &p);
	if (e != 0) {
		close(p.fd);
		return cstor_error_errno(err, e, "start a thread");
	}
	int r = cstor_store_apply_diff_staged(size, store, ref, sock_read_long, &rfd, err);
	shutdown(rfd, SHUT_RDWR);
	pthread_join(t, NULL);
	close(p.fd);
	if (p.r < 0 && (r == 0 || p.r != -EPIPE)) {
		cstor_error_clear(err);
		cstor_error_move(err, &p.err);
		return cstor_error_wrap(err, p.r, "archive %s", dir);
	}
	cstor_error_clear(&p.err);
	return r;
}
