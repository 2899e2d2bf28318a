/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The verbs layers, images and containers share, written once over the
 * store engine: lookup across the primary store and the read-only ones,
 * names set/add/remove, metadata, big data. The public per-kind functions
 * (layers.c, images.c, containers.c) are thin wrappers around these.
 *
 * A set is the stores of one kind in lock order: the primary, read-write
 * store first, then the read-only stores of the additional image stores.
 * What a kind does differently it says in its struct cstor_objstore_ops
 * (store/engine.h) or in struct cstor_verb_hooks below.
 */
#ifndef CSTOR_STORE_VERBS_H
#define CSTOR_STORE_VERBS_H

#include <stdbool.h>
#include <stdint.h>

#include "store/engine.h"

struct cstor_objset {
	struct cstor_objstore *primary;
	struct cstor_objstore *const *ro;
	size_t n_ro;
	/* A read-only store's record whose ID the primary store has too is
	 * not found by lookups: the primary's copy replaced it (images whose
	 * names changed, as in newest containers/storage's Image()). */
	bool ro_shadowed_by_id;
};

/* What a kind adds to a verb; every member may be NULL. */
struct cstor_verb_hooks {
	/* After the names of @h changed (an image's names history). */
	int (*names_changed)(struct cstor_obj_head *h);
	/* After a big-data item of @h was written (an image's digests);
	 * may set *changed. */
	int (*big_data_changed)(struct cstor_obj_head *h, bool *changed, cstor_error *err);
	/* Names of an object of a read-only store are changed on a copy
	 * of it (record and big data) made in the primary store, as newest
	 * containers/storage does for images. */
	bool names_copy_up;
};

/* Copy what the caller needs of @h while its store @os is held. */
typedef int (*cstor_obj_copy_fn)(void *out, struct cstor_objstore *os,
				 const struct cstor_obj_head *h, cstor_error *err);

/* Find @ref in the set, primary store first, and @copy it: -ENOENT "<kind>
 * not known: <ref>", or -EINVAL when it is ambiguous and found nowhere
 * exactly. *where (may be NULL) gets the store that has it. */
int cstor_objset_find(const struct cstor_objset *set, const char *ref, cstor_obj_copy_fn copy,
		      void *out, struct cstor_objstore **where, cstor_error *err);

/* Find @ref in @primary (the set's primary store, held by the caller), or
 * say why not: it is unknown (-ENOENT), ambiguous (-EINVAL), or in one of
 * the set's read-only stores (-EROFS); NULL then, with @err set, prefixed
 * with "@what: " when @what is not NULL. The verbs below take @what for
 * the same. */
struct cstor_obj_head *cstor_objset_find_writable(struct cstor_objstore *primary,
						  const struct cstor_objset *set, const char *ref,
						  const char *what, cstor_error *err)
	CSTOR_REQUIRES_SHARED(&primary->lock);

/* The error code find_writable left in @err. */
int cstor_objset_fail_code(const cstor_error *err);

enum cstor_names_op { CSTOR_NAMES_SET, CSTOR_NAMES_ADD, CSTOR_NAMES_REMOVE };

int cstor_objset_change_names(const struct cstor_objset *set, const struct cstor_verb_hooks *hooks,
			      const char *ref, const char *const *names, enum cstor_names_op op,
			      const char *what, cstor_error *err);
/* "" or NULL removes the metadata. */
int cstor_objset_set_metadata(const struct cstor_objset *set, const char *ref,
			      const char *metadata, const char *what, cstor_error *err);

/* Big-data item @key of @ref, from whichever store has it. */
int cstor_objset_get_big_data(void **data, size_t *len, const struct cstor_objset *set,
			      const char *ref, const char *key, cstor_error *err);
/* Write item @key of @ref (primary store) and record it with @digest. */
int cstor_objset_set_big_data(const struct cstor_objset *set, const struct cstor_verb_hooks *hooks,
			      const char *ref, const char *key, const void *data, size_t len,
			      const char *digest, const char *what, cstor_error *err);
/* The recorded size (@size) or digest (@digest) of item @key; when none is
 * recorded, the size of the file, and its digest if @compute_digest. */
int cstor_objset_big_data_info(int64_t *size, char **digest, const struct cstor_objset *set,
			       const char *ref, const char *key, bool compute_digest,
			       cstor_error *err);

#endif
