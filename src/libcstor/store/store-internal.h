/* SPDX-License-Identifier: Apache-2.0 */
/* The store object shared by the library's modules. */
#ifndef CSTOR_STORE_INTERNAL_H
#define CSTOR_STORE_INTERNAL_H

#include <cstor/layer.h>
#include <cstor/store.h>

#include "store/config.h"
#include "drivers/driver.h"
#include "store/layer-store.h"
#include "store/verbs.h"
#include "records/apply-lock.h"
#include "records/lockfile.h"
#include "mount/mountpoints.h"

struct cstor_store {
	struct cstor_config cfg;
	const struct cstor_driver_ops *driver_ops;
	struct cstor_driver *driver;
	char *driver_home; /* <graphroot>/<driver> */
	char *layers_dir;  /* <graphroot>/<driver>-layers */
	char *images_dir;
	char *containers_dir;
	char *run_layers_dir; /* <runroot>/<driver>-layers */
	char *run_containers_dir; /* <runroot>/<driver>-containers */
	char **driver_opts_for_driver;
	/* A split image store (docs/split-store.md): images in
	 * <imagestore>/<driver>-images (images_dir), the image layers'
	 * records in <imagestore>/<driver>-layers/layers.json (the layer
	 * store's split file) and their files under image_driver's home,
	 * <imagestore>/<driver>; the graph root's images are read as an
	 * additional store. All NULL without one. */
	struct cstor_driver *image_driver;
	char *image_driver_home;
	char *image_layers_dir;
	char *graph_images_dir;

	/* storage.lock: driver (re)initialisation and shutdown, first in the
	 * lock order (docs/locking.md). */
	cstor_lock graph_lock;

	/* The primary layer store, then the read-only ones of additional
	 * image stores, in configuration order (the lock order). */
	struct cstor_objstore *layers;
	struct cstor_mounts *mounts; /* mount state of the primary store's run root */
	struct cstor_objstore **ro_layers;
	size_t n_ro_layers;
	char **image_stores; /* roots of the additional image stores */

	/* Set by the image/container stores: -EBUSY (with a message) when an
	 * image or container uses layer @id. */
	int (*layer_in_use)(struct cstor_store *s, const char *id, cstor_error *err);
	/* Remove what dead imports, image deletes and container creates left
	 * (their journals), with the layer store held exclusively: set with
	 * the image and container stores it asks (relations.c). */
	int (*collect_journals)(struct cstor_store *s, struct cstor_objstore *ls,
				cstor_error *err);

	/* Image and container stores (objstore.h), after the layer stores in
	 * the lock order: the primary image store, the read-only ones of the
	 * additional image stores in configuration order, the containers. */
	struct cstor_objstore *images;
	/* What the layer store's writer cleanup removed of interrupted
	 * imports and image deletes in this process, for gc to report. */
	char **collected;
	struct cstor_objstore **ro_images;
	size_t n_ro_images;
	/* With a split image store: the graph root's images, ro_images[0],
	 * opened writable so that its images can be deleted. */
	struct cstor_objstore *graph_images;
	struct cstor_objstore *containers;

	void (*log)(void *ctx, int level, const char *msg);
	void *log_ctx;
	bool debug_sink; /* CSTOR_STORE_DEBUG: the process's debug sink is ours */
};

/* Layer snapshots shared by layers.c and layer-ops.c. */
struct cstor_layer {
	struct cstor_layer_rec *rec;
	bool read_only;
	char *const *names;     /* rec->names or an empty list */
	char *const *data_names; /* rec->big_data_names or an empty list */
	int64_t mount_count;
	char *mount_point;
};
int cstor_layer_snapshot(struct cstor_layer **out, struct cstor_objstore *ls,
			 const struct cstor_layer_rec *rec) CSTOR_REQUIRES_SHARED(&ls->lock);

/* Find a layer in any store (primary first) and say which store has it. */
int cstor_store_find_layer(struct cstor_layer **out, struct cstor_objstore **where,
			   struct cstor_store *s, const char *ref, cstor_error *err);

/* Find a layer of the primary store, or report why not: -ENOENT, -EINVAL
 * (ambiguous), -EROFS (it is in a read-only store). Caller holds the
 * primary store's lock. */
struct cstor_layer_rec *cstor_store_find_primary_layer(struct cstor_store *s,
						       struct cstor_objstore *ls, const char *ref,
						       const char *what, cstor_error *err)
	CSTOR_REQUIRES_SHARED(&ls->lock);

/* The ID mappings of the container whose layer is @layer (none when no
 * container has it), malloc'd into @maps. Takes the container store. */
int cstor_container_layer_maps(struct cstor_store *s, const char *layer, struct cstor_idmaps *maps,
			       cstor_error *err);

/* Create a layer record and its driver directory; @flag (optional) is set
 * on the record (true) in the same save that completes the creation.
 * *id_out gets the new ID. */
int cstor_layer_create(char **id_out, struct cstor_store *s, const cstor_layer_options *o,
		       const char *flag, cstor_error *err);
/* The same with the primary layer store @ls held exclusively: o->parent is
 * looked up in it, unless @ro_parent (the ID of a layer of a read-only
 * store, found by the caller) is given. */
int cstor_layer_create_locked(char **id_out, struct cstor_store *s, struct cstor_objstore *ls,
			      const cstor_layer_options *o, const char *ro_parent,
			      const char *tmpl, const char *flag, cstor_error *err)
	CSTOR_REQUIRES(&ls->lock);
/* Options of any supported version as the current version (-EINVAL for
 * an unknown one). @tmpl above: the new layer starts as a copy of that
 * layer's own files (on the same parent), shifted to the new mappings. */
int cstor_layer_options_norm(cstor_layer_options *out, const cstor_layer_options *o,
			     cstor_error *err);
/* Go's canUseShifting: the driver shifts at mount time and the maps are
 * contiguous. */
bool cstor_store_can_use_shifting(struct cstor_store *s, const cstor_idmap *u, size_t nu,
				  const cstor_idmap *g, size_t ng);
/* Make the files of layer @id durable before a record says they are
 * there: one syncfs() of the filesystem holding them (not an fsync per
 * file), through @fd when given (>= 0), else through the driver home.
 * Nothing when the driver's "sync" option is "none". */
int cstor_layer_sync_files(struct cstor_store *s, int fd, const char *id, cstor_error *err);
/* What an importer knows the blob must be (manifest and config digests):
 * checked after extraction and before the layer is marked complete, so a
 * mismatching layer is never visible as a finished one. NULL fields are
 * not checked. */
struct cstor_apply_expect {
	const char *compressed_digest;
	const char *uncompressed_digest;
};
/* How cstor_layer_apply treats the layer. */
enum cstor_apply_mode {
	/* applydiff into an existing layer without children */
	CSTOR_APPLY_EXISTING = 0,
	/* the layer was just created for this apply (import-layer) and is
	 * deleted if the apply fails */
	CSTOR_APPLY_NEW_LAYER = 1,
	/* repair: the layer's files are reset and applied again from a
	 * tarball that must give the recorded DiffID; children are allowed
	 * (they were built on that same content) and the record keeps its
	 * digests */
	CSTOR_APPLY_REBUILD = 2,
};
/* Apply a tarball into layer @ref (transfer/apply.c). @expect may be NULL. */
int cstor_layer_apply(int64_t *size, struct cstor_store *s, const char *ref,
		      enum cstor_apply_mode mode, int lock_fd,
		      const struct cstor_apply_expect *expect, cstor_read_fn read, void *ctx,
		      cstor_error *err);
/* The diff of layer @id as the store rooted at @graph_root keeps it (its
 * tar-split in @layers_dir, its files where the driver keeps them there),
 * uncompressed: also a read-only store's copy of a layer we have under the
 * same ID (transfer/diff.c). No lock is taken: such a store never changes
 * under us, and the caller checks the result's digest. */
int cstor_layer_diff_stored(struct cstor_store *s, const char *graph_root, const char *layers_dir,
			    const char *id, cstor_write_fn write, void *ctx, cstor_error *err);
/* Layer big data item @key of primary layer @id from @size bytes of @fd at
 * @off (layer-blob.c). */
int cstor_layer_set_big_data_fd(struct cstor_store *s, const char *id, const char *key, int fd,
				off_t off, uint64_t size, cstor_error *err);
/* import-layer with expectations; *id_out (may be NULL) gets the ID. */
int cstor_layer_import(char **id_out, struct cstor_store *s, const cstor_layer_options *o,
		       const struct cstor_apply_expect *expect, cstor_read_fn read, void *ctx,
		       cstor_error *err);

/* Delete primary layer @rec (its store @ls held exclusively) unless it has
 * children, is mounted or is in use by an image or container: the checks
 * of delete-layer (layer-ops.c). */
int cstor_layer_delete_checked(struct cstor_store *s, struct cstor_objstore *ls,
			       struct cstor_layer_rec *rec, cstor_error *err)
	CSTOR_REQUIRES(&ls->lock);

/* Delete image @id of the primary store if nothing claimed it: no names
 * and no container (the image a dead import made, found in its journal).
 * With the primary layer store held (images come after it in the lock
 * order). 1 deleted, 0 kept or gone. */
int cstor_image_drop_unclaimed(struct cstor_store *s, const char *id, cstor_error *err);

/* store-objects.c: open and free the image and container stores (and set
 * the layer_in_use hook). */
int cstor_store_open_objects(struct cstor_store *s, cstor_error *err);
void cstor_store_free_objects(struct cstor_store *s);

/* The stores of each kind, in lock order (store/verbs.h). */
static inline struct cstor_objset cstor_store_layer_set(struct cstor_store *s)
{
	return (struct cstor_objset){ s->layers, s->ro_layers, s->n_ro_layers };
}

static inline struct cstor_objset cstor_store_image_set(struct cstor_store *s)
{
	return (struct cstor_objset){ s->images, s->ro_images, s->n_ro_images, true };
}

static inline struct cstor_objset cstor_store_container_set(struct cstor_store *s)
{
	return (struct cstor_objset){ s->containers, NULL, 0 };
}

/* The driver instance holding layer @id's files: the image store's when
 * the layer is there and not in the graph root, else the graph root's. */
struct cstor_driver *cstor_store_driver_of(struct cstor_store *s, const char *id);
/* The layer directories of both driver instances (the driver's list op). */
int cstor_store_driver_list(char ***ids, struct cstor_store *s, cstor_error *err);

void cstor_store_log(struct cstor_store *s, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
