/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The image store and the container store: one implementation for both
 * (the records share their first member, struct cstor_obj_head), behaving
 * like containers/storage's imageStore and containerStore.
 *
 *   <graphroot>/<drv>-images/images.json        under images.lock
 *   <graphroot>/<drv>-containers/containers.json under containers.lock
 *   <dir>/<id>/<item>                            big data (bigdata.h names)
 *
 * Access goes through start_reading/start_writing, which take the lock and
 * reload the records when another process changed them (recfile.h); a
 * corrupt file is an error, never an empty store. Names are unique among
 * the objects of one store: loading a file that gives one name to two
 * objects keeps it on the later one (as Go does) and the next writer saves
 * the repair; a read-only store with such a file is an error.
 *
 * A read-only store (an additional image store) is opened read-only: its
 * lock is only ever taken shared on the file, nothing in it is created or
 * written, and a missing directory or file is an empty store.
 */
#ifndef CSTOR_OBJSTORE_H
#define CSTOR_OBJSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cstor/error.h>

#include "util/gojson.h"
#include "records/lockfile.h"
#include "records/recfile.h"
#include "records/fields.h"

struct cstor_objstore_ops {
	const char *kind;      /* "image", "container": used in messages */
	const char *json_name; /* "images.json" */
	const char *lock_name; /* "images.lock" */
	int (*parse_all)(struct cstor_obj_head ***out, size_t *n, const char *data, size_t len,
			 const char *path, cstor_error *err);
	void (*write)(cstor_buf *b, const struct cstor_obj_head *h);
	void (*free)(struct cstor_obj_head *h);
	/* A second exact key an object is found by, after its names (a
	 * container's layer ID), or NULL. */
	const char *(*alt_key)(const struct cstor_obj_head *h);
};

struct cstor_objstore {
	cstor_lock lock;
	const struct cstor_objstore_ops *ops;
	bool read_only;
	struct cstor_recfile file;

	struct cstor_obj_head **recs CSTOR_GUARDED_BY(&lock);
	size_t n CSTOR_GUARDED_BY(&lock);
	struct cstor_recfile_seen seen CSTOR_GUARDED_BY(&lock);
	/* A load-time repair (duplicate names) waits for the next writer. */
	bool needs_save CSTOR_GUARDED_BY(&lock);
};

int cstor_objstore_open(struct cstor_objstore **out, const struct cstor_objstore_ops *ops,
			const char *dir, bool read_only, cstor_error *err);
void cstor_objstore_free(struct cstor_objstore *os);

/* Take the lock shared (or exclusive) with up-to-date records: 0 with the
 * lock held, or an error with it released. start_writing on a read-only
 * store is -EROFS. */
int cstor_objstore_start_reading(struct cstor_objstore *os, cstor_error *err)
	CSTOR_TRY_ACQUIRE_SHARED(0, &os->lock);
int cstor_objstore_start_writing(struct cstor_objstore *os, cstor_error *err)
	CSTOR_TRY_ACQUIRE(0, &os->lock);
void cstor_objstore_done(struct cstor_objstore *os) CSTOR_RELEASE_GENERIC(&os->lock);

int cstor_objstore_save(struct cstor_objstore *os, cstor_error *err) CSTOR_REQUIRES(&os->lock);

/* Lookup as containers/storage does: exact ID, exact name, the alternate
 * key, then a unique ID prefix. NULL when nothing matches; *ambiguous (may
 * be NULL) is set when a prefix matches several. */
struct cstor_obj_head *cstor_objstore_lookup(struct cstor_objstore *os, const char *ref,
					     bool *ambiguous) CSTOR_REQUIRES_SHARED(&os->lock);
struct cstor_obj_head *cstor_objstore_by_id(struct cstor_objstore *os, const char *id)
	CSTOR_REQUIRES_SHARED(&os->lock);
struct cstor_obj_head *cstor_objstore_by_name(struct cstor_objstore *os, const char *name)
	CSTOR_REQUIRES_SHARED(&os->lock);

/* Add a record (takes ownership, freed on failure): -ENOMEM. */
int cstor_objstore_add(struct cstor_objstore *os, struct cstor_obj_head *h)
	CSTOR_REQUIRES(&os->lock);
/* Drop a record from memory (frees it). */
void cstor_objstore_remove(struct cstor_objstore *os, struct cstor_obj_head *h)
	CSTOR_REQUIRES(&os->lock);
/* Delete an object for good: the record (saved), then its big data. */
int cstor_objstore_delete(struct cstor_objstore *os, struct cstor_obj_head *h, cstor_error *err)
	CSTOR_REQUIRES(&os->lock);
/* Give @h exactly @names (deduplicated), taking each from any other object
 * that had it. -ENOMEM. */
int cstor_objstore_set_names(struct cstor_objstore *os, struct cstor_obj_head *h,
			     char *const *names) CSTOR_REQUIRES(&os->lock);

/* <dir>/<id>: the object's big data (NULL on OOM). */
char *cstor_objstore_data_dir(struct cstor_objstore *os, const char *id);

/* Write big-data item @key of @h and record its size and @digest (saved by
 * the caller when *changed). */
int cstor_objstore_write_big_data(struct cstor_objstore *os, struct cstor_obj_head *h,
				  const char *key, const void *data, size_t len,
				  const char *digest, bool *changed, cstor_error *err)
	CSTOR_REQUIRES(&os->lock);

/* A free random ID (cstor_random_id) for a new object. */
int cstor_objstore_new_id(struct cstor_objstore *os, char id[65], cstor_error *err)
	CSTOR_REQUIRES_SHARED(&os->lock);

#endif
