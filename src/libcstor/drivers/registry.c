/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The list of drivers cstor has, and everything that needs to go through
 * all of them: lookup by name or alias, which options are whose, the choice
 * of a driver when none is configured, their names for messages.
 */
#include <stdlib.h>
#include <sys/stat.h>

#include "drivers/driver.h"
#include "util/cleanup.h"
#include "util/error-internal.h"
#include "util/fileutil.h"
#include "util/macro.h"
#include "util/strv.h"

/* In the order a driver is picked when none is configured. */
static const struct cstor_driver_ops *const drivers[] = {
	&cstor_driver_overlay,
	&cstor_driver_vfs,
};

/*
 * The drivers whose home tells that an earlier run chose them, in
 * containers/storage's priority order. These are Go's drivers, cstor has
 * some of them only: a store left by one it lacks is then refused rather
 * than opened with another driver as if it were empty. vfs is not there,
 * as in Go: an old vfs home does not stop overlay from being picked.
 */
static const char *const prior_homes[] = { "overlay", "aufs", "btrfs", "zfs", "devicemapper" };

static bool answers_to(const struct cstor_driver_ops *ops, const char *name)
{
	if (streq(ops->name, name))
		return true;
	for (size_t i = 0; ops->aliases && ops->aliases[i]; i++)
		if (streq(ops->aliases[i], name))
			return true;
	return false;
}

const struct cstor_driver_ops *cstor_driver_lookup(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(drivers); i++)
		if (answers_to(drivers[i], name))
			return drivers[i];
	return NULL;
}

bool cstor_driver_option_is_for(const struct cstor_driver_ops *ops, const char *prefix)
{
	return prefix[0] == 0 || answers_to(ops, prefix);
}

static bool is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int cstor_driver_detect(const char **name, const char *graph_root, cstor_error *err)
{
	const char *found = NULL;
	for (size_t i = 0; i < ELEMENTSOF(prior_homes); i++) {
		_cleanup_free_ char *p = cstor_path_join(graph_root, prior_homes[i]);
		if (!p)
			return cstor_error_set(err, ENOMEM, "out of memory");
		if (!is_dir(p))
			continue;
		if (found)
			return cstor_error_set(err, EINVAL,
					       "%s contains several valid graphdrivers: %s, %s; "
					       "cleanup or explicitly choose storage driver (-s <DRIVER>)",
					       graph_root, found, prior_homes[i]);
		found = prior_homes[i];
	}
	if (found) {
		*name = found;
		return 0;
	}
	for (size_t i = 0; i < ELEMENTSOF(drivers); i++)
		if (!drivers[i]->usable || drivers[i]->usable()) {
			*name = drivers[i]->name;
			return 0;
		}
	return cstor_error_set(err, ENOTSUP, "no usable storage driver");
}

char *cstor_driver_names(bool (*has)(const struct cstor_driver_ops *ops), const char *sep)
{
	_cleanup_strv_free_ char **v = NULL;
	for (size_t i = 0; i < ELEMENTSOF(drivers); i++)
		if ((!has || has(drivers[i])) && strv_append(&v, drivers[i]->name) < 0)
			return NULL;
	if (!v && !(v = calloc(1, sizeof(char *))))
		return NULL;
	return strv_join(v, sep);
}

int cstor_driver_parse_sync(const char *driver, const char *value, bool *durable,
			    cstor_error *err)
{
	if (streq(value, "filesystem"))
		*durable = true;
	else if (streq(value, "none"))
		*durable = false;
	else
		return cstor_error_set(err, EINVAL,
				       "%s option sync: \"%s\" is not a sync mode (none, filesystem)",
				       driver, value);
	return 0;
}
