/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Full copy of a directory tree, as the vfs driver makes a child layer from
 * its parent (c/storage drivers/copy.DirCopy, docs/formats.md §1.4).
 */
#ifndef CSTOR_UTIL_COPY_H
#define CSTOR_UTIL_COPY_H

#include <cstor/error.h>

enum {
	/* Copy bytes even where the filesystem could share extents (FICLONE). */
	CSTOR_COPY_NO_REFLINK = 1u << 0,
	/* Do not copy extended attributes. */
	CSTOR_COPY_NO_XATTRS = 1u << 1,
	/* Keep going when lchown fails with EPERM/EINVAL (vfs.ignore_chown_errors,
	 * unmapped IDs in a user namespace). */
	CSTOR_COPY_IGNORE_CHOWN_ERRORS = 1u << 2,
	/* Leave out character and block devices, which an unprivileged
	 * process cannot create (Go skips them when rootless). */
	CSTOR_COPY_SKIP_DEVICES = 1u << 3,
};

/*
 * Copy the contents of the directory @src_dirfd into the existing, empty
 * directory @dst_dirfd, and the source root's owner, mode, xattrs and times
 * onto the destination root.
 *
 * Kept: file types (regular, directory, symlink, char/block device, fifo,
 * socket), content (reflinked when possible, else copy_file_range, else
 * read/write; holes of sparse files stay holes), owners, modes including
 * setuid/setgid/sticky, atime/mtime with nanoseconds, all xattrs, and hard
 * links among the copied files. Symlinks are copied, never followed, and
 * every lookup is relative to an fd of the tree, so a symlink cannot lead the
 * copy outside it. Uses a bounded number of fds whatever the depth.
 *
 * Both fds may be O_PATH; they are not modified or closed.
 *
 * Returns 0 or -errno; the message names the path (relative to the source
 * root) that failed. On failure the destination holds a partial copy.
 */
int cstor_copy_tree(int src_dirfd, int dst_dirfd, unsigned flags, cstor_error *err);

#endif
