/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ID mappings of the container that owns a layer, for the mount code
 * (an idmapped mount of its lower layers, docs/idmap.md). A leaf of
 * store/: it reads the container records and calls nothing that mounts.
 */
#include <stdlib.h>

#include "store/objects-internal.h"
#include "store/store-internal.h"
#include "util/error-internal.h"
#include "util/idmap.h"

int cstor_container_layer_maps(struct cstor_store *s, const char *layer, struct cstor_idmaps *maps,
			       cstor_error *err)
{
	*maps = (struct cstor_idmaps){ 0 };
	struct cstor_objstore *cs = s->containers;
	int r = cstor_objstore_start_reading(cs, err);
	if (r != 0)
		return r;
	struct cstor_container_rec *found = NULL;
	for (size_t k = 0; k < cs->n && !found; k++)
		if (streq(CSTOR_CONTAINER_REC(cs->recs[k])->layer, layer))
			found = CSTOR_CONTAINER_REC(cs->recs[k]);
	struct cstor_idmap *u = NULL, *g = NULL;
	size_t nu = 0, ng = 0;
	bool oom = found && (cstor_idmap_dup(&u, &nu, found->uidmap, found->n_uidmap) < 0 ||
			     cstor_idmap_dup(&g, &ng, found->gidmap, found->n_gidmap) < 0);
	cstor_objstore_done(cs);
	if (oom) {
		free(u);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	*maps = (struct cstor_idmaps){ u, nu, g, ng };
	return 0;
}
