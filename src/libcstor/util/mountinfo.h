/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CSTOR_UTIL_MOUNTINFO_H
#define CSTOR_UTIL_MOUNTINFO_H

#include <stdbool.h>

/* Whether @path is a mount point in this process's mount namespace
 * (/proc/self/mountinfo), optionally of filesystem type @fstype (NULL: any).
 * The kernel's table is the truth about mounts; records can go stale.
 * @path is compared with its parent resolved as well (the kernel lists mount
 * points with symlinks followed), so a store reached through a symlink finds
 * its mounts; a last component that is a symlink is not followed. */
bool cstor_mountinfo_has(const char *path, const char *fstype);

#endif
