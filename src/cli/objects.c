/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Store-wide lookups of the commands that take "a layer, image or
 * container" (exists, metadata, set-metadata, delete). The library has only
 * layers so far: images and containers are tried here, after layers (the
 * Go store's order), once it has them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cstor/layer.h>

#include "cli.h"

int cli_object_kinds(unsigned *kinds, cstor_store *store, const char *ref, cstor_error *err)
{
	*kinds = 0;
	cstor_layer *l = NULL;
	int r = cstor_store_layer(&l, store, ref, err);
	cstor_layer_free(l);
	if (r == 0)
		*kinds |= CLI_OBJ_LAYER;
	else if (r == -ENOENT || r == -EINVAL) {
		/* Unknown, or an ambiguous ID prefix: no match (as in Go). */
		cstor_error_clear(err);
	} else
		return r;
	return 0;
}

int cli_object_metadata(char **out, cstor_store *store, const char *ref, cstor_error *err)
{
	cstor_layer *l = NULL;
	int r = cstor_store_layer(&l, store, ref, err);
	if (r < 0)
		return r;
	const char *m = cstor_layer_metadata(l);
	*out = strdup(m ? m : "");
	cstor_layer_free(l);
	if (!*out) {
		err->code = ENOMEM;
		return -ENOMEM;
	}
	return 0;
}

int cli_object_set_metadata(cstor_store *store, const char *ref, const char *metadata,
			    cstor_error *err)
{
	return cstor_layer_set_metadata(store, ref, metadata, err);
}

int cli_object_delete(cstor_store *store, const char *ref, cstor_error *err)
{
	/* Go's `delete` skips the safety checks; deleting a layer that has
	 * children or is mounted breaks them, so cstor checks here too. */
	return cstor_store_delete_layer(store, ref, err);
}
