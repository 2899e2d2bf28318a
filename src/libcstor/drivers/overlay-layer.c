/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Overlay layer directories, laid out exactly as containers/storage lays
 * them out (docs/formats.md §1.3): <id>/{diff,work,merged,link,lower,empty}
 * and a short name l/<link> -> ../<id>/diff, so that long chains of lower
 * directories fit in the kernel's one-page mount data.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive/whiteout.h"
#include "drivers/overlay-internal.h"
#include "util/error-internal.h"
#include "util/fileutil.h"
#include "util/cleanup.h"
#include "util/copy.h"
#include "util/idmap.h"
#include "util/rm.h"
#include "util/failpoint.h"

#define LINK_LEN 26

int overlay_open_layer_dir(struct cstor_driver *d, const char *id, bool *read_only)
{
	if (read_only)
		*read_only = false;
	int fd = openat(d->home_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 || errno != ENOENT)
		return fd >= 0 ? fd : -errno;
	for (size_t i = 0; d->image_stores && d->image_stores[i]; i++) {
		char p[4096];
		if (snprintf(p, sizeof(p), "%s/overlay/%s", d->image_stores[i], id) >= (int)sizeof(p))
			continue;
		fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			if (read_only)
				*read_only = true;
			return fd;
		}
	}
	return -ENOENT;
}

static int new_link_name(char out[LINK_LEN + 1])
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	unsigned char b[LINK_LEN];
	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		return -errno;
	for (int i = 0; i < LINK_LEN; i++)
		out[i] = alphabet[b[i] & 31];
	out[LINK_LEN] = 0;
	return 0;
}

static int read_small(int dirfd, const char *name, char *buf, size_t size)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return (int)n;
}

int overlay_remove(struct cstor_driver *d, const char *id, cstor_error *err)
{
	char link[128];
	_cleanup_close_ int fd = openat(d->home_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && read_small(fd, "link", link, sizeof(link)) > 0 && !strchr(link, '/') &&
	    link[0] != '.') {
		char lp[160];
		snprintf(lp, sizeof(lp), "l/%s", link);
		unlinkat(d->home_fd, lp, 0);
	}
	return cstor_rm_rf_at(d->home_fd, id, err);
}

bool overlay_exists(struct cstor_driver *d, const char *id)
{
	struct stat st;
	return fstatat(d->home_fd, id, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

int overlay_create(struct cstor_driver *d, const char *id, const char *parent, cstor_error *err)
{
	struct stat st;
	if (fstatat(d->home_fd, id, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		/* Leftover of an interrupted creation: remove it with its
		 * link, so two l/ names never point at one layer. */
		int r = overlay_remove(d, id, err);
		if (r < 0)
			return r;
	}
	uid_t uid = geteuid();
	gid_t gid = getegid();
	mode_t perms = 0555;
	char lower[65536] = "";
	if (parent) {
		_cleanup_close_ int pfd = overlay_open_layer_dir(d, parent, NULL);
		if (pfd < 0)
			return cstor_error_errno(err, pfd, "open parent layer %s", parent);
		struct stat ps;
		if (fstatat(pfd, "diff", &ps, 0) < 0)
			return cstor_error_errno(err, errno, "stat diff of parent layer %s", parent);
		perms = ps.st_mode & 07777;
		uid = ps.st_uid;
		gid = ps.st_gid;
		char plink[128];
		int n = read_small(pfd, "link", plink, sizeof(plink));
		if (n <= 0)
			return cstor_error_errno(err, n < 0 ? n : -EBADMSG,
						 "read link of parent layer %s", parent);
		snprintf(lower, sizeof(lower), "l/%s", plink);
		char plower[sizeof(lower) - 64];
		n = read_small(pfd, "lower", plower, sizeof(plower));
		if (n > 0) {
			size_t l = strlen(lower);
			snprintf(lower + l, sizeof(lower) - l, ":%s", plower);
		} else if (n < 0 && n != -ENOENT)
			return cstor_error_errno(err, n, "read lower of parent layer %s", parent);
	}

	if (mkdirat(d->home_fd, id, 0700) < 0)
		return cstor_error_errno(err, errno, "create %s/%s", d->home, id);
	_cleanup_close_ int fd = openat(d->home_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int r = 0;
	char link[LINK_LEN + 1];
	char target[4200], lname[64];
	if (fd < 0) {
		r = cstor_error_errno(err, errno, "open %s/%s", d->home, id);
		goto fail;
	}
	if (mkdirat(fd, "diff", perms) < 0 || fchmodat(fd, "diff", perms, 0) < 0 ||
	    fchownat(fd, "diff", uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
		r = cstor_error_errno(err, errno, "create %s/%s/diff", d->home, id);
		goto fail;
	}
	if ((r = cstor_failpoint_err(err, "overlay-create:after-diff", NULL,
				     "create the layer's link")) < 0)
		goto fail;
	if ((r = new_link_name(link)) < 0) {
		cstor_error_errno(err, r, "generate a link name");
		goto fail;
	}
	snprintf(target, sizeof(target), "../%s/diff", id);
	snprintf(lname, sizeof(lname), "l/%s", link);
	if (symlinkat(target, d->home_fd, lname) < 0) {
		r = cstor_error_errno(err, errno, "create %s/%s", d->home, lname);
		goto fail;
	}
	if ((r = cstor_atomic_write_at(fd, "link", link, LINK_LEN, 0644, 0, "link", err)) < 0)
		goto fail;
	if (mkdirat(fd, "work", 0700) < 0 || mkdirat(fd, "merged", 0700) < 0) {
		r = cstor_error_errno(err, errno, "create work and merged of %s/%s", d->home, id);
		goto fail;
	}
	if (!parent) {
		if (mkdirat(fd, "empty", 0700) < 0) {
			r = cstor_error_errno(err, errno, "create %s/%s/empty", d->home, id);
			goto fail;
		}
	} else if ((r = cstor_atomic_write_at(fd, "lower", lower, strlen(lower), 0644, 0, "lower",
					      err)) < 0)
		goto fail;
	return 0;
fail:
	overlay_remove(d, id, NULL);
	return r < 0 ? r : -EIO;
}

int overlay_list(struct cstor_driver *d, char ***ids, cstor_error *err)
{
	/* Go's ListLayers skips the same names; no layer ID starts with a
	 * dot, so the driver's own hidden files are skipped too. */
	static const char *const skip[] = { "l", "staging", "tempdirs", NULL };
	return cstor_list_subdirs_at(ids, d->home_fd, skip, d->home, err);
}

int overlay_files_dir(struct cstor_driver *d, const char *graph_root, const char *id, char **path)
{
	(void)d;
	return asprintf(path, "%s/overlay/%s/diff", graph_root, id) < 0 ? -ENOMEM : 0;
}

int overlay_reset(struct cstor_driver *d, const char *id, const char *parent, cstor_error *err)
{
	(void)parent; /* the parents' files are the lowers, not copied */
	char p[4200], what[8400];
	snprintf(p, sizeof(p), "%s/diff", id);
	snprintf(what, sizeof(what), "%s/%s", d->home, p);
	int r = cstor_rm_contents_at(d->home_fd, p, what, err);
	if (r < 0)
		return r;
	/* work/ may hold what an interrupted copy-up left. */
	snprintf(p, sizeof(p), "%s/work", id);
	snprintf(what, sizeof(what), "%s/%s", d->home, p);
	(void)cstor_rm_contents_at(d->home_fd, p, what, NULL);
	return 0;
}

static int overlay_whiteout_mode(struct cstor_driver *d)
{
	/* The upper directory keeps whiteouts as the kernel wants them; with
	 * a mount program Go keeps the tar's AUFS ".wh." files instead (the
	 * program may run unprivileged, where mknod fails), and so must we:
	 * Go writes its layers of such a home that way too. */
	return d->mount_program ? CSTOR_WHITEOUT_KEEP : CSTOR_WHITEOUT_OVERLAY;
}

int overlay_apply_target(struct cstor_driver *d, const char *id, int *fd, int *whiteouts,
			 bool *skip_existing_root, cstor_error *err)
{
	char p[4200];
	snprintf(p, sizeof(p), "%s/diff", id);
	*fd = openat(d->home_fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*fd < 0)
		return cstor_error_errno(err, errno, "open %s/%s", d->home, p);
	/* Go's Unpack leaves an existing root alone (diff/ stays 0555). */
	*whiteouts = overlay_whiteout_mode(d);
	*skip_existing_root = true;
	return 0;
}

int overlay_stage_create(struct cstor_driver *d, char **path, int *whiteout_mode, cstor_error *err)
{
	_cleanup_free_ char *dir = NULL, *stage = NULL;
	if (asprintf(&dir, "%s/staging", d->home) < 0 ||
	    asprintf(&stage, "%s/stage-XXXXXX", dir) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	int r = cstor_mkdir_p(dir, 0700, err);
	if (r < 0)
		return r;
	if (!mkdtemp(stage))
		return cstor_error_errno(err, errno, "create a staging directory in %s", dir);
	*whiteout_mode = overlay_whiteout_mode(d);
	*path = TAKE_PTR(stage);
	return 0;
}

int overlay_stage_commit(struct cstor_driver *d, const char *id, const char *path,
			 cstor_error *err)
{
	char diff[4300];
	snprintf(diff, sizeof(diff), "%s/%s/diff", d->home, id);
	struct stat st;
	/* rmdir fails on a non-empty diff/: content applied before. */
	if (stat(diff, &st) < 0 || rmdir(diff) < 0)
		return cstor_error_errno(err, errno,
					 "apply diff to layer %s: its diff directory is not empty", id);
	/* diff/ keeps the metadata create gave it, not the stage's. */
	if (rename(path, diff) < 0 || chmod(diff, st.st_mode & 07777) < 0 ||
	    chown(diff, st.st_uid, st.st_gid) < 0)
		return cstor_error_errno(err, errno, "commit %s as %s", path, diff);
	/* The files were synced while staged; the rename reaches the disk
	 * with an fsync of the directory it landed in (the staging directory
	 * losing the entry needs none: a stage left there is removed). */
	if (!d->no_sync) {
		char layer[4300];
		snprintf(layer, sizeof(layer), "%s/%s", d->home, id);
		_cleanup_close_ int fd = open(layer, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || fsync(fd) < 0)
			return cstor_error_errno(err, errno, "sync %s", layer);
	}
	return 0;
}

/* A layer on @parent whose own files start as a copy of @tmpl's (which has
 * the same parent). */
int overlay_create_from_template(struct cstor_driver *d, const char *id, const char *tmpl,
				 const char *parent, cstor_error *err)
{
	int r = overlay_create(d, id, parent, err);
	if (r < 0)
		return r;
	_cleanup_close_ int tdir = overlay_open_layer_dir(d, tmpl, NULL);
	if (tdir < 0)
		return cstor_error_errno(err, tdir, "overlay: template layer %s", tmpl);
	_cleanup_close_ int src = openat(tdir, "diff", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	char dst_path[4200];
	snprintf(dst_path, sizeof(dst_path), "%s/diff", id);
	_cleanup_close_ int dst =
		openat(d->home_fd, dst_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (src < 0 || dst < 0)
		return cstor_error_errno(err, errno, "overlay: open diff of %s or %s", tmpl, id);
	r = cstor_copy_tree(src, dst, 0, err);
	return r < 0 ? cstor_error_wrap(err, r, "overlay: copy layer %s to %s", tmpl, id) : 0;
}
