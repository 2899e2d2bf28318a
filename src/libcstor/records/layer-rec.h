/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The layer record of layers.json (cs-formats.md §2.2), read and written
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

#include "util/gojson.h"

struct cstor_idmap {
	uint32_t container_id;
	uint32_t host_id;
	uint32_t size;
};

struct cstor_layer_rec {
	char *id;
	char **names;
	char *parent;
	char *metadata;
	char *mountlabel;
	char *created; /* RFC 3339 text as stored (Go keeps the offset it read) */
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
	json_t *flags; /* object or NULL */
	struct cstor_idmap *uidmap;
	size_t n_uidmap;
	struct cstor_idmap *gidmap;
	size_t n_gidmap;
	char **big_data_names;
	json_t *extra; /* unknown keys, object or NULL */
	/* Kept in volatile-layers.json (newer containers/storage writes
	 * layers of volatile containers there); not a JSON field. */
	bool is_volatile;
};

void cstor_layer_rec_free(struct cstor_layer_rec *r);

/* Parse one record. @where names the file and index in errors. */
int cstor_layer_rec_parse(struct cstor_layer_rec **out, json_t *obj, const char *where,
			  cstor_error *err);
/* Append the record as Go would encode it. */
void cstor_layer_rec_write(cstor_buf *b, const struct cstor_layer_rec *r);

/* Parse a whole layers.json (empty, "null" and "[]" mean no layers). */
int cstor_layer_recs_parse(struct cstor_layer_rec ***out, size_t *n, const char *data, size_t len,
			   const char *path, cstor_error *err);

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

/* Shared by image and container records. */
int cstor_json_get_strv(char ***out, json_t *v, const char *what, cstor_error *err);
/* The ID mappings at @key of @obj (absent or null: none); -EBADMSG naming
 * @what and @key for anything but a list of {container_id, host_id, size}
 * with values that fit 32 bits. */
int cstor_idmaps_parse(struct cstor_idmap **out, size_t *n, json_t *obj, const char *key,
		       const char *what, cstor_error *err);
void cstor_idmaps_write(cstor_buf *b, bool *first, const char *key, const struct cstor_idmap *m,
			size_t n);
/* The current time in Go's JSON form (UTC, nanoseconds, trimmed). */
char *cstor_time_now_json(void);
/* An RFC 3339 time as containers/storage would store it after parsing
 * (fraction without trailing zeros, "Z" for UTC); NULL when @in is not one
 * (or on OOM). */
char *cstor_time_normalize(const char *in);

#endif
