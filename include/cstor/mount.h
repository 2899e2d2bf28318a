/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mounting layers, with counts that never lie (docs/mounts.md).
 *
 * Every mount has holders. The count containers/storage keeps in the run
 * root (mountpoints.json) is always the number of live holders, so Go
 * programs sharing the store read it right. Two kinds of holders:
 *
 *  - persistent: cstor_store_mount(), as `cstor mount` from a shell, which
 *    exits at once. It lasts until cstor_store_unmount() (one holder),
 *    an unmount with force (all persistent holders), or a reboot (the run
 *    root is a tmpfs).
 *  - process-bound: cstor_store_mount_hold(), for a process that mounts for
 *    the length of its own work (a container engine, `cstor with-mount`).
 *    It is released with cstor_mount_hold_release(), and automatically when
 *    the process (and every child it passed the hold's fd to) is gone, by
 *    any signal including SIGKILL: the next operation on the layer notices
 *    and reclaims it. Liveness is an open-file-description lock the holder
 *    keeps, never a pid, so a reused pid cannot keep a dead hold alive.
 *
 * Any operation touching a layer's mount state first reconciles it with
 * the kernel's mount table: dead holders are dropped, a mount with no live
 * holder is unmounted, a record whose mount vanished is repaired.
 *
 * Layers of read-only (additional) stores can be mounted, read-only only;
 * their mount point and record live in the primary store's run root and
 * nothing under the read-only store is written, whoever made it (Go, skopeo,
 * cstor). A read-write mount of such a layer is refused with -EROFS, unless
 * the caller says with CSTOR_MOUNT_READ_ONLY_IF_NEEDED that such a layer is
 * to be mounted read-only (the command line does: it is the only mount such
 * a layer can have).
 *
 * Locks: the layer store holding the layer shared, the mount state
 * (mountpoints.lock) exclusive. Mounting one layer never waits for an
 * apply into another.
 */
#ifndef CSTOR_MOUNT_H
#define CSTOR_MOUNT_H

#include <stddef.h>
#include <stdint.h>

#include <cstor/common.h>
#include <cstor/error.h>
#include <cstor/store.h>

CSTOR_BEGIN_DECL

#define CSTOR_MOUNT_OPTIONS_VERSION 1

typedef struct cstor_mount_options {
	unsigned int version; /* CSTOR_MOUNT_OPTIONS_VERSION */
	const char *const *options; /* mount options ("ro", ...), NULL-terminated or NULL */
	const char *mount_label;    /* SELinux label; NULL: the layer's */
	/* Words kept with the hold for `mounted` (who holds it, e.g. the
	 * command line); NULL: none. */
	const char *description;
	uint32_t flags; /* CSTOR_MOUNT_* */
} cstor_mount_options;

enum {
	/* Process-bound holds: the fd keeping the hold alive is inherited by
	 * programs the caller executes (cstor with-mount passes it to its
	 * command). Default: close-on-exec. */
	CSTOR_MOUNT_HOLD_INHERIT = 1u << 0,
	/* A layer of a read-only store is mounted read-only (as if "ro" were
	 * among the options) instead of refused with -EROFS; layers of the
	 * primary store mount as asked. Libraries without the flag refuse it
	 * with -EINVAL. */
	CSTOR_MOUNT_READ_ONLY_IF_NEEDED = 1u << 1,
};

#define CSTOR_MOUNT_OPTIONS_INIT { CSTOR_MOUNT_OPTIONS_VERSION, 0, 0, 0, 0 }

/**
 * Mount a layer (ID, name or unique ID prefix) for a persistent holder.
 * @param[out] mountpoint malloc'd path of the layer's file tree
 * @return 0, -ENOENT, -EROFS (read-write mount of a read-only store's
 *         layer without CSTOR_MOUNT_READ_ONLY_IF_NEEDED), -EBUSY
 *         (incomplete layer), or the driver's error
 */
CSTOR_PUBLIC int cstor_store_mount(char **mountpoint, cstor_store *store, const char *ref,
				   const cstor_mount_options *opts, cstor_error *err);

/** A process-bound hold on a mounted layer. */
typedef struct cstor_mount_hold cstor_mount_hold;

/**
 * Mount a layer for a process-bound holder: the hold ends with
 * cstor_mount_hold_release() or with the process.
 */
CSTOR_PUBLIC int cstor_store_mount_hold(cstor_mount_hold **hold, char **mountpoint,
					cstor_store *store, const char *ref,
					const cstor_mount_options *opts, cstor_error *err);
/** Release the hold (unmounting when it was the last) and free it. */
CSTOR_PUBLIC int cstor_mount_hold_release(cstor_mount_hold *hold, cstor_store *store,
					  cstor_error *err);
/** The fd whose open file description keeps the hold alive. */
CSTOR_PUBLIC int cstor_mount_hold_fd(const cstor_mount_hold *hold);
/** Forget the hold without releasing it (as if the process had died): it
 *  stays alive while a child still has its fd, else the next operation on
 *  the layer reclaims it. */
CSTOR_PUBLIC void cstor_mount_hold_free(cstor_mount_hold *hold);

/**
 * Drop one persistent (or foreign, Go-made) holder of a layer, or all of
 * them with @force. The layer is unmounted when no holder is left. Live
 * process-bound holders are never dropped: while one remains the layer
 * stays mounted (*still_mounted), and when nothing else could be dropped the
 * call fails with -EBUSY naming them. Unmounting a layer that is not
 * mounted succeeds.
 */
CSTOR_PUBLIC int cstor_store_unmount(int *still_mounted, cstor_store *store, const char *ref,
				     int force, cstor_error *err);

/** The number of live holders of a layer's mount (after reconciling). */
CSTOR_PUBLIC int cstor_store_mounted(int64_t *count, cstor_store *store, const char *ref,
				     cstor_error *err);

enum {
	CSTOR_HOLDER_PERSISTENT = 0,
	CSTOR_HOLDER_PROCESS = 1,
	CSTOR_HOLDER_FOREIGN = 2, /* counted by a containers/storage (Go) program */
};

typedef struct cstor_mount_holder {
	int kind;          /* CSTOR_HOLDER_* */
	int64_t pid;       /* the process that took it (0 for foreign) */
	int64_t since;     /* seconds since the epoch (0 if unknown) */
	int64_t count;     /* 1, or the number of foreign holds */
	char *description; /* may be NULL */
} cstor_mount_holder;

/**
 * The mount point and live holders of a layer's mount.
 * @param[out] mountpoint malloc'd, NULL when not mounted (may be NULL)
 * @param[out] holders array of *n holders, free with cstor_mount_holders_free()
 */
CSTOR_PUBLIC int cstor_store_mount_holders(char **mountpoint, cstor_mount_holder **holders,
					   size_t *n, cstor_store *store, const char *ref,
					   cstor_error *err);
CSTOR_PUBLIC void cstor_mount_holders_free(cstor_mount_holder *holders, size_t n);

/**
 * Shut the store's driver down (overlay: remove the private bind mount of
 * its home) when no layer is mounted. With @force, persistent and foreign
 * holds are dropped first; live process-bound holds never are. Fails with
 * -EBUSY ("a layer is mounted") when a mount remains.
 */
CSTOR_PUBLIC int cstor_store_shutdown(cstor_store *store, int force, cstor_error *err);

CSTOR_END_DECL

#endif
