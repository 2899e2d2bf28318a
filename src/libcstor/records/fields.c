/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "util/error-internal.h"
#include "records/layer-rec.h"
#include "records/fields.h"
#include "util/cleanup.h"
#include "util/strv.h"

int cstor_rec_get_str(char **out, json_t *obj, const char *key, const char *what,
		      cstor_error *err)
{
	*out = NULL;
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return cstor_error_set(err, EBADMSG, "%s: \"%s\" must be a string", what, key);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return cstor_error_set(err, EBADMSG, "%s: \"%s\" contains a NUL character", what,
				       key);
	return (*out = strdup(json_string_value(v))) ? 0
						     : cstor_error_set(err, ENOMEM, "out of memory");
}

int cstor_rec_get_strv(char ***out, json_t *obj, const char *key, const char *what,
		       cstor_error *err)
{
	char where[512];
	snprintf(where, sizeof(where), "%s: \"%s\"", what, key);
	return cstor_json_get_strv(out, json_object_get(obj, key), where, err);
}

int cstor_rec_get_map(json_t **out, json_t *obj, const char *key, json_type type,
		      const char *what, cstor_error *err)
{
	*out = NULL;
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return cstor_error_set(err, EBADMSG, "%s: \"%s\" must be an object", what, key);
	const char *k;
	json_t *e;
	json_object_foreach(v, k, e)
	{
		if (json_typeof(e) != type)
			return cstor_error_set(err, EBADMSG, "%s: \"%s\": bad value for \"%s\"", what,
					       key, k);
	}
	if (json_object_size(v) > 0 && !(*out = json_deep_copy(v)))
		return cstor_error_set(err, ENOMEM, "out of memory");
	return 0;
}

int cstor_rec_get_object(json_t **out, json_t *obj, const char *key, const char *what,
			 cstor_error *err)
{
	*out = NULL;
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return cstor_error_set(err, EBADMSG, "%s: \"%s\" must be an object", what, key);
	*out = json_incref(v);
	return 0;
}

int cstor_rec_get_extra(json_t **out, json_t *obj, const char *const *known)
{
	*out = NULL;
	const char *key;
	json_t *val;
	json_object_foreach(obj, key, val)
	{
		bool k = false;
		for (size_t i = 0; known[i] && !k; i++)
			k = streq(key, known[i]);
		if (k)
			continue;
		if (!*out && !(*out = json_object()))
			return -ENOMEM;
		if (json_object_set(*out, key, val) < 0)
			return -ENOMEM;
	}
	return 0;
}

bool cstor_rec_id_valid(const char *id)
{
	return id && id[0] && !strchr(id, '/') && !streq(id, ".") && !streq(id, "..");
}

void cstor_rec_write_map(cstor_buf *b, bool *first, const char *key, const json_t *map)
{
	if (!map || json_object_size(map) == 0)
		return;
	cstor_json_key(b, first, key);
	cstor_json_value(b, map);
}

void cstor_rec_write_extra(cstor_buf *b, bool *first, const json_t *extra)
{
	if (!extra)
		return;
	const char *key;
	json_t *val;
	json_object_foreach((json_t *)extra, key, val)
	{
		cstor_json_key(b, first, key);
		cstor_json_value(b, val);
	}
}

int cstor_bigdata_index_parse(struct cstor_bigdata_index *bi, json_t *obj, const char *what,
			      cstor_error *err)
{
	int r;
	memset(bi, 0, sizeof(*bi));
	if ((r = cstor_rec_get_strv(&bi->names, obj, "big-data-names", what, err)) < 0 ||
	    (r = cstor_rec_get_map(&bi->sizes, obj, "big-data-sizes", JSON_INTEGER, what, err)) < 0 ||
	    (r = cstor_rec_get_map(&bi->digests, obj, "big-data-digests", JSON_STRING, what, err)) <
		    0) {
		cstor_bigdata_index_done(bi);
		return r;
	}
	return 0;
}

void cstor_bigdata_index_write(cstor_buf *b, bool *first, const struct cstor_bigdata_index *bi)
{
	cstor_json_kv_strv_omit(b, first, "big-data-names", bi->names);
	cstor_rec_write_map(b, first, "big-data-sizes", bi->sizes);
	cstor_rec_write_map(b, first, "big-data-digests", bi->digests);
}

void cstor_bigdata_index_done(struct cstor_bigdata_index *bi)
{
	strv_free(bi->names);
	json_decref(bi->sizes);
	json_decref(bi->digests);
	memset(bi, 0, sizeof(*bi));
}

int cstor_bigdata_index_set(struct cstor_bigdata_index *bi, const char *key, int64_t size,
			    const char *digest, bool *changed)
{
	*changed = false;
	if (!bi->sizes && !(bi->sizes = json_object()))
		return -ENOMEM;
	if (!bi->digests && !(bi->digests = json_object()))
		return -ENOMEM;
	json_t *os = json_object_get(bi->sizes, key), *od = json_object_get(bi->digests, key);
	if (!os || json_integer_value(os) != size || !od || !streq(json_string_value(od), digest))
		*changed = true;
	if (json_object_set_new(bi->sizes, key, json_integer(size)) < 0 ||
	    json_object_set_new(bi->digests, key, json_string(digest)) < 0)
		return -ENOMEM;
	if (!strv_contains(bi->names, key)) {
		if (!bi->names && !(bi->names = calloc(1, sizeof(char *))))
			return -ENOMEM;
		if (strv_append(&bi->names, key) < 0)
			return -ENOMEM;
		*changed = true;
	}
	return 0;
}

int64_t cstor_bigdata_index_size(const struct cstor_bigdata_index *bi, const char *key)
{
	json_t *v = bi->sizes ? json_object_get(bi->sizes, key) : NULL;
	return v ? json_integer_value(v) : -1;
}

const char *cstor_bigdata_index_digest(const struct cstor_bigdata_index *bi, const char *key)
{
	json_t *v = bi->digests ? json_object_get(bi->digests, key) : NULL;
	return v ? json_string_value(v) : NULL;
}

char **cstor_names_dedup(char *const *v)
{
	_cleanup_strv_free_ char **r = calloc(1, sizeof(char *));
	if (!r)
		return NULL;
	for (size_t i = 0; v && v[i]; i++)
		if (!strv_contains(r, v[i]) && strv_append(&r, v[i]) < 0)
			return NULL;
	return TAKE_PTR(r);
}

int cstor_obj_head_parse(struct cstor_obj_head *h, json_t *obj, const char *const *known,
			 const char *kind, const char *where, cstor_error *err)
{
	memset(h, 0, sizeof(*h));
	int k;
	if ((k = cstor_rec_get_str(&h->id, obj, "id", where, err)) < 0 ||
	    (k = cstor_rec_get_strv(&h->names, obj, "names", where, err)) < 0 ||
	    (k = cstor_rec_get_str(&h->metadata, obj, "metadata", where, err)) < 0 ||
	    (k = cstor_bigdata_index_parse(&h->bd, obj, where, err)) < 0 ||
	    (k = cstor_rec_get_str(&h->created, obj, "created", where, err)) < 0 ||
	    (k = cstor_rec_get_object(&h->flags, obj, "flags", where, err)) < 0)
		goto fail;
	if (cstor_rec_get_extra(&h->extra, obj, known) < 0) {
		k = cstor_error_set(err, ENOMEM, "out of memory");
		goto fail;
	}
	/* IDs name directories: one that could climb out of the store is
	 * never acted upon. */
	if (!cstor_rec_id_valid(h->id)) {
		k = cstor_error_set(err, EBADMSG, "%s: invalid %s id \"%s\"", where, kind,
				    h->id ? h->id : "");
		goto fail;
	}
	return 0;
fail:
	cstor_obj_head_done(h);
	return k;
}

void cstor_obj_head_done(struct cstor_obj_head *h)
{
	free(h->id);
	strv_free(h->names);
	free(h->metadata);
	cstor_bigdata_index_done(&h->bd);
	free(h->created);
	json_decref(h->flags);
	json_decref(h->extra);
	memset(h, 0, sizeof(*h));
}

int cstor_random_id(char out[65])
{
	static const char hex[] = "0123456789abcdef";
	for (;;) {
		unsigned char b[32];
		if (getrandom(b, sizeof(b), 0) != sizeof(b))
			return -errno;
		for (int i = 0; i < 32; i++) {
			out[2 * i] = hex[b[i] >> 4];
			out[2 * i + 1] = hex[b[i] & 15];
		}
		out[64] = 0;
		bool digits = true;
		for (int i = 0; i < 12 && digits; i++)
			digits = out[i] >= '0' && out[i] <= '9';
		if (!digits)
			return 0;
	}
}
