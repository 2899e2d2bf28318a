/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mounting layers. Each mount is counted in the store's run root
 * (mountpoints.json, shared with containers/storage); the layer is really
 * unmounted when the count drops to zero.
 */
#ifndef CSTOR_MOUNT_H
#define CSTOR_MOUNT_H

#include <stdint.h>

#include <cstor/common.h>
#include <cstor/error.h>
#include <cstor/store.h>

CSTOR_BEGIN_DECL

#define CSTOR_MOUNT_OPTIONS_VERSION 1

typedef struct cstor_mount_options {
	unsigned int version; /* CSTOR_MOUNT_OPTIONS_VERSION */
	const char *const *options; /* mount options ("ro", ...), NULL-terminated or NULL */
	const char *mount_label;    /* SELinux label; NULL: the layer's */
	uint32_t flags;             /* none defined yet; must be 0 */
} cstor_mount_options;

#define CSTOR_MOUNT_OPTIONS_INIT { CSTOR_MOUNT_OPTIONS_VERSION, 0, 0, 0 }

/**
 * Mount a layer (a layer reference: ID, name or unique ID prefix).
 * @param[out] mountpoint malloc'd path of the layer's file tree
 * @return 0, -ENOENT, -EROFS (layer of a read-only store), -EBUSY
 *         (incomplete layer), or the driver's error
 */
CSTOR_PUBLIC int cstor_store_mount(char **mountpoint, cstor_store *store, const char *ref,
				   const cstor_mount_options *opts, cstor_error *err);

/**
 * Drop one mount of a layer (all of them with @force). Unmounting a layer
 * that is not mounted succeeds.
 * @param[out] still_mounted non-zero when other mounts remain (may be NULL)
 */
CSTOR_PUBLIC int cstor_store_unmount(int *still_mounted, cstor_store *store, const char *ref,
				     int force, cstor_error *err);

/** The recorded number of mounts of a layer. */
CSTOR_PUBLIC int cstor_store_mounted(int64_t *count, cstor_store *store, const char *ref,
				     cstor_error *err);

CSTOR_END_DECL

#endif
