/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Extraction of an OCI/Docker layer tarball into a layer directory, as
 * containers/storage 1.43 does it: UnpackLayer for vfs (whiteouts executed),
 * Unpack with the overlay whiteout converter for native overlay, Unpack
 * without converter for overlay with a mount program.
 *
 * Safety without chroot or helper process: every path of the archive is
 * resolved by the kernel inside the root (openat2 with RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV, or an equivalent walk on O_PATH
 * fds when openat2 is missing), then acted on with *at() calls on the last
 * component that never follow it. This gives exactly the semantics Go gets
 * from running the extraction chrooted into the layer:
 *   - names are cleaned like filepath.Clean; a leading "/" or "../" climbs no
 *     higher than the root ("../../etc/x" and "/etc/x" land at <root>/etc/x,
 *     as in Go, where the chroot makes the "breakout" check unreachable);
 *   - symlinks planted by earlier entries are followed for the directories
 *     above an entry, but inside the root: "a -> /etc" then "a/passwd" writes
 *     <root>/etc/passwd (or fails if <root>/etc does not exist);
 *   - hard link targets are resolved inside the root the same way, and the
 *     link is made to the target itself, never through a last symlink
 *     (linking to a symlink links the symlink);
 *   - device nodes are created but never opened; an existing node is
 *     replaced by the entry of the same name without being opened.
 * Nothing outside the root is created, changed, opened or stat()ed.
 *
 * Per entry, like Go: missing parent directories are created (0755); an
 * existing path is replaced by any entry except that a directory entry over
 * a directory merges (only its metadata is applied); owners are set with
 * lchown, then the mode (not for symlinks, nor for hard links to symlinks),
 * then times (atime = max(atime, mtime); times before 1970 or after 2262
 * become 0 except on symlinks), then the SCHILY.xattr.* records
 * (security.selinux ignored, ENOTSUP from the filesystem ignored).
 * Directory times are set again after the whole archive, in archive order,
 * with the header's atime (0 when absent) as Go does.
 *
 * Deliberate differences from Go, all on archives no tool writes (see
 * apply.c for the list): whiteouts of "", "." or ".." and entries that would
 * replace the root directory by something else are errors (Go removes the
 * parent or the whole layer); a directory that disappeared before its times
 * are restored is skipped (Go fails); type '7' is refused like Go does.
 */
#ifndef CSTOR_ARCHIVE_APPLY_H
#define CSTOR_ARCHIVE_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cstor/error.h>

#include "tar.h"
#include "util/idmap.h"
#include "tarsplit.h"
#include "whiteout.h"

/* enum cstor_whiteout_mode: see whiteout.h. */

struct cstor_apply_options {
	enum cstor_whiteout_mode whiteouts;
	/* A member named "." (after cleaning) leaves the existing root
	 * directory alone (Go's Unpack, used by overlay); otherwise its mode,
	 * owner, xattrs and times are applied to the root (UnpackLayer, vfs). */
	bool skip_existing_root;
	/* lchown failing with EPERM or EINVAL is not an error (rootless,
	 * unmapped IDs). */
	bool ignore_chown_errors;
	/* Every member owned by chown_uid:chown_gid instead of the header's
	 * IDs (copy --chown). */
	bool chown;
	uint32_t chown_uid, chown_gid;
	/* The layer's ID mappings (NULL: none): headers give container IDs,
	 * files get the host IDs they map to; an ID outside the maps is an
	 * error, as in containers/storage. */
	const struct cstor_idmaps *maps;
	/* The tree will be synced when the apply is done (the store's sync
	 * option): start each regular file's writeback as soon as it is
	 * written, so that the disk works while the rest is extracted and
	 * the final syncfs has little left to wait for. */
	bool start_writeback;
};

struct cstor_apply_stats {
	/* Sorted unique IDs from all headers except those whose base name
	 * starts with ".wh." (what containers/storage records as the layer's
	 * uidset/gidset), truncated to 32 bits like Go does. */
	uint32_t *uids, *gids;
	size_t n_uids, n_gids;
	/* Members created in the tree (whiteouts and skipped members not
	 * counted) and the sum of all header sizes (Go's UnpackLayer result). */
	uint64_t files, bytes;
};

/*
 * Apply every member read from @r into the directory @root_fd (any fd of
 * the directory, O_PATH is fine; not closed). With a non-NULL @packer (and
 * @r in CSTOR_TAR_READER_RAW mode), each member is recorded with
 * cstor_tarsplit_packer_add_entry() once its content was consumed, and
 * cstor_tarsplit_packer_finish() is called after the end of the archive;
 * the caller owns the packer. @stats may be NULL; otherwise it is filled
 * (also on failure, with what was seen) and must be released with
 * cstor_apply_stats_done().
 *
 * Must run with CAP_CHOWN/CAP_MKNOD/CAP_FOWNER to reproduce owners and
 * devices (root or a user namespace; in a user namespace devices the kernel
 * refuses are skipped, as Go does).
 *
 * Returns 0 or -errno, with messages "apply layer: entry \"<name>\": ...":
 * the reader's errors (EBADMSG for truncated or corrupt archives), EBADMSG
 * for members that cannot be applied safely (whiteout of "..", replacing
 * the root), ENOTSUP for member types Go does not extract, ENAMETOOLONG
 * for names over PATH_MAX or components over NAME_MAX, and the kernel's
 * errors (ELOOP for symlink loops, EXDEV for a path crossing a mount point
 * inside the root, ENOENT/ENOTDIR for paths through missing or non-directory
 * parents). On failure the tree holds whatever was applied so far.
 */
int cstor_apply_tar(int root_fd, cstor_tar_reader *r, const struct cstor_apply_options *o,
		    cstor_tarsplit_packer *packer, struct cstor_apply_stats *stats,
		    cstor_error *err);

void cstor_apply_stats_done(struct cstor_apply_stats *st);

/* Tests only: resolve paths with the O_PATH walk instead of openat2, and
 * set xattrs of non-open inodes through /proc/self/fd instead of
 * setxattrat, as on kernels without them. Not thread-safe to flip while
 * applies run. */
extern bool cstor_apply__no_openat2;

#endif
