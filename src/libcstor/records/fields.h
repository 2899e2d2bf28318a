/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pieces shared by the image and container records (docs/formats.md §2.5,
 * §2.6): typed field readers that name the record in their errors, the
 * big-data bookkeeping both records carry (names in insertion order, sizes
 * and digests as maps written with sorted keys), and unknown keys kept for
 * writing back.
 */
#ifndef CSTOR_RECORD_UTIL_H
#define CSTOR_RECORD_UTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include <cstor/error.h>
#include <cstor/idmap.h>

#include "util/gojson.h"


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

/* Field readers: absent and null give NULL / 0; a wrong type is -EBADMSG
 * naming @what. */
int cstor_rec_get_str(char **out, json_t *obj, const char *key, const char *what,
		      cstor_error *err);
int cstor_rec_get_strv(char ***out, json_t *obj, const char *key, const char *what,
		       cstor_error *err);
/* An object whose values all have JSON type @type (JSON_INTEGER or
 * JSON_STRING), kept as a jansson object (NULL when absent or empty). */
int cstor_rec_get_map(json_t **out, json_t *obj, const char *key, json_type type,
		      const char *what, cstor_error *err);
/* Any object (flags), NULL when absent or null. */
int cstor_rec_get_object(json_t **out, json_t *obj, const char *key, const char *what,
			 cstor_error *err);
/* The keys of @obj not in @known (NULL-terminated), or NULL when none. */
int cstor_rec_get_extra(json_t **out, json_t *obj, const char *const *known);

/* An ID that names a directory must not climb out of the store. */
bool cstor_rec_id_valid(const char *id);

/* Write a map (sorted keys) unless it is NULL or empty. */
void cstor_rec_write_map(cstor_buf *b, bool *first, const char *key, const json_t *map);
/* Write the unknown keys kept at parse time, after the known ones. */
void cstor_rec_write_extra(cstor_buf *b, bool *first, const json_t *extra);

/* Big-data bookkeeping of one record. */
struct cstor_bigdata_index {
	char **names;    /* insertion order, NULL when none */
	json_t *sizes;   /* name -> size, NULL when none */
	json_t *digests; /* name -> "sha256:...", NULL when none */
};

int cstor_bigdata_index_parse(struct cstor_bigdata_index *bi, json_t *obj, const char *what,
			      cstor_error *err);
void cstor_bigdata_index_write(cstor_buf *b, bool *first, const struct cstor_bigdata_index *bi);
void cstor_bigdata_index_done(struct cstor_bigdata_index *bi);
/* Record item @key with @size and @digest, or by name only when @digest is
 * NULL (layers). *changed tells whether anything differs from before (Go
 * saves only then). -ENOMEM. */
int cstor_bigdata_index_set(struct cstor_bigdata_index *bi, const char *key, int64_t size,
			    const char *digest, bool *changed);
/* The recorded size (-1 when unknown) and digest (NULL when unknown). */
int64_t cstor_bigdata_index_size(const struct cstor_bigdata_index *bi, const char *key);
const char *cstor_bigdata_index_digest(const struct cstor_bigdata_index *bi, const char *key);

/* What image and container records have in common: the first member of
 * both, so that one store implementation (objstore.h) serves both. */
struct cstor_obj_head {
	char *id;
	char **names; /* unique among the objects of one kind */
	char *metadata;
	struct cstor_bigdata_index bd;
	char *created; /* RFC 3339 text as stored */
	json_t *flags; /* object or NULL */
	json_t *extra; /* unknown keys (not in @known), object or NULL */

	/* Not fields. A copy handed to snapshots is immutable and counted
	 * (refs); a record of a store keeps its current copy in snap, shared
	 * by every snapshot until the store next changes (store/engine.c). */
	unsigned refs;
	struct cstor_obj_head *snap;
	/* A record's copy from before the store last changed (engine.c):
	 * shared again when the record still writes the copy's text. Set
	 * with the store's lock held exclusively; taken (atomically) by the
	 * first reader to copy the record. */
	struct cstor_obj_head *old_snap;
	/* A copy's JSON text, as cstor_rec_copy wrote it from the record. */
	char *text;
	size_t text_len;
};

/* Parse the common fields; @kind ("image") names the record in errors.
 * On failure the head is cleaned up. */
int cstor_obj_head_parse(struct cstor_obj_head *h, json_t *obj, const char *const *known,
			 const char *kind, const char *where, cstor_error *err);
void cstor_obj_head_done(struct cstor_obj_head *h);

/* Names: @v deduplicated, keeping first occurrences (Go's dedupeNames).
 * NULL on OOM; never NULL for a NULL @v (an empty list). */
/* The codec of one kind of record whose struct begins with struct
 * cstor_obj_head: what the store engine and the snapshots need of it. */
struct cstor_rec_codec {
	const char *what;  /* "layer": names a record in messages */
	const char *whats; /* "layers": names the records file's list */
	int (*parse)(struct cstor_obj_head **out, json_t *obj, const char *where,
		     cstor_error *err);
	void (*write)(cstor_buf *b, const struct cstor_obj_head *h);
	void (*free)(struct cstor_obj_head *h);
	/* Optional: what a record needs once parsed that is not a field of
	 * it (an image's digests). */
	int (*loaded)(struct cstor_obj_head *h, const char *where, cstor_error *err);
};

/* Defines cstor_<kind>_rec_codec from cstor_<kind>_rec_parse, _write and
 * _free, for a struct cstor_<kind>_rec whose first member is its head;
 * @loaded may be NULL. */
#define CSTOR_DEFINE_REC_CODEC(kind, loaded_fn)                                        \
	static int kind##_parse_head(struct cstor_obj_head **out, json_t *obj,          \
				     const char *where, cstor_error *err)               \
	{                                                                              \
		struct cstor_##kind##_rec *r = NULL;                                   \
		int k = cstor_##kind##_rec_parse(&r, obj, where, err);                 \
		*out = r ? &r->h : NULL;                                               \
		return k;                                                              \
	}                                                                              \
	static void kind##_write_head(cstor_buf *b, const struct cstor_obj_head *h)     \
	{                                                                              \
		cstor_##kind##_rec_write(b, (const struct cstor_##kind##_rec *)h);      \
	}                                                                              \
	static void kind##_free_head(struct cstor_obj_head *h)                          \
	{                                                                              \
		cstor_##kind##_rec_free((struct cstor_##kind##_rec *)h);                \
	}                                                                              \
	const struct cstor_rec_codec cstor_##kind##_rec_codec = {                      \
		.what = #kind,                                                         \
		.whats = #kind "s",                                                    \
		.parse = kind##_parse_head,                                            \
		.write = kind##_write_head,                                            \
		.free = kind##_free_head,                                              \
		.loaded = loaded_fn,                                                   \
	}

/* Parse a records file (records/recfile.h: blank or null is no records,
 * anything but a list is an error naming @path) into *out, n records. */
int cstor_recs_parse(const struct cstor_rec_codec *c, struct cstor_obj_head ***out, size_t *n,
		     const char *data, size_t len, const char *path, cstor_error *err);
/* A deep copy through the JSON encoding: exact by construction. The copy
 * is counted: one reference, dropped with cstor_rec_unref(). -ENOMEM. */
int cstor_rec_copy(const struct cstor_rec_codec *c, struct cstor_obj_head **out,
		   const struct cstor_obj_head *h);
/* Another reference to a counted copy (threads may share it: it is never
 * changed). */
struct cstor_obj_head *cstor_rec_ref(struct cstor_obj_head *h);
/* Drop a reference; the last one frees the copy. NULL is ignored. */
void cstor_rec_unref(const struct cstor_rec_codec *c, struct cstor_obj_head *h);

char **cstor_names_dedup(char *const *v);

/* A new random ID: 64 hex digits, never 12 leading digits (which Docker
 * tooling would mistake for a number), as containers/storage makes them. */
int cstor_random_id(char out[65]);

#endif
