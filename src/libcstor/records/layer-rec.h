/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The layer record of layers.json (docs/formats.md §2.2), read and written
 * field for field as containers/storage does, so either implementation can
 * rewrite a file the other wrote without losing anything. Keys cstor does not
 * know (written by a newer Go version) are kept and written back.
 */
#ifndef CSTOR_LAYER_RECORD_H
#define CSTOR_LAYER_RECORD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include <cstor/error.h>

#include "records/fields.h"
#include "util/gojson.h"

/* The head (id, names, metadata, created, flags, unknown keys, big-data
 * names) is the one the image and container records have, so the store
 * engine (store/engine.h) serves all three kinds. Layers record only the
 * names of their big-data items (h.bd.sizes and h.bd.digests stay NULL). */
struct cstor_layer_rec {
	struct cstor_obj_head h;
	char *parent;
	char *mountlabel;
	char *compressed_digest;
	int64_t compressed_size;
	char *uncompressed_digest;
	char *toc_digest;
	int64_t uncompressed_size;
	int compression;
	uint32_t *uidset;
	size_t n_uidset;
	uint32_t *gidset;
	size_t n_gidset;
	struct cstor_idmap *uidmap;
	size_t n_uidmap;
	struct cstor_idmap *gidmap;
	size_t n_gidmap;
	/* Kept in volatile-layers.json (newer containers/storage writes
	 * layers of volatile containers there); not a JSON field. */
	bool is_volatile;
	/* Kept in a split image store's layers.json (an image layer, newest
	 * containers/storage's imageStoreLayerLocation); not a JSON field. */
	bool in_image_store;
};

#define CSTOR_LAYER_REC(head) ((struct cstor_layer_rec *)(head))

void cstor_layer_rec_free(struct cstor_layer_rec *r);

/* Parse one record. @where names the file and index in errors. */
int cstor_layer_rec_parse(struct cstor_layer_rec **out, json_t *obj, const char *where,
			  cstor_error *err);
/* Append the record as Go would encode it. */
void cstor_layer_rec_write(cstor_buf *b, const struct cstor_layer_rec *r);

extern const struct cstor_rec_codec cstor_layer_rec_codec;

/* cstor's own flag: an apply into this (existing) layer started and has not
 * finished. Go ignores unknown flags; cstor refuses to use such a layer
 * until it is applied again or deleted. Go's "incomplete" flag is kept for
 * its meaning there: a creation or deletion to be finished by removal. */
#define CSTOR_FLAG_APPLY_INCOMPLETE "cstor.apply-incomplete"
/* cstor's flag for a layer created together with its content (import): a
 * writer that finds it with no apply in progress removes the layer. */
#define CSTOR_FLAG_CREATING "cstor.creating"

/* Flags helpers. */
bool cstor_layer_rec_flag_bool(const struct cstor_layer_rec *r, const char *key);
int cstor_layer_rec_set_flag(struct cstor_layer_rec *r, const char *key, json_t *value);
void cstor_layer_rec_del_flag(struct cstor_layer_rec *r, const char *key);


#endif
