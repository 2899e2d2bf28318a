/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Images: a top layer (which may be shared with other images), names,
 * metadata and named blobs ("big data": manifests, configurations,
 * signatures). A cstor_image is a snapshot of an image record taken under
 * the store's lock; it does not change when the store does.
 *
 * An image reference (`ref`) is an ID, a name, or a unique prefix of an ID,
 * looked up in the primary store first and then in the read-only additional
 * image stores ("imagestore" driver option) in their configured order. Images
 * of read-only stores are listed and found, but cannot be changed (-EROFS).
 *
 * Names are unique among the images of a store: giving an image a name
 * another image has takes it away from that image. Every name an image is
 * given by set/add/remove-names is also recorded in its names history,
 * newest first (names given at creation are not), as containers/storage does.
 */
#ifndef CSTOR_IMAGE_H
#define CSTOR_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include <cstor/common.h>
#include <cstor/error.h>
#include <cstor/store.h>

CSTOR_BEGIN_DECL

typedef struct cstor_image cstor_image;

CSTOR_PUBLIC void cstor_image_free(cstor_image *image);
/** Free a NULL-terminated list of images. */
CSTOR_PUBLIC void cstor_image_list_free(cstor_image **list);

CSTOR_PUBLIC const char *cstor_image_id(const cstor_image *image);
/** NULL-terminated; never NULL. */
CSTOR_PUBLIC const char *const *cstor_image_names(const cstor_image *image);
/** Names the image had, newest first; NULL-terminated, never NULL. */
CSTOR_PUBLIC const char *const *cstor_image_names_history(const cstor_image *image);
/** The top layer's ID, or NULL for an image without layers. */
CSTOR_PUBLIC const char *cstor_image_top_layer(const cstor_image *image);
/** ID-mapped copies of the top layer (written by containers/storage);
 *  NULL-terminated, never NULL. */
CSTOR_PUBLIC const char *const *cstor_image_mapped_top_layers(const cstor_image *image);
/** The image's digest: the one given at creation, else the digest of its
 *  first manifest item; NULL when there is none. */
CSTOR_PUBLIC const char *cstor_image_digest(const cstor_image *image);
/** Every digest that finds the image (cstor_store_images_by_digest): the
 *  image's digest, then those of its manifest items, each once.
 *  NULL-terminated, never NULL. */
CSTOR_PUBLIC const char *const *cstor_image_digests(const cstor_image *image);
CSTOR_PUBLIC const char *cstor_image_metadata(const cstor_image *image);
/** Creation time as stored (RFC 3339). */
CSTOR_PUBLIC const char *cstor_image_created(const cstor_image *image);
/** Names of the image's big-data items in the order they were first set;
 *  NULL-terminated, never NULL. */
CSTOR_PUBLIC const char *const *cstor_image_big_data_names(const cstor_image *image);
/** Non-zero when the image lives in a read-only additional store. */
CSTOR_PUBLIC int cstor_image_read_only(const cstor_image *image);
/** The record as containers/storage encodes it in JSON (malloc'd). */
CSTOR_PUBLIC char *cstor_image_to_json(const cstor_image *image);

/**
 * All images: the primary store's, then each read-only store's.
 * @param[out] out NULL-terminated list, free with cstor_image_list_free()
 * @return 0, -EBADMSG (a corrupt images.json, named in @err), I/O errors
 */
CSTOR_PUBLIC int cstor_store_images(cstor_image ***out, cstor_store *store, cstor_error *err);

/** Look up one image: -ENOENT when none matches, -EINVAL when an ID prefix
 *  is ambiguous. */
CSTOR_PUBLIC int cstor_store_image(cstor_image **out, cstor_store *store, const char *ref,
				   cstor_error *err);

/**
 * The images found by @digest ("sha256:..."): those whose digest or a
 * manifest item's digest it is, in store order. An empty list is not an
 * error; an invalid digest is -EINVAL.
 */
CSTOR_PUBLIC int cstor_store_images_by_digest(cstor_image ***out, cstor_store *store,
					      const char *digest, cstor_error *err);

#define CSTOR_IMAGE_OPTIONS_VERSION 2

typedef struct cstor_image_options {
	unsigned int version;     /* CSTOR_IMAGE_OPTIONS_VERSION */
	const char *id;           /* NULL: a random ID */
	const char *top_layer;    /* layer reference, NULL for an image without layers */
	const char *const *names; /* NULL-terminated, may be NULL */
	const char *metadata;
	const char *digest;       /* "sha256:...", NULL: none (validated) */
	uint32_t flags;           /* none defined yet; must be 0 */
	/* Since version 2: the creation date, RFC 3339 (e.g. the image
	 * config's "created"); NULL: now. */
	const char *created;
} cstor_image_options;

#define CSTOR_IMAGE_OPTIONS_INIT { CSTOR_IMAGE_OPTIONS_VERSION, 0, 0, 0, 0, 0, 0, 0 }

/**
 * Create an image. The top layer may live in a read-only store.
 * @return 0, -EEXIST (ID or a name taken: names are not stolen at
 *         creation), -ENOENT (no such layer), -EINVAL (bad ID or digest)
 */
CSTOR_PUBLIC int cstor_store_create_image(cstor_image **out, cstor_store *store,
					  const cstor_image_options *opts, cstor_error *err);

/** Replace the names of an image (taking each from any other image). */
CSTOR_PUBLIC int cstor_image_set_names(cstor_store *store, const char *ref,
				       const char *const *names, cstor_error *err);
/** Add names: set-names with the old names followed by these. */
CSTOR_PUBLIC int cstor_image_add_names(cstor_store *store, const char *ref,
				       const char *const *names, cstor_error *err);
/** Remove names from an image. */
CSTOR_PUBLIC int cstor_image_remove_names(cstor_store *store, const char *ref,
					  const char *const *names, cstor_error *err);
CSTOR_PUBLIC int cstor_image_set_metadata(cstor_store *store, const char *ref,
					  const char *metadata, cstor_error *err);

/**
 * Big data: named blobs stored next to the image record, one file per item
 * (named as containers/storage names them), with their sizes and digests
 * recorded. An item whose name starts with "manifest" is a manifest: its
 * digest is one of the image's digests, and becomes the image's digest if
 * it had none.
 */
CSTOR_PUBLIC int cstor_image_get_big_data(void **data, size_t *len, cstor_store *store,
					  const char *ref, const char *key, cstor_error *err);
/** The recorded size of an item (or its file's size when none is recorded);
 *  -ENOENT when unknown. */
CSTOR_PUBLIC int cstor_image_big_data_size(int64_t *size, cstor_store *store, const char *ref,
					   const char *key, cstor_error *err);
/** The recorded digest of an item (malloc'd); -ENOENT when unknown. */
CSTOR_PUBLIC int cstor_image_big_data_digest(char **digest, cstor_store *store,
					     const char *ref, const char *key, cstor_error *err);
/**
 * Store an item. @manifest_digest is the digest to record for a manifest
 * item (callers that canonicalise manifests, e.g. strip schema 1
 * signatures, pass theirs); NULL records the sha256 of @data, which is what
 * containers-storage's set-image-data does. Other items always record the
 * sha256 of their data.
 */
CSTOR_PUBLIC int cstor_image_set_big_data(cstor_store *store, const char *ref, const char *key,
					  const void *data, size_t len,
					  const char *manifest_digest, cstor_error *err);

/**
 * The size of an image: its layers' sizes (walking parents from the top
 * layer and its mapped copies, each layer once; computed when a layer has no
 * recorded uncompressed size) plus its big data.
 */
CSTOR_PUBLIC int cstor_store_image_size(int64_t *size, cstor_store *store, const char *ref,
					cstor_error *err);

enum {
	/* Only report which layers would be deleted. */
	CSTOR_DELETE_IMAGE_DRY_RUN = 1 << 0,
	/* Delete the record and its big data but no layers (`delete`). */
	CSTOR_DELETE_IMAGE_KEEP_LAYERS = 1 << 1,
};

/**
 * Delete an image, with its big data, and the layers no other image or
 * container uses: its top layer (and mapped copies), then each parent in
 * turn while it is not another image's top layer, not a container's layer,
 * and has no children besides the layers being deleted (as containers/
 * storage's DeleteImage does).
 *
 * @param[out] deleted_layers (may be NULL) the IDs of the layers deleted, or
 *             that would be with CSTOR_DELETE_IMAGE_DRY_RUN, top first;
 *             NULL-terminated, free with cstor_strv_free()
 * @return 0, -ENOENT, -EBUSY (a container uses the image; a layer to delete
 *         is mounted or being applied: then nothing is deleted), -EROFS
 */
CSTOR_PUBLIC int cstor_store_delete_image(char ***deleted_layers, cstor_store *store,
					  const char *ref, uint32_t flags, cstor_error *err);

/**
 * The image's own directories, created when missing: under the graph root
 * (get-image-dir) and under the run root (get-image-run-dir), each
 * <root>/<driver>-images/<id>/userdata, as containers/storage keeps them.
 * *path is malloc'd. @return 0, -ENOENT
 */
CSTOR_PUBLIC int cstor_image_dir(char **path, cstor_store *store, const char *ref,
				 cstor_error *err);
CSTOR_PUBLIC int cstor_image_run_dir(char **path, cstor_store *store, const char *ref,
				     cstor_error *err);

CSTOR_END_DECL

#endif
