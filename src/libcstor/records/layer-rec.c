/* SPDX-License-Identifier: Apache-2.0 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/error-internal.h"
#include "records/layer-rec.h"
#include "records/fields.h"
#include "records/recfile.h"
#include "util/cleanup.h"
#include "util/strv.h"

void cstor_layer_rec_free(struct cstor_layer_rec *r)
{
	if (!r)
		return;
	cstor_obj_head_done(&r->h);
	free(r->parent);
	free(r->mountlabel);
	free(r->compressed_digest);
	free(r->uncompressed_digest);
	free(r->toc_digest);
	free(r->uidset);
	free(r->gidset);
	free(r->uidmap);
	free(r->gidmap);
	free(r);
}

/* An integer in [@min, @max]: Go's field is wider than what cstor keeps, so
 * anything outside is refused rather than silently changed on rewrite. */
static int get_int(int64_t *out, json_t *obj, const char *key, int64_t min, int64_t max,
		   const char *what, cstor_error *err)
{
	*out = 0;
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return cstor_error_set(err, EBADMSG, "%s: \"%s\" must be an integer", what, key);
	if (json_integer_value(v) < min || json_integer_value(v) > max)
		return cstor_error_set(err, EBADMSG, "%s: \"%s\" is out of range", what, key);
	*out = json_integer_value(v);
	return 0;
}

static int get_idset(uint32_t **out, size_t *n, json_t *obj, const char *key, const char *what,
		     cstor_error *err)
{
	*out = NULL;
	*n = 0;
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return cstor_error_set(err, EBADMSG, "%s: \"%s\": expected a list of IDs", what,
				       key);
	size_t k = json_array_size(v);
	uint32_t *a = calloc(k ? k : 1, sizeof(uint32_t));
	if (!a)
		return cstor_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < k; i++) {
		json_t *e = json_array_get(v, i);
		if (!json_is_integer(e) || json_integer_value(e) < 0 ||
		    json_integer_value(e) > UINT32_MAX) {
			free(a);
			return cstor_error_set(err, EBADMSG, "%s: \"%s\": expected a list of IDs",
					       what, key);
		}
		a[i] = (uint32_t)json_integer_value(e);
	}
	*out = a;
	*n = k;
	return 0;
}

static const char *const known_keys[] = {
	"id",          "names",          "parent",    "metadata",  "mountlabel",
	"created",     "compressed-diff-digest",      "compressed-size",
	"diff-digest", "toc-digest",     "diff-size", "compression", "uidset",
	"gidset",      "flags",          "uidmap",    "gidmap",    "big-data-names",
};

int cstor_layer_rec_parse(struct cstor_layer_rec **out, json_t *obj, const char *where,
			  cstor_error *err)
{
	if (!json_is_object(obj))
		return cstor_error_set(err, EBADMSG, "%s: a layer record must be an object", where);
	struct cstor_layer_rec *r = calloc(1, sizeof(*r));
	if (!r)
		return cstor_error_set(err, ENOMEM, "out of memory");
	int64_t compression = 0;
	int k = 0;
	if ((k = cstor_rec_get_str(&r->h.id, obj, "id", where, err)) < 0 ||
	    (k = cstor_rec_get_strv(&r->h.names, obj, "names", where, err)) < 0 ||
	    (k = cstor_rec_get_str(&r->parent, obj, "parent", where, err)) < 0 ||
	    (k = cstor_rec_get_str(&r->h.metadata, obj, "metadata", where, err)) < 0 ||
	    (k = cstor_rec_get_str(&r->mountlabel, obj, "mountlabel", where, err)) < 0 ||
	    (k = cstor_rec_get_str(&r->h.created, obj, "created", where, err)) < 0 ||
	    (k = cstor_rec_get_str(&r->compressed_digest, obj, "compressed-diff-digest", where,
				   err)) < 0 ||
	    (k = get_int(&r->compressed_size, obj, "compressed-size", INT64_MIN, INT64_MAX, where,
			 err)) < 0 ||
	    (k = cstor_rec_get_str(&r->uncompressed_digest, obj, "diff-digest", where, err)) < 0 ||
	    (k = cstor_rec_get_str(&r->toc_digest, obj, "toc-digest", where, err)) < 0 ||
	    (k = get_int(&r->uncompressed_size, obj, "diff-size", INT64_MIN, INT64_MAX, where,
			 err)) < 0 ||
	    (k = get_int(&compression, obj, "compression", INT_MIN, INT_MAX, where, err)) < 0 ||
	    (k = get_idset(&r->uidset, &r->n_uidset, obj, "uidset", where, err)) < 0 ||
	    (k = get_idset(&r->gidset, &r->n_gidset, obj, "gidset", where, err)) < 0 ||
	    (k = cstor_idmaps_parse(&r->uidmap, &r->n_uidmap, obj, "uidmap", where, err)) < 0 ||
	    (k = cstor_idmaps_parse(&r->gidmap, &r->n_gidmap, obj, "gidmap", where, err)) < 0 ||
	    (k = cstor_rec_get_strv(&r->h.bd.names, obj, "big-data-names", where, err)) < 0) {
		cstor_layer_rec_free(r);
		return k;
	}
	r->compression = (int)compression;
	if (!r->h.id || !r->h.id[0]) {
		cstor_layer_rec_free(r);
		return cstor_error_set(err, EBADMSG, "%s: layer record without an id", where);
	}
	/* IDs name directories: one that could climb out of the store is
	 * never acted upon. */
	if (!cstor_rec_id_valid(r->h.id)) {
		k = cstor_error_set(err, EBADMSG, "%s: invalid layer id \"%.128s\"%s", where,
				    r->h.id, strlen(r->h.id) > 128 ? " (cut, too long)" : "");
		cstor_layer_rec_free(r);
		return k;
	}
	json_t *flags = json_object_get(obj, "flags");
	if (flags && !json_is_null(flags)) {
		if (!json_is_object(flags)) {
			cstor_layer_rec_free(r);
			return cstor_error_set(err, EBADMSG, "%s: \"flags\" must be an object",
					       where);
		}
		r->h.flags = json_incref(flags);
	}
	const char *key;
	json_t *val;
	json_object_foreach(obj, key, val)
	{
		bool known = false;
		for (size_t i = 0; i < ELEMENTSOF(known_keys) && !known; i++)
			known = streq(key, known_keys[i]);
		if (known)
			continue;
		if ((!r->h.extra && !(r->h.extra = json_object())) ||
		    json_object_set(r->h.extra, key, val) < 0) {
			cstor_layer_rec_free(r);
			return cstor_error_set(err, ENOMEM, "out of memory");
		}
	}
	*out = r;
	return 0;
}

static void write_idset(cstor_buf *b, bool *first, const char *key, const uint32_t *s, size_t n)
{
	if (n == 0)
		return;
	cstor_json_key(b, first, key);
	cstor_buf_putc(b, '[');
	for (size_t i = 0; i < n; i++)
		cstor_buf_printf(b, "%s%u", i ? "," : "", s[i]);
	cstor_buf_putc(b, ']');
}

void cstor_layer_rec_write(cstor_buf *b, const struct cstor_layer_rec *r)
{
	bool first = true;
	cstor_buf_putc(b, '{');
	cstor_json_kv_str(b, &first, "id", r->h.id);
	cstor_json_kv_strv_omit(b, &first, "names", r->h.names);
	cstor_json_kv_str_omit(b, &first, "parent", r->parent);
	cstor_json_kv_str_omit(b, &first, "metadata", r->h.metadata);
	cstor_json_kv_str_omit(b, &first, "mountlabel", r->mountlabel);
	cstor_json_kv_str(b, &first, "created", r->h.created ? r->h.created : "0001-01-01T00:00:00Z");
	cstor_json_kv_str_omit(b, &first, "compressed-diff-digest", r->compressed_digest);
	cstor_json_kv_int_omit(b, &first, "compressed-size", r->compressed_size);
	cstor_json_kv_str_omit(b, &first, "diff-digest", r->uncompressed_digest);
	cstor_json_kv_str_omit(b, &first, "toc-digest", r->toc_digest);
	cstor_json_kv_int_omit(b, &first, "diff-size", r->uncompressed_size);
	cstor_json_kv_int_omit(b, &first, "compression", r->compression);
	write_idset(b, &first, "uidset", r->uidset, r->n_uidset);
	write_idset(b, &first, "gidset", r->gidset, r->n_gidset);
	if (r->h.flags && json_object_size(r->h.flags) > 0) {
		cstor_json_key(b, &first, "flags");
		cstor_json_value(b, r->h.flags);
	}
	cstor_idmaps_write(b, &first, "uidmap", r->uidmap, r->n_uidmap);
	cstor_idmaps_write(b, &first, "gidmap", r->gidmap, r->n_gidmap);
	cstor_json_kv_strv_omit(b, &first, "big-data-names", r->h.bd.names);
	if (r->h.extra) {
		const char *key;
		json_t *val;
		json_object_foreach(r->h.extra, key, val)
		{
			cstor_json_key(b, &first, key);
			cstor_json_value(b, val);
		}
	}
	cstor_buf_putc(b, '}');
}

CSTOR_DEFINE_REC_CODEC(layer, NULL);

bool cstor_layer_rec_flag_bool(const struct cstor_layer_rec *r, const char *key)
{
	json_t *v = r->h.flags ? json_object_get(r->h.flags, key) : NULL;
	return v && json_is_true(v);
}

int cstor_layer_rec_set_flag(struct cstor_layer_rec *r, const char *key, json_t *value)
{
	if (!r->h.flags && !(r->h.flags = json_object())) {
		json_decref(value);
		return -ENOMEM;
	}
	return json_object_set_new(r->h.flags, key, value) < 0 ? -ENOMEM : 0;
}

void cstor_layer_rec_del_flag(struct cstor_layer_rec *r, const char *key)
{
	if (r->h.flags)
		json_object_del(r->h.flags, key);
}
