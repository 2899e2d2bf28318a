/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store engine: one implementation of what layers, images and
 * containers have in common, behaving like containers/storage's layerStore,
 * imageStore and containerStore.
 *
 *   <graphroot>/<drv>-layers/layers.json         under layers.lock
 *   <graphroot>/<drv>-images/images.json         under images.lock
 *   <graphroot>/<drv>-containers/containers.json under containers.lock
 *   <dir>/<id>/<item>                            big data (records/bigdata.h)
 *
 * Every record starts with struct cstor_obj_head (records/fields.h): ID,
 * names, metadata, big-data index, flags. A kind supplies only what differs
 * through struct cstor_objstore_ops: its record codec, a second lookup key,
 * a second records file, cleaning up after dead writers, and the files a
 * record owns besides its big-data directory.
 *
 * Access goes through start_reading/start_writing, which take the lock and
 * reload the records when another process changed them (records/recfile.h);
 * a corrupt file is an error, never an empty store. Names are unique among
 * the records of one store: loading a file that gives one name to two
 * records keeps it on the later one (as Go does; see own_repeats_kept for a
 * name a record repeats) and the next writer saves the repair; a read-only
 * store with such a file is an error. Loading is linear in the records and
 * names.
 *
 * A read-only store (an additional image store) is opened read-only: its
 * lock is only ever taken shared on the file, nothing in it is created or
 * written, and a missing directory or file is an empty store.
 *
 * Lookups by ID, name and the second key go through hash indexes, built at
 * the first lookup after a load and kept up to date by adds, removes and
 * name changes; ID prefixes through a sorted array, built at the first
 * prefix lookup after a change: a lookup does not grow with the store.
 * Records are only re-parsed when another process wrote the file.
 *
 * A process that wants one record and has not loaded the file since it
 * last changed (every CLI command) may find it through the lookup index
 * cached next to the file (store/recindex.h, docs/formats.md §3.8) and
 * parse that record alone: cstor_objstore_start_lookup. A reader's full
 * load writes that index.
 */
#ifndef CSTOR_STORE_ENGINE_H
#define CSTOR_STORE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cstor/error.h>

#include "records/fields.h"
#include "records/lockfile.h"
#include "records/recfile.h"
#include "util/gojson.h"

struct cstor_objstore;

struct cstor_objstore_ops {
	const char *kind;      /* "layer", "image", "container": used in messages */
	const char *json_name; /* "layers.json" */
	const char *lock_name; /* "layers.lock" */
	const struct cstor_rec_codec *codec; /* records/fields.h */
	/* Big-data items are recorded by name only, without sizes and
	 * digests (layers). */
	bool big_data_names_only;
	/* Loading a file that repeats a name within one record: the record
	 * keeps it (images), or loses it (layers and containers). Go's image
	 * load checks a record's names against earlier records only; its
	 * layer and container loads record each name as they go, so a repeat
	 * finds the record itself holding the name and takes it away. */
	bool own_repeats_kept;

	/* Optional hooks; NULL when the kind has no such thing. */

	/* A second exact key a record is found by, after its names (a
	 * container's layer ID). */
	const char *(*alt_key)(const struct cstor_obj_head *h);
	/* A second records file next to the first (volatile-layers.json),
	 * holding the records for which aside() is true. Its records are
	 * loaded after the first file's; an ID both files have is kept from
	 * the first. set_aside() marks a record loaded from it. The file is
	 * only written when it exists or has records to hold. */
	const char *aside_name;
	bool (*aside)(const struct cstor_obj_head *h);
	void (*set_aside)(struct cstor_obj_head *h);
	/* A second main records file, in another directory under a lock of
	 * its own (a split image store's <imagestore>/<drv>-layers/
	 * layers.json, holding its image layers), for the records for which
	 * split() is true; set_split() marks a record loaded from it. Only
	 * stores opened with a split directory have it (open_at). */
	bool (*split)(const struct cstor_obj_head *h);
	void (*set_split)(struct cstor_obj_head *h);
	/* Run by the first writer after the records were (re)loaded, by any
	 * process: finish what writers that died left half done. */
	int (*writer_cleanup)(struct cstor_objstore *os, cstor_error *err);
	/* Whether writer_cleanup has work a reader must not wait for: a
	 * reader then takes the store for writing once to run it, as
	 * containers/storage's readers do for layers flagged incomplete
	 * (so that nothing is built on them). Optional. */
	bool (*reader_cleanup)(struct cstor_objstore *os);
	/* Deleting: when mark_dying is given, the record is marked and saved
	 * first and removed last, so an interrupted delete leaves a record
	 * writer_cleanup finishes; without it the record goes first and the
	 * files are only garbage after a crash. remove_files removes what a
	 * record owns besides <dir>/<id> (a layer's driver files).
	 * mark_dying returns 1 when it marked the record, 0 when it already
	 * was, -ENOMEM. */
	int (*mark_dying)(struct cstor_obj_head *h);
	int (*remove_files)(struct cstor_objstore *os, const char *id, cstor_error *err);
	/* Names are image references: store/verbs.c finds a record by every
	 * spelling of one (normalised as import stores it, a short name, a
	 * digest), and has_digest tells which records a digest names. */
	bool names_are_references;
	bool (*has_digest)(const struct cstor_obj_head *h, const char *digest);
};

struct cstor_obj_index;
struct cstor_recindex;

/* A record parsed alone through the lookup index (store/recindex.h). */
struct cstor_objstore_partial {
	long rec; /* its number in the index */
	struct cstor_obj_head *h;
};

/* Where a store's files live when not all in one directory
 * (cstor_objstore_open_at). NULL members: the records directory. */
struct cstor_objstore_where {
	const char *dir;       /* the records file and the big data */
	const char *lock_dir;  /* the lock file (a transient store's run root) */
	const char *aside_dir; /* the aside file (a transient store's run root) */
	/* The split file's directory (with its own lock file there), or
	 * NULL for none: taken, reloaded and saved with the main file. */
	const char *split_dir;
};

struct cstor_objstore {
	cstor_lock lock;
	const struct cstor_objstore_ops *ops;
	bool read_only;
	struct cstor_recfile file;
	/* What the kind's hooks need (the layer kind: the cstor_store, for
	 * its driver); NULL for read-only stores. */
	void *ctx;

	struct cstor_obj_head **recs CSTOR_GUARDED_BY(&lock);
	size_t n CSTOR_GUARDED_BY(&lock);
	struct cstor_recfile_seen seen CSTOR_GUARDED_BY(&lock);
	/* A load-time repair (duplicate names) waits for the next writer. */
	bool needs_save CSTOR_GUARDED_BY(&lock);
	/* Records were loaded since writer_cleanup last ran: the next writer
	 * runs it, even if a reader loaded them. */
	bool cleanup_pending CSTOR_GUARDED_BY(&lock);
	/* IDs and names of the records writer_cleanup removed in this
	 * process (the kind's hook adds them): a delete that finds its
	 * record gone that way got what it asked for. */
	char **cleaned CSTOR_GUARDED_BY(&lock);
	/* Built by the first lookup after a change, which may hold the lock
	 * only shared: two readers may build it at once, and the first to
	 * install it (atomically) wins. It is dropped only with the lock held
	 * exclusively, when no lookup can be using it; so it is not
	 * annotated as guarded. */
	struct cstor_obj_index *index;
	/* The lock is held exclusively: records may change under a copy, so
	 * copies are not shared (set and cleared by the writer; readers,
	 * who hold the lock shared, only ever see it false). */
	bool writing;
	/* The size of the last save, to size the next one's buffer. */
	size_t saved_len CSTOR_GUARDED_BY(&lock);
	/* Hashes of the records file's and the split file's text as last
	 * loaded or saved (0: unknown): a save that would write the same
	 * text leaves the file alone, as Go saves only the files whose
	 * records changed (a transient store's container then costs no
	 * write, and no sync, on the graph root). */
	uint64_t text_hash[2] CSTOR_GUARDED_BY(&lock);
	/* The aside file's directory when it is not the records' (else
	 * aside_dirfd is -1 and file.dirfd is used). */
	char *aside_dir;
	int aside_dirfd;
	/* The split file (ops->split), when has_split: its lock is taken
	 * right after `lock` and released right before it, by the lock
	 * primitives below, so whoever holds `lock` holds it too (the
	 * analysis cannot express that: the helpers using it are marked). */
	bool has_split;
	cstor_lock split_lock;
	struct cstor_recfile split_file;
	struct cstor_recfile_seen split_seen;
	/* "cstor-layers.index": the lookup index cached next to the file. */
	char *index_name;
	/* Lookups served without loading the records (start_lookup): the
	 * index they came from and the records parsed from it alone, kept
	 * until the index stops matching or the records are loaded. Changed
	 * only with the lock held exclusively among our threads. */
	struct cstor_recindex *pix CSTOR_GUARDED_BY(&lock);
	struct cstor_objstore_partial *partial CSTOR_GUARDED_BY(&lock);
	size_t n_partial CSTOR_GUARDED_BY(&lock);
};

int cstor_objstore_open(struct cstor_objstore **out, const struct cstor_objstore_ops *ops,
			const char *dir, bool read_only, cstor_error *err);
/* The same with the files spread as @where says. */
int cstor_objstore_open_at(struct cstor_objstore **out, const struct cstor_objstore_ops *ops,
			   const struct cstor_objstore_where *where, bool read_only,
			   cstor_error *err);
void cstor_objstore_free(struct cstor_objstore *os);

/* Take the lock shared (or exclusive) with up-to-date records: 0 with the
 * lock held, or an error with it released. start_writing on a read-only
 * store is -EROFS. */
int cstor_objstore_start_reading(struct cstor_objstore *os, cstor_error *err)
	CSTOR_TRY_ACQUIRE_SHARED(0, &os->lock);
int cstor_objstore_start_writing(struct cstor_objstore *os, cstor_error *err)
	CSTOR_TRY_ACQUIRE(0, &os->lock);
void cstor_objstore_done(struct cstor_objstore *os) CSTOR_RELEASE_GENERIC(&os->lock);

/* start_reading for a caller that wants the one record @ref names (as
 * cstor_objstore_lookup finds it, or else by the exact name @name2 when
 * not NULL): when the records in memory are out of date and the lookup
 * index next to the file matches it, *h is that record, parsed alone, and
 * nothing else is loaded; when the index has no such record and
 * @final_miss says the caller would look no further in this store than
 * cstor_objstore_lookup and @name2 do, *absent is set instead. Else *h is
 * NULL and the records are loaded (the caller looks up as after
 * start_reading). Either way 0 with the lock held (*h lives until
 * cstor_objstore_done, and nothing else of the store may be looked at
 * when *h or *absent came from the index), or an error with the lock
 * released. An ambiguous prefix or an index that does not hold together
 * loads the records. */
int cstor_objstore_start_lookup(struct cstor_objstore *os, const char *ref, const char *name2,
				bool final_miss, struct cstor_obj_head **h, bool *absent,
				cstor_error *err)
	CSTOR_TRY_ACQUIRE_SHARED(0, &os->lock);

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
/* Delete a record for good, with its big data and the files the kind's
 * remove_files names, in the order the ops say (see mark_dying). */
int cstor_objstore_delete(struct cstor_objstore *os, struct cstor_obj_head *h, cstor_error *err)
	CSTOR_REQUIRES(&os->lock);
/* Give @h exactly @names (deduplicated), taking each from any other record
 * that had it. -ENOMEM. Names change only through here (or
 * cstor_objstore_changed), or the name index would go stale. */
int cstor_objstore_set_names(struct cstor_objstore *os, struct cstor_obj_head *h,
			     char *const *names) CSTOR_REQUIRES(&os->lock);
/* The records' IDs, names or alternate keys were changed in place. */
void cstor_objstore_changed(struct cstor_objstore *os) CSTOR_REQUIRES(&os->lock);

/* <dir>/<id>: the record's big data (NULL on OOM). */
char *cstor_objstore_data_dir(struct cstor_objstore *os, const char *id);

/* Write big-data item @key of @h and record it in its index, with its size
 * and @digest unless the kind records names only. *changed says whether
 * the record must be saved (by the caller). */
int cstor_objstore_write_big_data(struct cstor_objstore *os, struct cstor_obj_head *h,
				  const char *key, const void *data, size_t len,
				  const char *digest, bool *changed, cstor_error *err)
	CSTOR_REQUIRES(&os->lock);

/* A counted, immutable copy of @h for a snapshot (drop it with
 * cstor_rec_unref). Readers share one copy per record until the store next
 * changes, so listing an unchanged store copies nothing. -ENOMEM. */
int cstor_objstore_copy(struct cstor_objstore *os, const struct cstor_obj_head *h,
			struct cstor_obj_head **out) CSTOR_REQUIRES_SHARED(&os->lock);

/* A free random ID (cstor_random_id) for a new record. */
int cstor_objstore_new_id(struct cstor_objstore *os, char id[65], cstor_error *err)
	CSTOR_REQUIRES_SHARED(&os->lock);

/* The error for a reference no store has: -ENOENT "<kind> not known: <ref>",
 * or -EINVAL when @ambiguous. */
int cstor_obj_not_found(cstor_error *err, const char *kind, const char *ref, bool ambiguous);

#endif
