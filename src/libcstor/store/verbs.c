/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <jansson.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "archive/digest.h"
#include "oci/refname.h"
#include "records/bigdata.h"
#include "store/verbs.h"
#include "util/cleanup.h"
#include "util/copy.h"
#include "util/gojson.h"
#include "util/error-internal.h"
#include "util/strv.h"

/* Store @i of the set: the primary, then the read-only ones. */
static struct cstor_objstore *store_at(const struct cstor_objset *set, size_t i)
{
	return i == 0 ? set->primary : set->ro[i - 1];
}

static const char *kind_of(const struct cstor_objset *set)
{
	return set->primary->ops->kind;
}

int cstor_objset_fail_code(const cstor_error *err)
{
	return err && err->code ? -err->code : -ENOENT;
}


/*
 * Image names are references as import stores them
 * ("docker.io/library/busybox:latest"), while people type "busybox",
 * "busybox:latest", "docker.io/library/busybox" or a digest. A reference
 * not found as given is normalised as import normalises it; then a short
 * name ("busybox", "busybox:1") is matched against the last component of
 * every name, and more than one image matching is an error listing them;
 * NAME@DIGEST, @DIGEST and sha256:... find the image with that digest.
 * Only for kinds whose names are references (images).
 */
struct candidates {
	struct cstor_obj_head *first;
	size_t n;
	char *list; /* "a, b" for the message */
};

static int add_candidate(struct candidates *c, struct cstor_obj_head *h, const char *shown)
{
	if (c->first == h)
		return 0;
	if (!c->first)
		c->first = h;
	c->n++;
	char *l = NULL;
	if (asprintf(&l, "%s%s%s", c->list ? c->list : "", c->list ? ", " : "", shown) < 0)
		return -ENOMEM;
	free(c->list);
	c->list = l;
	return 0;
}

static int resolve_candidates(struct cstor_obj_head **out, struct candidates *c, const char *kind,
			      const char *ref, bool *amb, cstor_error *err)
{
	_cleanup_free_ char *list = TAKE_PTR(c->list);
	if (c->n == 1)
		*out = c->first;
	if (c->n <= 1)
		return 0;
	*amb = true;
	return cstor_error_set(err, EINVAL, "%s name \"%s\" is ambiguous: it may be %s", kind, ref,
			       list ? list : "?");
}

static bool has_repo(const struct cstor_obj_head *h, const char *repo)
{
	size_t l = strlen(repo);
	for (size_t i = 0; h->names && h->names[i]; i++)
		if (strncmp(h->names[i], repo, l) == 0 &&
		    (h->names[i][l] == ':' || h->names[i][l] == '@' || h->names[i][l] == 0))
			return true;
	return false;
}

static int by_digest(struct cstor_obj_head **out, struct cstor_objstore *os, const char *repo,
		     const char *digest, const char *ref, bool *amb, cstor_error *err)
	CSTOR_REQUIRES_SHARED(&os->lock)
{
	struct candidates c = { 0 };
	for (size_t i = 0; i < os->n; i++) {
		struct cstor_obj_head *h = os->recs[i];
		if (os->ops->has_digest(h, digest) && (!repo || has_repo(h, repo)) &&
		    add_candidate(&c, h, h->id) < 0) {
			free(c.list);
			return cstor_error_set(err, ENOMEM, "out of memory");
		}
	}
	return resolve_candidates(out, &c, os->ops->kind, ref, amb, err);
}

static bool ends_with(const char *s, const char *tail)
{
	size_t sl = strlen(s), tl = strlen(tail);
	return sl > tl && strcmp(s + sl - tl, tail) == 0;
}

/* @tail: "/busybox:latest"; @bare, when the user gave no tag: "/busybox"
 * (names stored without normalisation, by create-image or Go's CLI). */
static int by_short_name(struct cstor_obj_head **out, struct cstor_objstore *os, const char *tail,
			 const char *bare, const char *ref, bool *amb, cstor_error *err)
	CSTOR_REQUIRES_SHARED(&os->lock)
{
	struct candidates c = { 0 };
	for (size_t i = 0; i < os->n; i++) {
		struct cstor_obj_head *h = os->recs[i];
		for (size_t k = 0; h->names && h->names[k]; k++) {
			const char *n = h->names[k];
			if ((ends_with(n, tail) || (bare && ends_with(n, bare))) &&
			    add_candidate(&c, h, n) < 0) {
				free(c.list);
				return cstor_error_set(err, ENOMEM, "out of memory");
			}
		}
	}
	return resolve_candidates(out, &c, os->ops->kind, ref, amb, err);
}

/* cstor_objstore_lookup, then the spellings above: 0 (*out NULL when not
 * found, *amb when ambiguous), or -EINVAL (ambiguous, candidates in
 * @err), -ENOMEM. */
static int lookup(struct cstor_obj_head **out, struct cstor_objstore *os, const char *ref,
		  bool *amb, cstor_error *err) CSTOR_REQUIRES_SHARED(&os->lock)
{
	*amb = false;
	*out = cstor_objstore_lookup(os, ref, amb);
	if (*out || *amb || !os->ops->names_are_references || !os->ops->has_digest)
		return 0;
	if (ref[0] == '@')
		return by_digest(out, os, NULL, ref + 1, ref, amb, err);
	if (strncmp(ref, "sha256:", 7) == 0)
		return by_digest(out, os, NULL, ref, ref, amb, err);
	_cleanup_free_ char *norm = NULL;
	if (cstor_refname_normalize(&norm, ref, NULL) < 0)
		return 0; /* not a reference: not found */
	if ((*out = cstor_objstore_by_name(os, norm)))
		return 0;
	const char *at = strchr(norm, '@');
	if (at) {
		_cleanup_free_ char *repo = strndup(norm, (size_t)(at - norm));
		if (!repo)
			return cstor_error_set(err, ENOMEM, "out of memory");
		return by_digest(out, os, repo, at + 1, ref, amb, err);
	}
	/* A short name: its domain and path are not given. */
	if (strchr(ref, '/'))
		return 0;
	_cleanup_free_ char *bare = NULL;
	if (!strchr(ref, ':') && asprintf(&bare, "/%s", ref) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	return by_short_name(out, os, strrchr(norm, '/'), bare, ref, amb, err);
}

/* 1 when @primary has a record with ID @id, 0 when not, or -errno. */
static int primary_has(struct cstor_objstore *primary, const char *id, cstor_error *err)
{
	int r = cstor_objstore_start_reading(primary, err);
	if (r != 0)
		return r < 0 ? r : -EIO;
	r = cstor_objstore_by_id(primary, id) != NULL;
	cstor_objstore_done(primary);
	return r;
}

int cstor_objset_find(const struct cstor_objset *set, const char *ref, cstor_obj_copy_fn copy,
		      void *out, struct cstor_objstore **where, cstor_error *err)
{
	bool amb = false;
	/* The name lookup() tries after @ref itself: the lookup index can
	 * answer for it too. */
	_cleanup_free_ char *norm = NULL;
	const struct cstor_objstore_ops *ops = set->primary->ops;
	/* Whether lookup() would search no further than that name: not for
	 * digests and short names, which it finds by scanning the records. */
	bool final_miss = true;
	if (ref && ops->names_are_references && ops->has_digest) {
		if (ref[0] == '@' || strncmp(ref, "sha256:", 7) == 0)
			final_miss = false;
		else if (cstor_refname_normalize(&norm, ref, NULL) < 0)
			free(TAKE_PTR(norm)); /* not a reference: not found */
		else
			final_miss = !strchr(norm, '@') && strchr(ref, '/');
	}
	for (size_t i = 0; i <= set->n_ro; i++) {
		struct cstor_objstore *os = store_at(set, i);
		struct cstor_obj_head *h = NULL;
		/* One record wanted: the lookup index next to the records
		 * file may give it without loading them all. */
		bool absent = false;
		int r = cstor_objstore_start_lookup(os, ref, norm, final_miss, &h, &absent, err);
		if (r != 0)
			return r;
		bool a = false;
		if (!h && !absent)
			r = lookup(&h, os, ref, &a, err);
		amb |= a;
		if (h && i > 0 && set->ro_shadowed_by_id) {
			/* The primary store comes first in the lock order:
			 * look there with this one released, then again. */
			_cleanup_free_ char *id = strdup(h->id);
			cstor_objstore_done(os);
			if (!id)
				return cstor_error_set(err, ENOMEM, "out of memory");
			r = primary_has(set->primary, id, err);
			if (r < 0)
				return r;
			if (r > 0)
				continue;
			r = cstor_objstore_start_reading(os, err);
			if (r != 0)
				return r;
			h = NULL;
			r = lookup(&h, os, ref, &a, err);
		}
		if (h)
			r = copy(out, os, h, err);
		cstor_objstore_done(os);
		if (r < 0 && !h)
			return r;
		if (h) {
			if (r == 0 && where)
				*where = os;
			return r;
		}
	}
	return cstor_obj_not_found(err, kind_of(set), ref, amb);
}

/* Why @ref is not in the primary store (whose lock the caller holds). */
static struct cstor_obj_head *not_writable(const struct cstor_objset *set, const char *ref,
					   bool amb, const char *what, cstor_error *err)
{
	int r = -ENOENT;
	/* The read-only stores come after the primary one in the lock order:
	 * we may read them while holding it. */
	for (size_t i = 0; !amb && i < set->n_ro && r == -ENOENT; i++) {
		struct cstor_objstore *ro = set->ro[i];
		if (cstor_objstore_start_reading(ro, NULL) != 0)
			continue;
		bool a;
		struct cstor_obj_head *h = NULL;
		if (lookup(&h, ro, ref, &a, NULL) == 0 && h)
			r = cstor_error_set(err, EROFS, "%s %s is in a read-only store", kind_of(set),
					    ref);
		cstor_objstore_done(ro);
	}
	if (r == -ENOENT)
		r = cstor_obj_not_found(err, kind_of(set), ref, amb);
	if (what)
		cstor_error_wrap(err, r, "%s", what);
	return NULL;
}

struct cstor_obj_head *cstor_objset_find_writable(struct cstor_objstore *primary,
						  const struct cstor_objset *set, const char *ref,
						  const char *what, cstor_error *err)
{
	bool amb = false;
	struct cstor_obj_head *h = NULL;
	int r = lookup(&h, primary, ref, &amb, err);
	if (r < 0) {
		if (what)
			cstor_error_wrap(err, r, "%s", what);
		return NULL;
	}
	return h ? h : not_writable(set, ref, amb, what, err);
}

/* The names @h has after @op. */
static char **new_names(const struct cstor_obj_head *h, const char *const *names,
			enum cstor_names_op op)
{
	_cleanup_strv_free_ char **all = calloc(1, sizeof(char *));
	if (!all)
		return NULL;
	for (size_t i = 0; op != CSTOR_NAMES_SET && h->names && h->names[i]; i++)
		if (!(op == CSTOR_NAMES_REMOVE && strv_contains((char *const *)names, h->names[i])) &&
		    strv_append(&all, h->names[i]) < 0)
			return NULL;
	for (size_t i = 0; op != CSTOR_NAMES_REMOVE && names && names[i]; i++)
		if (strv_append(&all, names[i]) < 0)
			return NULL;
	return TAKE_PTR(all);
}

/* Copy record @ref of a read-only store of @set into the primary store
 * @os (held for writing), with its big-data directory: the record the
 * names then change on. NULL with @err set when no read-only store has it
 * (or the copy failed). */
static struct cstor_obj_head *copy_up(struct cstor_objstore *os, const struct cstor_objset *set,
				      const char *ref, cstor_error *err) CSTOR_REQUIRES(&os->lock)
{
	const struct cstor_rec_codec *codec = os->ops->codec;
	for (size_t i = 0; i < set->n_ro; i++) {
		struct cstor_objstore *ro = set->ro[i];
		if (cstor_objstore_start_reading(ro, NULL) != 0)
			continue;
		bool amb = false;
		struct cstor_obj_head *h = NULL;
		if (lookup(&h, ro, ref, &amb, NULL) < 0 || !h) {
			cstor_objstore_done(ro);
			continue;
		}
		/* The record through its own codec: every field, unknown
		 * ones included, as the read-only store has it. */
		cstor_buf b = { 0 };
		codec->write(&b, h);
		_cleanup_free_ char *text = cstor_buf_steal(&b, NULL);
		_cleanup_free_ char *src_dir = cstor_objstore_data_dir(ro, h->id);
		_cleanup_free_ char *dst_dir = cstor_objstore_data_dir(os, h->id);
		cstor_objstore_done(ro);
		if (!text || !src_dir || !dst_dir) {
			cstor_error_set(err, ENOMEM, "out of memory");
			return NULL;
		}
		json_error_t je;
		json_t *obj = json_loads(text, 0, &je);
		if (!obj) {
			cstor_error_set(err, EBADMSG, "copy %s %s: %s", kind_of(set), ref, je.text);
			return NULL;
		}
		struct cstor_obj_head *nh = NULL;
		int r = codec->parse(&nh, obj, os->file.path, err);
		json_decref(obj);
		if (r < 0)
			return NULL;
		if (codec->loaded && codec->loaded(nh, os->file.path, err) < 0) {
			codec->free(nh);
			return NULL;
		}
		/* The names move over with set_names below, taken from any
		 * other record of the primary store that has them. */
		_cleanup_strv_free_ char **names = nh->names;
		nh->names = NULL;
		_cleanup_close_ int sfd = open(src_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (sfd >= 0) {
			if (mkdir(dst_dir, 0700) < 0 && errno != EEXIST) {
				cstor_error_errno(err, errno, "create %s", dst_dir);
				codec->free(nh);
				return NULL;
			}
			_cleanup_close_ int dfd = open(dst_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (dfd < 0 || cstor_copy_tree(sfd, dfd, 0, err) < 0) {
				if (dfd < 0)
					cstor_error_errno(err, errno, "open %s", dst_dir);
				codec->free(nh);
				return NULL;
			}
		}
		if (cstor_objstore_add(os, nh) < 0 ||
		    cstor_objstore_set_names(os, nh, names ? names : (char *[]){ NULL }) < 0) {
			cstor_error_set(err, ENOMEM, "out of memory");
			return NULL;
		}
		return nh;
	}
	return NULL;
}

int cstor_objset_change_names(const struct cstor_objset *set, const struct cstor_verb_hooks *hooks,
			      const char *ref, const char *const *names, enum cstor_names_op op,
			      const char *what, cstor_error *err)
{
	struct cstor_objstore *os = set->primary;
	int r = cstor_objstore_start_writing(os, err);
	if (r != 0)
		return r;
	struct cstor_obj_head *h = cstor_objset_find_writable(os, set, ref, what, err);
	if (!h && hooks && hooks->names_copy_up && cstor_objset_fail_code(err) == -EROFS) {
		cstor_error_clear(err);
		h = copy_up(os, set, ref, err);
	}
	_cleanup_strv_free_ char **all = h ? new_names(h, names, op) : NULL;
	if (!h)
		r = cstor_objset_fail_code(err);
	else if (!all || cstor_objstore_set_names(os, h, all) < 0 ||
		 (hooks && hooks->names_changed && hooks->names_changed(h) < 0))
		r = cstor_error_set(err, ENOMEM, "out of memory");
	else
		r = cstor_objstore_save(os, err);
	cstor_objstore_done(os);
	return r;
}

int cstor_objset_set_metadata(const struct cstor_objset *set, const char *ref,
			      const char *metadata, const char *what, cstor_error *err)
{
	struct cstor_objstore *os = set->primary;
	int r = cstor_objstore_start_writing(os, err);
	if (r != 0)
		return r;
	struct cstor_obj_head *h = cstor_objset_find_writable(os, set, ref, what, err);
	char *m = metadata && metadata[0] ? strdup(metadata) : NULL;
	if (!h)
		r = cstor_objset_fail_code(err);
	else if (metadata && metadata[0] && !m)
		r = cstor_error_set(err, ENOMEM, "out of memory");
	else {
		free(h->metadata);
		h->metadata = TAKE_PTR(m);
		r = cstor_objstore_save(os, err);
	}
	free(m);
	cstor_objstore_done(os);
	return r;
}

static int check_key(const char *key, cstor_error *err)
{
	if (!key || !key[0])
		return cstor_error_set(err, EINVAL, "a data item needs a non-empty name");
	return 0;
}

struct read_item {
	const char *key;
	void **data;
	size_t *len;
};

/* The item is a file beside the records, read under the same lock. */
static int read_item(void *out, struct cstor_objstore *os, const struct cstor_obj_head *h,
		     cstor_error *err)
{
	struct read_item *ri = out;
	_cleanup_free_ char *dir = cstor_objstore_data_dir(os, h->id);
	return dir ? cstor_big_data_read(ri->data, ri->len, dir, ri->key, err)
		   : cstor_error_set(err, ENOMEM, "out of memory");
}

int cstor_objset_get_big_data(void **data, size_t *len, const struct cstor_objset *set,
			      const char *ref, const char *key, cstor_error *err)
{
	int r = check_key(key, err);
	if (r < 0)
		return r;
	struct read_item ri = { key, data, len };
	return cstor_objset_find(set, ref, read_item, &ri, NULL, err);
}

int cstor_objset_set_big_data(const struct cstor_objset *set, const struct cstor_verb_hooks *hooks,
			      const char *ref, const char *key, const void *data, size_t len,
			      const char *digest, const char *what, cstor_error *err)
{
	int r = check_key(key, err);
	if (r < 0)
		return r;
	struct cstor_objstore *os = set->primary;
	r = cstor_objstore_start_writing(os, err);
	if (r != 0)
		return r;
	struct cstor_obj_head *h = cstor_objset_find_writable(os, set, ref, what, err);
	bool changed = false;
	if (!h)
		r = cstor_objset_fail_code(err);
	else
		r = cstor_objstore_write_big_data(os, h, key, data, len, digest, &changed, err);
	if (r == 0 && hooks && hooks->big_data_changed)
		r = hooks->big_data_changed(h, &changed, err);
	if (r == 0 && changed)
		r = cstor_objstore_save(os, err);
	cstor_objstore_done(os);
	return r;
}

struct item_info {
	const char *key;
	char *id;
	int64_t size;
	char *digest;
};

static int copy_info(void *out, struct cstor_objstore *os, const struct cstor_obj_head *h,
		     cstor_error *err)
{
	struct item_info *ii = out;
	const char *d = cstor_bigdata_index_digest(&h->bd, ii->key);
	ii->size = cstor_bigdata_index_size(&h->bd, ii->key);
	if (!(ii->id = strdup(h->id)) || (d && !(ii->digest = strdup(d))))
		return cstor_error_set(err, ENOMEM, "out of memory");
	return 0;
}

int cstor_objset_big_data_info(int64_t *size, char **digest, const struct cstor_objset *set,
			       const char *ref, const char *key, bool compute_digest,
			       cstor_error *err)
{
	int r = check_key(key, err);
	if (r < 0)
		return r;
	struct item_info ii = { .key = key, .size = -1 };
	_cleanup_free_ char *id = NULL;
	r = cstor_objset_find(set, ref, copy_info, &ii, NULL, err);
	id = ii.id;
	if (r < 0 || (size ? ii.size >= 0 : ii.digest != NULL)) {
		if (r == 0 && size)
			*size = ii.size;
		if (r == 0 && digest)
			*digest = TAKE_PTR(ii.digest);
		free(ii.digest);
		return r;
	}
	/* Not recorded (an older record): the file's, as Go has it. */
	void *data = NULL;
	size_t len = 0;
	if ((size || compute_digest) &&
	    cstor_objset_get_big_data(&data, &len, set, id, key, NULL) == 0) {
		char buf[CSTOR_DIGEST_STRING_MAX];
		if (size)
			*size = (int64_t)len;
		else if ((r = cstor_digest_buffer(buf, data, len, err)) == 0 &&
			 !(*digest = strdup(buf)))
			r = cstor_error_set(err, ENOMEM, "out of memory");
		free(data);
		return r;
	}
	return cstor_error_set(err, ENOENT, "%s of data item \"%s\" of %s %s is not known",
			       size ? "size" : "digest", key, kind_of(set), id);
}
