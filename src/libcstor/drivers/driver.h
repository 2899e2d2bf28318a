/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The storage-driver interface: an internal ops table. A driver owns the
 * layer directories under its home (<graphroot>/<name>) and knows how to
 * create, remove, mount and diff them. It has no locks of its own: the layer
 * store calls it with the right store locks held (docs/locking.md).
 */
#ifndef CSTOR_DRIVER_H
#define CSTOR_DRIVER_H

#include <stdbool.h>
#include <stddef.h>

#include <cstor/error.h>

struct cstor_driver;

struct cstor_driver_init {
	const char *home;     /* <graphroot>/<name> */
	const char *run_home; /* <runroot>/<name> */
	const char *graph_root;
	const char *run_root;
	char *const *options; /* "driver.key=value" strings meant for this driver */
	void (*log)(void *ctx, int level, const char *msg);
	void *log_ctx;
};

struct cstor_driver_ops {
	const char *name;
	int (*init)(struct cstor_driver **out, const struct cstor_driver_init *init,
		    cstor_error *err);
	void (*free)(struct cstor_driver *d);
	/* Extra (key, value) pairs for `status`, appended to *pairs. */
	int (*status)(struct cstor_driver *d, char ***pairs, cstor_error *err);
	/* Create the directory of layer @id, empty or starting as a copy of
	 * @parent (NULL for a base layer). A leftover directory of the same
	 * ID (an interrupted earlier attempt) is replaced. */
	int (*create)(struct cstor_driver *d, const char *id, const char *parent,
		      cstor_error *err);
	/* Remove everything the driver keeps for @id; absent is fine. */
	int (*remove)(struct cstor_driver *d, const char *id, cstor_error *err);
	/* Whether the driver has a directory for @id. */
	bool (*exists)(struct cstor_driver *d, const char *id);
	/* Make the layer's file tree available: *path gets the mount point
	 * (malloc'd). @options are mount options ("ro", ...), NULL-terminated
	 * or NULL. */
	int (*get)(struct cstor_driver *d, const char *id, char *const *options,
		   const char *mount_label, char **path, cstor_error *err);
	/* Undo get(). */
	int (*put)(struct cstor_driver *d, const char *id, cstor_error *err);
	/* Where get() mounts layer @id (malloc'd), whether or not it is
	 * mounted now: a crashed process may have left a mount there that
	 * no record mentions. */
	int (*mount_path)(struct cstor_driver *d, const char *id, char **path);
	/* Undo what init did to the system (overlay: the home's private bind
	 * mount), for shutdown. Optional. */
	int (*cleanup)(struct cstor_driver *d, cstor_error *err);
	/* Whether what get() returned as @path is still in place. */
	bool (*is_mounted)(struct cstor_driver *d, const char *id, const char *path);
	/* Where and how a layer tarball is applied: an fd of the directory
	 * receiving the files, the whiteout representation, and whether an
	 * existing root keeps its metadata (overlay) or takes the tar's
	 * (vfs). */
	int (*apply_target)(struct cstor_driver *d, const char *id, int *fd, int *whiteout_mode,
			    bool *skip_existing_root, cstor_error *err);
	/* The whiteout representation of the driver's layer directories (an
	 * enum cstor_whiteout_mode), for applies into a staging directory
	 * that is not a layer yet. Optional (overlay only). */
	int (*whiteout_mode)(struct cstor_driver *d);
	/* The directories holding layer @id's own files: *top (vfs: the
	 * whole tree; overlay: diff/) and, for overlay, the lower layers'
	 * diff directories, nearest first (malloc'd array of fds, the caller
	 * closes them). *native tells whether diffs can be computed from
	 * these directories directly (else through mounts). */
	int (*diff_dirs)(struct cstor_driver *d, const char *id, int *top, int **lowers,
			 size_t *n_lowers, bool *native, cstor_error *err);
};

extern const struct cstor_driver_ops cstor_driver_vfs;
extern const struct cstor_driver_ops cstor_driver_overlay;

/* Look a driver up by name ("overlay2" is "overlay"). NULL if unknown. */
const struct cstor_driver_ops *cstor_driver_lookup(const char *name);

/* Whether an option "prefix.key=value" is meant for driver @name: prefix
 * empty, the driver's name, or (overlay) "overlay2". */
bool cstor_driver_option_is_for(const char *name, const char *prefix);

#endif
