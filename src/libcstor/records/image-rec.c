/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive/digest.h"
#include "util/error-internal.h"
#include "records/image-rec.h"
#include "records/recfile.h"
#include "util/cleanup.h"
#include "util/strv.h"

void cstor_image_rec_free(struct cstor_image_rec *r)
{
	if (!r)
		return;
	cstor_obj_head_done(&r->h);
	free(r->digest);
	strv_free(r->names_history);
	free(r->layer);
	strv_free(r->mapped_layers);
	strv_free(r->digests);
	free(r);
}

static const char *const known_keys[] = {
	"id",
	"digest",
	"names",
	"names-history",
	"layer",
	"mapped-layers",
	"metadata",
	"big-data-names",
	"big-data-sizes",
	"big-data-digests",
	"created",
	"flags",
	NULL,
};

void cstor_digest_go_error(char *buf, size_t size, const char *digest)
{
	cstor_error e = CSTOR_ERROR_INIT;
	if (cstor_digest_validate(digest, &e) == 0) {
		snprintf(buf, size, "valid digest");
		return;
	}
	const char *m = cstor_error_message(&e);
	const char *q = strstr(m, ": \"");
	snprintf(buf, size, "%.*s", q ? (int)(q - m) : (int)strlen(m), m);
	cstor_error_clear(&e);
}

int cstor_image_rec_recompute_digests(struct cstor_image_rec *r, cstor_error *err)
{
	_cleanup_strv_free_ char **v = calloc(1, sizeof(char *));
	if (!v)
		return cstor_error_set(err, ENOMEM, "out of memory");
	char why[128];
	if (r->digest && r->digest[0]) {
		if (cstor_digest_validate(r->digest, NULL) < 0) {
			cstor_digest_go_error(why, sizeof(why), r->digest);
			return cstor_error_set(err, EBADMSG, "validating image digest \"%s\": %s",
					       r->digest, why);
		}
		if (strv_append(&v, r->digest) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
	}
	for (size_t i = 0; r->h.bd.names && r->h.bd.names[i]; i++) {
		const char *name = r->h.bd.names[i];
		if (!startswith(name, CSTOR_IMAGE_MANIFEST_PREFIX))
			continue;
		const char *d = cstor_bigdata_index_digest(&r->h.bd, name);
		if (!d)
			continue;
		if (cstor_digest_validate(d, NULL) < 0) {
			cstor_digest_go_error(why, sizeof(why), d);
			return cstor_error_set(err, EBADMSG,
					       "validating digest \"%s\" for big data item \"%s\": %s",
					       d, name, why);
		}
		if (!strv_contains(v, d) && strv_append(&v, d) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
	}
	/* Digests of manifest items whose names are not listed (hand-made
	 * records): still identify the image, after the listed ones. */
	const char *key;
	json_t *val;
	json_object_foreach(r->h.bd.digests, key, val)
	{
		if (!startswith(key, CSTOR_IMAGE_MANIFEST_PREFIX) || strv_contains(r->h.bd.names, key))
			continue;
		const char *d = json_string_value(val);
		if (cstor_digest_validate(d, NULL) < 0)
			return cstor_error_set(err, EBADMSG,
					       "validating digest \"%s\" for big data item \"%s\"", d,
					       key);
		if (!strv_contains(v, d) && strv_append(&v, d) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
	}
	if ((!r->digest || !r->digest[0]) && v[0]) {
		char *d = strdup(v[0]);
		if (!d)
			return cstor_error_set(err, ENOMEM, "out of memory");
		free(r->digest);
		r->digest = d;
	}
	strv_free(r->digests);
	r->digests = TAKE_PTR(v);
	return 0;
}

int cstor_image_rec_parse(struct cstor_image_rec **out, json_t *obj, const char *where,
			  cstor_error *err)
{
	if (!json_is_object(obj))
		return cstor_error_set(err, EBADMSG, "%s: an image record must be an object", where);
	struct cstor_image_rec *r = calloc(1, sizeof(*r));
	if (!r)
		return cstor_error_set(err, ENOMEM, "out of memory");
	int k = cstor_obj_head_parse(&r->h, obj, known_keys, "image", where, err);
	if (k < 0) {
		free(r);
		return k;
	}
	if ((k = cstor_rec_get_str(&r->digest, obj, "digest", where, err)) < 0 ||
	    (k = cstor_rec_get_strv(&r->names_history, obj, "names-history", where, err)) < 0 ||
	    (k = cstor_rec_get_str(&r->layer, obj, "layer", where, err)) < 0 ||
	    (k = cstor_rec_get_strv(&r->mapped_layers, obj, "mapped-layers", where, err)) < 0) {
		cstor_image_rec_free(r);
		return k;
	}
	*out = r;
	return 0;
}

void cstor_image_rec_write(cstor_buf *b, const struct cstor_image_rec *r)
{
	bool first = true;
	cstor_buf_putc(b, '{');
	cstor_json_kv_str(b, &first, "id", r->h.id);
	cstor_json_kv_str_omit(b, &first, "digest", r->digest);
	cstor_json_kv_strv_omit(b, &first, "names", r->h.names);
	cstor_json_kv_strv_omit(b, &first, "names-history", r->names_history);
	cstor_json_kv_str_omit(b, &first, "layer", r->layer);
	cstor_json_kv_strv_omit(b, &first, "mapped-layers", r->mapped_layers);
	cstor_json_kv_str_omit(b, &first, "metadata", r->h.metadata);
	cstor_bigdata_index_write(b, &first, &r->h.bd);
	cstor_json_kv_str(b, &first, "created",
			  r->h.created ? r->h.created : "0001-01-01T00:00:00Z");
	cstor_rec_write_map(b, &first, "flags", r->h.flags);
	cstor_rec_write_extra(b, &first, r->h.extra);
	cstor_buf_putc(b, '}');
}

/* Not a field: the digests that find the image. */
static int image_loaded(struct cstor_obj_head *h, const char *where, cstor_error *err)
{
	int k = cstor_image_rec_recompute_digests(CSTOR_IMAGE_REC(h), err);
	if (k < 0)
		cstor_error_wrap(err, k, "%s: computing digests for image with ID \"%s\"", where,
				 h->id);
	return k;
}

CSTOR_DEFINE_REC_CODEC(image, image_loaded);

int cstor_image_rec_copy(struct cstor_image_rec **out, const struct cstor_image_rec *r)
{
	struct cstor_obj_head *h = NULL;
	int k = cstor_rec_copy(&cstor_image_rec_codec, &h, &r->h);
	*out = CSTOR_IMAGE_REC(h);
	return k;
}
