/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the rest of the library may ask of src/libcstor/mount/ (the public
 * API is include/cstor/mount.h).
 *
 * The folder:
 *   mountpoints.{c,h}  containers/storage's mountpoints.json (Go's format,
 *                      under mountpoints.lock): the raw count Go reads
 *   holders.{c,h}      cstor's holder files and their liveness
 *   reconcile.{c,h}    holders + Go's count + the kernel's mount table ->
 *                      the true count, written back for Go; the calls of
 *                      this header
 *   mount-api.c        the public API: mount, holds, unmount, mounted,
 *                      shutdown
 *
 * Outside this folder only reconciled counts are read: the raw count in
 * mountpoints.json may still include holders that died (until something
 * reconciles the layer), so code deciding on it (delete, apply, listings,
 * diff) would act on a lie. Never call cstor_mounts_get() outside mount/.
 */
#ifndef CSTOR_MOUNT_INTERNAL_H
#define CSTOR_MOUNT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store-internal.h"

/* The mount state lock (mountpoints.lock), exclusive: nested in the primary
 * layer store's lock, before read-only layer stores (docs/locking.md). */
int cstor_mount_state_lock(struct cstor_store *s, cstor_error *err)
	CSTOR_TRY_ACQUIRE(0, &s->mounts->lock);
void cstor_mount_state_unlock(struct cstor_store *s) CSTOR_RELEASE(&s->mounts->lock);

/*
 * The reconciled number of live holders of primary layer @id, for delete
 * and apply. The caller holds the layer store lock and nothing later in the
 * lock order.
 */
int cstor_mount_live_count(int64_t *count, struct cstor_store *s, const char *id,
			   cstor_error *err) CSTOR_EXCLUDES(&s->mounts->lock);

/*
 * For listings: the reconciled count and mount point (*path, malloc'd,
 * NULL when not mounted) of layer @id (of a read-only store: @ro_store).
 * Only a layer with mount state (a record in mountpoints.json or holder
 * files) is reconciled; any other has no holder, so count 0 costs a lookup
 * and a stat (in @holders_fd, from cstor_mount_holders_open).
 */
int cstor_mount_status(int64_t *count, char **path, struct cstor_store *s, int holders_fd,
		       const char *id, bool ro_store, cstor_error *err)
	CSTOR_REQUIRES(&s->mounts->lock);
/* For a listing's calls of cstor_mount_status: the directory of the holder
 * directories, opened once (so that each layer costs an fstatat, not a
 * path walk), or -ENOENT when it does not exist (no layer has holder
 * files), or another -errno (then each call walks the path). */
int cstor_mount_holders_open(struct cstor_store *s) CSTOR_REQUIRES(&s->mounts->lock);

/*
 * A tree of layer @id to read while the mount state stays locked (diff):
 * its mount when it has live holders (reconciled), else a read-only mount
 * made for the caller (*temporary), who undoes it with
 * cstor_mount_borrow_end() before unlocking.
 */
int cstor_mount_borrow(char **path, bool *temporary, struct cstor_store *s, const char *id,
		       cstor_error *err) CSTOR_REQUIRES(&s->mounts->lock);
void cstor_mount_borrow_end(struct cstor_store *s, const char *id, bool temporary)
	CSTOR_REQUIRES(&s->mounts->lock);

#endif
