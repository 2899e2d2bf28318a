/* SPDX-License-Identifier: Apache-2.0 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "util/error-internal.h"
#include "records/fields.h"
#include "records/recfile.h"
#include "util/cleanup.h"
#include "util/strv.h"

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
	/* One path component: no '/', not "." or "..", and short enough to
	 * be a file name (a longer one could never name its directory, and
	 * every path made from it would fail somewhere else, less clearly). */
	return id && id[0] && strlen(id) <= NAME_MAX && !strchr(id, '/') && !streq(id, ".") &&
	       !streq(id, "..");
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
	if (digest) {
		if (!bi->sizes && !(bi->sizes = json_object()))
			return -ENOMEM;
		if (!bi->digests && !(bi->digests = json_object()))
			return -ENOMEM;
		json_t *os = json_object_get(bi->sizes, key), *od = json_object_get(bi->digests, key);
		if (!os || json_integer_value(os) != size || !od ||
		    !streq(json_string_value(od), digest))
			*changed = true;
		if (json_object_set_new(bi->sizes, key, json_integer(size)) < 0 ||
		    json_object_set_new(bi->digests, key, json_string(digest)) < 0)
			return -ENOMEM;
	}
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
		const char *id = h->id ? h->id : "";
		k = cstor_error_set(err, EBADMSG, "%s: invalid %s id \"%.128s\"%s", where, kind,
				    id, strlen(id) > 128 ? " (cut, too long)" : "");
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
	free(h->text);
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

int cstor_recs_parse(const struct cstor_rec_codec *c, struct cstor_obj_head ***out, size_t *n,
		     const char *data, size_t len, const char *path, cstor_error *err)
{
	*out = NULL;
	*n = 0;
	json_t *root = NULL;
	int r = cstor_recfile_parse_list(&root, data, len, path, c->whats, err);
	if (r < 0 || !root)
		return r;
	size_t k = json_array_size(root);
	struct cstor_obj_head **recs = calloc(k + 1, sizeof(*recs));
	if (!recs)
		r = cstor_error_set(err, ENOMEM, "out of memory");
	for (size_t j = 0; recs && j < k; j++) {
		char where[4200];
		snprintf(where, sizeof(where), "loading \"%s\": %s %zu", path, c->what, j);
		if ((r = c->parse(&recs[j], json_array_get(root, j), where, err)) == 0 &&
		    c->loaded && (r = c->loaded(recs[j], where, err)) < 0)
			c->free(recs[j]);
		if (r < 0) {
			for (size_t x = 0; x < j; x++)
				c->free(recs[x]);
			free(TAKE_PTR(recs));
		}
	}
	json_decref(root);
	if (r < 0)
		return r;
	*out = recs;
	*n = k;
	return 0;
}

int cstor_rec_copy(const struct cstor_rec_codec *c, struct cstor_obj_head **out,
		   const struct cstor_obj_head *h)
{
	cstor_buf b = { 0 };
	c->write(&b, h);
	size_t len = 0;
	_cleanup_free_ char *s = cstor_buf_steal(&b, &len);
	if (!s)
		return -ENOMEM;
	json_t *j = json_loads(s, JSON_ALLOW_NUL, NULL);
	if (!j)
		return -ENOMEM;
	int r = c->parse(out, j, c->what, NULL);
	json_decref(j);
	if (r == 0 && c->loaded && (r = c->loaded(*out, c->what, NULL)) < 0) {
		c->free(*out);
		*out = NULL;
	}
	if (r == 0) {
		(*out)->refs = 1;
		/* Kept: a later copy of a record that still writes this text
		 * can share this one (store/engine.c). */
		(*out)->text = TAKE_PTR(s);
		(*out)->text_len = len;
	}
	return r;
}

struct cstor_obj_head *cstor_rec_ref(struct cstor_obj_head *h)
{
	__atomic_add_fetch(&h->refs, 1, __ATOMIC_RELAXED);
	return h;
}

void cstor_rec_unref(const struct cstor_rec_codec *c, struct cstor_obj_head *h)
{
	if (h && __atomic_sub_fetch(&h->refs, 1, __ATOMIC_ACQ_REL) == 0)
		c->free(h);
}
