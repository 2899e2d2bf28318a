/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layers: listing, lookup, creation and names. A cstor_layer is a snapshot
 * of a layer record taken under the store's lock; it does not change when
 * the store does.
 *
 * A layer reference (`ref`) is an ID, a name, or a unique prefix of an ID,
 * looked up in the primary store first and then in the read-only
 * additional stores in their configured order.
 */
#ifndef CSTOR_LAYER_H
#define CSTOR_LAYER_H

#include <stddef.h>
#include <stdint.h>

#include <cstor/common.h>
#include <cstor/error.h>
#include <cstor/idmap.h>
#include <cstor/store.h>

CSTOR_BEGIN_DECL

typedef struct cstor_layer cstor_layer;

CSTOR_PUBLIC void cstor_layer_free(cstor_layer *layer);
/** Free a NULL-terminated list of layers. */
CSTOR_PUBLIC void cstor_layer_list_free(cstor_layer **list);

CSTOR_PUBLIC const char *cstor_layer_id(const cstor_layer *layer);
/** NULL-terminated; never NULL. */
CSTOR_PUBLIC const char *const *cstor_layer_names(const cstor_layer *layer);
/** The parent's ID, or NULL for a base layer. */
CSTOR_PUBLIC const char *cstor_layer_parent(const cstor_layer *layer);
CSTOR_PUBLIC const char *cstor_layer_metadata(const cstor_layer *layer);
CSTOR_PUBLIC const char *cstor_layer_created(const cstor_layer *layer);
/** Non-zero when the layer lives in a read-only additional store. */
CSTOR_PUBLIC int cstor_layer_read_only(const cstor_layer *layer);
/** The record as containers/storage encodes it in JSON (malloc'd). */
CSTOR_PUBLIC char *cstor_layer_to_json(const cstor_layer *layer);

/**
 * All layers: the primary store's, then each additional store's.
 * @param[out] out NULL-terminated list, free with cstor_layer_list_free()
 * @return 0, -EBADMSG (a corrupt layers.json, named in @err), or I/O errors
 */
CSTOR_PUBLIC int cstor_store_layers(cstor_layer ***out, cstor_store *store, cstor_error *err);

/** Look up one layer. -ENOENT when none matches, -EINVAL when a prefix is
 *  ambiguous. */
CSTOR_PUBLIC int cstor_store_layer(cstor_layer **out, cstor_store *store, const char *ref,
				   cstor_error *err);

#define CSTOR_LAYER_OPTIONS_VERSION 2

typedef struct cstor_layer_options {
	unsigned int version;     /* CSTOR_LAYER_OPTIONS_VERSION */
	const char *id;           /* NULL: a random ID */
	const char *parent;       /* reference to the parent, NULL for a base layer */
	const char *const *names; /* NULL-terminated, may be NULL */
	const char *mount_label;
	int writeable; /* a container's read-write layer (vs. an image layer) */
	uint32_t flags; /* CSTOR_LAYER_* */
	/* Version 2: ID mappings (docs/idmap.md). None given (n == 0 and no
	 * host_*): the parent's, as containers/storage does; host_uidmap /
	 * host_gidmap: none at all. The layer's files are owned by the host
	 * IDs; a tarball applied to it gives container IDs. */
	const cstor_idmap *uidmap;
	size_t n_uidmap;
	const cstor_idmap *gidmap;
	size_t n_gidmap;
	int host_uidmap;
	int host_gidmap;
} cstor_layer_options;

#define CSTOR_LAYER_OPTIONS_INIT { CSTOR_LAYER_OPTIONS_VERSION, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }

/** The layer's record is kept in volatile-layers.json, written without
 *  fsync (as newest containers/storage keeps volatile containers'
 *  layers; on the run root in a transient store). Since: 0.4 (older
 *  libraries reject it with -EINVAL). */
#define CSTOR_LAYER_VOLATILE (1u << 0)

/**
 * Create an empty layer (a child starts with its parent's content). The
 * parent may live in a read-only store; a container's layer cannot be one.
 * @return 0, -EEXIST (ID taken), -ENOENT (no such parent), -EBUSY (the
 *         parent is incomplete or a container's layer), -EROFS, I/O errors
 */
CSTOR_PUBLIC int cstor_store_create_layer(cstor_layer **out, cstor_store *store,
					  const cstor_layer_options *opts, cstor_error *err);

#define CSTOR_COPY_OPTIONS_VERSION 1

typedef struct cstor_copy_options {
	unsigned int version; /* CSTOR_COPY_OPTIONS_VERSION */
	int chown;            /* own every copy by uid:gid instead of the source's owners */
	uint32_t uid, gid;
	uint32_t flags; /* none defined yet; must be 0 */
} cstor_copy_options;

#define CSTOR_COPY_OPTIONS_INIT { CSTOR_COPY_OPTIONS_VERSION, 0, 0, 0, 0 }

/**
 * Copy files between host paths and layers, as `containers-storage copy`:
 * each of @sources ("PATH" on the host or "LAYER:PATH" in a layer) is
 * copied to @target ("LAYER:PATH" or a host PATH). A directory's contents
 * go into the target directory (made, 0755, if missing); anything else
 * becomes the target (or TARGET/NAME when the target ends in "/"),
 * replacing what was there. Owners, modes and times are kept (owners
 * become uid:gid with @opts->chown). Paths inside a layer are resolved
 * inside its mounted root: "..", absolute symlinks and symlinks planted in
 * the layer never reach outside it. Layers are mounted for the copy (a
 * read-only store's layer only as a source) and unmounted after.
 *
 * @return 0, -ENOENT (no such layer or path), -EROFS (target layer in a
 *         read-only store), -EINVAL, I/O errors; on failure what was copied
 *         so far stays.
 * Since: 0.4
 */
CSTOR_PUBLIC int cstor_store_copy(cstor_store *store, const char *const *sources,
				  const char *target, const cstor_copy_options *opts,
				  cstor_error *err);

/** Replace the names of a layer. Names are unique among layers: a name
 *  given here is taken away from the layer that had it. */
CSTOR_PUBLIC int cstor_layer_set_names(cstor_store *store, const char *ref,
				       const char *const *names, cstor_error *err);
/** Add names to a layer (set-names with the old names followed by these). */
CSTOR_PUBLIC int cstor_layer_add_names(cstor_store *store, const char *ref,
				       const char *const *names, cstor_error *err);

/** Remove names from a layer. */
CSTOR_PUBLIC int cstor_layer_remove_names(cstor_store *store, const char *ref,
					  const char *const *names, cstor_error *err);

/** NULL-terminated; never NULL. */
CSTOR_PUBLIC const char *const *cstor_layer_big_data_names(const cstor_layer *layer);
CSTOR_PUBLIC const char *cstor_layer_compressed_digest(const cstor_layer *layer);
CSTOR_PUBLIC int64_t cstor_layer_compressed_size(const cstor_layer *layer);
CSTOR_PUBLIC const char *cstor_layer_uncompressed_digest(const cstor_layer *layer);
/** The uncompressed size, or -1 when unknown. */
CSTOR_PUBLIC int64_t cstor_layer_uncompressed_size(const cstor_layer *layer);
/** 0 none, 1 bzip2, 2 gzip, 3 xz, 4 zstd (containers/storage's values). */
CSTOR_PUBLIC int cstor_layer_compression(const cstor_layer *layer);
/** Why a layer is incomplete (cstor_layer_incomplete), all non-zero. */
enum {
	/** An apply into the existing layer was interrupted: its content is
	 *  not trustworthy until it is applied again or deleted. */
	CSTOR_LAYER_INCOMPLETE_APPLY = 1,
	/** Being created or deleted (containers/storage's flag), which a
	 *  reader sees only when the process doing it died: the next change
	 *  to the store finishes removing the layer. */
	CSTOR_LAYER_INCOMPLETE_REMOVING = 2,
	/** Being created with its content (an import); if the importer died,
	 *  the next change to the store removes the layer. */
	CSTOR_LAYER_INCOMPLETE_CREATING = 3,
};
/** 0 for a complete layer, else why not: a CSTOR_LAYER_INCOMPLETE_ value. */
CSTOR_PUBLIC int cstor_layer_incomplete(const cstor_layer *layer);
/** Mount count and mount point as last recorded (0 and NULL if none). */
CSTOR_PUBLIC int64_t cstor_layer_mount_count(const cstor_layer *layer);
CSTOR_PUBLIC const char *cstor_layer_mount_point(const cstor_layer *layer);

/** Set the free-form metadata string of a layer. */
CSTOR_PUBLIC int cstor_layer_set_metadata(cstor_store *store, const char *ref,
					  const char *metadata, cstor_error *err);

/**
 * Delete a layer and its content. Refused with -EBUSY while the layer has
 * children, is mounted, or is used by an image or a container (checked by
 * ID, whatever @ref was: the Go CLI's name-lookup bug skips the checks).
 */
CSTOR_PUBLIC int cstor_store_delete_layer(cstor_store *store, const char *ref, cstor_error *err);

/** Layer big data: named blobs stored next to the layer. */
CSTOR_PUBLIC int cstor_layer_get_big_data(void **data, size_t *len, cstor_store *store,
					  const char *ref, const char *key, cstor_error *err);
CSTOR_PUBLIC int cstor_layer_set_big_data(cstor_store *store, const char *ref, const char *key,
					  const void *data, size_t len, cstor_error *err);

/** Read up to @len bytes: the count, 0 at the end, or -errno. */
typedef long (*cstor_read_fn)(void *ctx, void *buf, size_t len);
/** Write all @len bytes or return -errno. */
typedef int (*cstor_write_fn)(void *ctx, const void *buf, size_t len);

/**
 * Apply a layer tarball (plain, gzip or zstd, detected from the stream) to
 * a layer. The layer is flagged incomplete while the apply runs, so an
 * interrupted apply is never mistaken for a complete layer. Records the
 * digests, sizes, compression, owners and the tar-split needed to give the
 * tarball back byte for byte. Refused for a layer with children.
 *
 * @param[out] size the uncompressed size (may be NULL)
 */
CSTOR_PUBLIC int cstor_store_apply_diff(int64_t *size, cstor_store *store, const char *ref,
					cstor_read_fn read, void *ctx, cstor_error *err);

/**
 * Apply a tarball by extracting it into a staging directory without any
 * store lock held, then committing it as the layer's content in one rename
 * (applydiff-using-staging-dir). overlay only (-ENOTSUP otherwise); the
 * layer's own content must be empty.
 */
CSTOR_PUBLIC int cstor_store_apply_diff_staged(int64_t *size, cstor_store *store,
					       const char *ref, cstor_read_fn read, void *ctx,
					       cstor_error *err);

/**
 * cstor_store_apply_diff_staged() of the archive of the host directory
 * @dir (its contents, as containers-storage's applydiff-using-staging-dir
 * archives its DIRECTORY argument).
 * Since: 0.4
 */
CSTOR_PUBLIC int cstor_store_apply_dir_staged(int64_t *size, cstor_store *store, const char *ref,
					      const char *dir, cstor_error *err);

/**
 * Create a layer and apply a tarball to it in one step (import-layer). If
 * the apply fails, or the process dies before it completes, the layer is
 * removed (at once, or by the next writer that opens the store).
 */
CSTOR_PUBLIC int cstor_store_import_layer(cstor_layer **out, cstor_store *store,
					  const cstor_layer_options *opts, cstor_read_fn read,
					  void *ctx, cstor_error *err);

enum {
	CSTOR_DIFF_DEFAULT = -1, /* the compression the layer was applied with */
	CSTOR_DIFF_UNCOMPRESSED = 0,
	CSTOR_DIFF_GZIP = 2,
	CSTOR_DIFF_ZSTD = 4,
};

/**
 * Write the changes of layer @to against @from (NULL: its parent) as a tar
 * stream. For an unchanged applied layer against its parent this is the
 * applied tarball, byte for byte.
 */
CSTOR_PUBLIC int cstor_store_diff(cstor_store *store, const char *from, const char *to,
				  int compression, cstor_write_fn write, void *ctx,
				  cstor_error *err);

/* Values of containers/storage's archive.ChangeType (the CLI's JSON "Kind"). */
enum cstor_change_kind {
	CSTOR_CHANGE_MODIFY = 0,
	CSTOR_CHANGE_ADD = 1,
	CSTOR_CHANGE_DELETE = 2,
};

typedef struct cstor_change {
	char *path; /* absolute, "/etc/hosts" */
	enum cstor_change_kind kind;
} cstor_change;

CSTOR_PUBLIC int cstor_store_changes(cstor_change **out, size_t *n, cstor_store *store,
				     const char *from, const char *to, cstor_error *err);
CSTOR_PUBLIC void cstor_changes_free(cstor_change *changes, size_t n);
CSTOR_PUBLIC int cstor_store_diff_size(int64_t *size, cstor_store *store, const char *from,
				       const char *to, cstor_error *err);

/**
 * Delete every container (with its directories), image (with its big data)
 * and layer of the primary store, in that order. Nothing is deleted while a
 * layer of the store is mounted or being applied to (-EBUSY naming it);
 * read-only stores are left alone.
 */
CSTOR_PUBLIC int cstor_store_wipe(cstor_store *store, cstor_error *err);

/**
 * The layers the storage driver has (its directories), with or without a
 * record: the newest containers-storage's `storage-layers`. *ids is
 * NULL-terminated, free with cstor_strv_free().
 * @return 0, -EOPNOTSUPP ("driver not supported")
 */
CSTOR_PUBLIC int cstor_store_driver_layers(char ***ids, cstor_store *store, cstor_error *err);

/**
 * Create a layer in the storage driver only, with no record (@id NULL: a
 * random ID; @parent a driver layer or NULL): `create-storage-layer`, for
 * tests of check and gc, which find and remove such directories.
 * @return 0, -EEXIST, -ENOENT (no such parent), -EINVAL (bad ID)
 */
CSTOR_PUBLIC int cstor_store_create_driver_layer(char **id_out, cstor_store *store,
						 const char *id, const char *parent,
						 cstor_error *err);

CSTOR_END_DECL

#endif
