/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reconciling a layer's mount state (docs/mounts.md): live = persistent
 * holders + process holders whose lock is held (dead ones are removed);
 * foreign = the foreign holds of our last write, plus however much a Go
 * writer changed the count since (a Go mount adds one, a Go unmount removes
 * one); a foreign hold only counts while the kernel still has the mount.
 * Then: no live holder and mounted -> unmount; live holders but the mount
 * vanished -> mount again (the record was lying, the holders still want
 * it); write count = live + foreign to mountpoints.json.
 *
 * Private to src/libcstor/mount/ and its unit tests; the rest of the
 * library calls mount/mount-internal.h.
 */
#ifndef CSTOR_MOUNT_RECONCILE_H
#define CSTOR_MOUNT_RECONCILE_H

#include "mount/holders.h"
#include "store/store-internal.h"

/* The layer being reconciled. */
struct cstor_mount_target {
	char *id;
	bool ro_store; /* a layer of a read-only store: Go never holds it */
	char *label;   /* the layer's mount label */
	/* A container's ID mappings over its unshifted layers, shown through
	 * idmapped mounts (only where the driver supports shifting). */
	struct cstor_idmaps maps;
};

/* The outcome of reconcile(), which the caller may change and write out. */
struct cstor_reconciled {
	int64_t total, live, foreign;
	bool mounted;
	char *path; /* the mount point while mounted */
	struct cstor_holder_state st;
	struct cstor_holder_scan h;
	char *dir; /* the layer's holder directory */
	bool ro_store;
	/* The count in mountpoints.json when last read or written: a Go
	 * change since is added to the foreign holds when writing. */
	int64_t json_seen;
};

void cstor_reconciled_done(struct cstor_reconciled *rc);

/* Bring the records of @t in line with its holders and the kernel; with
 * @list, rc->h.list describes every holder (foreign ones included). */
int cstor_mount_reconcile(struct cstor_reconciled *rc, struct cstor_store *s,
			  const struct cstor_mount_target *t, bool list, cstor_error *err)
	CSTOR_REQUIRES(&s->mounts->lock);

/* Record rc->live + rc->foreign as the count of @id (mountpoints.json and
 * the state), crash-safely; sets rc->total. */
int cstor_mount_write_out(struct cstor_store *s, struct cstor_reconciled *rc, const char *id,
			  cstor_error *err) CSTOR_REQUIRES(&s->mounts->lock);

/*
 * The same for a caller holding only the layer lock of @t (and the gate
 * shared: cstor_mounts_layer_lock): mountpoints.lock is taken only to read
 * the record and to update it, never across a mount or unmount.
 */
int cstor_mount_reconcile_layer(struct cstor_reconciled *rc, struct cstor_store *s,
				const struct cstor_mount_target *t, bool list, cstor_error *err)
	CSTOR_REQUIRES_SHARED(&s->mounts->gate);
int cstor_mount_write_out_layer(struct cstor_store *s, struct cstor_reconciled *rc,
				const char *id, cstor_error *err)
	CSTOR_REQUIRES_SHARED(&s->mounts->gate);

/* Mount @t as the state says (options, label) and note where. The caller
 * holds the layer's mount state (either way). */
int cstor_mount_remount(struct cstor_store *s, struct cstor_reconciled *rc,
			const struct cstor_mount_target *t, cstor_error *err);

#endif
