/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The changes of a layer against its parent, and their size, as
 * containers/storage 1.43 computes them (pkg/archive/changes*.go,
 * drivers/fsdiff.go, drivers/overlay Changes/DiffSize, pkg/directory).
 *
 * Two ways to get them:
 *
 *  - naive: compare two directory trees (the layer and its parent, each
 *    possibly absent), like Go's ChangesDirs. Used by vfs, and by overlay
 *    when native diff is off (metacopy, mount program) or when diffing
 *    against a layer that is not the parent; the caller then passes the
 *    mounted trees.
 *  - overlay native: read the layer's upper directory (diff/) with its
 *    whiteouts (0/0 character devices) and opaque directories, looking up
 *    paths in the lower layers' diff directories, like Go's OverlayChanges.
 *
 * Paths are absolute with respect to the layer root, as Go reports them
 * ("/etc/passwd"). Lists come back sorted bytewise by path, which is the
 * order ExportChanges uses; the Go CLI prints naive changes in random map
 * order and overlay changes in walk order, so compare sorted output.
 *
 * What counts as a change (naive), as in Go's statDifferent: a different
 * st_mode, uid, gid or rdev; for anything but directories (and, as in Go,
 * block devices and sockets, whose mode shares the S_IFDIR bit) a different
 * size or mtime, where mtimes with equal seconds and one side without
 * nanoseconds are equal (tar loses them); a different security.capability
 * (absent equals empty) or set of user.* xattrs. Symlink targets are not
 * compared (a retargeted symlink with the same length and mtime is no
 * change, as in Go). A directory with changes below it is reported as
 * Modify even if it did not change itself; one whose only difference is its
 * mtime is not reported. Entries with the same inode in both trees (same
 * device) are skipped without looking at them, as Go does. A deleted
 * directory is one Delete; its content is not listed.
 *
 * Overlay native: a whiteout is a Delete; an opaque directory that exists
 * (not as a whiteout) in a lower layer is a Delete of the directory (its
 * entries are reported on their own: Add, or Modify when the path exists
 * in a lower); any other entry is Add unless the path exists in a lower
 * layer before a whiteout hides it, then Modify — except that a directory
 * whose size, mode and mtime equal the lower one's is not reported, unless
 * an Add or Delete below it needs it as parent (then Modify).
 *
 * Deliberate differences from Go, all where Go follows symlinks inside
 * layer content or fails: lookups in lower layers never follow a symlink (Go
 * uses stat(2), which follows symlinks even to absolute host paths), so a
 * path below a symlinked directory of a lower does not exist there, and a
 * lower symlink counts as existing even if dangling; a lower path below a
 * non-directory does not exist (Go fails with ENOTDIR).
 *
 * Errors: -errno with a message naming the path (ENOENT for a vanished
 * directory, ENOMEM, I/O errors). Nothing is followed outside the given fds;
 * /proc must be mounted (xattrs of entries that cannot be opened are read
 * through /proc/self/fd).
 */
#ifndef CSTOR_ARCHIVE_CHANGES_H
#define CSTOR_ARCHIVE_CHANGES_H

#include <stddef.h>
#include <stdint.h>

#include <cstor/error.h>

/* enum cstor_change_kind and struct cstor_change are the public ones. */
#include <cstor/layer.h>

struct cstor_change_list {
	struct cstor_change *v;
	size_t n, cap;
};

void cstor_change_list_done(struct cstor_change_list *l);

/* "Modify", "Add", "Delete" (the CLI's words). */
const char *cstor_change_kind_name(enum cstor_change_kind k);

enum {
	/* Overlay: opaque directories are marked with user.overlay.opaque
	 * (rootless, "userxattr" mounts) instead of trusted.overlay.opaque. */
	CSTOR_CHANGES_USERXATTR = 1u << 0,
};

/*
 * Naive changes of the tree @layer_fd against @parent_fd (-1: no parent,
 * everything is Add). Fds may be O_PATH; they are not moved or closed.
 * @out must be zeroed; it is filled only on success.
 */
int cstor_changes_naive(struct cstor_change_list *out, int layer_fd, int parent_fd,
			cstor_error *err);

/*
 * Overlay native changes of the upper directory @diff_fd, with the lower
 * layers' diff directories @lower_fds, nearest first. @flags: CSTOR_CHANGES_*.
 */
int cstor_changes_overlay(struct cstor_change_list *out, int diff_fd, const int *lower_fds,
			  size_t n_lowers, unsigned flags, cstor_error *err);

/*
 * Go's ChangesSize: the sum of the sizes (lstat st_size, so symlinks count
 * their target length) of the non-directories that @l adds or modifies in
 * @layer_fd, each hard-linked inode once. Entries that vanished are skipped.
 */
int cstor_changes_size(int64_t *out, const struct cstor_change_list *l, int layer_fd,
		       cstor_error *err);

/*
 * Go's directory.Size, which overlay's native DiffSize applies to diff/:
 * the sizes of every non-directory below @dir_fd, each inode once.
 */
int cstor_dir_size(int64_t *out, int dir_fd, cstor_error *err);

#endif
