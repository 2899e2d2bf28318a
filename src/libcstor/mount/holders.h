/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Holder files: who holds a layer's mount (docs/mounts.md). containers/
 * storage keeps one number per mounted layer in mountpoints.json
 * (mount/mountpoints.h); cstor keeps, next to it, who holds each mount, in
 * a directory no Go program reads or rewrites:
 *
 *   <runroot>/<drv>-layers/cstor-holders/<layer-id>/
 *       p-<random>   a process-bound holder: its process keeps the file open
 *                    with an OFD write lock; the lock dies with the last
 *                    process holding the open file description
 *       s-<random>   a persistent holder
 *       state        what we last wrote: the count, how many of it were
 *                    foreign (Go's) holds, the mount point and its options
 *       .tmp-*       a holder being made (or left half-made by a crash)
 *
 * Callers hold the layer's mount state exclusively (its layer lock, or the
 * whole state: docs/locking.md, "Mount state"), so holder files appear
 * (already locked: created under a temporary name, locked, renamed) and
 * disappear atomically with respect to reconciliation.
 *
 * Private to src/libcstor/mount/ and its unit tests; the rest of the
 * library calls mount/mount-internal.h.
 */
#ifndef CSTOR_MOUNT_HOLDERS_H
#define CSTOR_MOUNT_HOLDERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cstor/error.h>
#include <cstor/mount.h>

#define CSTOR_HOLDERS_DIR "cstor-holders"

/* The `state` file of a layer's holder directory. */
struct cstor_holder_state {
	int64_t written; /* count we last wrote, -1 if no state */
	int64_t foreign;
	/* Set while a write of mountpoints.json is under way: the count
	 * before it. A process killed in the middle leaves it set, and the
	 * next reconciler tells from the file whether the write happened. */
	int64_t pending_prev;
	bool pending;
	char *path;
	char **options; /* mount options the mount was made with */
	char *label;
};

void cstor_holder_state_done(struct cstor_holder_state *st);
/* A missing or torn state is no state (written = -1): Go's count rules. */
int cstor_holder_state_read(struct cstor_holder_state *st, const char *dir, cstor_error *err);
int cstor_holder_state_write(const char *dir, const struct cstor_holder_state *st,
			     cstor_error *err);

/* The live holders found in a holder directory. */
struct cstor_holder_scan {
	int64_t persistent, process;
	cstor_mount_holder *list; /* when collecting */
	size_t n;
	char **persistent_files; /* names of the s-* files */
};

void cstor_holder_scan_done(struct cstor_holder_scan *h);
/* Count (and, with @list, describe) the live holders in @dir; remove dead
 * process holders and half-made ones. A missing @dir has none. */
int cstor_holders_scan(struct cstor_holder_scan *h, const char *dir, bool list, cstor_error *err);
/* Append a holder of @kind to h->list, described by holder file @name of
 * @dirfd (NULL: no file, a foreign hold of @count). */
int cstor_holder_list_add(struct cstor_holder_scan *h, int kind, int dirfd, const char *name,
			  int64_t count, cstor_error *err);

/* Whether somebody holds a write-conflicting lock (OFD or POSIX) on holder
 * file @name of @dirfd. Unsure (fcntl failed) counts as alive: a hold we
 * cannot judge is never dropped. */
bool cstor_holder_alive(int dirfd, const char *name);

/* Make a holder file in @dir (created if needed): process-bound (locked
 * before it is visible; *fd_out keeps the lock, inherited across exec with
 * @inherit) or persistent. *file_out gets its path (both outputs may be
 * NULL; a process holder without @fd_out dies at once). */
int cstor_holder_create(int *fd_out, char **file_out, const char *dir, bool process, bool inherit,
			const char *description, cstor_error *err);

/* <run_layers_dir>/cstor-holders/<id> */
int cstor_holder_dir(char **out, const char *run_layers_dir, const char *id, cstor_error *err);

#endif
