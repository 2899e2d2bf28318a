/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "records/container-rec.h"
#include "util/error-internal.h"
#include "records/recfile.h"
#include "util/cleanup.h"
#include "util/strv.h"

void cstor_container_rec_free(struct cstor_container_rec *r)
{
	if (!r)
		return;
	cstor_obj_head_done(&r->h);
	free(r->image);
	free(r->layer);
	free(r->uidmap);
	free(r->gidmap);
	free(r);
}

static const char *const known_keys[] = {
	"id",
	"names",
	"image",
	"layer",
	"metadata",
	"big-data-names",
	"big-data-sizes",
	"big-data-digests",
	"created",
	"uidmap",
	"gidmap",
	"flags",
	NULL,
};

int cstor_container_rec_parse(struct cstor_container_rec **out, json_t *obj, const char *where,
			      cstor_error *err)
{
	if (!json_is_object(obj))
		return cstor_error_set(err, EBADMSG, "%s: a container record must be an object",
				       where);
	struct cstor_container_rec *r = calloc(1, sizeof(*r));
	if (!r)
		return cstor_error_set(err, ENOMEM, "out of memory");
	int k = cstor_obj_head_parse(&r->h, obj, known_keys, "container", where, err);
	if (k < 0) {
		free(r);
		return k;
	}
	if ((k = cstor_rec_get_str(&r->image, obj, "image", where, err)) < 0 ||
	    (k = cstor_rec_get_str(&r->layer, obj, "layer", where, err)) < 0 ||
	    (k = cstor_idmaps_parse(&r->uidmap, &r->n_uidmap, obj, "uidmap", where, err)) < 0 ||
	    (k = cstor_idmaps_parse(&r->gidmap, &r->n_gidmap, obj, "gidmap", where, err)) < 0) {
		cstor_container_rec_free(r);
		return k;
	}
	if ((!r->image && !(r->image = strdup(""))) || (!r->layer && !(r->layer = strdup("")))) {
		cstor_container_rec_free(r);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	*out = r;
	return 0;
}

void cstor_container_rec_write(cstor_buf *b, const struct cstor_container_rec *r)
{
	bool first = true;
	cstor_buf_putc(b, '{');
	cstor_json_kv_str(b, &first, "id", r->h.id);
	cstor_json_kv_strv_omit(b, &first, "names", r->h.names);
	cstor_json_kv_str(b, &first, "image", r->image);
	cstor_json_kv_str(b, &first, "layer", r->layer);
	cstor_json_kv_str_omit(b, &first, "metadata", r->h.metadata);
	cstor_bigdata_index_write(b, &first, &r->h.bd);
	cstor_json_kv_str(b, &first, "created",
			  r->h.created ? r->h.created : "0001-01-01T00:00:00Z");
	cstor_idmaps_write(b, &first, "uidmap", r->uidmap, r->n_uidmap);
	cstor_idmaps_write(b, &first, "gidmap", r->gidmap, r->n_gidmap);
	cstor_rec_write_map(b, &first, "flags", r->h.flags);
	cstor_rec_write_extra(b, &first, r->h.extra);
	cstor_buf_putc(b, '}');
}

CSTOR_DEFINE_REC_CODEC(container, NULL);

int cstor_container_rec_copy(struct cstor_container_rec **out,
			     const struct cstor_container_rec *r)
{
	struct cstor_obj_head *h = NULL;
	int k = cstor_rec_copy(&cstor_container_rec_codec, &h, &r->h);
	*out = CSTOR_CONTAINER_REC(h);
	return k;
}

const char *cstor_container_rec_flag_str(const struct cstor_container_rec *r, const char *key)
{
	json_t *v = r->h.flags ? json_object_get(r->h.flags, key) : NULL;
	return json_is_string(v) ? json_string_value(v) : NULL;
}
