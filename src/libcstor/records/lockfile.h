/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lock files shared with containers/storage (docs/formats.md §3).
 *
 * Cross-process: an fcntl whole-file record lock. We use open-file-description
 * locks (F_OFD_SETLKW): they conflict with the classic POSIX locks the Go code
 * takes, and unlike those they belong to our open file, not to the whole
 * process, so closing some other fd on the same file in another thread cannot
 * drop them.
 *
 * In-process: one object per path per process (fcntl-style locks cannot
 * exclude threads of one process from each other), holding a reader/writer
 * lock for threads and a hold count; the file lock is taken on the first hold
 * and released on the last.
 *
 * The "last writer" token: 64 bytes at offset 0, rewritten in place by every
 * writer (never truncated, never fsynced), compared by readers to notice that
 * another process changed the data the lock protects.
 *
 * Read-only lock objects (additional image stores) are opened O_RDONLY and
 * never created or written: if the file is missing or unreadable they only
 * exclude threads. Asking one for an exclusive lock gives an in-process
 * exclusive lock and a shared file lock; recording a write returns -EROFS.
 *
 * Every stateful user embeds a `cstor_lock`, the capability the thread-safety
 * analysis tracks (see util/tsa.h for why it is embedded).
 */
#ifndef CSTOR_LOCKFILE_H
#define CSTOR_LOCKFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cstor/error.h>

#include "util/tsa.h"

#define CSTOR_LOCK_TOKEN_SIZE 64

typedef struct cstor_lock_token {
	uint8_t bytes[CSTOR_LOCK_TOKEN_SIZE];
	size_t len; /* 0 when the file was never written */
} cstor_lock_token;

struct cstor_lockfile;

typedef struct CSTOR_CAPABILITY("lock") cstor_lock {
	struct cstor_lockfile *file;
} cstor_lock;

/* Open (or find, if this process has it already) the lock file at the
 * absolute @path and make @lock refer to it. Read-write locks create the file
 * (0644) and missing parent directories (0700). */
int cstor_lock_open(cstor_lock *lock, const char *path, bool read_only, cstor_error *err);
/* Drop the reference taken by cstor_lock_open. Must not be held. */
void cstor_lock_close(cstor_lock *lock);

bool cstor_lock_is_read_only(const cstor_lock *lock);

const char *cstor_lock_path(const cstor_lock *lock);

/* Block until held. These cannot fail: like containers/storage, a failing
 * fcntl (EINTR, ENOLCK) is retried. */
void cstor_lock_lock(cstor_lock *lock) CSTOR_ACQUIRE(lock);
void cstor_lock_rlock(cstor_lock *lock) CSTOR_ACQUIRE_SHARED(lock);
/* Exclusive among this process's threads, shared on the file: for a
 * reader that replaces what other threads may be reading (a reload) but
 * writes nothing under the lock, so other processes may read meanwhile. */
void cstor_lock_lock_threads(cstor_lock *lock) CSTOR_ACQUIRE(lock);
/* Non-blocking variants: true when the lock was taken. */
bool cstor_lock_trylock(cstor_lock *lock) CSTOR_TRY_ACQUIRE(true, lock);
bool cstor_lock_tryrlock(cstor_lock *lock) CSTOR_TRY_ACQUIRE_SHARED(true, lock);
void cstor_lock_unlock(cstor_lock *lock) CSTOR_RELEASE_GENERIC(lock);

/* Write a new last-writer token; the caller remembers it so that its own
 * write does not look like somebody else's. */
int cstor_lock_record_write(cstor_lock *lock, cstor_lock_token *out, cstor_error *err)
	CSTOR_REQUIRES(lock);
/* Read the current token (len 0 for a never-written or missing file). */
int cstor_lock_read_token(cstor_lock *lock, cstor_lock_token *out, cstor_error *err)
	CSTOR_REQUIRES_SHARED(lock);

static inline bool cstor_lock_token_equal(const cstor_lock_token *a, const cstor_lock_token *b)
{
	return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

/* Fill @t with a fresh token (exposed for tests and for writers of files
 * that carry the token without being locks). */
void cstor_lock_token_new(cstor_lock_token *t);

#endif
