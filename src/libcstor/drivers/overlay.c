/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The overlay driver: layers are kernel overlayfs upper directories under
 * <home>/<id>/diff, stacked through the short links in <home>/l/
 * (docs/formats.md §1.3, §5). This file holds initialisation, options and
 * status; layer operations live in overlay-*.c.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "store/config.h"
#include "drivers/overlay-internal.h"
#include "util/error-internal.h"
#include "util/fileutil.h"
#include "util/cleanup.h"
#include "util/mountinfo.h"
#include "util/strv.h"


static void overlay_free(struct cstor_driver *d)
{
	if (!d)
		return;
	free(d->home);
	if (d->home_fd >= 0)
		close(d->home_fd);
	free(d->run_home);
	strv_free(d->image_stores);
	free(d->mountopt);
	free(d->mount_program);
	free(d->mount_fstype);
	free(d);
}

static int parse_bool(const char *v, bool *out)
{
	if (streq(v, "1") || streq(v, "t") || streq(v, "T") || streq(v, "true") ||
	    streq(v, "TRUE") || streq(v, "True")) {
		*out = true;
		return 0;
	}
	if (streq(v, "0") || streq(v, "f") || streq(v, "F") || streq(v, "false") ||
	    streq(v, "FALSE") || streq(v, "False")) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

static int set_option(struct cstor_driver *d, const char *opt, cstor_error *err)
{
	_cleanup_free_ char *prefix = NULL, *key = NULL, *val = NULL;
	if (cstor_driver_opt_split(opt, &prefix, &key, &val) < 0)
		return cstor_error_set(err, EINVAL, "invalid overlay option \"%s\"", opt);
	if (streq(key, "imagestore") || streq(key, "additionalimagestore")) {
		_cleanup_strv_free_ char **parts = strv_split(val, ',');
		if (!parts)
			return cstor_error_set(err, ENOMEM, "out of memory");
		for (size_t k = 0; parts[k]; k++) {
			if (!parts[k][0])
				continue;
			if (parts[k][0] != '/')
				return cstor_error_set(err, EINVAL,
						       "overlay: image store \"%s\" is not an absolute path",
						       parts[k]);
			if (strv_append(&d->image_stores, parts[k]) < 0)
				return cstor_error_set(err, ENOMEM, "out of memory");
		}
		return 0;
	}
	if (streq(key, "mountopt")) {
		free(d->mountopt);
		d->mountopt = TAKE_PTR(val);
		return 0;
	}
	if (streq(key, "sync")) {
		bool durable = true;
		int r = cstor_driver_parse_sync("overlay", val, &durable, err);
		d->no_sync = !durable;
		return r;
	}
	if (streq(key, "mount_program")) {
		/* Empty means none, as in Go; a program that is not there is
		 * an error now rather than at the first mount. */
		if (!val[0]) {
			free(d->mount_program);
			free(d->mount_fstype);
			d->mount_program = d->mount_fstype = NULL;
			return 0;
		}
		struct stat st;
		if (stat(val, &st) < 0)
			return cstor_error_errno(err, errno, "overlay: can't stat program \"%s\"", val);
		return overlay_program_set(d, val, err);
	}
	if (streq(key, "skip_mount_home") || streq(key, "ignore_chown_errors")) {
		bool b;
		if (parse_bool(val, &b) < 0)
			return cstor_error_set(err, EINVAL, "overlay option %s: \"%s\" is not a boolean",
					       key, val);
		if (streq(key, "skip_mount_home"))
			d->skip_mount_home = b;
		else
			d->ignore_chown_errors = b;
		return 0;
	}
	/* size/inodes need xfs project quotas, force_mask needs a mount
	 * program, additional layer stores and composefs are not built:
	 * refusing is better than pretending. */
	return cstor_error_set(err, EINVAL, "overlay option \"%s\" is not supported by cstor", opt);
}

static int overlay_init(struct cstor_driver **out, const struct cstor_driver_init *in,
			cstor_error *err)
{
	struct cstor_driver *d = calloc(1, sizeof(*d));
	if (d)
		d->home_fd = -1;
	if (!d || !(d->home = strdup(in->home)) || !(d->run_home = strdup(in->run_home))) {
		overlay_free(d);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	int r = 0;
	for (size_t i = 0; in->options && in->options[i] && r >= 0; i++)
		r = set_option(d, in->options[i], err);
	if (r < 0) {
		overlay_free(d);
		return r;
	}
	_cleanup_free_ char *l = cstor_path_join(in->home, "l");
	if (!l) {
		overlay_free(d);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	if ((r = cstor_mkdir_p(in->home, 0700, err)) < 0 || (r = cstor_mkdir_p(l, 0755, err)) < 0 ||
	    (r = cstor_mkdir_p(in->run_home, 0700, err)) < 0) {
		overlay_free(d);
		return r;
	}
	d->home_fd = open(in->home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->home_fd < 0) {
		r = cstor_error_errno(err, errno, "open %s", in->home);
		overlay_free(d);
		return r;
	}
	/* Refuse an unusable setup before changing anything. */
	if ((r = overlay_check_support(d, err)) < 0) {
		overlay_free(d);
		return r;
	}
	/* containers/storage makes the home a private bind mount of itself
	 * before it mounts anything under it. We must too: a Go process that
	 * does it later would bind the home over our mounts and hide them. */
	/* The home as the kernel lists its mounts: the configured home may
	 * itself be a symlink (the admin's choice, so followed here). */
	_cleanup_free_ char *home_real = realpath(in->home, NULL);
	if (!d->skip_mount_home && geteuid() == 0 &&
	    !cstor_mountinfo_has(home_real ? home_real : in->home, NULL)) {
		if (mount(in->home, in->home, NULL, MS_BIND, NULL) < 0) {
			r = cstor_error_errno(err, errno, "bind mount %s on itself", in->home);
			overlay_free(d);
			return r;
		}
	}
	if (!d->skip_mount_home && geteuid() == 0 &&
	    mount(NULL, in->home, NULL, MS_PRIVATE, NULL) < 0) {
		r = cstor_error_errno(err, errno, "make %s a private mount", in->home);
		overlay_free(d);
		return r;
	}
	/* A mount program does its own thing: no kernel metacopy (Go does
	 * not probe it either). */
	if (!d->mount_program && (r = overlay_uses_metacopy(d, &d->metacopy, err)) < 0) {
		overlay_free(d);
		return r;
	}
	*out = d;
	return 0;
}

static const char *fs_name(long magic)
{
	static const struct {
		unsigned long magic;
		const char *name;
	} names[] = {
		{ 0x61756673, "aufs" },     { 0x9123683E, "btrfs" },    { 0x28cd3d45, "cramfs" },
		{ 0xf15f, "ecryptfs" },     { 0xEF53, "extfs" },        { 0xF2F52010, "f2fs" },
		{ 0x47504653, "gpfs" },     { 0x72b6, "jffs2" },        { 0x3153464a, "jfs" },
		{ 0x6969, "nfs" },          { 0x794C7630, "overlayfs" }, { 0x858458f6, "ramfs" },
		{ 0x52654973, "reiserfs" }, { 0x517B, "smb" },          { 0x73717368, "squashfs" },
		{ 0x01021994, "tmpfs" },    { 0xa501fcf5, "vxfs" },     { 0x58465342, "xfs" },
		{ 0x2fc12fc1, "zfs" },
	};
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (names[i].magic == (unsigned long)magic)
			return names[i].name;
	return NULL;
}

static int overlay_status(struct cstor_driver *d, char ***pairs, cstor_error *err)
{
	struct statfs sfs;
	if (statfs(d->home, &sfs) < 0)
		return cstor_error_errno(err, errno, "statfs %s", d->home);
	const char *name = fs_name((long)sfs.f_type);
	char buf[32];
	if (!name) {
		/* Go prints the magic number for unknown filesystems. */
		snprintf(buf, sizeof(buf), "<unknown> (0x%lx)", (unsigned long)sfs.f_type);
		name = buf;
	}
	/* d_type: every entry of a directory we created reports its type.
	 * A mount program copes without it (Go reports true then). */
	bool dtype = true;
	_cleanup_closedir_ DIR *dir = d->mount_program ? NULL : opendir(d->home);
	struct dirent *de;
	while (dir && (de = readdir(dir)))
		if (de->d_type == DT_UNKNOWN)
			dtype = false;
	if (strv_append(pairs, "Backing Filesystem") < 0 || strv_append(pairs, name) < 0 ||
	    strv_append(pairs, "Supports d_type") < 0 ||
	    strv_append(pairs, dtype ? "true" : "false") < 0 ||
	    strv_append(pairs, "Native Overlay Diff") < 0 ||
	    strv_append(pairs, !d->mount_program && !d->metacopy && overlay_native_diff(d)
					? "true"
					: "false") < 0 ||
	    strv_append(pairs, "Using metacopy") < 0 ||
	    strv_append(pairs, d->metacopy ? "true" : "false") < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	return 0;
}

static int overlay_cleanup(struct cstor_driver *d, cstor_error *err)
{
	/* The home's bind mount goes, as containers/storage's Cleanup does;
	 * the next process that opens the store makes it again. */
	_cleanup_free_ char *home_real = realpath(d->home, NULL);
	if (!d->skip_mount_home && cstor_mountinfo_has(home_real ? home_real : d->home, NULL) &&
	    umount2(d->home, MNT_DETACH) < 0)
		return cstor_error_errno(err, errno, "unmount %s", d->home);
	return 0;
}

bool overlay_usable(void)
{
	_cleanup_free_ char *fss = NULL;
	return cstor_read_file_at(AT_FDCWD, "/proc/filesystems", &fss, NULL, "/proc/filesystems",
				  NULL) == 0 &&
	       strstr(fss, "\toverlay\n");
}

static bool overlay_ignores_chown_errors(struct cstor_driver *d)
{
	return d->ignore_chown_errors;
}

static bool overlay_syncs_layers(struct cstor_driver *d)
{
	return !d->no_sync;
}

static const char *const overlay_aliases[] = { "overlay2", NULL };

/* [storage.options.overlay], as containers/storage reads it; set_option()
 * refuses those cstor cannot honour. */
static const char *const overlay_conf_keys[] = {
	"ignore_chown_errors", "mount_program", "mountopt",   "size",         "inodes",
	"skip_mount_home",     "force_mask",    "use_composefs", "sync", NULL,
};

const struct cstor_driver_ops cstor_driver_overlay = {
	.cleanup = overlay_cleanup,
	.name = "overlay",
	.aliases = overlay_aliases,
	.conf_keys = overlay_conf_keys,
	.syncs_layers = overlay_syncs_layers,
	.usable = overlay_usable,
	.stage_create = overlay_stage_create,
	.stage_commit = overlay_stage_commit,
	.init = overlay_init,
	.free = overlay_free,
	.status = overlay_status,
	.create = overlay_create,
	.remove = overlay_remove,
	.exists = overlay_exists,
	.list = overlay_list,
	.reset = overlay_reset,
	.files_dir = overlay_files_dir,
	.apply_target = overlay_apply_target,
	.ignores_chown_errors = overlay_ignores_chown_errors,
	.get = overlay_get,
	.supports_shifting = overlay_supports_shifting,
	.shift_owners = overlay_shift_owners,
	.create_from_template = overlay_create_from_template,
	.diff_dirs = overlay_diff_dirs,
	.put = overlay_put,
	.mount_path = overlay_mount_path,
	.is_mounted = overlay_is_mounted,
};
