/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The layer kind of the store engine (store/engine.h): layers.json of one
 * store (the primary, read-write one or an additional read-only one) under
 * layers.lock, with volatile-layers.json beside it.
 *
 * What layers add to the engine: records kept in volatile-layers.json
 * (newer containers/storage puts layers of volatile containers there),
 * layers flagged incomplete by a writer that died are removed by the next
 * writer, and deleting a layer removes its driver files and tar-split. The
 * hooks that need the driver run only on the primary store, whose ctx is
 * its struct cstor_store.
 *
 * The typed helpers below are the engine's calls on layer records.
 */
#ifndef CSTOR_LAYER_STORE_H
#define CSTOR_LAYER_STORE_H

#include <stdbool.h>

#include "records/layer-rec.h"
#include "store/engine.h"

extern const struct cstor_objstore_ops cstor_layer_store_ops;

static inline int cstor_layer_store_open(struct cstor_objstore **out, const char *dir,
					 bool read_only, cstor_error *err)
{
	return cstor_objstore_open(out, &cstor_layer_store_ops, dir, read_only, err);
}

static inline struct cstor_layer_rec *cstor_layer_store_at(struct cstor_objstore *ls, size_t i)
	CSTOR_REQUIRES_SHARED(&ls->lock)
{
	return CSTOR_LAYER_REC(ls->recs[i]);
}

/* Lookup by exact ID, then exact name, then unique ID prefix. NULL when
 * nothing matches; *ambiguous (may be NULL) when a prefix matches several. */
static inline struct cstor_layer_rec *cstor_layer_store_lookup(struct cstor_objstore *ls,
							       const char *ref, bool *ambiguous)
	CSTOR_REQUIRES_SHARED(&ls->lock)
{
	return CSTOR_LAYER_REC(cstor_objstore_lookup(ls, ref, ambiguous));
}

static inline struct cstor_layer_rec *cstor_layer_store_by_id(struct cstor_objstore *ls,
							      const char *id)
	CSTOR_REQUIRES_SHARED(&ls->lock)
{
	return CSTOR_LAYER_REC(cstor_objstore_by_id(ls, id));
}

/* Add a record (takes ownership, freed on failure): -ENOMEM. */
static inline int cstor_layer_store_add(struct cstor_objstore *ls, struct cstor_layer_rec *rec)
	CSTOR_REQUIRES(&ls->lock)
{
	return cstor_objstore_add(ls, &rec->h);
}

/* Drop a record from memory (frees it). */
static inline void cstor_layer_store_remove(struct cstor_objstore *ls,
					    struct cstor_layer_rec *rec) CSTOR_REQUIRES(&ls->lock)
{
	cstor_objstore_remove(ls, &rec->h);
}

/* Remove a layer for good: flagged incomplete and saved first, so an
 * interruption leaves something the next writer finishes removing; then
 * the driver's files, the tar-split, the big data, the record. */
static inline int cstor_layer_store_delete(struct cstor_objstore *ls, struct cstor_layer_rec *rec,
					   cstor_error *err) CSTOR_REQUIRES(&ls->lock)
{
	return cstor_objstore_delete(ls, &rec->h, err);
}

/* <dir>/<id>.tar-split.gz (NULL on OOM). */
char *cstor_layer_store_tarsplit_path(struct cstor_objstore *ls, const char *id);

/* Whether some layer has @id as parent. */
bool cstor_layer_store_has_children(struct cstor_objstore *ls, const char *id)
	CSTOR_REQUIRES_SHARED(&ls->lock);

/* Whether @anc is reached walking up the parents from @id (not counting
 * @id itself); at most ls->n steps, so a cycle ends the walk. */
bool cstor_layer_store_is_ancestor(struct cstor_objstore *ls, const char *id, const char *anc)
	CSTOR_REQUIRES_SHARED(&ls->lock);

/* Whether some layer that is not one of @id's own ancestors has @id as
 * parent: the children that keep @id, when the parents of a corrupt store
 * form a cycle through @id (whose other members then are both its children
 * and its ancestors). The walks are bounded by the number of layers. */
bool cstor_layer_store_has_children_outside_cycle(struct cstor_objstore *ls, const char *id)
	CSTOR_REQUIRES_SHARED(&ls->lock);

#endif
