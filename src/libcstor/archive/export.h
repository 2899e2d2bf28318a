/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tar streams of a layer's changes, as containers/storage 1.43 produces them
 * when a layer has no tar-split to reassemble (docs/formats.md §5.9):
 *
 *  - cstor_export_changes(): ExportChanges, the naive diff of a layer with
 *    a parent (vfs; overlay without native diff or against a non-parent):
 *    the change list sorted by path, Add/Modify entries read from the layer
 *    tree, each Delete as a bare ".wh.<name>" member (mode 0, uid/gid 0, no
 *    user/group names, the current time).
 *  - cstor_export_tree(): TarWithOptions of a whole tree, the naive diff of
 *    a layer without a parent: every entry below the root (not the root),
 *    depth first with the entries of a directory sorted by name.
 *  - cstor_export_overlay_diff(): TarWithOptions of an overlay layer's
 *    diff/ with the overlay whiteout converter, the native diff: as
 *    cstor_export_tree(), plus a 0/0 character device becomes a regular
 *    member ".wh.<name>" with mode 0 and size 0 (owner and mtime kept), and
 *    an opaque directory is followed by "<dir>/.wh..wh..opq" (regular, mode
 *    = the directory's permission bits, its uid/gid/names, mtime 0) only if
 *    the directory exists, and is not whited out, in a lower layer.
 *
 * Members are what Go's archiver writes: names relative without "./",
 * directories with a trailing "/"; mode = st_mode & (S_IFMT | 07777);
 * uid/gid; user and group names from the host's user database (getpwuid_r,
 * as the cgo-built Go CLI does; "" when unknown); mtime in whole seconds
 * (truncated); device numbers for character and block devices; symlink
 * targets; xattrs security.capability, security.ima and user.* as
 * SCHILY.xattr.* pax records (user.* values too big to read are skipped, as
 * Go does; rootless overlay drops user.overlay.opaque of opaque
 * directories, nothing else); the second and later names of a hard-linked
 * non-directory as type '1' members naming the first (whiteouts included:
 * the kernel hard-links them, and Go then writes the whiteout member with
 * the first whiteout's path as its link name — reproduced). Sockets are
 * left out. Content is streamed from each file in large reads; a file that
 * changes size while being archived fails the export (-EIO).
 *
 * Differences from Go: an entry that cannot be read fails the export with
 * an error naming it (Go logs it and leaves it out), except an entry of
 * the change list that no longer exists, which is skipped as in Go; hard
 * links are matched by device and inode (Go: inode only); paths longer
 * than PATH_MAX work (Go fails them); lookups in lower layers never follow
 * symlinks (see changes.h). ID mappings are not applied (the IDs on disk
 * are written).
 *
 * Like changes.h: every lookup is relative to the given fds, no symlink in
 * a tree is followed, and /proc must be mounted (xattrs of symlinks and
 * devices are read through /proc/self/fd).
 *
 * Output goes through @write (see tar.h), compressed with gzip or zstd as
 * the options ask, as Go's Diff does for the CLI's -c / the layer's
 * compression. Nothing is written after an error; what was written stays.
 */
#ifndef CSTOR_ARCHIVE_EXPORT_H
#define CSTOR_ARCHIVE_EXPORT_H

#include <stddef.h>
#include <time.h>

#include <cstor/error.h>

#include "archive/changes.h"
#include "archive/compress.h"
#include "archive/tar.h"
#include "util/idmap.h"

enum {
	/* Overlay: opaque directories carry user.overlay.opaque (rootless). */
	CSTOR_EXPORT_USERXATTR = 1u << 0,
};

struct cstor_export_options {
	/* CSTOR_COMPRESSION_NONE (0), _GZIP or _ZSTD; others are -ENOTSUP. */
	cstor_compression compression;
	int level; /* CSTOR_COMPRESS_LEVEL_DEFAULT (0): the format's default */
	unsigned flags;
	/* mtime of the whiteouts of cstor_export_changes(); NULL: now,
	 * rounded to the second as Go's writer rounds it. For tests. */
	const struct timespec *whiteout_time;
	/* The layer's ID mappings (NULL: none): members get the container IDs
	 * of the files' host owners; a host ID they do not map is an error. */
	const struct cstor_idmaps *maps;
};

/* @opts may be NULL for an uncompressed stream. Fds may be O_PATH and are
 * neither moved nor closed. */
int cstor_export_changes(int layer_fd, const struct cstor_change_list *l,
			 cstor_tar_write_fn write, void *ctx,
			 const struct cstor_export_options *opts, cstor_error *err);

int cstor_export_tree(int root_fd, cstor_tar_write_fn write, void *ctx,
		      const struct cstor_export_options *opts, cstor_error *err);

/* @lower_fds: the lower layers' diff directories, nearest first. */
int cstor_export_overlay_diff(int diff_fd, const int *lower_fds, size_t n_lowers,
			      cstor_tar_write_fn write, void *ctx,
			      const struct cstor_export_options *opts, cstor_error *err);

#endif
