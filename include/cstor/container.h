/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Containers: a read-write layer on top of an image's top layer, with names,
 * metadata, named blobs ("big data") and two directories for the caller's
 * files, one persistent (<graphroot>/<driver>-containers/<id>/userdata) and
 * one that does not outlive a reboot (<runroot>/...). A cstor_container is
 * a snapshot of a container record taken under the store's lock.
 *
 * A container reference (`ref`) is an ID, a name, the ID of the container's
 * layer, or a unique prefix of an ID. Names are unique among containers:
 * giving a container a name another container has takes it away from that
 * container.
 *
 * Mount a container by mounting its layer (cstor_container_layer()).
 */
#ifndef CSTOR_CONTAINER_H
#define CSTOR_CONTAINER_H

#include <stddef.h>
#include <stdint.h>

#include <cstor/common.h>
#include <cstor/error.h>
#include <cstor/idmap.h>
#include <cstor/store.h>

CSTOR_BEGIN_DECL

typedef struct cstor_container cstor_container;

CSTOR_PUBLIC void cstor_container_free(cstor_container *container);
/** Free a NULL-terminated list of containers. */
CSTOR_PUBLIC void cstor_container_list_free(cstor_container **list);

CSTOR_PUBLIC const char *cstor_container_id(const cstor_container *container);
/** NULL-terminated; never NULL. */
CSTOR_PUBLIC const char *const *cstor_container_names(const cstor_container *container);
/** The ID of the image it was created from, or NULL when none. */
CSTOR_PUBLIC const char *cstor_container_image(const cstor_container *container);
/** The ID of the container's read-write layer. */
CSTOR_PUBLIC const char *cstor_container_layer(const cstor_container *container);
CSTOR_PUBLIC const char *cstor_container_metadata(const cstor_container *container);
/** Creation time as stored (RFC 3339). */
CSTOR_PUBLIC const char *cstor_container_created(const cstor_container *container);
/** NULL-terminated; never NULL. */
CSTOR_PUBLIC const char *const *cstor_container_big_data_names(const cstor_container *container);
/** The SELinux labels recorded at creation ("" when none). */
CSTOR_PUBLIC const char *cstor_container_mount_label(const cstor_container *container);
CSTOR_PUBLIC const char *cstor_container_process_label(const cstor_container *container);
/** The default mount options recorded at creation (the "MountOpts" flag);
 *  NULL-terminated, never NULL. */
CSTOR_PUBLIC const char *const *cstor_container_mount_options(const cstor_container *container);
/** The record as containers/storage encodes it in JSON (malloc'd). */
CSTOR_PUBLIC char *cstor_container_to_json(const cstor_container *container);

/** All containers. @param[out] out NULL-terminated, free with
 *  cstor_container_list_free(). */
CSTOR_PUBLIC int cstor_store_containers(cstor_container ***out, cstor_store *store,
					cstor_error *err);

/** Look up one container: -ENOENT when none matches, -EINVAL when an ID
 *  prefix is ambiguous. */
CSTOR_PUBLIC int cstor_store_container(cstor_container **out, cstor_store *store,
				       const char *ref, cstor_error *err);

#define CSTOR_CONTAINER_OPTIONS_VERSION 2

typedef struct cstor_container_options {
	unsigned int version;     /* CSTOR_CONTAINER_OPTIONS_VERSION */
	const char *id;           /* NULL: a random ID */
	const char *image;        /* image reference; NULL: a container without an image */
	const char *const *names; /* NULL-terminated, may be NULL */
	const char *metadata;
	/* SELinux labels: both or neither (recorded as "" then). */
	const char *mount_label;
	const char *process_label;
	/* Recorded as the "MountOpts" flag: default options to mount with. */
	const char *const *mount_options;
	int is_volatile; /* recorded as the "Volatile" flag */
	uint32_t flags;  /* none defined yet; must be 0 */
	/* Version 2: ID mappings (docs/idmap.md), recorded on the container.
	 * None given: the image's top layer's. Where the driver cannot shift
	 * IDs at mount time, an image whose top layer has other mappings gets
	 * a mapped copy of it (its "mapped-top-layers"). */
	const cstor_idmap *uidmap;
	size_t n_uidmap;
	const cstor_idmap *gidmap;
	size_t n_gidmap;
	int host_uidmap;
	int host_gidmap;
} cstor_container_options;

#define CSTOR_CONTAINER_OPTIONS_INIT                                                  \
	{ CSTOR_CONTAINER_OPTIONS_VERSION, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }

/**
 * Create a container: a new read-write layer (random ID, its parent the
 * image's top layer, which may live in a read-only store) and the record.
 * If the record cannot be made, the layer is removed again.
 * @return 0, -ENOENT (no such image), -EEXIST (ID or a name taken),
 *         -EINVAL (bad options), I/O errors
 */
CSTOR_PUBLIC int cstor_store_create_container(cstor_container **out, cstor_store *store,
					      const cstor_container_options *opts,
					      cstor_error *err);

/**
 * Delete a container: its record, its big data, its layer and both of its
 * directories. Refused with -EBUSY while its layer is mounted.
 */
CSTOR_PUBLIC int cstor_store_delete_container(cstor_store *store, const char *ref,
					      cstor_error *err);

/** Replace the names of a container (taking each from any other). */
CSTOR_PUBLIC int cstor_container_set_names(cstor_store *store, const char *ref,
					   const char *const *names, cstor_error *err);
/** Add names: set-names with the old names followed by these. */
CSTOR_PUBLIC int cstor_container_add_names(cstor_store *store, const char *ref,
					   const char *const *names, cstor_error *err);
CSTOR_PUBLIC int cstor_container_remove_names(cstor_store *store, const char *ref,
					      const char *const *names, cstor_error *err);
CSTOR_PUBLIC int cstor_container_set_metadata(cstor_store *store, const char *ref,
					      const char *metadata, cstor_error *err);

/** Big data of a container (the digest recorded is the sha256 of the data). */
CSTOR_PUBLIC int cstor_container_get_big_data(void **data, size_t *len, cstor_store *store,
					      const char *ref, const char *key, cstor_error *err);
/** The recorded size (or the file's size when none is recorded); -ENOENT
 *  when the item does not exist. */
CSTOR_PUBLIC int cstor_container_big_data_size(int64_t *size, cstor_store *store,
					       const char *ref, const char *key,
					       cstor_error *err);
/** The recorded digest (or the file's when none is recorded), malloc'd. */
CSTOR_PUBLIC int cstor_container_big_data_digest(char **digest, cstor_store *store,
						 const char *ref, const char *key,
						 cstor_error *err);
CSTOR_PUBLIC int cstor_container_set_big_data(cstor_store *store, const char *ref,
					      const char *key, const void *data, size_t len,
					      cstor_error *err);

/** The container's persistent directory, created (0700) if needed:
 *  <graphroot>/<driver>-containers/<id>/userdata. @param[out] path malloc'd */
CSTOR_PUBLIC int cstor_container_dir(char **path, cstor_store *store, const char *ref,
				     cstor_error *err);
/** The container's run-time directory, created if needed:
 *  <runroot>/<driver>-containers/<id>/userdata. */
CSTOR_PUBLIC int cstor_container_run_dir(char **path, cstor_store *store, const char *ref,
					 cstor_error *err);

/** The size of a container: its layer's changes, its big data and the
 *  files in its two directories (which are created if needed). */
CSTOR_PUBLIC int cstor_store_container_size(int64_t *size, cstor_store *store,
					    const char *ref, cstor_error *err);

CSTOR_END_DECL

#endif
