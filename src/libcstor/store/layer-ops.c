/* SPDX-License-Identifier: Apache-2.0 */
/* Layer operations beyond listing and creation: delete, and the verbs all
 * kinds share (store/verbs.h): metadata, names, big data. */
#include <stdlib.h>
#include <string.h>

#include <cstor/layer.h>

#include "records/bigdata.h"
#include "util/error-internal.h"
#include "mount/mount-internal.h"
#include "store/store-internal.h"
#include "util/cleanup.h"
#include "util/strv.h"

struct cstor_layer_rec *cstor_store_find_primary_layer(struct cstor_store *s,
						       struct cstor_objstore *ls, const char *ref,
						       const char *what, cstor_error *err)
{
	struct cstor_objset set = cstor_store_layer_set(s);
	return CSTOR_LAYER_REC(cstor_objset_find_writable(ls, &set, ref, what, err));
}

int cstor_layer_set_metadata(cstor_store *s, const char *ref, const char *metadata,
			     cstor_error *err)
{
	struct cstor_objset set = cstor_store_layer_set(s);
	return cstor_objset_set_metadata(&set, ref, metadata, "set metadata", err);
}

int cstor_layer_set_names(cstor_store *s, const char *ref, const char *const *names,
			  cstor_error *err)
{
	struct cstor_objset set = cstor_store_layer_set(s);
	return cstor_objset_change_names(&set, NULL, ref, names, CSTOR_NAMES_SET, NULL, err);
}

int cstor_layer_add_names(cstor_store *s, const char *ref, const char *const *names,
			  cstor_error *err)
{
	struct cstor_objset set = cstor_store_layer_set(s);
	return cstor_objset_change_names(&set, NULL, ref, names, CSTOR_NAMES_ADD, NULL, err);
}

int cstor_layer_remove_names(cstor_store *s, const char *ref, const char *const *names,
			     cstor_error *err)
{
	struct cstor_objset set = cstor_store_layer_set(s);
	return cstor_objset_change_names(&set, NULL, ref, names, CSTOR_NAMES_REMOVE, "remove names", err);
}

int cstor_layer_delete_checked(struct cstor_store *s, struct cstor_objstore *ls,
			       struct cstor_layer_rec *rec, cstor_error *err)
{
	int r;
	/* All checks by ID, whatever the reference was. Children that are
	 * also ancestors (a corrupt store's parents forming a cycle) do not
	 * count: else no member of the cycle could ever be deleted. They are
	 * left with a missing parent, as after Go's unchecked deletes. */
	if (cstor_layer_store_has_children_outside_cycle(ls, rec->h.id)) {
		return cstor_error_set(err, EBUSY, "delete layer %s: layer has children",
				       rec->h.id);
	}
	/* Reconciled: dead holders do not keep the layer. */
	int64_t count = 0;
	if ((r = cstor_mount_live_count(&count, s, rec->h.id, err)) < 0)
		return r;
	if (count > 0) {
		return cstor_error_set(err, EBUSY, "delete layer %s: layer is mounted (%lld times)",
				       rec->h.id, (long long)count);
	}
	if (s->layer_in_use && (r = s->layer_in_use(s, rec->h.id, err)) < 0)
		return r;
	return cstor_layer_store_delete(ls, rec, err);
}

int cstor_store_delete_layer(cstor_store *s, const char *ref, cstor_error *err)
{
	struct cstor_objstore *ls = s->layers;
	int r = cstor_objstore_start_writing(ls, err);
	if (r != 0)
		return r;
	/* A layer whose delete (or creation) died was there when the caller
	 * looked, and the writer cleanup of our start_writing just finished
	 * removing it: the delete is done, and saying "not known" would be
	 * wrong. Matched by ID or name, as the caller may have given. */
	if (!cstor_layer_store_lookup(ls, ref, NULL) && strv_contains(ls->cleaned, ref))
		goto out;
	struct cstor_layer_rec *rec = cstor_store_find_primary_layer(s, ls, ref, "delete layer", err);
	if (!rec) {
		r = cstor_objset_fail_code(err);
		goto out;
	}
	r = cstor_layer_delete_checked(s, ls, rec, err);
out:
	cstor_objstore_done(ls);
	return r;
}

int cstor_layer_get_big_data(void **data, size_t *len, cstor_store *s, const char *ref,
			     const char *key, cstor_error *err)
{
	/* A read-only store's layer keeps its data under that store. */
	struct cstor_objset set = cstor_store_layer_set(s);
	return cstor_objset_get_big_data(data, len, &set, ref, key, err);
}

int cstor_layer_set_big_data(cstor_store *s, const char *ref, const char *key, const void *data,
			     size_t len, cstor_error *err)
{
	/* Layers record their items by name only: no digest to compute. */
	struct cstor_objset set = cstor_store_layer_set(s);
	return cstor_objset_set_big_data(&set, NULL, ref, key, data, len, NULL, "set layer data", err);
}

/* ---- the driver's own layers (storage-layers, create-storage-layer) ---- */

int cstor_store_driver_layers(char ***ids, cstor_store *s, cstor_error *err)
{
	*ids = NULL;
	if (!s->driver_ops->list)
		return cstor_error_set(err, EOPNOTSUPP, "driver not supported");
	/* Under the layer store's lock: a layer being created has its record
	 * and its directory made together under it. */
	struct cstor_objstore *ls = s->layers;
	int r = cstor_objstore_start_reading(ls, err);
	if (r != 0)
		return r < 0 ? r : -EIO;
	r = s->driver_ops->list(s->driver, ids, err);
	cstor_objstore_done(ls);
	return r;
}

int cstor_store_create_driver_layer(char **id_out, cstor_store *s, const char *id,
				    const char *parent, cstor_error *err)
{
	*id_out = NULL;
	char rid[65];
	if (!id) {
		if (cstor_random_id(rid) < 0)
			return cstor_error_errno(err, errno, "generate a layer ID");
		id = rid;
	}
	if (!cstor_rec_id_valid(id) || (parent && !cstor_rec_id_valid(parent)))
		return cstor_error_set(err, EINVAL, "create storage layer: invalid layer ID %s",
				       cstor_rec_id_valid(id) ? parent : id);
	struct cstor_objstore *ls = s->layers;
	int r = cstor_objstore_start_writing(ls, err);
	if (r != 0)
		return r < 0 ? r : -EIO;
	/* A directory only: no record says it exists (what check calls
	 * "not accounted for"). Never over a layer that has a record. */
	if (cstor_objstore_by_id(ls, id) || s->driver_ops->exists(s->driver, id))
		r = cstor_error_set(err, EEXIST, "create storage layer: layer %s exists", id);
	else if (parent && !s->driver_ops->exists(s->driver, parent))
		r = cstor_error_set(err, ENOENT, "create storage layer: no storage layer %s", parent);
	else
		r = s->driver_ops->create(s->driver, id, parent, err);
	cstor_objstore_done(ls);
	if (r == 0 && !(*id_out = strdup(id)))
		r = cstor_error_set(err, ENOMEM, "out of memory");
	return r;
}
