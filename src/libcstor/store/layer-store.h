/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The layer store: layers.json of one store (the primary, read-write one or
 * an additional read-only one) under its lock file layers.lock.
 *
 * Every access goes through start_reading/start_writing, which take the lock
 * and reload the records when another process changed them (its token in
 * layers.lock differs from the one we saw last, or layers.json's mtime
 * changed because somebody edited it by hand). Writers save with
 * cstor_layer_store_save(), which writes layers.json atomically and durably
 * and records a new token before and after the data, which is safe for both
 * Go 1.43 (token after) and newer Go (token before) readers.
 */
#ifndef CSTOR_LAYER_STORE_H
#define CSTOR_LAYER_STORE_H

#include <stdbool.h>
#include <time.h>

#include "records/layer-rec.h"
#include "records/lockfile.h"
#include "records/recfile.h"

struct cstor_driver;
struct cstor_driver_ops;

struct cstor_layer_store {
	cstor_lock lock; /* layers.lock */
	/* The driver holding the layers' files (primary store only). */
	const struct cstor_driver_ops *drv_ops;
	struct cstor_driver *drv;
	/* Whether an apply into layer @id is running in some process. */
	bool (*apply_live)(void *ctx, const char *id);
	void *apply_live_ctx;
	bool read_only;  /* an additional image store: never written */
	struct cstor_recfile file; /* layers.json in <root>/<driver>-layers */
	const char *dir; /* file.dir */

	struct cstor_layer_rec **layers CSTOR_GUARDED_BY(&lock);
	size_t n_layers CSTOR_GUARDED_BY(&lock);
	struct cstor_recfile_seen seen CSTOR_GUARDED_BY(&lock);
	/* Layers whose load-time repair (duplicate names) is pending a save. */
	bool needs_save CSTOR_GUARDED_BY(&lock);
	/* Records were loaded since the last removal of dead incomplete
	 * layers: the next writer does it, even if a reader loaded them. */
	bool check_incomplete CSTOR_GUARDED_BY(&lock);
};

int cstor_layer_store_open(struct cstor_layer_store **out, const char *dir, bool read_only,
			   cstor_error *err);
void cstor_layer_store_free(struct cstor_layer_store *ls);

/* Take the lock shared (or exclusive) with up-to-date records. 0 with the
 * lock held, or an error (a corrupt layers.json) with it released. */
int cstor_layer_store_start_reading(struct cstor_layer_store *ls, cstor_error *err)
	CSTOR_TRY_ACQUIRE_SHARED(0, &ls->lock);
int cstor_layer_store_start_writing(struct cstor_layer_store *ls, cstor_error *err)
	CSTOR_TRY_ACQUIRE(0, &ls->lock);
void cstor_layer_store_done(struct cstor_layer_store *ls) CSTOR_RELEASE_GENERIC(&ls->lock);

int cstor_layer_store_save(struct cstor_layer_store *ls, cstor_error *err)
	CSTOR_REQUIRES(&ls->lock);

/* Lookup by exact ID, then exact name, then unique ID prefix. NULL when
 * nothing matches; -EINVAL sets *ambiguous when a prefix matches several. */
struct cstor_layer_rec *cstor_layer_store_lookup(struct cstor_layer_store *ls, const char *ref,
						 bool *ambiguous) CSTOR_REQUIRES_SHARED(&ls->lock);
struct cstor_layer_rec *cstor_layer_store_by_id(struct cstor_layer_store *ls, const char *id)
	CSTOR_REQUIRES_SHARED(&ls->lock);

/* Add a record (takes ownership). */
int cstor_layer_store_add(struct cstor_layer_store *ls, struct cstor_layer_rec *rec)
	CSTOR_REQUIRES(&ls->lock);
/* Drop a record from memory (frees it). */
void cstor_layer_store_remove(struct cstor_layer_store *ls, struct cstor_layer_rec *rec)
	CSTOR_REQUIRES(&ls->lock);
/* Give @rec exactly @names (deduplicated), taking each from any other
 * layer that had it, as containers/storage does. */
int cstor_layer_store_set_names(struct cstor_layer_store *ls, struct cstor_layer_rec *rec,
				char *const *names) CSTOR_REQUIRES(&ls->lock);
/* Remove a layer for good: flagged incomplete and saved first, so an
 * interruption leaves something the next writer finishes removing; then
 * the driver's files, the tar-split, the big data, the record. */
int cstor_layer_store_delete(struct cstor_layer_store *ls, struct cstor_layer_rec *rec,
			     cstor_error *err) CSTOR_REQUIRES(&ls->lock);

/* <dir>/<id>.tar-split.gz and <dir>/<id> (big data). */
char *cstor_layer_store_tarsplit_path(struct cstor_layer_store *ls, const char *id);
char *cstor_layer_store_data_dir(struct cstor_layer_store *ls, const char *id);

/* Whether some layer has @id as parent. */
bool cstor_layer_store_has_children(struct cstor_layer_store *ls, const char *id)
	CSTOR_REQUIRES_SHARED(&ls->lock);

#endif
