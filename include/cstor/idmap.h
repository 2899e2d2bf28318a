/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ID mappings (docs/idmap.md): ranges of container IDs and the host IDs
 * they stand for, as containers/storage records them on layers
 * ("uidmap"/"gidmap") and containers.
 */
#ifndef CSTOR_IDMAP_H
#define CSTOR_IDMAP_H

#include <stddef.h>
#include <stdint.h>

#include <cstor/common.h>
#include <cstor/error.h>

CSTOR_BEGIN_DECL

/** Container IDs [container_id, container_id + size) are host IDs
 *  [host_id, host_id + size). */
typedef struct cstor_idmap {
	uint32_t container_id;
	uint32_t host_id;
	uint32_t size;
} cstor_idmap;

/**
 * Parse "container:host:size" triples, separated by commas or, as the Go
 * CLI 1.43 writes them, by colons ("0:100000:1000:1000:1000:1"), and append
 * them to *maps (malloc'd, *n entries; both may start NULL/0). The whole
 * list is then checked: no zero size, no range past 2^32, no two ranges
 * overlapping on either side. @what ("uid", "gid") names the map in errors.
 * @return 0, -EINVAL (what was wrong in @err), -ENOMEM
 */
CSTOR_PUBLIC int cstor_idmap_parse(cstor_idmap **maps, size_t *n, const char *text,
				   const char *what, cstor_error *err);

/**
 * The ranges of @name in a subordinate-ID file (/etc/subuid, /etc/subgid:
 * "name:start:count" lines), appended to *maps as containers/storage makes
 * them: container IDs from 0 up, one range after the other.
 * @return 0, -ENOENT (no range for @name), -EINVAL, I/O errors
 */
CSTOR_PUBLIC int cstor_idmap_from_subid(cstor_idmap **maps, size_t *n, const char *file,
					const char *name, cstor_error *err);

CSTOR_END_DECL

#endif
