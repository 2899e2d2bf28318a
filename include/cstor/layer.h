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

#define CSTOR_LAYER_OPTIONS_VERSION 1

typedef struct cstor_layer_options {
	unsigned int version;     /* CSTOR_LAYER_OPTIONS_VERSION */
	const char *id;           /* NULL: a random ID */
	const char *parent;       /* reference to the parent, NULL for a base layer */
	const char *const *names; /* NULL-terminated, may be NULL */
	const char *mount_label;
	int writeable; /* a container's read-write layer (vs. an image layer) */
	uint32_t flags; /* none defined yet; must be 0 */
} cstor_layer_options;

#define CSTOR_LAYER_OPTIONS_INIT { CSTOR_LAYER_OPTIONS_VERSION, 0, 0, 0, 0, 0, 0 }

/**
 * Create an empty layer (a child starts with its parent's content).
 * @return 0, -EEXIST (ID taken), -ENOENT (no such parent), -EROFS, I/O errors
 */
CSTOR_PUBLIC int cstor_store_create_layer(cstor_layer **out, cstor_store *store,
					  const cstor_layer_options *opts, cstor_error *err);

/** Replace the names of a layer. Names are unique among layers: a name
 *  given here is taken away from the layer that had it. */
CSTOR_PUBLIC int cstor_layer_set_names(cstor_store *store, const char *ref,
				       const char *const *names, cstor_error *err);
/** Add names to a layer (set-names with the old names followed by these). */
CSTOR_PUBLIC int cstor_layer_add_names(cstor_store *store, const char *ref,
				       const char *const *names, cstor_error *err);

CSTOR_END_DECL

#endif
