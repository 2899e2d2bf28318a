/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A lookup index cached next to a records file (docs/formats.md §3.8):
 * <dir>/cstor-<kind>s.index, so that a process that wants one record
 * (`cstor image NAME`, `exists`, `layer ID`) finds and parses that record
 * alone instead of the whole file.
 *
 * It is a cache, never a source of truth, and only valid for the exact
 * state it was made from: its header holds the lock file's last-writer
 * token and the records file's size, mtime, inode and device as they were
 * when the file was loaded whole. A writer (Go's or ours) changes the token,
 * a hand edit the mtime, size or inode; then the index does not match and
 * the store is loaded whole, as without one. Any process that loads the
 * file whole as a reader writes it (atomically, not synced: losing it
 * costs one full load), unless the load repaired anything or a second
 * records file contributed records.
 *
 * The file is read through mmap and treated as hostile: every offset is
 * checked against the index's and the records file's sizes, a probe ends
 * after one pass of the table, and the caller parses the record it points
 * to and checks that it has the key asked for. Anything that does not fit
 * makes the lookup fall back to a full load.
 *
 * Contents (native byte order; the header's byte-order mark tells): the
 * header, then per record its byte span in the records file and its ID;
 * an open-addressing table of keys (IDs, names, the kind's second key)
 * to records; the records sorted by ID, for ID prefixes; the strings.
 */
#ifndef CSTOR_STORE_RECINDEX_H
#define CSTOR_STORE_RECINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "records/fields.h"
#include "records/lockfile.h"

struct cstor_recindex;

/* What a key of the table is. */
enum cstor_recindex_kind {
	CSTOR_RECINDEX_ID = 1,
	CSTOR_RECINDEX_NAME = 2,
	CSTOR_RECINDEX_ALT = 3,
};

/* Write @index_name in @dirfd for the records file whose bytes are @data
 * (@len, as read), parsed into @recs (@n, in file order), seen with @token
 * and the file's stat @st (taken after the read). @alt_key may be NULL.
 * 0, or -errno (the caller ignores it: the index is only a cache). Nothing
 * is written when the file's top-level list does not have @n elements. */
int cstor_recindex_write(int dirfd, const char *index_name, const char *data, size_t len,
			 struct cstor_obj_head *const *recs, size_t n,
			 const char *(*alt_key)(const struct cstor_obj_head *h),
			 const cstor_lock_token *token, const struct stat *st);

/* Map @index_name of @dirfd: NULL when it is missing or its header does
 * not hold together. */
struct cstor_recindex *cstor_recindex_open(int dirfd, const char *index_name);
void cstor_recindex_close(struct cstor_recindex *ix);

/* Whether @ix was made from the records file in the state @token and @st
 * (fstat of the file) say. */
bool cstor_recindex_matches(const struct cstor_recindex *ix, const cstor_lock_token *token,
			    const struct stat *st);

/* The record @ref names as cstor_objstore_lookup finds it: exact ID, exact
 * name, the second key, then a unique ID prefix. Its number, or -1 when
 * none (*ambiguous when a prefix matches several), -2 when the index does
 * not hold together. *kind gets which key matched (CSTOR_RECINDEX_ID also
 * for a prefix). */
long cstor_recindex_find(const struct cstor_recindex *ix, const char *ref, bool *ambiguous,
			 enum cstor_recindex_kind *kind);
/* Only the exact key @key of @kind: the number, -1, or -2. */
long cstor_recindex_find_key(const struct cstor_recindex *ix, enum cstor_recindex_kind kind,
			     const char *key);

/* Record @rec's byte span in the records file and its ID; false when they
 * do not fit in the index or in @file_size. */
bool cstor_recindex_record(const struct cstor_recindex *ix, long rec, uint64_t file_size,
			   uint64_t *off, uint64_t *len, const char **id);

/* Where the top-level elements of the JSON list in @data start and end
 * (spans[2 * i], spans[2 * i + 1]): the number found (at most @max), or -1
 * when @data is not a list. @data must be valid JSON (it was parsed). */
long cstor_recindex_spans(const char *data, size_t len, uint64_t *spans, size_t max);

#endif
