/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The member for one filesystem entry is built the way c/storage's
 * tarAppender.addTarFile builds it (FileInfoHeader, xattrs, hard links,
 * whiteout conversion), then handed to the tar writer, which reproduces Go's
 * archive/tar encoding.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error-internal.h"
#include "util/cleanup.h"

#include "export.h"
#include "tree-util.h"

/* Directories deeper than this give up their fd while their subdirectories
 * are archived and reopen it by path afterwards: bounded fds at any depth. */
#define KEEP_FDS_DEPTH 64

struct exporter {
	cstor_tar_writer *tw;
	cstor_compressor *comp;
	cstor_error comp_err; /* what the compressor said, if it failed */
	cstor_tar_write_fn out_write;
	void *out_ctx;

	struct cstor_tree__map links;	      /* (dev, ino) -> first member name */
	struct cstor_tree__map unames, gnames; /* id -> name, "" when unknown */
	char *pwbuf;
	size_t pwbuf_cap;
	struct cstor_tree__xbuf xb;
	struct cstor_tar_xattr *xv;
	size_t xn, xcap;
	char *target;
	size_t target_cap;
	bool try_noatime;
	const struct cstor_idmaps *maps;

	/* Overlay whiteout converter, when set. */
	bool overlay;
	const int *lowers;
	size_t n_lowers;
	const char *opaque_xattr;
};

static void xattrs_clear(struct exporter *e)
{
	for (size_t i = 0; i < e->xn; i++) {
		free(e->xv[i].name);
		free(e->xv[i].value);
	}
	e->xn = 0;
}

static void exporter_done(struct exporter *e)
{
	cstor_tar_writer_free(e->tw);
	cstor_compressor_free(e->comp);
	cstor_error_clear(&e->comp_err);
	cstor_tree__map_done(&e->links);
	cstor_tree__map_done(&e->unames);
	cstor_tree__map_done(&e->gnames);
	free(e->pwbuf);
	cstor_tree__xbuf_done(&e->xb);
	xattrs_clear(e);
	free(e->xv);
	free(e->target);
}

static int compress_write(void *ctx, const void *buf, size_t len)
{
	struct exporter *e = ctx;
	cstor_error_clear(&e->comp_err);
	return cstor_compressor_write(e->comp, buf, len, &e->comp_err);
}

static int exporter_init(struct exporter *e, cstor_tar_write_fn write, void *ctx,
			 const struct cstor_export_options *opts, cstor_error *err)
{
	e->try_noatime = true;
	e->maps = opts ? opts->maps : NULL;
	e->out_write = write;
	e->out_ctx = ctx;
	if (!write)
		return cstor_error_set(err, EINVAL, "export: no write callback");
	cstor_compression c = opts ? opts->compression : CSTOR_COMPRESSION_NONE;
	if (c == CSTOR_COMPRESSION_NONE)
		return cstor_tar_writer_new(&e->tw, write, ctx, err);
	int r = cstor_compressor_new(&e->comp, c, opts->level, write, ctx, err);
	if (r < 0)
		return r;
	return cstor_tar_writer_new(&e->tw, compress_write, e, err);
}

/* Close the archive and the compressed stream. */
static int exporter_finish(struct exporter *e, cstor_error *err)
{
	int r = cstor_tar_writer_close(e->tw, err);
	if (r < 0)
		return r;
	if (e->comp)
		return cstor_compressor_finish(e->comp, err);
	return 0;
}

/* A failure inside the compressor reaches us as the tar writer's
 * "write tar stream: <errno>"; the compressor's own message says more. */
static int export_failed(struct exporter *e, int r, cstor_error *err)
{
	if (e->comp_err.code && err)
		cstor_error_move(err, &e->comp_err);
	return r;
}

/* Go's tar.FileInfoHeader takes names from os/user (getpwuid_r in the
 * cgo-built CLI) and caches them per process; this cache lives for one
 * export. */
static int lookup_name(struct exporter *e, bool group, uint32_t id, const char **out)
{
	struct cstor_tree__map *m = group ? &e->gnames : &e->unames;
	struct cstor_tree__map_slot *s = cstor_tree__map_get(m, id, 0);
	if (s) {
		*out = s->value;
		return 0;
	}
	if (!e->pwbuf) {
		e->pwbuf_cap = 16384;
		e->pwbuf = malloc(e->pwbuf_cap);
		if (!e->pwbuf)
			return -ENOMEM;
	}
	const char *found = NULL;
	for (;;) {
		int r;
		if (group) {
			struct group g, *res = NULL;
			r = getgrgid_r(id, &g, e->pwbuf, e->pwbuf_cap, &res);
			if (r == 0 && res)
				found = g.gr_name;
		} else {
			struct passwd p, *res = NULL;
			r = getpwuid_r(id, &p, e->pwbuf, e->pwbuf_cap, &res);
			if (r == 0 && res)
				found = p.pw_name;
		}
		if (r != ERANGE || e->pwbuf_cap >= (1u << 24))
			break;
		char *nb = realloc(e->pwbuf, e->pwbuf_cap * 2);
		if (!nb)
			return -ENOMEM;
		e->pwbuf = nb;
		e->pwbuf_cap *= 2;
	}
	char *v = strdup(found ? found : "");
	if (!v || cstor_tree__map_put(m, id, 0, v) < 0)
		return -ENOMEM;
	*out = cstor_tree__map_get(m, id, 0)->value;
	return 0;
}

static int xattr_add(struct exporter *e, const char *name, const void *value, size_t len)
{
	if (e->xn == e->xcap) {
		size_t cap = e->xcap ? e->xcap * 2 : 8;
		struct cstor_tar_xattr *v = realloc(e->xv, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		e->xv = v;
		e->xcap = cap;
	}
	char *n = strdup(name);
	unsigned char *val = malloc(len + 1);
	if (!n || !val) {
		free(n);
		free(val);
		return -ENOMEM;
	}
	memcpy(val, value, len);
	val[len] = 0;
	e->xv[e->xn++] = (struct cstor_tar_xattr){ n, val, len };
	return 0;
}

/* ReadSecurityXattrToTarHeader + ReadUserXattrToTarHeader. */
static int read_xattrs(struct exporter *e, int fd, const char *path)
{
	xattrs_clear(e);
	ssize_t n = cstor_tree__listxattr(&e->xb, fd, path);
	if (n <= 0)
		return (int)n;
	_cleanup_free_ char *names = malloc((size_t)n);
	if (!names)
		return -ENOMEM;
	memcpy(names, e->xb.list, (size_t)n);
	for (const char *k = names; k < names + n; k += strlen(k) + 1) {
		bool user = startswith(k, "user.") != NULL;
		if (!user && !streq(k, "security.capability") && !streq(k, "security.ima"))
			continue;
		ssize_t v = cstor_tree__getxattr(&e->xb, fd, path, k);
		if (v == -ENODATA || (v == -E2BIG && user))
			continue;
		if (v < 0)
			return (int)v;
		int r = xattr_add(e, k, e->xb.value, (size_t)v);
		if (r < 0)
			return r;
	}
	return 0;
}

static void xattr_drop(struct exporter *e, const char *name)
{
	for (size_t i = 0; i < e->xn; i++)
		if (streq(e->xv[i].name, name)) {
			free(e->xv[i].name);
			free(e->xv[i].value);
			e->xv[i] = e->xv[--e->xn];
			return;
		}
}

enum { PROBE_ABSENT, PROBE_PRESENT, PROBE_WHITEOUT_ABOVE };

/* Look @rel up in a lower layer without following symlinks: absent (also
 * below a non-directory), present (*st filled), or below a whiteout. */
static int lower_probe(int lower_fd, const char *rel, struct stat *st)
{
	_cleanup_close_ int cur = -1;
	const char *p = rel;
	char comp[NAME_MAX + 1];
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (len == 0 || len > NAME_MAX)
			return PROBE_ABSENT;
		memcpy(comp, p, len);
		comp[len] = 0;
		int at = cur >= 0 ? cur : lower_fd;
		if (fstatat(at, comp, st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT || errno == ENOTDIR)
				return PROBE_ABSENT;
			return -errno;
		}
		if (!slash)
			return PROBE_PRESENT;
		if (cstor_tree__is_whiteout(st))
			return PROBE_WHITEOUT_ABOVE;
		if (!S_ISDIR(st->st_mode))
			return PROBE_ABSENT;
		int fd = openat(at, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? PROBE_ABSENT
										  : -errno;
		closep(&cur);
		cur = fd;
		p = slash + 1;
	}
}

/* Whether an opaque directory needs its ".wh..wh..opq" marker: it must
 * have been there, not whited out, in some lower layer. */
static int opaque_needs_marker(struct exporter *e, const char *rel, bool *need)
{
	*need = false;
	for (size_t i = 0; i < e->n_lowers; i++) {
		struct stat st;
		int r = lower_probe(e->lowers[i], rel, &st);
		if (r < 0)
			return r;
		if (r == PROBE_WHITEOUT_ABOVE)
			return 0;
		if (r == PROBE_PRESENT) {
			*need = !cstor_tree__is_whiteout(&st);
			return 0;
		}
	}
	return 0;
}

static int open_content(struct exporter *e, int dirfd, const char *name)
{
	/* O_NONBLOCK: never hang on a fifo swapped in since the stat.
	 * O_NOATIME: reading a diff should not touch the layer's atimes. */
	int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
	if (e->try_noatime) {
		int fd = openat(dirfd, name, flags | O_NOATIME);
		if (fd >= 0 || errno != EPERM)
			return fd;
		e->try_noatime = false;
	}
	return openat(dirfd, name, flags);
}

static int read_target(struct exporter *e, int dirfd, const char *name, const struct stat *st)
{
	size_t want = st->st_size > 0 ? (size_t)st->st_size + 1 : 4096;
	for (;;) {
		if (e->target_cap < want) {
			char *p = realloc(e->target, want);
			if (!p)
				return -ENOMEM;
			e->target = p;
			e->target_cap = want;
		}
		ssize_t n = readlinkat(dirfd, name, e->target, e->target_cap);
		if (n < 0)
			return -errno;
		if ((size_t)n < e->target_cap) {
			e->target[n] = 0;
			return 0;
		}
		want = e->target_cap * 2;
	}
}

/*
 * Archive the entry @name of @dirfd as @tarname (no trailing slash); @dtype
 * is readdir's hint, DT_UNKNOWN if none. *is_dir tells the tree walk to
 * descend. Returns ENTRY_GONE, not an error, when the entry went away since
 * it was listed (the caller leaves it out, as Go does).
 */
#define ENTRY_GONE 1

static int add_file(struct exporter *e, int dirfd, const char *name, unsigned char dtype,
		    const char *tarname, bool *is_dir, cstor_error *err)
{
	struct stat st;
	_cleanup_close_ int fd = -1;
	if (is_dir)
		*is_dir = false;
	if (dtype == DT_REG) {
		/* Most entries: open and fstat, one stat call less. Anything
		 * else by now (a symlink: ELOOP) goes the long way below. */
		fd = open_content(e, dirfd, name);
		if (fd < 0 && errno == ENOENT)
			return ENTRY_GONE;
		if (fd >= 0 && fstat(fd, &st) < 0)
			return cstor_error_errno(err, errno, "export %s: stat", tarname);
		if (fd >= 0 && !S_ISREG(st.st_mode))
			closep(&fd);
	}
	if (fd < 0 && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return ENTRY_GONE;
		return cstor_error_errno(err, errno, "export %s: stat", tarname);
	}
	if (fd < 0 && S_ISREG(st.st_mode)) {
		/* The header must describe the file whose bytes follow. */
		fd = open_content(e, dirfd, name);
		if (fd < 0) {
			if (errno == ENOENT)
				return ENTRY_GONE;
			return cstor_error_errno(err, errno, "export %s: open", tarname);
		}
		if (fstat(fd, &st) < 0)
			return cstor_error_errno(err, errno, "export %s: stat", tarname);
		if (!S_ISREG(st.st_mode))
			return cstor_error_set(err, EAGAIN, "export %s: file changed type", tarname);
	}
	if (S_ISSOCK(st.st_mode))
		return 0; /* Go warns and leaves sockets out */

	bool dir = S_ISDIR(st.st_mode);
	_cleanup_free_ char *hname = NULL;
	if (asprintf(&hname, "%s%s", tarname, dir ? "/" : "") < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	cstor_tar_header h = {
		.name = hname,
		.mode = st.st_mode & (S_IFMT | 07777),
		.uid = st.st_uid,
		.gid = st.st_gid,
		.mtime = { .tv_sec = st.st_mtim.tv_sec },
	};
	switch (st.st_mode & S_IFMT) {
	case S_IFREG:
		h.typeflag = '0';
		h.size = st.st_size;
		break;
	case S_IFDIR:
		h.typeflag = '5';
		break;
	case S_IFLNK: {
		h.typeflag = '2';
		int r = read_target(e, dirfd, name, &st);
		if (r < 0)
			return cstor_error_errno(err, r, "export %s: readlink", tarname);
		h.linkname = e->target;
		break;
	}
	case S_IFCHR:
		h.typeflag = '3';
		break;
	case S_IFBLK:
		h.typeflag = '4';
		break;
	case S_IFIFO:
		h.typeflag = '6';
		break;
	default:
		return cstor_error_set(err, EBADMSG, "export %s: unknown file type 0%o", tarname,
				       (unsigned)(st.st_mode & S_IFMT));
	}
	/* setHeaderForSpecialDevice tests the type as bits, and its formula
	 * wins over archive/tar's for devices. Directories and symlinks pass
	 * the test too, with an rdev of 0. */
	if (st.st_mode & (S_IFBLK | S_IFCHR)) {
		h.devmajor = (int64_t)cstor_tree__go_major(st.st_rdev);
		h.devminor = (int64_t)cstor_tree__go_minor(st.st_rdev);
	}
	uint32_t cuid, cgid;
	if (e->maps && (cstor_idmap_to_container(e->maps->uids, e->maps->n_uids, st.st_uid, &cuid) < 0 ||
			cstor_idmap_to_container(e->maps->gids, e->maps->n_gids, st.st_gid, &cgid) < 0))
		return cstor_error_set(err, EINVAL,
				       "export %s: owner %u:%u is not mapped by the layer's ID mappings",
				       tarname, (unsigned)st.st_uid, (unsigned)st.st_gid);
	if (e->maps) {
		h.uid = cuid;
		h.gid = cgid;
	}
	const char *uname, *gname;
	int r = lookup_name(e, false, st.st_uid, &uname);
	if (r == 0)
		r = lookup_name(e, true, st.st_gid, &gname);
	if (r < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	h.uname = (char *)uname;
	h.gname = (char *)gname;

	char proc[CSTOR_TREE_PROC_PATH_MAX];
	cstor_tree__proc_path(proc, dirfd, name);
	r = read_xattrs(e, fd, fd >= 0 ? NULL : proc);
	if (r < 0)
		return cstor_error_errno(err, r, "export %s: reading xattrs", tarname);

	if (!dir && st.st_nlink > 1) {
		struct cstor_tree__map_slot *s = cstor_tree__map_get(&e->links, st.st_dev, st.st_ino);
		if (s) {
			h.typeflag = '1';
			h.linkname = s->value;
			h.size = 0;
		} else {
			char *first = strdup(tarname);
			if (!first || cstor_tree__map_put(&e->links, st.st_dev, st.st_ino, first) < 0)
				return cstor_error_set(err, ENOMEM, "out of memory");
		}
	}

	cstor_tar_header wo = { 0 };
	_cleanup_free_ char *wname = NULL;
	bool have_wo = false;
	if (e->overlay && S_ISCHR(st.st_mode) && h.devmajor == 0 && h.devminor == 0) {
		/* A whiteout becomes an AUFS-style ".wh." file. The link name a
		 * hard-linked whiteout got above stays: Go keeps it too. */
		const char *slash = strrchr(tarname, '/');
		size_t dl = slash ? (size_t)(slash - tarname) + 1 : 0;
		if (asprintf(&wname, "%.*s.wh.%s", (int)dl, tarname, tarname + dl) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
		h.name = wname;
		h.mode = 0;
		h.typeflag = '0';
		h.size = 0;
	} else if (e->overlay && dir) {
		ssize_t n = cstor_tree__getxattr(&e->xb, -1, proc, e->opaque_xattr);
		if (n < 0 && n != -ENODATA)
			return cstor_error_errno(err, (int)n, "export %s: reading %s", tarname,
						 e->opaque_xattr);
		if (n == 1 && e->xb.value[0] == 'y') {
			xattr_drop(e, e->opaque_xattr);
			bool need = false;
			if ((r = opaque_needs_marker(e, tarname, &need)) < 0)
				return cstor_error_errno(err, r, "export %s: lower layers", tarname);
			if (need) {
				if (asprintf(&wname, "%s/.wh..wh..opq", tarname) < 0)
					return cstor_error_set(err, ENOMEM, "out of memory");
				/* Zero mtime: Go's writer turns the zero time into 0. */
				wo = (cstor_tar_header){
					.name = wname,
					.typeflag = '0',
					.mode = h.mode & 0777,
					.uid = h.uid,
					.gid = h.gid,
					.uname = h.uname,
					.gname = h.gname,
				};
				have_wo = true;
			}
		}
	}
	h.xattrs = e->xv;
	h.n_xattrs = e->xn;

	if ((r = cstor_tar_writer_header(e->tw, &h, err)) < 0)
		return r;
	if (have_wo && (r = cstor_tar_writer_header(e->tw, &wo, err)) < 0)
		return r;
	if (h.typeflag == '0' && h.size > 0 && (r = cstor_tar_writer_data_fd(e->tw, fd, err)) < 0)
		return r;
	if (is_dir)
		*is_dir = dir;
	return 0;
}

/* ---- Whole trees (TarWithOptions) ----------------------------------------- */

/* One directory on the path being archived: its sorted entries, and its fd
 * unless it gave it up (see KEEP_FDS_DEPTH). The path of every frame is a
 * prefix of the shared path buffer. */
struct tframe {
	size_t path_len;
	int fd;
	size_t next;
	struct cstor_tree__names names;
};

struct twalk {
	struct tframe *v;
	size_t depth, cap; /* frames past depth keep their name buffers */
	char *path;
	size_t path_cap;
};

static void twalk_done(struct twalk *w)
{
	for (size_t i = 0; i < w->cap; i++) {
		if (i < w->depth)
			closep(&w->v[i].fd);
		cstor_tree__names_done(&w->v[i].names);
	}
	free(w->v);
	free(w->path);
}

/* Make the path buffer hold @len bytes plus NUL. */
static int path_reserve(struct twalk *w, size_t len)
{
	if (len + 1 <= w->path_cap)
		return 0;
	size_t cap = MAX(w->path_cap * 2, len + 1);
	char *p = realloc(w->path, cap);
	if (!p)
		return -ENOMEM;
	w->path = p;
	w->path_cap = cap;
	return 0;
}

/* Enter the directory @fd, whose path is the current path buffer. */
static int twalk_push(struct twalk *w, int fd, cstor_error *err)
{
	if (w->depth == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		struct tframe *v = realloc(w->v, cap * sizeof(*v));
		if (!v) {
			close(fd);
			return cstor_error_set(err, ENOMEM, "out of memory");
		}
		memset(v + w->cap, 0, (cap - w->cap) * sizeof(*v));
		w->v = v;
		w->cap = cap;
	}
	struct tframe *f = &w->v[w->depth++];
	f->path_len = strlen(w->path);
	f->fd = fd;
	f->next = 0;
	int r = cstor_tree__read_names(&f->names, fd);
	if (r < 0)
		return cstor_error_errno(err, r, "export %s: reading directory",
					 w->path[0] ? w->path : ".");
	return 0;
}

static int export_walk(struct exporter *e, int root_fd, cstor_error *err)
{
	_cleanup_(twalk_done) struct twalk w = { 0 };
	if (path_reserve(&w, 255) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	w.path[0] = 0;
	int fd = cstor_tree__open_dir(root_fd, "");
	if (fd < 0)
		return cstor_error_errno(err, fd, "export: open the layer directory");
	int r = twalk_push(&w, fd, err);
	if (r < 0)
		return r;
	while (w.depth > 0) {
		struct tframe *f = &w.v[w.depth - 1];
		w.path[f->path_len] = 0;
		if (f->next == f->names.n) {
			closep(&f->fd);
			w.depth--;
			continue;
		}
		if (f->fd < 0) {
			f->fd = cstor_tree__open_dir(root_fd, w.path);
			if (f->fd < 0)
				return cstor_error_errno(err, f->fd, "export %s: reopen", w.path);
		}
		unsigned char dtype = f->names.v[f->next].type;
		const char *name = cstor_tree__name(&f->names, f->next++);
		size_t nl = strlen(name), len = f->path_len + (f->path_len ? 1 : 0) + nl;
		if (path_reserve(&w, len) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
		char *o = w.path + f->path_len;
		if (f->path_len)
			*o++ = '/';
		memcpy(o, name, nl + 1);
		bool is_dir;
		r = add_file(e, f->fd, name, dtype, w.path, &is_dir, err);
		if (r == ENTRY_GONE)
			continue; /* gone since the listing */
		if (r < 0)
			return r;
		if (!is_dir)
			continue;
		int cfd = openat(f->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd < 0)
			return cstor_error_errno(err, errno, "export %s: open", w.path);
		if (w.depth >= KEEP_FDS_DEPTH)
			closep(&f->fd);
		if ((r = twalk_push(&w, cfd, err)) < 0)
			return r;
	}
	return 0;
}

int cstor_export_tree(int root_fd, cstor_tar_write_fn write, void *ctx,
		      const struct cstor_export_options *opts, cstor_error *err)
{
	_cleanup_(exporter_done) struct exporter e = { 0 };
	int r = exporter_init(&e, write, ctx, opts, err);
	if (r < 0)
		return r;
	if ((r = export_walk(&e, root_fd, err)) < 0 || (r = exporter_finish(&e, err)) < 0)
		return export_failed(&e, r, err);
	return 0;
}

int cstor_export_overlay_diff(int diff_fd, const int *lower_fds, size_t n_lowers,
			      cstor_tar_write_fn write, void *ctx,
			      const struct cstor_export_options *opts, cstor_error *err)
{
	if (n_lowers && !lower_fds)
		return cstor_error_set(err, EINVAL, "export: no lower layer fds");
	_cleanup_(exporter_done) struct exporter e = {
		.overlay = true,
		.lowers = lower_fds,
		.n_lowers = n_lowers,
		.opaque_xattr = opts && (opts->flags & CSTOR_EXPORT_USERXATTR)
					? "user.overlay.opaque"
					: "trusted.overlay.opaque",
	};
	int r = exporter_init(&e, write, ctx, opts, err);
	if (r < 0)
		return r;
	if ((r = export_walk(&e, diff_fd, err)) < 0 || (r = exporter_finish(&e, err)) < 0)
		return export_failed(&e, r, err);
	return 0;
}

/* ---- Change lists (ExportChanges) ----------------------------------------- */

static int path_ptr_cmp(const void *a, const void *b)
{
	const struct cstor_change *x = *(const struct cstor_change *const *)a;
	const struct cstor_change *y = *(const struct cstor_change *const *)b;
	return strcmp(x->path, y->path);
}

static int add_whiteout(struct exporter *e, const char *rel, const struct timespec *now,
			cstor_error *err)
{
	const char *slash = strrchr(rel, '/');
	size_t dl = slash ? (size_t)(slash - rel) + 1 : 0;
	_cleanup_free_ char *name = NULL;
	if (asprintf(&name, "%.*s.wh.%s", (int)dl, rel, rel + dl) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	cstor_tar_header h = {
		.name = name,
		.typeflag = '0',
		.mtime = { .tv_sec = cstor_tree__round_seconds(now) },
	};
	return cstor_tar_writer_header(e->tw, &h, err);
}

static int export_list(struct exporter *e, int layer_fd, const struct cstor_change_list *l,
		       const struct timespec *whiteout_time, cstor_error *err)
{
	_cleanup_free_ const struct cstor_change **sorted = NULL;
	if (l->n) {
		sorted = malloc(l->n * sizeof(*sorted));
		if (!sorted)
			return cstor_error_set(err, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < l->n; i++)
		sorted[i] = &l->v[i];
	if (l->n > 1)
		qsort(sorted, l->n, sizeof(*sorted), path_ptr_cmp);

	_cleanup_free_ char *cur_dir = NULL;
	_cleanup_close_ int dfd = -1;
	for (size_t i = 0; i < l->n; i++) {
		const char *rel = sorted[i]->path;
		while (*rel == '/')
			rel++;
		if (!*rel)
			continue;
		int r;
		if (sorted[i]->kind == CSTOR_CHANGE_DELETE) {
			struct timespec now;
			if (whiteout_time)
				now = *whiteout_time;
			else
				clock_gettime(CLOCK_REALTIME, &now);
			if ((r = add_whiteout(e, rel, &now, err)) < 0)
				return r;
			continue;
		}
		const char *slash = strrchr(rel, '/');
		size_t dl = slash ? (size_t)(slash - rel) : 0;
		const char *base = slash ? slash + 1 : rel;
		if (!cur_dir || strlen(cur_dir) != dl || strncmp(cur_dir, rel, dl) != 0) {
			free(cur_dir);
			closep(&dfd);
			cur_dir = strndup(rel, dl);
			if (!cur_dir)
				return cstor_error_set(err, ENOMEM, "out of memory");
			dfd = cstor_tree__open_dir(layer_fd, cur_dir);
			if (dfd < 0 && dfd != -ENOENT && dfd != -ENOTDIR && dfd != -ELOOP)
				return cstor_error_errno(err, dfd, "export: open /%s", cur_dir);
		}
		/* Entries that went away since the list was made are left out,
		 * as Go does (it logs them). */
		if (dfd < 0)
			continue;
		r = add_file(e, dfd, base, DT_UNKNOWN, rel, NULL, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int cstor_export_changes(int layer_fd, const struct cstor_change_list *l,
			 cstor_tar_write_fn write, void *ctx,
			 const struct cstor_export_options *opts, cstor_error *err)
{
	if (!l)
		return cstor_error_set(err, EINVAL, "export: no change list");
	_cleanup_(exporter_done) struct exporter e = { 0 };
	int r = exporter_init(&e, write, ctx, opts, err);
	if (r < 0)
		return r;
	r = export_list(&e, layer_fd, l, opts ? opts->whiteout_time : NULL, err);
	if (r < 0 || (r = exporter_finish(&e, err)) < 0)
		return export_failed(&e, r, err);
	return 0;
}
