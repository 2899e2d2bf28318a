/* SPDX-License-Identifier: Apache-2.0 */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

bool cstor_mountinfo_has(const char *path, const char *fstype)
{
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
