/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A JSON record file under its store's lock file: layers.json (layers.lock),
 * images.json (images.lock), containers.json (containers.lock). This is what
 * the three stores share:
 *
 *  - noticing another process's write: the lock's last-writer token differs
 *    from the one seen at our last load or save, or the file's mtime changed
 *    (somebody edited it by hand; Go's image and container stores only look
 *    at the token, checking more is harmless);
 *  - reading the file (a missing one is an empty store);
 *  - saving it atomically and durably, with a new token recorded before and
 *    after the data: newer Go readers check the token before reading, Go
 *    1.43 after, so both see the write.
 *
 * The store embeds the cstor_lock (the capability the thread-safety analysis
 * tracks) and a cstor_recfile_seen guarded by it; these functions take both.
 * A read-only store (an additional image store) is never created or written:
 * a missing directory or file reads as an empty store, and writing returns
 * -EROFS.
 */
#ifndef CSTOR_RECFILE_H
#define CSTOR_RECFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <cstor/error.h>

#include "records/lockfile.h"

struct cstor_recfile {
	char *dir;        /* the store's directory */
	char *path;       /* <dir>/<name>, for messages */
	const char *name; /* "layers.json", ... (static) */
	int dirfd;        /* -1 when a read-only store's directory is absent */
	bool read_only;
};

/* What the store saw at its last load or save. */
struct cstor_recfile_seen {
	bool loaded;
	cstor_lock_token token;
	struct timespec mtime;
};

/* Open the store directory @dir (created 0700 unless @read_only) and make
 * @lock refer to <dir>/<lock_name>. On failure nothing is left open. */
int cstor_recfile_open(struct cstor_recfile *f, cstor_lock *lock, const char *dir,
		       const char *name, const char *lock_name, bool read_only, cstor_error *err);
/* The same with the lock file in another directory, @lock_dir (created too
 * unless @read_only): a transient store's containers.lock is on the run
 * root while containers.json stays on the graph root. */
int cstor_recfile_open_at(struct cstor_recfile *f, cstor_lock *lock, const char *dir,
			  const char *name, const char *lock_dir, const char *lock_name,
			  bool read_only, cstor_error *err);
void cstor_recfile_close(struct cstor_recfile *f, cstor_lock *lock);

/* Whether the records in memory are out of date (never loaded, another
 * writer's token, or a changed file). */
bool cstor_recfile_stale(struct cstor_recfile *f, cstor_lock *lock,
			 const struct cstor_recfile_seen *seen) CSTOR_REQUIRES_SHARED(lock);

/* Read the whole file into a NUL-terminated buffer (*data NULL and *len 0
 * when it does not exist). *seen receives what to remember once the parsed
 * records are in place: the token and mtime are taken before the read, so a
 * write racing with it makes the next check reload again. */
int cstor_recfile_read(struct cstor_recfile *f, cstor_lock *lock, char **data, size_t *len,
		       struct cstor_recfile_seen *seen, cstor_error *err)
	CSTOR_REQUIRES_SHARED(lock);

/* Replace the file with @data (0600) and remember the new token and mtime
 * in *seen. -EROFS for a read-only store. */
int cstor_recfile_write(struct cstor_recfile *f, cstor_lock *lock, const void *data, size_t len,
			struct cstor_recfile_seen *seen, cstor_error *err) CSTOR_REQUIRES(lock);

/* Record a write without changing the file (its text would be the same,
 * and a file it names beside it changed): readers holding the token
 * reload. */
int cstor_recfile_touch(struct cstor_recfile *f, cstor_lock *lock,
			struct cstor_recfile_seen *seen, cstor_error *err) CSTOR_REQUIRES(lock);

/* Whether @data (of @len bytes) is only JSON whitespace: an empty file is
 * an empty store, as in Go. */
bool cstor_recfile_blank(const char *data, size_t len);

/* Parse a records file: *root is the JSON list, or NULL for an empty store
 * (a blank file or null, as in Go). Anything else is -EBADMSG naming @path:
 * a corrupt file is never read as an empty store, because the next save
 * would destroy every record in it (what Go 1.43 does). @what names the
 * records ("layers", "images", "containers"). */
struct json_t;
int cstor_recfile_parse_list(struct json_t **root, const char *data, size_t len,
			     const char *path, const char *what, cstor_error *err);

#endif
