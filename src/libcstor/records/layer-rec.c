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
	free(r->id);
	strv_free(r->names);
	free(r->parent);
	free(r->metadata);
	free(r->mountlabel);
	free(r->created);
	free(r->compressed_digest);
	free(r->uncompressed_digest);
	free(r->toc_digest);
	free(r->uidset);
	free(r->gidset);
	json_decref(r->flags);
	free(r->uidmap);
	free(r->gidmap);
	strv_free(r->big_data_names);
	json_decref(r->extra);
	free(r);
}

char *cstor_time_now_json(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	cstor_buf b = { 0 };
	cstor_json_time(&b, ts.tv_sec, ts.tv_nsec);
	/* Stored without the quotes the JSON writer adds. */
	char *s = cstor_buf_steal(&b, NULL);
	if (!s)
		return NULL;
	size_t l = strlen(s);
	memmove(s, s + 1, l - 2);
	s[l - 2] = 0;
	return s;
}

char *cstor_time_normalize(const char *in)
{
	/* YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM), as Go's RFC 3339
	 * parser takes it; written back the way Go marshals the time. */
	static const char pat[] = "dddd-dd-ddTdd:dd:dd";
	size_t i = 0;
	for (; pat[i]; i++)
		if (pat[i] == 'd' ? !(in[i] >= '0' && in[i] <= '9') : in[i] != pat[i])
			return NULL;
	const char *frac = NULL;
	size_t nfrac = 0;
	if (in[i] == '.') {
		frac = in + ++i;
		while (in[i] >= '0' && in[i] <= '9' && nfrac < 9)
			i++, nfrac++;
		if (nfrac == 0 || (in[i] >= '0' && in[i] <= '9'))
			return NULL;
	}
	const char *zone = in + i;
	bool utc = streq(zone, "Z") || streq(zone, "+00:00") || streq(zone, "-00:00");
	if (!utc && !((zone[0] == '+' || zone[0] == '-') && strlen(zone) == 6 &&
		      zone[1] >= '0' && zone[1] <= '9' && zone[2] >= '0' && zone[2] <= '9' &&
		      zone[3] == ':' && zone[4] >= '0' && zone[4] <= '9' && zone[5] >= '0' &&
		      zone[5] <= '9'))
		return NULL;
	while (nfrac > 0 && frac[nfrac - 1] == '0')
		nfrac--;
	char *out;
	if (asprintf(&out, "%.19s%s%.*s%s", in, nfrac ? "." : "", (int)nfrac, frac ? frac : "",
		     utc ? "Z" : zone) < 0)
		return NULL;
	return out;
}

int cstor_json_get_strv(char ***out, json_t *v, const char *what, cstor_error *err)
{
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return cstor_error_set(err, EBADMSG, "%s: expected a list of strings", what);
	_cleanup_strv_free_ char **r = calloc(1, sizeof(char *));
	if (!r)
		return cstor_error_set(err, ENOMEM, "out of memory");
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e)
	{
		if (!json_is_string(e))
			return cstor_error_set(err, EBADMSG, "%s: expected a list of strings", what);
		/* A NUL would silently cut the string short here. */
		if (strlen(json_string_value(e)) != json_string_length(e))
			return cstor_error_set(err, EBADMSG, "%s: a string contains a NUL character",
					       what);
		if (strv_append(&r, json_string_value(e)) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
	}
	*out = TAKE_PTR(r);
	return 0;
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

int cstor_idmaps_parse(struct cstor_idmap **out, size_t *n, json_t *obj, const char *key,
		       const char *what, cstor_error *err)
{
	*out = NULL;
	*n = 0;
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return cstor_error_set(err, EBADMSG, "%s: \"%s\": expected a list of ID mappings",
				       what, key);
	size_t k = json_array_size(v);
	struct cstor_idmap *m = calloc(k ? k : 1, sizeof(*m));
	if (!m)
		return cstor_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < k; i++) {
		json_t *e = json_array_get(v, i);
		static const char *const keys[] = { "container_id", "host_id", "size" };
		uint32_t *dst[] = { &m[i].container_id, &m[i].host_id, &m[i].size };
		for (int j = 0; j < 3; j++) {
			json_t *x = json_is_object(e) ? json_object_get(e, keys[j]) : NULL;
			/* IDs are 32 bits: a wider value would change on rewrite. */
			if (x && (!json_is_integer(x) || json_integer_value(x) < 0 ||
				  json_integer_value(x) > UINT32_MAX)) {
				free(m);
				return cstor_error_set(err, EBADMSG, "%s: \"%s\": bad ID mapping",
						       what, key);
			}
			*dst[j] = x ? (uint32_t)json_integer_value(x) : 0;
		}
		if (!json_is_object(e)) {
			free(m);
			return cstor_error_set(err, EBADMSG, "%s: \"%s\": bad ID mapping", what,
					       key);
		}
	}
	*out = m;
	*n = k;
	return 0;
}

void cstor_idmaps_write(cstor_buf *b, bool *first, const char *key, const struct cstor_idmap *m,
			size_t n)
{
	if (n == 0)
		return;
	cstor_json_key(b, first, key);
	cstor_buf_putc(b, '[');
	for (size_t i = 0; i < n; i++)
		cstor_buf_printf(b, "%s{\"container_id\":%u,\"host_id\":%u,\"size\":%u}", i ? "," : "",
				 m[i].container_id, m[i].host_id, m[i].size);
	cstor_buf_putc(b, ']');
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
	if ((k = cstor_rec_get_str(&r->id, obj, "id", where, err)) < 0 ||
	    (k = cstor_rec_get_strv(&r->names, obj, "names", where, err)) < 0 ||
	    (k = cstor_rec_get_str(&r->parent, obj, "parent", where, err)) < 0 ||
	    (k = cstor_rec_get_str(&r->metadata, obj, "metadata", where, err)) < 0 ||
	    (k = cstor_rec_get_str(&r->mountlabel, obj, "mountlabel", where, err)) < 0 ||
	    (k = cstor_rec_get_str(&r->created, obj, "created", where, err)) < 0 ||
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
	    (k = cstor_rec_get_strv(&r->big_data_names, obj, "big-data-names", where, err)) < 0) {
		cstor_layer_rec_free(r);
		return k;
	}
	r->compression = (int)compression;
	if (!r->id || !r->id[0]) {
		cstor_layer_rec_free(r);
		return cstor_error_set(err, EBADMSG, "%s: layer record without an id", where);
	}
	/* IDs name directories: one that could climb out of the store is
	 * never acted upon. */
	if (!cstor_rec_id_valid(r->id)) {
		k = cstor_error_set(err, EBADMSG, "%s: invalid layer id \"%s\"", where, r->id);
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
		r->flags = json_incref(flags);
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
		if ((!r->extra && !(r->extra = json_object())) ||
		    json_object_set(r->extra, key, val) < 0) {
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
	cstor_json_kv_str(b, &first, "id", r->id);
	cstor_json_kv_strv_omit(b, &first, "names", r->names);
	cstor_json_kv_str_omit(b, &first, "parent", r->parent);
	cstor_json_kv_str_omit(b, &first, "metadata", r->metadata);
	cstor_json_kv_str_omit(b, &first, "mountlabel", r->mountlabel);
	cstor_json_kv_str(b, &first, "created", r->created ? r->created : "0001-01-01T00:00:00Z");
	cstor_json_kv_str_omit(b, &first, "compressed-diff-digest", r->compressed_digest);
	cstor_json_kv_int_omit(b, &first, "compressed-size", r->compressed_size);
	cstor_json_kv_str_omit(b, &first, "diff-digest", r->uncompressed_digest);
	cstor_json_kv_str_omit(b, &first, "toc-digest", r->toc_digest);
	cstor_json_kv_int_omit(b, &first, "diff-size", r->uncompressed_size);
	cstor_json_kv_int_omit(b, &first, "compression", r->compression);
	write_idset(b, &first, "uidset", r->uidset, r->n_uidset);
	write_idset(b, &first, "gidset", r->gidset, r->n_gidset);
	if (r->flags && json_object_size(r->flags) > 0) {
		cstor_json_key(b, &first, "flags");
		cstor_json_value(b, r->flags);
	}
	cstor_idmaps_write(b, &first, "uidmap", r->uidmap, r->n_uidmap);
	cstor_idmaps_write(b, &first, "gidmap", r->gidmap, r->n_gidmap);
	cstor_json_kv_strv_omit(b, &first, "big-data-names", r->big_data_names);
	if (r->extra) {
		const char *key;
		json_t *val;
		json_object_foreach(r->extra, key, val)
		{
			cstor_json_key(b, &first, key);
			cstor_json_value(b, val);
		}
	}
	cstor_buf_putc(b, '}');
}

int cstor_layer_recs_parse(struct cstor_layer_rec ***out, size_t *n, const char *data, size_t len,
			   const char *path, cstor_error *err)
{
	*out = NULL;
	*n = 0;
	json_t *root = NULL;
	int rr = cstor_recfile_parse_list(&root, data, len, path, "layers", err);
	if (rr < 0 || !root)
		return rr;
	size_t k = json_array_size(root);
	struct cstor_layer_rec **recs = calloc(k + 1, sizeof(*recs));
	if (!recs) {
		json_decref(root);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	for (size_t j = 0; j < k; j++) {
		char where[4200];
		snprintf(where, sizeof(where), "loading \"%s\": layer %zu", path, j);
		int r = cstor_layer_rec_parse(&recs[j], json_array_get(root, j), where, err);
		if (r < 0) {
			for (size_t x = 0; x < j; x++)
				cstor_layer_rec_free(recs[x]);
			free(recs);
			json_decref(root);
			return r;
		}
	}
	json_decref(root);
	*out = recs;
	*n = k;
	return 0;
}

bool cstor_layer_rec_flag_bool(const struct cstor_layer_rec *r, const char *key)
{
	json_t *v = r->flags ? json_object_get(r->flags, key) : NULL;
	return v && json_is_true(v);
}

int cstor_layer_rec_set_flag(struct cstor_layer_rec *r, const char *key, json_t *value)
{
	if (!r->flags && !(r->flags = json_object())) {
		json_decref(value);
		return -ENOMEM;
	}
	return json_object_set_new(r->flags, key, value) < 0 ? -ENOMEM : 0;
}

void cstor_layer_rec_del_flag(struct cstor_layer_rec *r, const char *key)
{
	if (r->flags)
		json_object_del(r->flags, key);
}
