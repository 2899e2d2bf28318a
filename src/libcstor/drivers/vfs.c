/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The vfs driver: every layer is a full directory tree under
 * <home>/dir/<id>; a child starts as a copy of its parent.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive/whiteout.h"
#include "store/config.h"
#include "drivers/driver.h"
#include "util/error-internal.h"
#include "util/fileutil.h"
#include "util/cleanup.h"
#include "util/debug.h"
#include "util/copy.h"
#include "util/mountinfo.h"
#include "util/rm.h"
#include "util/strv.h"
#include "util/failpoint.h"

struct cstor_driver {
	char *home;
	char *run_home; /* read-only bind mounts of additional stores' layers */
	int dir_fd; /* <home>/dir */
	char **image_stores; /* read-only homes of additional stores */
	bool ignore_chown_errors;
	bool no_sync; /* vfs.sync=none */
};

static void vfs_free(struct cstor_driver *d)
{
	if (!d)
		return;
	free(d->home);
	free(d->run_home);
	if (d->dir_fd >= 0)
		close(d->dir_fd);
	strv_free(d->image_stores);
	free(d);
}

static int parse_bool(const char *v, bool *out)
{
	/* Go's strconv.ParseBool. */
	static const char *const t[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const f[] = { "0", "f", "F", "FALSE", "false", "False" };
	for (size_t i = 0; i < ELEMENTSOF(t); i++) {
		if (streq(v, t[i])) {
			*out = true;
			return 0;
		}
		if (streq(v, f[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int vfs_init(struct cstor_driver **out, const struct cstor_driver_init *in, cstor_error *err)
{
	struct cstor_driver *d = calloc(1, sizeof(*d));
	if (d)
		d->dir_fd = -1;
	if (!d || !(d->home = strdup(in->home)) || !(d->run_home = strdup(in->run_home))) {
		if (d)
			free(d->home);
		free(d);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	for (size_t i = 0; in->options && in->options[i]; i++) {
		_cleanup_free_ char *prefix = NULL, *key = NULL, *val = NULL;
		int r = cstor_driver_opt_split(in->options[i], &prefix, &key, &val);
		if (r < 0) {
			vfs_free(d);
			return cstor_error_set(err, EINVAL, "invalid vfs option \"%s\"", in->options[i]);
		}
		if (streq(key, "imagestore")) {
			_cleanup_strv_free_ char **parts = strv_split(val, ',');
			for (size_t k = 0; parts && parts[k]; k++)
				if (parts[k][0] && strv_append(&d->image_stores, parts[k]) < 0)
					r = -ENOMEM;
			if (!parts || r < 0) {
				vfs_free(d);
				return cstor_error_set(err, ENOMEM, "out of memory");
			}
		} else if (streq(key, "ignore_chown_errors")) {
			if (parse_bool(val, &d->ignore_chown_errors) < 0) {
				vfs_free(d);
				return cstor_error_set(err, EINVAL,
						       "vfs option ignore_chown_errors: \"%s\" is not a boolean",
						       val);
			}
		} else if (streq(key, "sync")) {
			bool durable = true;
			if ((r = cstor_driver_parse_sync("vfs", val, &durable, err)) < 0) {
				vfs_free(d);
				return r;
			}
			d->no_sync = !durable;
		} else if (streq(key, "mountopt")) {
			vfs_free(d);
			return cstor_error_set(err, EINVAL, "vfs driver does not support mount options");
		} else {
			vfs_free(d);
			return cstor_error_set(err, EINVAL, "vfs driver does not support option \"%s\"",
					       in->options[i]);
		}
	}
	_cleanup_free_ char *dir = cstor_path_join(in->home, "dir");
	if (!dir) {
		vfs_free(d);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	int r = cstor_mkdir_p(dir, 0700, err);
	if (r < 0) {
		vfs_free(d);
		return r;
	}
	d->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->dir_fd < 0) {
		r = cstor_error_errno(err, errno, "open %s", dir);
		vfs_free(d);
		return r;
	}
	*out = d;
	return 0;
}

static int vfs_status(struct cstor_driver *d, char ***pairs, cstor_error *err)
{
	return 0;
}

static char *ro_store_dir(struct cstor_driver *d, const char *id);

static int vfs_create(struct cstor_driver *d, const char *id, const char *parent,
		      cstor_error *err)
{
	int r = cstor_rm_rf_at(d->dir_fd, id, err);
	if (r < 0)
		return r;
	mode_t mode = 0555;
	uid_t uid = 0;
	gid_t gid = 0;
	_cleanup_close_ int pfd = -1;
	if (parent) {
		pfd = openat(d->dir_fd, parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (pfd < 0 && errno == ENOENT) {
			/* A parent of an additional (read-only) store. */
			_cleanup_free_ char *ro = ro_store_dir(d, parent);
			if (ro)
				pfd = open(ro, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			else
				errno = ENOENT;
		}
		if (pfd < 0)
			return cstor_error_errno(err, errno, "open parent layer %s", parent);
		struct stat st;
		if (fstat(pfd, &st) < 0)
			return cstor_error_errno(err, errno, "stat parent layer %s", parent);
		mode = st.st_mode & 07777;
		uid = st.st_uid;
		gid = st.st_gid;
	} else {
		uid = geteuid();
		gid = getegid();
	}
	if (mkdirat(d->dir_fd, id, 0700) < 0)
		return cstor_error_errno(err, errno, "create layer directory %s/dir/%s", d->home, id);
	_cleanup_close_ int fd = openat(d->dir_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cstor_error_errno(err, errno, "open layer directory %s/dir/%s", d->home, id);
	if (fchown(fd, uid, gid) < 0 && !d->ignore_chown_errors)
		return cstor_error_errno(err, errno, "chown layer directory %s/dir/%s", d->home, id);
	if ((r = cstor_failpoint_err(err, "vfs-create:after-mkdir", NULL,
				     "fill layer directory")) < 0)
		return r;
	if (parent) {
		/* A child starts as a full copy of its parent. */
		r = cstor_copy_tree(pfd, fd, 0, err);
		if (r < 0)
			return cstor_error_wrap(err, r, "copy layer %s into %s", parent, id);
	}
	if (fchmod(fd, mode) < 0)
		return cstor_error_errno(err, errno, "chmod layer directory %s/dir/%s", d->home, id);
	return 0;
}

static int vfs_remove(struct cstor_driver *d, const char *id, cstor_error *err)
{
	return cstor_rm_rf_at(d->dir_fd, id, err);
}

static bool vfs_exists(struct cstor_driver *d, const char *id)
{
	struct stat st;
	return fstatat(d->dir_fd, id, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

static int vfs_list(struct cstor_driver *d, char ***ids, cstor_error *err)
{
	return cstor_list_subdirs_at(ids, d->dir_fd, NULL, d->home, err);
}

static int vfs_files_dir(struct cstor_driver *d, const char *graph_root, const char *id,
			 char **path)
{
	(void)d;
	return asprintf(path, "%s/vfs/dir/%s", graph_root, id) < 0 ? -ENOMEM : 0;
}

/* The directory of @id in an additional (read-only) store, or NULL. */
static char *ro_store_dir(struct cstor_driver *d, const char *id)
{
	for (size_t i = 0; d->image_stores && d->image_stores[i]; i++) {
		char *p;
		if (asprintf(&p, "%s/vfs/dir/%s", d->image_stores[i], id) < 0)
			return NULL;
		struct stat st;
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			return p;
		free(p);
	}
	return NULL;
}

static int vfs_get(struct cstor_driver *d, const char *id, char *const *options,
		   const char *mount_label, const struct cstor_idmaps *maps, char **path,
		   cstor_error *err)
{
	(void)maps; /* never given: vfs cannot shift at mount time */
	for (size_t i = 0; options && options[i]; i++)
		if (!streq(options[i], "ro"))
			return cstor_error_set(err, EINVAL,
					       "vfs driver does not support mount options (\"%s\")",
					       options[i]);
	if (vfs_exists(d, id)) {
		/* The directory is the layer: nothing to mount. */
		if (asprintf(path, "%s/dir/%s", d->home, id) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
		return 0;
	}
	/* A layer of a read-only store is shown through a read-only bind
	 * mount in our run root, so nobody writes into that store through
	 * the path we hand out. */
	_cleanup_free_ char *src = ro_store_dir(d, id);
	if (!src)
		return cstor_error_set(err, ENOENT, "layer directory of %s does not exist", id);
	_cleanup_free_ char *target = cstor_path_join(d->run_home, id);
	if (!target)
		return cstor_error_set(err, ENOMEM, "out of memory");
	int r = cstor_mkdir_p(target, 0700, err);
	if (r < 0)
		return r;
	/* A leftover of a crashed process: do not stack on it. */
	for (int i = 0; i < 64 && cstor_mountinfo_has(target, NULL); i++)
		if (umount2(target, MNT_DETACH) < 0)
			break;
	if (mount(src, target, NULL, MS_BIND, NULL) < 0)
		return cstor_error_errno(err, errno, "bind mount %s on %s", src, target);
	cstor_debug("mount %s: read-only bind mount of %s", target, src);
	if (mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0) {
		r = cstor_error_errno(err, errno, "make %s read-only", target);
		umount2(target, MNT_DETACH);
		return r;
	}
	*path = TAKE_PTR(target);
	return 0;
}

static int vfs_put(struct cstor_driver *d, const char *id, cstor_error *err)
{
	_cleanup_free_ char *target = cstor_path_join(d->run_home, id);
	if (!target)
		return cstor_error_set(err, ENOMEM, "out of memory");
	bool any = false;
	for (int i = 0; i < 64 && cstor_mountinfo_has(target, NULL); i++) {
		any = true;
		if (umount2(target, MNT_DETACH) < 0)
			return cstor_error_errno(err, errno, "unmount %s", target);
	}
	if (any)
		rmdir(target);
	return 0;
}

static int vfs_mount_path(struct cstor_driver *d, const char *id, char **path)
{
	if (vfs_exists(d, id))
		return asprintf(path, "%s/dir/%s", d->home, id) < 0 ? -ENOMEM : 0;
	return (*path = cstor_path_join(d->run_home, id)) ? 0 : -ENOMEM;
}

static bool vfs_is_mounted(struct cstor_driver *d, const char *id, const char *path)
{
	if (vfs_exists(d, id))
		return true; /* the directory is the layer */
	return cstor_mountinfo_has(path, NULL);
}

static int vfs_apply_target(struct cstor_driver *d, const char *id, int *fd, int *whiteouts,
			    bool *skip_existing_root, cstor_error *err)
{
	*fd = openat(d->dir_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*fd < 0)
		return cstor_error_errno(err, errno, "open layer directory %s/dir/%s", d->home, id);
	/* vfs layers hold the whole tree: whiteouts delete, and the tar's
	 * root entry sets the layer root's metadata (Go's UnpackLayer). */
	*whiteouts = CSTOR_WHITEOUT_EXECUTE;
	*skip_existing_root = false;
	return 0;
}

static int vfs_diff_dirs(struct cstor_driver *d, const char *id, int *top, int **lowers,
			 size_t *n_lowers, bool *native, cstor_error *err)
{
	*lowers = NULL;
	*n_lowers = 0;
	*native = false;
	*top = openat(d->dir_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*top < 0 && errno == ENOENT) {
		/* A layer of an additional store. */
		for (size_t i = 0; d->image_stores && d->image_stores[i]; i++) {
			char p[4200];
			snprintf(p, sizeof(p), "%s/vfs/dir/%s", d->image_stores[i], id);
			*top = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (*top >= 0)
				return 0;
		}
		errno = ENOENT;
	}
	if (*top < 0)
		return cstor_error_errno(err, errno, "open layer directory %s/dir/%s", d->home, id);
	return 0;
}

/* The chown copy in place: a vfs layer is its whole tree. */
static int vfs_shift_owners(struct cstor_driver *d, const char *id, const struct cstor_idmaps *from,
			    const struct cstor_idmaps *to, cstor_error *err)
{
	_cleanup_close_ int fd = openat(d->dir_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cstor_error_errno(err, errno, "open layer directory %s/dir/%s", d->home, id);
	int r = cstor_idmap_shift_tree(fd, from, to, err);
	return r < 0 ? cstor_error_wrap(err, r, "shift owners of layer %s", id) : 0;
}

/* A vfs layer holds its parent's files too: the template's tree is the
 * copy to start from. */
static int vfs_create_from_template(struct cstor_driver *d, const char *id, const char *tmpl,
				    const char *parent, cstor_error *err)
{
	(void)parent;
	return vfs_create(d, id, tmpl, err);
}

/* [storage.options.vfs], as containers/storage reads it. */
static bool vfs_ignores_chown_errors(struct cstor_driver *d)
{
	return d->ignore_chown_errors;
}

static bool vfs_syncs_layers(struct cstor_driver *d)
{
	return !d->no_sync;
}

static const char *const vfs_conf_keys[] = { "ignore_chown_errors", "sync", NULL };

const struct cstor_driver_ops cstor_driver_vfs = {
	.caps = CSTOR_DRIVER_FULL_TREES,
	.conf_keys = vfs_conf_keys,
	.diff_dirs = vfs_diff_dirs,
	.apply_target = vfs_apply_target,
	.ignores_chown_errors = vfs_ignores_chown_errors,
	.syncs_layers = vfs_syncs_layers,
	.get = vfs_get,
	.put = vfs_put,
	.mount_path = vfs_mount_path,
	.is_mounted = vfs_is_mounted,
	.create = vfs_create,
	.remove = vfs_remove,
	.exists = vfs_exists,
	.list = vfs_list,
	/* A vfs layer is a copy of its parent plus its own changes: create()
	 * makes exactly the starting point again. */
	.reset = vfs_create,
	.shift_owners = vfs_shift_owners,
	.create_from_template = vfs_create_from_template,
	.files_dir = vfs_files_dir,
	.name = "vfs",
	.init = vfs_init,
	.free = vfs_free,
	.status = vfs_status,
};
