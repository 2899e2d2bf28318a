/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checking a store, repairing it, and collecting what nobody uses
 * (docs/check.md).
 *
 * cstor_store_check() looks at every layer, image and container of the
 * store and its read-only additional stores, and at the driver's and the
 * run root's files, and reports each problem with the object it concerns.
 * It takes store locks only to copy the records and to read one layer at a
 * time, so other processes go on using the store while it runs.
 *
 * cstor_store_repair() fixes what a report found in the primary store
 * (read-only stores are never changed): a layer whose files are damaged is
 * rebuilt, keeping its ID and every image and container that uses it, from
 * its kept compressed blob (CSTOR_KEPT_BLOB_PREFIX) or from an intact layer
 * with the same DiffID in any store. Only what cannot be rebuilt is
 * removed, with the images that needed it; containers only when asked.
 *
 * cstor_store_gc() removes what no record owns and the layers that an
 * interrupted import or image delete left behind, unused.
 */
#ifndef CSTOR_CHECK_H
#define CSTOR_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include <cstor/common.h>
#include <cstor/error.h>
#include <cstor/store.h>

CSTOR_BEGIN_DECL

enum {
	/* Skip the slow content walk: layers are checked by their diff's
	 * digest and size only, not mounted and compared file by file. */
	CSTOR_CHECK_QUICK = 1u << 0,
};

#define CSTOR_CHECK_OPTIONS_VERSION 1
typedef struct cstor_check_options {
	unsigned int version; /* CSTOR_CHECK_OPTIONS_VERSION */
	uint32_t flags;       /* CSTOR_CHECK_* */
	/* A layer no image or container uses is a problem once it is older
	 * than this many seconds (it may be an import in progress before);
	 * negative: 24 hours, as containers/storage. */
	int64_t max_unreferenced_age;
} cstor_check_options;

#define CSTOR_CHECK_OPTIONS_INIT { CSTOR_CHECK_OPTIONS_VERSION, 0, -1 }

/* What a problem concerns. */
enum cstor_check_object {
	CSTOR_CHECK_LAYER = 0,
	CSTOR_CHECK_IMAGE = 1,
	CSTOR_CHECK_CONTAINER = 2,
};

/* What is wrong. */
enum cstor_check_code {
	/* layers */
	CSTOR_PROBLEM_LAYER_UNACCOUNTED = 1, /* a driver directory no record owns */
	CSTOR_PROBLEM_LAYER_UNREFERENCED,    /* no image or container uses it */
	CSTOR_PROBLEM_LAYER_DIGEST,          /* its diff has another DiffID */
	CSTOR_PROBLEM_LAYER_SIZE,            /* its diff has another size */
	CSTOR_PROBLEM_LAYER_MODIFIED,        /* files added, removed or changed */
	CSTOR_PROBLEM_LAYER_UNREADABLE,      /* its diff cannot be made at all */
	CSTOR_PROBLEM_LAYER_DATA_MISSING,    /* a big-data item is gone */
	CSTOR_PROBLEM_LAYER_DATA_BAD,        /* a big-data item cannot be read, or a
						kept blob does not have its digest */
	CSTOR_PROBLEM_LAYER_PARENT_MISSING,  /* its parent is in no store */
	CSTOR_PROBLEM_LAYER_CYCLE,           /* its parents lead back to it */
	CSTOR_PROBLEM_LAYER_INCOMPLETE,      /* an interrupted apply, create or delete */
	CSTOR_PROBLEM_LAYER_LEFTOVER,        /* made by an interrupted import or
						delete, which no image uses */
	CSTOR_PROBLEM_LAYER_MOUNTS,          /* mount records that do not match
						the holders and the kernel */
	/* images */
	CSTOR_PROBLEM_IMAGE_LAYER_MISSING = 32, /* one of its layers is in no store */
	CSTOR_PROBLEM_IMAGE_LAYER_DAMAGED,      /* one of its layers has a problem */
	CSTOR_PROBLEM_IMAGE_DATA_MISSING,
	CSTOR_PROBLEM_IMAGE_DATA_SIZE,          /* a big-data item has another size */
	/* containers */
	CSTOR_PROBLEM_CONTAINER_IMAGE_MISSING = 64,
	CSTOR_PROBLEM_CONTAINER_IMAGE_DAMAGED,
	CSTOR_PROBLEM_CONTAINER_LAYER_MISSING,
	CSTOR_PROBLEM_CONTAINER_DATA_MISSING,
	CSTOR_PROBLEM_CONTAINER_DATA_SIZE,
};

typedef struct cstor_check_problem {
	int object;          /* enum cstor_check_object */
	int code;            /* enum cstor_check_code */
	const char *id;      /* the object's ID */
	int read_only;       /* in a read-only store: repair leaves it */
	const char *message; /* "layer <id>: layer content incorrect digest" */
} cstor_check_problem;

typedef struct cstor_check_report cstor_check_report;

CSTOR_PUBLIC int cstor_store_check(cstor_check_report **out, cstor_store *store,
				   const cstor_check_options *opts, cstor_error *err);
CSTOR_PUBLIC size_t cstor_check_report_count(const cstor_check_report *report);
/* Problem @i (0 <= i < count), in the order found: layers, images,
 * containers. Valid until the report is freed. */
CSTOR_PUBLIC const cstor_check_problem *cstor_check_report_problem(const cstor_check_report *report,
								   size_t i);
CSTOR_PUBLIC void cstor_check_report_free(cstor_check_report *report);

enum {
	/* Also remove damaged containers (their read-write layers are lost). */
	CSTOR_REPAIR_REMOVE_CONTAINERS = 1u << 0,
};

#define CSTOR_REPAIR_OPTIONS_VERSION 1
typedef struct cstor_repair_options {
	unsigned int version; /* CSTOR_REPAIR_OPTIONS_VERSION */
	uint32_t flags;       /* CSTOR_REPAIR_* */
} cstor_repair_options;

#define CSTOR_REPAIR_OPTIONS_INIT { CSTOR_REPAIR_OPTIONS_VERSION, 0 }

/* What a repair did, one line each ("layer <id>: rebuilt from its kept
 * blob sha256:..."), and what it could not do (failures). Either may be
 * empty; NULL-terminated, freed with cstor_strv_free. Returns 0 when every
 * problem of the primary store was fixed (problems of read-only stores,
 * and damaged containers without CSTOR_REPAIR_REMOVE_CONTAINERS, stay and
 * are not failures), -EIO when something could not be repaired (see
 * *failures), or another -errno when the repair could not run. */
CSTOR_PUBLIC int cstor_store_repair(char ***done, char ***failures, cstor_store *store,
				    const cstor_check_report *report,
				    const cstor_repair_options *opts, cstor_error *err);

/* Remove what no record owns (driver directories, layer and image data
 * directories, temporary files of dead writers) and the layers that an
 * interrupted import or image delete left and nothing uses. *removed lists
 * what went, one line each. */
CSTOR_PUBLIC int cstor_store_gc(char ***removed, cstor_store *store, cstor_error *err);

CSTOR_END_DECL

/** Hash methods of cstor_store_dedup(). */
enum {
	CSTOR_DEDUP_HASH_CRC = 1,
	CSTOR_DEDUP_HASH_SIZE = 2,
	CSTOR_DEDUP_HASH_SHA256 = 3,
};

/**
 * Make identical files of the layers that images use share their disk
 * extents (reflinks, FIDEDUPERANGE), as newest containers/storage's Dedup:
 * the layers of every image's chain in the primary store, their regular
 * files grouped by @hash_method (a CSTOR_DEDUP_HASH_*; the kernel compares
 * the contents itself, so any method is safe). Contents, owners, modes
 * and times do not change. On a filesystem without reflinks nothing is
 * shared and *deduped is 0 (not an error, as in Go).
 *
 * @param[out] deduped bytes the kernel reported deduplicated (a second
 *             run reports the same again: already shared extents count)
 * @return 0, -EINVAL (bad method), -ENOTSUP (driver), I/O errors.
 * Since: 0.4
 */
CSTOR_PUBLIC int cstor_store_dedup(uint64_t *deduped, cstor_store *store, int hash_method,
				   cstor_error *err);

#endif
