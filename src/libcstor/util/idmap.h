/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ID mappings inside the library (docs/idmap.md): mapping IDs both ways,
 * comparing maps, and shifting the owners of a whole tree from one mapping
 * to another (the chown copy, for drivers that cannot shift at mount time).
 */
#ifndef CSTOR_UTIL_IDMAP_H
#define CSTOR_UTIL_IDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cstor/idmap.h>

/* A pair of maps; n == 0 on a side maps every ID to itself (Go: a nil map). */
struct cstor_idmaps {
	const cstor_idmap *uids;
	size_t n_uids;
	const cstor_idmap *gids;
	size_t n_gids;
};

/* -EINVAL when @id has no host (container) ID in @m. */
int cstor_idmap_to_host(const cstor_idmap *m, size_t n, uint32_t id, uint32_t *out);
int cstor_idmap_to_container(const cstor_idmap *m, size_t n, uint32_t id, uint32_t *out);
bool cstor_idmap_equal(const cstor_idmap *a, size_t na, const cstor_idmap *b, size_t nb);
/* Go's idtools.IsContiguous: each range starts where the previous one
 * ended, on both sides (what an idmapped mount can express as one shift
 * in containers/storage's view). */
bool cstor_idmap_contiguous(const cstor_idmap *m, size_t n);
/* The checks cstor_idmap_parse makes, on a list from anywhere. */
int cstor_idmap_check(const cstor_idmap *m, size_t n, const char *what, cstor_error *err);
/* A malloc'd copy (NULL and 0 for none); -ENOMEM. */
int cstor_idmap_dup(cstor_idmap **out, size_t *n_out, const cstor_idmap *m, size_t n);

/*
 * Give every file of the tree at @dirfd (the root included) the owner that
 * stands, under @to, for the container IDs its owner stands for under
 * @from, keeping modes (setuid/setgid, which chown clears, are set again),
 * file capabilities and other xattrs, and hard links (an inode is shifted
 * once). An owner @from cannot map, or a container ID @to cannot, is an
 * error naming the file. Symlinks are never followed.
 */
int cstor_idmap_shift_tree(int dirfd, const struct cstor_idmaps *from,
			   const struct cstor_idmaps *to, cstor_error *err);

#endif
