/* SPDX-License-Identifier: Apache-2.0 */
#include "drivers/driver.h"
#include "util/macro.h"

static const struct cstor_driver_ops *const drivers[] = {
	&cstor_driver_overlay,
	&cstor_driver_vfs,
};

const struct cstor_driver_ops *cstor_driver_lookup(const char *name)
{
	if (streq(name, "overlay2"))
		name = "overlay";
	for (size_t i = 0; i < ELEMENTSOF(drivers); i++)
		if (streq(drivers[i]->name, name))
			return drivers[i];
	return NULL;
}

bool cstor_driver_option_is_for(const char *name, const char *prefix)
{
	return prefix[0] == 0 || streq(prefix, name) ||
	       (streq(name, "overlay") && streq(prefix, "overlay2"));
}
