/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The storage-driver interface: an internal ops table. A driver owns the
 * layer directories under its home (<graphroot>/<name>) and knows how to
 * create, remove, mount and diff them. It has no locks of its own: the layer
 * store calls it with the right store locks held (docs/locking.md).
 *
 * Code outside drivers/ never decides by a driver's name: what differs
 * between drivers is asked here (capabilities, optional ops, the options
 * a driver takes), and registry.c is the only list of drivers. A test
 * (tests/cli/test-driver-names.sh) keeps it that way.
 */
#ifndef CSTOR_DRIVER_H
#define CSTOR_DRIVER_H

#include <stdbool.h>
#include <stddef.h>

#include <cstor/error.h>

#include "util/idmap.h"

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

/* Capabilities (cstor_driver_ops.caps). */
enum {
	/* diff_dirs()'s top is the layer's whole file tree (vfs: a child
	 * starts as a copy of its parent), so a diff compares two such trees
	 * directly. Without it top holds only the layer's own files (overlay's
	 * upper directory): diffs read it natively against the parent (see
	 * diff_dirs' *native), else they compare the layers mounted. */
	CSTOR_DRIVER_FULL_TREES = 1u << 0,
};

struct cstor_driver_ops {
	const char *name;
	/* Other names it answers to, as the driver (-s, storage.conf) and as
	 * the prefix of its options ("overlay2"). NULL-terminated, or NULL. */
	const char *const *aliases;
	unsigned caps; /* CSTOR_DRIVER_* */
	/* The keys of its storage.conf table [storage.options.<name>]: each
	 * one set becomes the option "<name>.<key>=<value>" given to init, as
	 * if passed with --storage-opt (init decides what it accepts, of
	 * these and of any other "<name>.<key>" option). NULL-terminated, or
	 * NULL for no table. */
	const char *const *conf_keys;
	/* Whether the driver may be picked when none is configured and no
	 * earlier run chose one (overlay: the kernel has overlayfs). The
	 * registry tries drivers in its order. NULL: always. */
	bool (*usable)(void);
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
	/* The IDs of the layer directories in the home (not those of
	 * additional stores), sorted, NULL-terminated: what check compares
	 * with the records to find directories no record owns. */
	int (*list)(struct cstor_driver *d, char ***ids, cstor_error *err);
	/* Make layer @id's own files what create() made them (vfs: a copy of
	 * @parent; overlay: an empty diff/), keeping everything else that
	 * identifies it (overlay: its l/ link, which children name in their
	 * lower files): for rebuilding the content of a damaged layer. */
	int (*reset)(struct cstor_driver *d, const char *id, const char *parent,
		     cstor_error *err);
	/* Where layer @id keeps its own files (what its tar-split names) in
	 * the store whose graph root is @graph_root, ours or an additional
	 * image store's (a copy of a layer under the same ID as one of ours):
	 * malloc'd in *path. */
	int (*files_dir)(struct cstor_driver *d, const char *graph_root, const char *id,
			 char **path);
	/* Make the layer's file tree available: *path gets the mount point
	 * (malloc'd). @options are mount options ("ro", ...), NULL-terminated
	 * or NULL. @maps (NULL: none): ID mappings to show the files through,
	 * only given when supports_shifting says yes (a container's mappings
	 * over its unshifted layers). */
	int (*get)(struct cstor_driver *d, const char *id, char *const *options,
		   const char *mount_label, const struct cstor_idmaps *maps, char **path,
		   cstor_error *err);
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
	/* Whether applying a layer goes on when a file cannot be given its
	 * owner (EPERM, EINVAL: an unprivileged user, an unmapped ID), as the
	 * driver option ignore_chown_errors asks. Optional: NULL is no. */
	bool (*ignores_chown_errors)(struct cstor_driver *d);
	/* applydiff-using-staging-dir: a layer's files applied with no lock
	 * held into a directory that is not a layer yet, then made the
	 * layer's in one rename. Optional: only a driver that keeps a layer's
	 * own files apart from its parent's can do it. stage_create makes an
	 * empty directory in the driver's home (*path, malloc'd) and tells
	 * the whiteout representation to apply with (an enum
	 * cstor_whiteout_mode). stage_commit moves it in as the files of
	 * layer @id, which must have none yet. The caller removes @path
	 * afterwards, committed or not. */
	int (*stage_create)(struct cstor_driver *d, char **path, int *whiteout_mode,
			    cstor_error *err);
	int (*stage_commit)(struct cstor_driver *d, const char *id, const char *path,
			    cstor_error *err);
	/* The directories holding layer @id's own files: *top (vfs: the
	 * whole tree; overlay: diff/) and, for overlay, the lower layers'
	 * diff directories, nearest first (malloc'd array of fds, the caller
	 * closes them). *native tells whether diffs against the parent can
	 * be read from these directories directly, top being an overlay-style
	 * upper directory with its whiteouts (else, without
	 * CSTOR_DRIVER_FULL_TREES, through mounts). */
	int (*diff_dirs)(struct cstor_driver *d, const char *id, int *top, int **lowers,
			 size_t *n_lowers, bool *native, cstor_error *err);
	/* ID mappings (docs/idmap.md). Whether get() can shift owners by a
	 * container's ID mappings (overlay: idmapped mounts of the lower
	 * layers), probed once and cached as containers/storage caches it.
	 * When it can, layers are kept unshifted and recorded without maps,
	 * as containers/storage does. Optional: NULL is no. */
	bool (*supports_shifting)(struct cstor_driver *d);
	/* The chown copy: give the files layer @id shows (its whole tree,
	 * parents' files included) the owners @to gives the container IDs
	 * that @from gave them. */
	int (*shift_owners)(struct cstor_driver *d, const char *id, const struct cstor_idmaps *from,
			    const struct cstor_idmaps *to, cstor_error *err);
	/* Create layer @id on @parent (NULL: none) starting with a copy of
	 * layer @template's own files (a template shares @parent): an image's
	 * top layer copied to be shifted for other ID mappings. */
	int (*create_from_template)(struct cstor_driver *d, const char *id, const char *tmpl,
				    const char *parent, cstor_error *err);
	/* Whether a layer's files must be on disk before the layer is
	 * recorded as present: the driver option "sync" (containers/storage's
	 * "none" or "filesystem"; cstor's default is "filesystem", see
	 * docs/durability.md). Optional: NULL is "filesystem". */
	bool (*syncs_layers)(struct cstor_driver *d);
};

extern const struct cstor_driver_ops cstor_driver_vfs;
extern const struct cstor_driver_ops cstor_driver_overlay;

/* Look a driver up by name or alias ("overlay2" is "overlay"). NULL if
 * unknown. */
const struct cstor_driver_ops *cstor_driver_lookup(const char *name);

/* Whether an option "prefix.key=value" is meant for driver @ops: prefix
 * empty, the driver's name or one of its aliases. */
bool cstor_driver_option_is_for(const struct cstor_driver_ops *ops, const char *prefix);

/* The driver to use when none is configured, as containers/storage picks
 * it: the one whose home an earlier run left in @graph_root (an error if
 * several), else the first usable one. *name may be a driver cstor does
 * not have (a Go driver's home); lookup tells. */
int cstor_driver_detect(const char **name, const char *graph_root, cstor_error *err);

/* Parse the value of a driver's "sync" option: "filesystem" sets *durable,
 * "none" clears it (containers/storage's values, nothing else). */
int cstor_driver_parse_sync(const char *driver, const char *value, bool *durable,
			    cstor_error *err);

/* The names of the drivers for which @has returns true (all when NULL),
 * joined with @sep, for messages; malloc'd, NULL when out of memory. */
char *cstor_driver_names(bool (*has)(const struct cstor_driver_ops *ops), const char *sep);

#endif
