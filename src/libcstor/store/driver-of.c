/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which driver instance holds a layer: the graph root's, or a split image
 * store's (docs/split-store.md). A leaf of store/: the mount code and the
 * store alike ask it, and it asks only the drivers.
 */
#include <stdlib.h>

#include "store/store-internal.h"
#include "util/cleanup.h"
#include "util/error-internal.h"
#include "util/strv.h"

struct cstor_driver *cstor_store_driver_of(struct cstor_store *s, const char *id)
{
	if (s->image_driver && !s->driver_ops->exists(s->driver, id) &&
	    s->driver_ops->exists(s->image_driver, id))
		return s->image_driver;
	return s->driver;
}

int cstor_store_driver_list(char ***ids, struct cstor_store *s, cstor_error *err)
{
	*ids = NULL;
	int r = s->driver_ops->list(s->driver, ids, err);
	if (r < 0 || !s->image_driver)
		return r;
	_cleanup_strv_free_ char **more = NULL;
	if ((r = s->driver_ops->list(s->image_driver, &more, err)) < 0) {
		strv_free(*ids);
		*ids = NULL;
		return r;
	}
	for (size_t i = 0; more && more[i]; i++)
		if (!strv_contains(*ids, more[i]) && strv_append(ids, more[i]) < 0) {
			strv_free(*ids);
			*ids = NULL;
			return cstor_error_set(err, ENOMEM, "out of memory");
		}
	return 0;
}
