/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mount state: <runroot>/<driver>-layers/mountpoints.json under
 * mountpoints.lock, in containers/storage's format (docs/formats.md §2.4):
 * [{"id":..,"path":..,"count":N}]. The run root is a tmpfs, so the state
 * does not outlive a reboot, and neither do the mounts it describes.
 *
 * The count here is raw: what the last writer (cstor or Go) recorded,
 * possibly including holders that died since. Only mount/ reads it; the
 * rest of the library asks mount/mount-internal.h for reconciled counts.
 *
 * Lock order: taken while the layer store lock is held (shared is enough:
 * mounting never rewrites layer records).
 */
#ifndef CSTOR_MOUNTS_H
#define CSTOR_MOUNTS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "records/lockfile.h"

struct cstor_mount_rec {
	char *id;
	char *path;
	int64_t count;
};

struct cstor_mounts {
	cstor_lock lock; /* mountpoints.lock */
	char *dir;
	int dirfd;
	struct cstor_mount_rec *recs CSTOR_GUARDED_BY(&lock);
	size_t n CSTOR_GUARDED_BY(&lock);
	bool loaded CSTOR_GUARDED_BY(&lock);
	cstor_lock_token token CSTOR_GUARDED_BY(&lock);
	struct timespec mtime CSTOR_GUARDED_BY(&lock);
};

int cstor_mounts_open(struct cstor_mounts **out, const char *dir, cstor_error *err);
void cstor_mounts_free(struct cstor_mounts *m);

/* Exclusive, with records reloaded if another process changed them. */
int cstor_mounts_start(struct cstor_mounts *m, cstor_error *err) CSTOR_TRY_ACQUIRE(0, &m->lock);
void cstor_mounts_done(struct cstor_mounts *m) CSTOR_RELEASE_GENERIC(&m->lock);

struct cstor_mount_rec *cstor_mounts_get(struct cstor_mounts *m, const char *id)
	CSTOR_REQUIRES_SHARED(&m->lock);
/* Set count and path of @id (in memory; cstor_mounts_save() writes); a
 * count <= 0 drops the record. */
int cstor_mounts_set(struct cstor_mounts *m, const char *id, const char *path, int64_t count,
		     cstor_error *err) CSTOR_REQUIRES(&m->lock);
int cstor_mounts_save(struct cstor_mounts *m, cstor_error *err) CSTOR_REQUIRES(&m->lock);

#endif
