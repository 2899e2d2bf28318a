/* SPDX-License-Identifier: Apache-2.0 */
/* Layer operations beyond listing and creation: delete, metadata, names,
 * big data, mount state. */
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
						       struct cstor_layer_store *ls, const char *ref,
						       const char *what, cstor_error *err)
{
	bool amb = false;
	struct cstor_layer_rec *rec = cstor_layer_store_lookup(ls, ref, &amb);
	if (rec)
		return rec;
	if (amb) {
		cstor_error_set(err, EINVAL, "%s: layer reference \"%s\" is ambiguous", what, ref);
		return NULL;
	}
	/* Read-only stores come after the primary one in the lock order, and
	 * we hold the primary: look only at their files' presence by reading
	 * them shared (allowed: later in the order). */
	for (size_t i = 0; i < s->n_ro_layers; i++) {
		struct cstor_layer_store *ro = s->ro_layers[i];
		if (cstor_layer_store_start_reading(ro, NULL) != 0)
			continue;
		bool found = cstor_layer_store_lookup(ro, ref, NULL) != NULL;
		cstor_layer_store_done(ro);
		if (found) {
			cstor_error_set(err, EROFS, "%s: layer %s is in a read-only store", what, ref);
			return NULL;
		}
	}
	cstor_error_set(err, ENOENT, "%s: layer not known: %s", what, ref);
	return NULL;
}

static int fail_code(const cstor_error *err)
{
	return err && err->code ? -err->code : -ENOENT;
}

int cstor_layer_set_metadata(cstor_store *s, const char *ref, const char *metadata,
			     cstor_error *err)
{
	struct cstor_layer_store *ls = s->layers;
	int r = cstor_layer_store_start_writing(ls, err);
	if (r != 0)
		return r;
	struct cstor_layer_rec *rec = cstor_store_find_primary_layer(s, ls, ref, "set metadata", err);
	if (!rec)
		r = fail_code(err);
	else {
		char *m = strdup(metadata ? metadata : "");
		if (!m)
			r = cstor_error_set(err, ENOMEM, "out of memory");
		else {
			free(rec->metadata);
			rec->metadata = m;
			r = cstor_layer_store_save(ls, err);
		}
	}
	cstor_layer_store_done(ls);
	return r;
}

int cstor_layer_remove_names(cstor_store *s, const char *ref, const char *const *names,
			     cstor_error *err)
{
	struct cstor_layer_store *ls = s->layers;
	int r = cstor_layer_store_start_writing(ls, err);
	if (r != 0)
		return r;
	struct cstor_layer_rec *rec = cstor_store_find_primary_layer(s, ls, ref, "remove names", err);
	if (!rec)
		r = fail_code(err);
	else {
		for (size_t i = 0; names && names[i]; i++)
			strv_remove(rec->names, names[i]);
		r = cstor_layer_store_save(ls, err);
	}
	cstor_layer_store_done(ls);
	return r;
}

int cstor_store_delete_layer(cstor_store *s, const char *ref, cstor_error *err)
{
	struct cstor_layer_store *ls = s->layers;
	int r = cstor_layer_store_start_writing(ls, err);
	if (r != 0)
		return r;
	struct cstor_layer_rec *rec = cstor_store_find_primary_layer(s, ls, ref, "delete layer", err);
	if (!rec) {
		r = fail_code(err);
		goto out;
	}
	/* All checks by ID, whatever the reference was. */
	if (cstor_layer_store_has_children(ls, rec->id)) {
		r = cstor_error_set(err, EBUSY, "delete layer %s: layer has children", rec->id);
		goto out;
	}
	/* Reconciled: dead holders do not keep the layer. */
	int64_t count = 0;
	if ((r = cstor_mount_live_count(&count, s, rec->id, err)) < 0)
		goto out;
	if (count > 0) {
		r = cstor_error_set(err, EBUSY, "delete layer %s: layer is mounted (%lld times)", rec->id,
				    (long long)count);
		goto out;
	}
	if (s->layer_in_use && (r = s->layer_in_use(s, rec->id, err)) < 0)
		goto out;
	r = cstor_layer_store_delete(ls, rec, err);
out:
	cstor_layer_store_done(ls);
	return r;
}

int cstor_layer_get_big_data(void **data, size_t *len, cstor_store *s, const char *ref,
			     const char *key, cstor_error *err)
{
	cstor_layer *l = NULL;
	/* A read-only store's layer keeps its data under that store. */
	struct cstor_layer_store *ls = NULL;
	int r = cstor_store_find_layer(&l, &ls, s, ref, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *dir = cstor_layer_store_data_dir(ls, cstor_layer_id(l));
	cstor_layer_free(l);
	if (!dir)
		return cstor_error_set(err, ENOMEM, "out of memory");
	return cstor_big_data_read(data, len, dir, key, err);
}

int cstor_layer_set_big_data(cstor_store *s, const char *ref, const char *key, const void *data,
			     size_t len, cstor_error *err)
{
	struct cstor_layer_store *ls = s->layers;
	_cleanup_free_ char *dir = NULL;
	int r = cstor_layer_store_start_writing(ls, err);
	if (r != 0)
		return r;
	struct cstor_layer_rec *rec = cstor_store_find_primary_layer(s, ls, ref, "set layer data", err);
	if (!rec) {
		r = fail_code(err);
		goto out;
	}
	dir = cstor_layer_store_data_dir(ls, rec->id);
	if (!dir) {
		r = cstor_error_set(err, ENOMEM, "out of memory");
		goto out;
	}
	if ((r = cstor_big_data_write(dir, key, data, len, err)) < 0)
		goto out;
	if (!strv_contains(rec->big_data_names, key)) {
		if (!rec->big_data_names && !(rec->big_data_names = calloc(1, sizeof(char *)))) {
			r = cstor_error_set(err, ENOMEM, "out of memory");
			goto out;
		}
		if (strv_append(&rec->big_data_names, key) < 0) {
			r = cstor_error_set(err, ENOMEM, "out of memory");
			goto out;
		}
		r = cstor_layer_store_save(ls, err);
	}
out:
	cstor_layer_store_done(ls);
	return r;
}

