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
 *
 * Two cstor-only lock files next to mountpoints.lock let mounts of different
 * layers run at the same time (docs/locking.md, "Mount state"):
 *   cstor-mount-gate.lock    shared by operations on one layer, exclusive
 *                            with the whole mount state (cstor_mounts_start)
 *   cstor-mount-layers.lock  one byte per layer (a hash of its ID), locked
 *                            exclusively by the operation on that layer
 * An operation on one layer holds the gate shared and its layer's byte
 * across its mount or unmount system call, and takes mountpoints.lock only
 * for the short read-modify-write of mountpoints.json.
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
	cstor_lock gate; /* cstor-mount-gate.lock */
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

/* The whole mount state: the gate and mountpoints.lock exclusive (no
 * operation on any layer runs meanwhile), with records reloaded if another
 * process changed them. */
int cstor_mounts_start(struct cstor_mounts *m, cstor_error *err) CSTOR_TRY_ACQUIRE(0, &m->lock);
void cstor_mounts_done(struct cstor_mounts *m) CSTOR_RELEASE_GENERIC(&m->lock);

/* One layer's mount state: the gate shared, then the layer lock of @id
 * (exclusive; *fd keeps it, given back to cstor_mounts_layer_unlock). */
int cstor_mounts_layer_lock(struct cstor_mounts *m, const char *id, int *fd, cstor_error *err)
	CSTOR_TRY_ACQUIRE_SHARED(0, &m->gate);
void cstor_mounts_layer_unlock(struct cstor_mounts *m, int fd) CSTOR_RELEASE_SHARED(&m->gate);
/* For a holder of a layer lock: mountpoints.lock alone, exclusive, with
 * records reloaded if changed, for one short read or update of the file. */
int cstor_mounts_update_start(struct cstor_mounts *m, cstor_error *err)
	CSTOR_REQUIRES_SHARED(&m->gate) CSTOR_TRY_ACQUIRE(0, &m->lock);
void cstor_mounts_update_done(struct cstor_mounts *m) CSTOR_RELEASE(&m->lock);

struct cstor_mount_rec *cstor_mounts_get(struct cstor_mounts *m, const char *id)
	CSTOR_REQUIRES_SHARED(&m->lock);
/* Set count and path of @id (in memory; cstor_mounts_save() writes); a
 * count <= 0 drops the record. */
int cstor_mounts_set(struct cstor_mounts *m, const char *id, const char *path, int64_t count,
		     cstor_error *err) CSTOR_REQUIRES(&m->lock);
int cstor_mounts_save(struct cstor_mounts *m, cstor_error *err) CSTOR_REQUIRES(&m->lock);

#endif
