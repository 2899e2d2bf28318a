/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "util/cleanup.h"
#include "util/macro.h"
#include "util/mountinfo.h"

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *o = s;
	for (char *i = s; *i; i++) {
		if (i[0] == '\\' && i[1] >= '0' && i[1] <= '3' && i[2] >= '0' && i[2] <= '7' &&
		    i[3] >= '0' && i[3] <= '7') {
			*o++ = (char)((i[1] - '0') * 64 + (i[2] - '0') * 8 + (i[3] - '0'));
			i += 3;
		} else
			*o++ = *i;
	}
	*o = 0;
}

/*
 * @path as the kernel lists it: mount(2) follows symlinks, so a mount made
 * through a graph root that is a symlink (/var/lib/containers -> a bigger
 * disk) shows up under the symlink's target. Only the parent is resolved:
 * a mount point is a directory, and a last component that is a symlink
 * (planted where a layer's mount point belongs) must not make a mount
 * elsewhere look like ours, to be reported or unmounted. NULL when the
 * parent does not resolve: the caller compares @path as given.
 */
static char *resolve(const char *path)
{
	_cleanup_free_ char *d = strdup(path), *b = strdup(path);
	if (!d || !b)
		return NULL;
	const char *base = basename(b);
	if (!*base || streq(base, "/") || streq(base, ".") || streq(base, ".."))
		return NULL;
	_cleanup_free_ char *parent = realpath(dirname(d), NULL);
	if (!parent)
		return NULL;
	char *r;
	if (asprintf(&r, "%s/%s", streq(parent, "/") ? "" : parent, base) < 0)
		return NULL;
	return r;
}

#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x00002000 /* Linux 5.8 */
#endif

/*
 * Whether @path is the root of a mount, asked of the kernel in one or two
 * system calls (statx's STATX_ATTR_MOUNT_ROOT, Linux 5.8; statfs for the
 * type) instead of reading the whole table: a host running hundreds of
 * containers has a mountinfo of hundreds of kilobytes, and every mount and
 * unmount asks this two or three times. 1 mounted, 0 not, -1 when only the
 * table can tell: an older kernel, an error (a dead FUSE mount answers
 * ENOTCONN), or a type the superblock magic does not name exactly (FUSE's
 * subtypes). The last component is not followed, as in the table's check;
 * a path that does not exist is no mount point.
 */
static int mount_root(const char *path, const char *fstype)
{
	struct statx stx;
	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_TYPE, &stx) < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
	if (!(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
		return -1;
	if (!(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
		return 0;
	if (!fstype)
		return 1;
	/* Filesystem types (as the table names them) whose superblock magic
	 * names them exactly. */
	static const struct {
		const char *type;
		long magic;
	} magics[] = { { "overlay", OVERLAYFS_SUPER_MAGIC }, { "tmpfs", TMPFS_MAGIC } };
	struct statfs sfs;
	for (size_t i = 0; i < ELEMENTSOF(magics); i++)
		if (!strcmp(magics[i].type, fstype))
			/* A different type on top may hide one of @fstype
			 * below: the table tells. */
			return statfs(path, &sfs) == 0 && sfs.f_type == magics[i].magic ? 1 : -1;
	return -1;
}

bool cstor_mountinfo_has(const char *path, const char *fstype)
{
	int fast = mount_root(path, fstype);
	if (fast >= 0)
		return fast;
	_cleanup_free_ char *resolved = resolve(path);
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return false;
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		/* id parent maj:min root mountpoint opts [optional...] - fstype src superopts */
		char *save = NULL, *tok;
		int field = 0;
		char *mp = NULL;
		for (tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
			if (++field == 5) {
				mp = tok;
				break;
			}
		}
		if (!mp)
			continue;
		unescape(mp);
		if (strcmp(mp, path) != 0 && (!resolved || strcmp(mp, resolved) != 0))
			continue;
		if (!fstype)
			return true;
		/* Skip to the separator, the next field is the type. */
		while ((tok = strtok_r(NULL, " ", &save)) && strcmp(tok, "-") != 0)
			;
		tok = tok ? strtok_r(NULL, " ", &save) : NULL;
		if (tok && strcmp(tok, fstype) == 0)
			return true;
	}
	return false;
}
