/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mounting overlay layers: the whole parent chain through native kernel
 * overlayfs, with lowers named by their short l/ links as containers/storage
 * names them (docs/formats.md §5.3-5.4).
 *
 * The mount data must fit in one page. Like Go, when the absolute form is
 * too long we mount with paths relative to the driver home (lowerdir=l/...),
 * and when even that is too long (deep chains: 500 lowers of "l/<26>" are
 * ~15 KiB) with each lower passed as an open fd, relative to /proc/self/fd
 * (newer containers/storage does the same). The working directory change
 * happens in a vfork()ed child, never in the library's process, whose
 * threads share one cwd.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drivers/overlay-internal.h"
#include "util/error-internal.h"
#include "util/fileutil.h"
#include "util/cleanup.h"
#include "util/idmap.h"
#include "util/debug.h"
#include "util/mountinfo.h"
#include "util/gojson.h"
#include "util/mountopt.h"
#include "util/rm.h"
#include "util/strv.h"

#define MAX_DEPTH 500

static int read_text(int dirfd, const char *name, char **out)
{
	char *buf = NULL;
	size_t len = 0;
	int r = cstor_read_file_at(dirfd, name, &buf, &len, name, NULL);
	if (r < 0)
		return r;
	*out = buf;
	return (int)len;
}

/* The layer of read-only store @store whose "link" file names @link: its
 * diff/. For a store whose l/ symlinks were lost (copied by a tool that
 * drops them): it cannot be repaired, so it is searched, read only. */
static int find_link_in_store(const char *store, const char *link, char **abs, int *fd)
{
	char p[4200];
	snprintf(p, sizeof(p), "%s/overlay", store);
	_cleanup_close_ int dfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -ENOENT;
	int sfd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
	DIR *dir = sfd < 0 ? NULL : fdopendir(sfd);
	if (!dir) {
		if (sfd >= 0)
			close(sfd);
		return -ENOENT;
	}
	int r = -ENOENT;
	struct dirent *de;
	while (r == -ENOENT && (de = readdir(dir))) {
		if (de->d_name[0] == '.' || streq(de->d_name, "l"))
			continue;
		char lp[4200], name[128];
		snprintf(lp, sizeof(lp), "%s/link", de->d_name);
		_cleanup_close_ int lf = openat(dfd, lp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		ssize_t n = lf < 0 ? -1 : read(lf, name, sizeof(name) - 1);
		if (n <= 0)
			continue;
		name[n] = 0;
		if (!streq(name, link))
			continue;
		snprintf(lp, sizeof(lp), "%s/diff", de->d_name);
		int f = openat(dfd, lp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (f < 0)
			continue;
		if (asprintf(abs, "%s/%s/diff", p, de->d_name) < 0) {
			close(f);
			r = -ENOMEM;
		} else {
			*fd = f;
			r = 0;
		}
	}
	closedir(dir);
	return r;
}

/* Resolve one lower "l/<link>" to a directory: the home's l/ first, then
 * each additional store's. *abs gets the path passed to the kernel (the
 * symlink, as Go passes it) and *fd an O_PATH fd of the directory. */
static int resolve_lower(struct cstor_driver *d, const char *l, char **abs, int *fd)
{
	/* One name in l/: "l/.." would be the driver's home itself. */
	if (strncmp(l, "l/", 2) != 0 || strchr(l + 2, '/') || !l[2] || streq(l + 2, ".") ||
	    streq(l + 2, ".."))
		return -EBADMSG;
	int f = openat(d->home_fd, l, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (f >= 0) {
		*fd = f;
		return asprintf(abs, "%s/%s", d->home, l) < 0 ? -ENOMEM : 0;
	}
	for (size_t i = 0; d->image_stores && d->image_stores[i]; i++) {
		char p[4200];
		snprintf(p, sizeof(p), "%s/overlay/%s", d->image_stores[i], l);
		f = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (f >= 0) {
			*fd = f;
			return (*abs = strdup(p)) ? 0 : -ENOMEM;
		}
	}
	for (size_t i = 0; d->image_stores && d->image_stores[i]; i++)
		if (find_link_in_store(d->image_stores[i], l + 2, abs, fd) == 0)
			return 0;
	return -ENOENT;
}

/* Recreate l/ symlinks from the layers' "link" files (they live in the
 * graph root and survive, but a crash or a copy may lose the links). */
int overlay_recreate_links(struct cstor_driver *d)
{
	_cleanup_close_ int dfd = fcntl(d->home_fd, F_DUPFD_CLOEXEC, 3);
	if (dfd < 0)
		return -errno;
	DIR *dir = fdopendir(dfd);
	if (!dir)
		return -errno;
	dfd = -1;
	struct dirent *de;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.' || streq(de->d_name, "l") || de->d_type != DT_DIR)
			continue;
		char p[4200], link[128];
		snprintf(p, sizeof(p), "%s/link", de->d_name);
		_cleanup_close_ int lf = openat(d->home_fd, p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		ssize_t n = lf < 0 ? -1 : read(lf, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = 0;
		if (strchr(link, '/') || link[0] == '.')
			continue;
		char lp[200], target[4200];
		snprintf(lp, sizeof(lp), "l/%s", link);
		snprintf(target, sizeof(target), "../%s/diff", de->d_name);
		if (symlinkat(target, d->home_fd, lp) < 0 && errno != EEXIST) {
			closedir(dir);
			return -errno;
		}
	}
	closedir(dir);
	return 0;
}

struct mount_req {
	const char *data;
	const char *target;
	unsigned long flags;
	int cwd_fd;          /* -1: no chdir */
	const char *cwd_path; /* or a path to chdir to */
};

/* Mount from another working directory without touching ours. */
static int mount_in_child(const struct mount_req *m)
{
	pid_t pid = vfork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (m->cwd_fd >= 0 && fchdir(m->cwd_fd) < 0)
			_exit(errno);
		if (m->cwd_path && chdir(m->cwd_path) < 0)
			_exit(errno);
		if (mount("overlay", m->target, "overlay", m->flags, m->data) < 0)
			_exit(errno);
		_exit(0);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(st))
		return -EIO;
	return -WEXITSTATUS(st);
}

/* The path of an open directory, as the kernel knows it. */
static int fd_path(int fd, char **out)
{
	char p[64], real[4200];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	ssize_t l = readlink(p, real, sizeof(real) - 1);
	if (l < 0)
		return -errno;
	real[l] = 0;
	return (*out = strdup(real)) ? 0 : -ENOMEM;
}

static void close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* @p relative to the home when it lies in it (l/<link>, <id>/diff), else
 * @p itself. */
static const char *home_relative(struct cstor_driver *d, const char *p)
{
	size_t n = strlen(d->home);
	return strncmp(p, d->home, n) == 0 && p[n] == '/' && p[n + 1] ? p + n + 1 : p;
}

/* An argv string may be up to 32 pages (MAX_ARG_STRLEN). */
#define MAX_ARG_LEN (32 * 4096)

/*
 * Mount through overlay.mount_program. The data is Go's (absolute lowers,
 * upper and work, then the options); no page limit applies to an argv, but
 * a long one is shortened as the kernel mounts are, with paths relative to
 * the home, where the program runs. Lowers of additional stores stay
 * absolute. @abs holds the @k lowers, the layer's own diff first when
 * read-only.
 */
static int mount_with_program(struct cstor_driver *d, const char *id, char **abs, size_t k,
			      bool read_write, const char *data, const char *label,
			      const char *target, cstor_error *err)
{
	const char *sep = data[0] ? "," : "";
	_cleanup_free_ char *mdata = NULL;
	for (int rel = 0; rel < 2 && !mdata; rel++) {
		cstor_buf b = { 0 };
		cstor_buf_puts(&b, "lowerdir=");
		for (size_t i = 0; i < k; i++)
			cstor_buf_printf(&b, "%s%s", i ? ":" : "",
					 rel ? home_relative(d, abs[i]) : abs[i]);
		if (read_write && rel)
			cstor_buf_printf(&b, ",upperdir=%s/diff,workdir=%s/work", id, id);
		else if (read_write)
			cstor_buf_printf(&b, ",upperdir=%s/%s/diff,workdir=%s/%s/work", d->home, id,
					 d->home, id);
		cstor_buf_printf(&b, "%s%s%s", sep, data, label ? label : "");
		char *m = cstor_buf_steal(&b, NULL);
		if (!m)
			return cstor_error_set(err, ENOMEM, "out of memory");
		if (strlen(m) < (size_t)sysconf(_SC_PAGESIZE) || (rel && strlen(m) < MAX_ARG_LEN))
			mdata = m;
		else if (rel) {
			size_t len = strlen(m);
			free(m);
			return cstor_error_set(err, E2BIG,
					       "overlay: cannot mount layer %s: mount data too long (%zu "
					       "bytes) for mount program %s",
					       id, len, d->mount_program);
		} else
			free(m);
	}
	int r = overlay_program_mount(d, mdata, target, err);
	if (r < 0)
		return cstor_error_wrap(err, r, "overlay: mount layer %s on %s", id, target);
	return 0;
}

/* The lower directories of a mount, top first: paths for the mount data
 * and O_PATH fds for when the paths are too long for it. */
struct lowers {
	char **abs;
	int *fds;
	size_t n;
};

static void lowers_done(struct lowers *l)
{
	strv_free(l->abs);
	if (l->fds)
		close_fds(l->fds, l->n);
	free(l->fds);
	memset(l, 0, sizeof(*l));
}

/* Add <dir>/@name of the layer itself (its diff/ or empty/). */
static int lowers_add_own(struct lowers *l, int dir, const char *id, const char *name,
			  cstor_error *err)
{
	int fd = openat(dir, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return cstor_error_errno(err, errno, "overlay: open %s/%s", id, name);
	int r = fd_path(fd, &l->abs[l->n]);
	if (r < 0) {
		close(fd);
		return cstor_error_errno(err, r, "overlay: resolve %s/%s", id, name);
	}
	l->fds[l->n++] = fd;
	return 0;
}

/* The layer's empty/, or when it has none (a store copied by a tool that
 * keeps no empty directories; a read-only store's layer cannot be given
 * one) an empty directory of our run home. */
static int lowers_add_empty(struct lowers *l, struct cstor_driver *d, int dir, const char *id,
			    cstor_error *err)
{
	if (faccessat(dir, "empty", F_OK, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
		return lowers_add_own(l, dir, id, "empty", err);
	_cleanup_free_ char *p = NULL;
	if (asprintf(&p, "%s/empty", d->run_home) < 0) {
		p = NULL; /* undefined after a failure */
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	int r = cstor_mkdir_p(p, 0700, err);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = open(p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cstor_error_errno(err, errno, "overlay: open %s", p);
	l->abs[l->n] = TAKE_PTR(p);
	l->fds[l->n++] = TAKE_FD(fd);
	return 0;
}

/* The lowers of layer @id (its "lower" file), with its own diff/ on top
 * when it is mounted read-only, or its empty/ when it has none. */
static int lowers_collect(struct lowers *l, struct cstor_driver *d, int dir, const char *id,
			  bool read_write, cstor_error *err)
{
	_cleanup_free_ char *lower_text = NULL;
	int n = read_text(dir, "lower", &lower_text);
	if (n < 0 && n != -ENOENT)
		return cstor_error_errno(err, n, "overlay: read lower of %s", id);
	_cleanup_strv_free_ char **names = strv_split(n > 0 ? lower_text : "", ':');
	if (!names)
		return cstor_error_set(err, ENOMEM, "out of memory");
	strv_remove(names, "");
	size_t nl = strv_length(names);
	/* The layer and its lowers: at most MAX_DEPTH layers in one mount. */
	if (nl + 1 > MAX_DEPTH)
		return cstor_error_set(err, EINVAL,
				       "overlay: cannot mount layer %s: max depth exceeded (a chain of "
				       "%zu layers, the limit is %d)",
				       id, nl + 1, MAX_DEPTH);
	/* The lowers, the layer's own diff/ (read-only), its empty/ (no
	 * lowers) and the terminating NULL. */
	if (!(l->abs = calloc(nl + 3, sizeof(char *))) || !(l->fds = calloc(nl + 3, sizeof(int))))
		return cstor_error_set(err, ENOMEM, "out of memory");
	int r = 0;
	/* Read-only: the layer's own diff is the top lower. */
	if (!read_write && (r = lowers_add_own(l, dir, id, "diff", err)) < 0)
		return r;
	for (size_t i = 0; i < nl; i++) {
		r = resolve_lower(d, names[i], &l->abs[l->n], &l->fds[l->n]);
		if (r == -ENOENT && overlay_recreate_links(d) == 0)
			r = resolve_lower(d, names[i], &l->abs[l->n], &l->fds[l->n]);
		if (r == -EBADMSG)
			return cstor_error_set(err, EBADMSG,
					       "overlay: the lower file of layer %s names \"%s\", "
					       "which is not a link in l/",
					       id, names[i]);
		if (r < 0)
			return cstor_error_errno(err, r, "overlay: lower layer %s of %s", names[i], id);
		l->n++;
	}
	/* No lowers: the layer's empty/ directory stands in (overlay needs
	 * two lowers when it has no upper). */
	if (l->n == (read_write ? 0u : 1u))
		return lowers_add_empty(l, d, dir, id, err);
	return 0;
}

/* The mount options: the caller's, or the driver's mountopt. */
static char **mount_options(struct cstor_driver *d, char *const *options)
{
	char **opts = options && options[0] ? strv_copy(options)
					    : strv_split(d->mountopt ? d->mountopt : "", ',');
	if (opts && !d->metacopy)
		strv_remove(opts, "metacopy=on");
	return opts;
}

/* Where the mount goes: the layer's merged/ in our home, or for a layer of
 * a read-only store a directory in our run home. Whatever is mounted there
 * is a leftover (the caller knows of no holder): never stack a second mount
 * on it. Nothing is created in a read-only store, not even its layer's
 * merged/: containers/storage removes merged/ on unmount, so a store Go
 * used has none, and a read-only store must not change whoever made it. */
static int mount_target(char **target, struct cstor_driver *d, int dir, const char *id,
			bool in_ro_store, cstor_error *err)
{
	_cleanup_free_ char *old = NULL;
	if (overlay_mount_path(d, id, &old) == 0)
		for (int i = 0; i < 64 && cstor_mountinfo_has(old, NULL); i++)
			if (umount2(old, MNT_DETACH) < 0)
				break;
	if (in_ro_store) {
		if (asprintf(target, "%s/%s/merged", d->run_home, id) < 0) {
			*target = NULL; /* undefined after a failure */
			return cstor_error_set(err, ENOMEM, "out of memory");
		}
	} else {
		if (mkdirat(dir, "merged", 0700) < 0 && errno != EEXIST)
			return cstor_error_errno(err, errno, "overlay: create merged of %s", id);
		if (asprintf(target, "%s/%s/merged", d->home, id) < 0) {
			/* asprintf leaves the pointer undefined on failure. */
			*target = NULL;
			return cstor_error_set(err, ENOMEM, "out of memory");
		}
	}
	int r = in_ro_store ? cstor_mkdir_p(*target, 0700, err) : 0;
	/* mount(2) follows symlinks: a merged/ replaced by one would put the
	 * mount (and later unmounts) outside the store. */
	struct stat st;
	if (r == 0 && (lstat(*target, &st) < 0 || !S_ISDIR(st.st_mode)))
		r = cstor_error_set(err, ENOTDIR, "overlay: mount point %s is not a directory",
				    *target);
	if (r < 0) {
		free(*target);
		*target = NULL;
	}
	return r;
}

/* The kernel mount; when the data with paths is longer than a page, every
 * lower as an fd number, relative to /proc/self/fd in a child (fds are
 * inherited by vfork). */
static int kernel_mount(struct cstor_driver *d, const char *id, const struct lowers *l,
			bool read_write, unsigned long flags, const char *data, const char *label,
			const char *target, cstor_error *err)
{
	long page = sysconf(_SC_PAGESIZE);
	const char *sep = data[0] ? "," : "";
	for (int as_fds = 0; as_fds < 2; as_fds++) {
		cstor_buf b = { 0 };
		cstor_buf_puts(&b, "lowerdir=");
		for (size_t i = 0; i < l->n; i++)
			if (as_fds)
				cstor_buf_printf(&b, "%s%d", i ? ":" : "", l->fds[i]);
			else
				cstor_buf_printf(&b, "%s%s", i ? ":" : "", l->abs[i]);
		if (read_write)
			cstor_buf_printf(&b, ",upperdir=%s/%s/diff,workdir=%s/%s/work", d->home, id,
					 d->home, id);
		cstor_buf_printf(&b, "%s%s%s", sep, data, label ? label : "");
		_cleanup_free_ char *mdata = cstor_buf_steal(&b, NULL);
		if (!mdata)
			return cstor_error_set(err, ENOMEM, "out of memory");
		if ((long)strlen(mdata) >= page) {
			if (as_fds)
				return cstor_error_set(err, E2BIG,
						       "overlay: cannot mount layer %s: mount data too "
						       "long (%zu bytes) even with lowers passed as fds",
						       id, strlen(mdata));
			continue;
		}
		int r = 0;
		if (!as_fds)
			r = mount("overlay", target, "overlay", flags, mdata) < 0 ? -errno : 0;
		else {
			struct mount_req m = { mdata, target, flags, -1, "/proc/self/fd" };
			r = mount_in_child(&m);
		}
		if (r < 0)
			return cstor_error_errno(err, r, "overlay: mount layer %s on %s", id, target);
		return 0;
	}
	return 0;
}

/* The lowers shown through idmapped mounts of @maps, attached under the
 * layer's mapped/ (containers/storage's place for them) and detached again
 * once the overlay is mounted: overlay keeps its own references. */
struct mapped_lowers {
	char **targets;
	size_t n;
};

static void mapped_lowers_done(struct mapped_lowers *m)
{
	for (size_t i = 0; i < m->n; i++) {
		overlay_idmapped_unmount(m->targets[i]);
		rmdir(m->targets[i]);
	}
	strv_free(m->targets);
	memset(m, 0, sizeof(*m));
}

static int map_lowers(struct mapped_lowers *m, struct lowers *l, struct cstor_driver *d, int dir,
		      const char *id, const struct cstor_idmaps *maps, cstor_error *err)
{
	_cleanup_close_ int ns = -1;
	int r = overlay_userns_open(maps, &ns, err);
	if (r < 0)
		return cstor_error_wrap(err, r, "overlay: mount layer %s with ID mappings", id);
	if (mkdirat(dir, "mapped", 0700) < 0 && errno != EEXIST)
		return cstor_error_errno(err, errno, "overlay: create %s/%s/mapped", d->home, id);
	if (!(m->targets = calloc(l->n + 1, sizeof(char *))))
		return cstor_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < l->n; i++) {
		char *t = NULL;
		if (asprintf(&t, "%s/%s/mapped/%zu", d->home, id, i) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
		overlay_idmapped_unmount(t); /* a crashed process's leftover */
		if (mkdir(t, 0700) < 0 && errno != EEXIST) {
			r = cstor_error_errno(err, errno, "overlay: create %s", t);
			free(t);
			return r;
		}
		if ((r = overlay_idmapped_mount(l->fds[i], ns, t, err)) < 0) {
			rmdir(t);
			free(t);
			return cstor_error_wrap(err, r, "overlay: mount layer %s with ID mappings", id);
		}
		m->targets[m->n++] = t;
		int fd = open(t, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return cstor_error_errno(err, errno, "overlay: open %s", t);
		close(l->fds[i]);
		l->fds[i] = fd;
		free(l->abs[i]);
		if (!(l->abs[i] = strdup(t)))
			return cstor_error_set(err, ENOMEM, "out of memory");
	}
	return 0;
}

int overlay_get(struct cstor_driver *d, const char *id, char *const *options,
		const char *mount_label, const struct cstor_idmaps *maps, char **path,
		cstor_error *err)
{
	bool in_ro_store = false;
	_cleanup_close_ int dir = overlay_open_layer_dir(d, id, &in_ro_store);
	if (dir < 0)
		return cstor_error_errno(err, dir, "overlay: layer %s", id);
	_cleanup_strv_free_ char **opts = mount_options(d, options);
	if (!opts)
		return cstor_error_set(err, ENOMEM, "out of memory");
	/* A layer of a read-only store is mounted read-only, with its mount
	 * point in our home (the store is not ours to write). */
	bool read_write = !in_ro_store && !strv_contains(opts, "ro");

	_cleanup_(lowers_done) struct lowers l = { 0 };
	int r = lowers_collect(&l, d, dir, id, read_write, err);
	if (r < 0)
		return r;
	unsigned long flags = 0;
	_cleanup_free_ char *joined = strv_join(opts, ","), *data = NULL, *label = NULL;
	if (!joined || cstor_mount_options_parse(joined, &flags, &data) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	if (mount_label && mount_label[0] &&
	    asprintf(&label, ",context=\"%s\"", mount_label) < 0) {
		label = NULL; /* undefined after a failure */
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	_cleanup_free_ char *target = NULL;
	if ((r = mount_target(&target, d, dir, id, in_ro_store, err)) < 0)
		return r;
	/* A volatile upper left by a crash makes the kernel refuse it. */
	if (read_write) {
		char v[4300];
		snprintf(v, sizeof(v), "%s/work/work/incompat/volatile", id);
		cstor_rm_rf_at_quiet(d->home_fd, v);
	}
	/* Only with idmapped lowers usable (the store asks first). */
	_cleanup_(mapped_lowers_done) struct mapped_lowers ml = { 0 };
	if (maps && (maps->n_uids || maps->n_gids) && !d->mount_program &&
	    (r = map_lowers(&ml, &l, d, dir, id, maps, err)) < 0)
		return r;
	if (d->mount_program) {
		/* The program gets the data only: mount flags ("ro",
		 * "nodev", ...) are the kernel's, and Go drops them too. */
		r = mount_with_program(d, id, l.abs, l.n, read_write, data, label, target, err);
	} else
		r = kernel_mount(d, id, &l, read_write, flags, data, label, target, err);
	if (r == 0)
		cstor_debug("mount %s: overlay of layer %s with %zu lower%s%s%s", target, id, l.n,
			    l.n == 1 ? "" : "s", d->mount_program ? " through " : "",
			    d->mount_program ? d->mount_program : "");
	if (r == 0)
		*path = TAKE_PTR(target);
	return r;
}

int overlay_mount_path(struct cstor_driver *d, const char *id, char **path)
{
	struct stat st;
	bool here = fstatat(d->home_fd, id, &st, AT_SYMLINK_NOFOLLOW) == 0;
	return asprintf(path, "%s/%s/merged", here ? d->home : d->run_home, id) < 0 ? -ENOMEM : 0;
}

int overlay_put(struct cstor_driver *d, const char *id, cstor_error *err)
{
	_cleanup_free_ char *target = NULL;
	if (overlay_mount_path(d, id, &target) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	if (d->mount_program)
		overlay_program_sync(target);
	/* Every mount there goes, also ones stacked by a crashed process. */
	for (int i = 0; i < 64 && cstor_mountinfo_has(target, NULL); i++)
		if (umount2(target, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
			return cstor_error_errno(err, errno, "overlay: unmount %s", target);
	return 0;
}

bool overlay_is_mounted(struct cstor_driver *d, const char *id, const char *path)
{
	/* With a mount program its FUSE mounts count, and so does a kernel
	 * overlay mount made before the store was switched to the program. */
	return cstor_mountinfo_has(path, "overlay") ||
	       (d->mount_fstype && cstor_mountinfo_has(path, d->mount_fstype));
}

int overlay_diff_dirs(struct cstor_driver *d, const char *id, int *top, int **lowers,
		      size_t *n_lowers, bool *native, cstor_error *err)
{
	*lowers = NULL;
	*n_lowers = 0;
	*native = !d->metacopy && !d->mount_program && overlay_native_diff(d);
	_cleanup_close_ int dir = overlay_open_layer_dir(d, id, NULL);
	if (dir < 0)
		return cstor_error_errno(err, dir, "overlay: layer %s", id);
	_cleanup_free_ char *lower_text = NULL;
	int n = read_text(dir, "lower", &lower_text);
	if (n < 0 && n != -ENOENT)
		return cstor_error_errno(err, n, "overlay: read lower of %s", id);
	_cleanup_strv_free_ char **ls = strv_split(n > 0 ? lower_text : "", ':');
	if (!ls)
		return cstor_error_set(err, ENOMEM, "out of memory");
	strv_remove(ls, "");
	size_t nl = strv_length(ls);
	_cleanup_free_ int *fds = calloc(nl + 1, sizeof(int));
	if (!fds)
		return cstor_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < nl; i++) {
		_cleanup_free_ char *abs = NULL;
		int r = resolve_lower(d, ls[i], &abs, &fds[i]);
		if (r == -ENOENT && overlay_recreate_links(d) == 0)
			r = resolve_lower(d, ls[i], &abs, &fds[i]);
		if (r < 0) {
			close_fds(fds, i);
			return cstor_error_errno(err, r, "overlay: lower layer %s of %s", ls[i], id);
		}
	}
	*top = openat(dir, "diff", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*top < 0) {
		close_fds(fds, nl);
		return cstor_error_errno(err, errno, "overlay: open %s/diff", id);
	}
	*lowers = TAKE_PTR(fds);
	*n_lowers = nl;
	return 0;
}

/* The chown copy through the layer's own mount: every file shifted there
 * is copied up into its diff/, so the layer shows its parents' files with
 * the new owners and the parents stay as they are (containers/storage
 * shifts through a mount too). */
int overlay_shift_owners(struct cstor_driver *d, const char *id, const struct cstor_idmaps *from,
			 const struct cstor_idmaps *to, cstor_error *err)
{
	_cleanup_free_ char *path = NULL;
	int r = overlay_get(d, id, NULL, NULL, NULL, &path, err);
	if (r < 0)
		return cstor_error_wrap(err, r, "shift owners of layer %s", id);
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		r = cstor_error_errno(err, errno, "open %s", path);
	else {
		r = cstor_idmap_shift_tree(fd, from, to, err);
		close(fd);
		if (r < 0)
			cstor_error_wrap(err, r, "shift owners of layer %s", id);
	}
	int p = overlay_put(d, id, r < 0 ? NULL : err);
	return r < 0 ? r : p;
}
