/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CSTOR_OVERLAY_INTERNAL_H
#define CSTOR_OVERLAY_INTERNAL_H

#include <stdbool.h>

#include "drivers/driver.h"

struct cstor_driver {
	char *home;
	int home_fd;
	char *run_home;
	char **image_stores;
	char *mountopt;
	char *mount_program; /* overlay.mount_program: mounts run it (overlay-program.c) */
	char *mount_fstype;  /* its mounts' type in mountinfo: "fuse.<program name>" */
	bool skip_mount_home;
	bool ignore_chown_errors;
	bool no_sync; /* overlay.sync=none */
	bool metacopy; /* the configured mountopt makes the kernel use metacopy */
	/* Idmapped lower layers: 0 not probed yet, 1 usable, 2 not usable.
	 * CSTOR_IDMAP_FORCE_CHOWN=1 in the environment makes it 2 (tests of
	 * the chown copy, docs/idmap.md). */
	int shifting;
};

/* Open the directory of layer @id: the home first, then each additional
 * image store's overlay directory (a parent may live there). */
int overlay_open_layer_dir(struct cstor_driver *d, const char *id, bool *read_only);
int overlay_list(struct cstor_driver *d, char ***ids, cstor_error *err);
int overlay_files_dir(struct cstor_driver *d, const char *graph_root, const char *id, char **path);
int overlay_reset(struct cstor_driver *d, const char *id, const char *parent, cstor_error *err);

/* Refuse unusable setups (backing filesystem, mount programs, rootless)
 * and probe native overlay once (cached in the run home). */
int overlay_check_support(struct cstor_driver *d, cstor_error *err);
int overlay_uses_metacopy(struct cstor_driver *d, bool *out, cstor_error *err);
/* Whether diffs can be read from diff/ directly (else through mounts). */
bool overlay_native_diff(struct cstor_driver *d);

/* Use @program as mount program (also sets mount_fstype). */
int overlay_program_set(struct cstor_driver *d, const char *program, cstor_error *err);
/* Find @name in $PATH: 0 and a malloc'd *out, or -ENOENT. */
int overlay_program_lookup(const char *name, char **out);
/* Run the mount program: `<program> -o <data> <target>` in the home. */
int overlay_program_mount(struct cstor_driver *d, const char *data, const char *target,
			  cstor_error *err);
/* Flush what the program's daemon caches for the mount on @target. */
void overlay_program_sync(const char *target);

int overlay_create(struct cstor_driver *d, const char *id, const char *parent, cstor_error *err);
int overlay_remove(struct cstor_driver *d, const char *id, cstor_error *err);
bool overlay_exists(struct cstor_driver *d, const char *id);
int overlay_get(struct cstor_driver *d, const char *id, char *const *options,
		const char *mount_label, const struct cstor_idmaps *maps, char **path,
		cstor_error *err);
/* ID mappings (overlay-idmap.c): a user namespace fd with @maps; an
 * idmapped clone of the mount of @src_fd attached on @target; detaching it. */
int overlay_userns_open(const struct cstor_idmaps *maps, int *out, cstor_error *err);
int overlay_idmapped_mount(int src_fd, int userns_fd, const char *target, cstor_error *err);
void overlay_idmapped_unmount(const char *target);
/* Whether overlay mounts may have idmapped lower layers: probed once,
 * cached in the run home as "idmapped-lower-dir-true/false", as
 * containers/storage caches it (overlay-probe.c). */
bool overlay_supports_shifting(struct cstor_driver *d);
int overlay_shift_owners(struct cstor_driver *d, const char *id, const struct cstor_idmaps *from,
			 const struct cstor_idmaps *to, cstor_error *err);
int overlay_create_from_template(struct cstor_driver *d, const char *id, const char *tmpl,
				 const char *parent, cstor_error *err);
int overlay_put(struct cstor_driver *d, const char *id, cstor_error *err);
int overlay_mount_path(struct cstor_driver *d, const char *id, char **path);
bool overlay_is_mounted(struct cstor_driver *d, const char *id, const char *path);
int overlay_recreate_links(struct cstor_driver *d);
int overlay_diff_dirs(struct cstor_driver *d, const char *id, int *top, int **lowers,
		      size_t *n_lowers, bool *native, cstor_error *err);
int overlay_stage_create(struct cstor_driver *d, char **path, int *whiteout_mode,
			 cstor_error *err);
int overlay_stage_commit(struct cstor_driver *d, const char *id, const char *path,
			 cstor_error *err);
/* Whether the kernel has overlayfs. */
bool overlay_usable(void);
int overlay_apply_target(struct cstor_driver *d, const char *id, int *fd, int *whiteouts,
			 bool *skip_existing_root, cstor_error *err);

#endif
