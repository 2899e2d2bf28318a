/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "util/cleanup.h"
#include "util/mountopt.h"
#include "util/strv.h"

static const struct {
	const char *name;
	bool clear;
	unsigned long flag;
} words[] = {
	{ "defaults", false, 0 },
	{ "ro", false, MS_RDONLY },
	{ "rw", true, MS_RDONLY },
	{ "suid", true, MS_NOSUID },
	{ "nosuid", false, MS_NOSUID },
	{ "dev", true, MS_NODEV },
	{ "nodev", false, MS_NODEV },
	{ "exec", true, MS_NOEXEC },
	{ "noexec", false, MS_NOEXEC },
	{ "sync", false, MS_SYNCHRONOUS },
	{ "async", true, MS_SYNCHRONOUS },
	{ "dirsync", false, MS_DIRSYNC },
	{ "remount", false, MS_REMOUNT },
	{ "mand", false, MS_MANDLOCK },
	{ "nomand", true, MS_MANDLOCK },
	{ "atime", true, MS_NOATIME },
	{ "noatime", false, MS_NOATIME },
	{ "diratime", true, MS_NODIRATIME },
	{ "nodiratime", false, MS_NODIRATIME },
	{ "bind", false, MS_BIND },
	{ "rbind", false, MS_BIND | MS_REC },
	{ "unbindable", false, MS_UNBINDABLE },
	{ "runbindable", false, MS_UNBINDABLE | MS_REC },
	{ "private", false, MS_PRIVATE },
	{ "rprivate", false, MS_PRIVATE | MS_REC },
	{ "shared", false, MS_SHARED },
	{ "rshared", false, MS_SHARED | MS_REC },
	{ "slave", false, MS_SLAVE },
	{ "rslave", false, MS_SLAVE | MS_REC },
	{ "relatime", false, MS_RELATIME },
	{ "norelatime", true, MS_RELATIME },
	{ "strictatime", false, MS_STRICTATIME },
	{ "nostrictatime", true, MS_STRICTATIME },
};

int cstor_mount_options_parse(const char *opts, unsigned long *flags, char **data)
{
	*flags = 0;
	_cleanup_strv_free_ char **parts = strv_split(opts ? opts : "", ',');
	_cleanup_strv_free_ char **rest = calloc(1, sizeof(char *));
	if (!parts || !rest)
		return -ENOMEM;
	for (size_t i = 0; parts[i]; i++) {
		if (!parts[i][0])
			continue;
		bool known = false;
		for (size_t w = 0; w < sizeof(words) / sizeof(words[0]) && !known; w++) {
			if (strcmp(parts[i], words[w].name) != 0)
				continue;
			known = true;
			if (words[w].clear)
				*flags &= ~words[w].flag;
			else
				*flags |= words[w].flag;
		}
		if (!known && strv_append(&rest, parts[i]) < 0)
			return -ENOMEM;
	}
	*data = strv_join(rest, ",");
	return *data ? 0 : -ENOMEM;
}
