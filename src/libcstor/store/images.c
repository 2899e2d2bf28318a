/* SPDX-License-Identifier: Apache-2.0 */
/* The public image API on top of the image stores (objstore.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cstor/image.h>
#include <cstor/layer.h>

#include "archive/digest.h"
#include "records/bigdata.h"
#include "util/error-internal.h"
#include "util/fileutil.h"
#include "store/objects-internal.h"
#include "util/cleanup.h"
#include "util/strv.h"

static char *const none[] = { NULL };

static bool image_has_digest(const struct cstor_obj_head *h, const char *digest)
{
	const struct cstor_image_rec *r = CSTOR_IMAGE_REC(h);
	if (r->digest && strcmp(r->digest, digest) == 0)
		return true;
	return r->digests && strv_contains(r->digests, digest);
}

const struct cstor_objstore_ops cstor_image_store_ops = {
	.kind = "image",
	.json_name = "images.json",
	.lock_name = "images.lock",
	.codec = &cstor_image_rec_codec,
	.names_are_references = true,
	.has_digest = image_has_digest,
	.own_repeats_kept = true,
};

/* Snapshots */

void cstor_image_free(cstor_image *img)
{
	if (!img)
		return;
	cstor_rec_unref(&cstor_image_rec_codec, img->rec ? &img->rec->h : NULL);
	free(img);
}

void cstor_image_list_free(cstor_image **list)
{
	for (size_t i = 0; list && list[i]; i++)
		cstor_image_free(list[i]);
	free(list);
}

int cstor_image_snapshot(cstor_image **out, struct cstor_objstore *is,
			 const struct cstor_image_rec *rec)
{
	cstor_image *img = calloc(1, sizeof(*img));
	struct cstor_obj_head *h = NULL;
	int r = img ? cstor_objstore_copy(is, &rec->h, &h) : -ENOMEM;
	if (r < 0) {
		free(img);
		return r;
	}
	img->rec = CSTOR_IMAGE_REC(h);
	img->read_only = is->read_only;
	*out = img;
	return 0;
}

static const char *const *list_or_none(char **v)
{
	return (const char *const *)(v ? v : (char **)none);
}

static const char *nonempty(const char *s)
{
	return s && s[0] ? s : NULL;
}

const char *cstor_image_id(const cstor_image *img)
{
	return img->rec->h.id;
}

const char *const *cstor_image_names(const cstor_image *img)
{
	return list_or_none(img->rec->h.names);
}

const char *const *cstor_image_names_history(const cstor_image *img)
{
	return list_or_none(img->rec->names_history);
}

const char *cstor_image_top_layer(const cstor_image *img)
{
	return nonempty(img->rec->layer);
}

const char *const *cstor_image_mapped_top_layers(const cstor_image *img)
{
	return list_or_none(img->rec->mapped_layers);
}

const char *cstor_image_digest(const cstor_image *img)
{
	return nonempty(img->rec->digest);
}

const char *const *cstor_image_digests(const cstor_image *img)
{
	return list_or_none(img->rec->digests);
}

const char *cstor_image_metadata(const cstor_image *img)
{
	return img->rec->h.metadata;
}

const char *cstor_image_created(const cstor_image *img)
{
	return img->rec->h.created;
}

const char *const *cstor_image_big_data_names(const cstor_image *img)
{
	return list_or_none(img->rec->h.bd.names);
}

int cstor_image_read_only(const cstor_image *img)
{
	return img->read_only;
}

char *cstor_image_to_json(const cstor_image *img)
{
	cstor_buf b = { 0 };
	cstor_image_rec_write(&b, img->rec);
	return cstor_buf_steal(&b, NULL);
}

/* Listing and lookup */

static int copy_image(void *out, struct cstor_objstore *is, const struct cstor_obj_head *h,
		      cstor_error *err)
	CSTOR_REQUIRES_SHARED(&is->lock)
{
	if (cstor_image_snapshot(out, is, CSTOR_IMAGE_REC(h)) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	return 0;
}

int cstor_store_find_image(cstor_image **out, struct cstor_objstore **where,
			   struct cstor_store *s, const char *ref, cstor_error *err)
{
	struct cstor_objset set = cstor_store_image_set(s);
	return cstor_objset_find(&set, ref, copy_image, out, where, err);
}

int cstor_store_image(cstor_image **out, cstor_store *s, const char *ref, cstor_error *err)
{
	return cstor_store_find_image(out, NULL, s, ref, err);
}

static int append(cstor_image ***list, size_t *n, struct cstor_objstore *is,
		  const struct cstor_image_rec *rec) CSTOR_REQUIRES_SHARED(&is->lock)
{
	cstor_image **nl = realloc(*list, (*n + 2) * sizeof(*nl));
	if (!nl)
		return -ENOMEM;
	*list = nl;
	int r = cstor_image_snapshot(&nl[*n], is, rec);
	if (r == 0)
		nl[++*n] = NULL;
	return r;
}

/* All images (@digest NULL) or those @digest finds. */
static int collect(cstor_image ***out, struct cstor_store *s, const char *digest,
		   cstor_error *err)
{
	cstor_image **list = calloc(1, sizeof(*list));
	size_t n = 0;
	if (!list)
		return cstor_error_set(err, ENOMEM, "out of memory");
	int r = 0;
	for (size_t i = 0; i <= s->n_ro_images && r == 0; i++) {
		struct cstor_objstore *is = i == 0 ? s->images : s->ro_images[i - 1];
		r = cstor_objstore_start_reading(is, err);
		if (r != 0)
			break;
		for (size_t k = 0; k < is->n && r == 0; k++) {
			struct cstor_image_rec *rec = CSTOR_IMAGE_REC(is->recs[k]);
			if (!digest || strv_contains(rec->digests, digest))
				r = append(&list, &n, is, rec);
		}
		cstor_objstore_done(is);
		if (r == -ENOMEM)
			r = cstor_error_set(err, ENOMEM, "out of memory");
	}
	if (r < 0) {
		cstor_image_list_free(list);
		return r;
	}
	*out = list;
	return 0;
}

int cstor_store_images(cstor_image ***out, cstor_store *s, cstor_error *err)
{
	return collect(out, s, NULL, err);
}

int cstor_store_images_by_digest(cstor_image ***out, cstor_store *s, const char *digest,
				 cstor_error *err)
{
	char why[128];
	if (!digest || cstor_digest_validate(digest, NULL) < 0) {
		cstor_digest_go_error(why, sizeof(why), digest ? digest : "");
		return cstor_error_set(err, EINVAL, "%s: %s", digest ? digest : "", why);
	}
	return collect(out, s, digest, err);
}

/* Creation */

static bool id_ok(const char *id)
{
	return cstor_rec_id_valid(id) && !strchr(id, ' ');
}

/* Find the top layer with the primary layer store held: there, or in a
 * read-only store (later in the lock order). *id gets its ID. */
static int resolve_layer(char **id, struct cstor_store *s, struct cstor_objstore *ls,
			 const char *ref, cstor_error *err) CSTOR_REQUIRES_SHARED(&ls->lock)
{
	bool amb = false;
	struct cstor_layer_rec *l = cstor_layer_store_lookup(ls, ref, &amb);
	if (l) {
		*id = strdup(l->h.id);
		return *id ? 0 : cstor_error_set(err, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < s->n_ro_layers; i++) {
		struct cstor_objstore *ro = s->ro_layers[i];
		int r = cstor_objstore_start_reading(ro, err);
		if (r != 0)
			return r;
		bool a = false;
		struct cstor_layer_rec *rl = cstor_layer_store_lookup(ro, ref, &a);
		amb |= a;
		if (rl)
			*id = strdup(rl->h.id);
		cstor_objstore_done(ro);
		if (rl)
			return *id ? 0 : cstor_error_set(err, ENOMEM, "out of memory");
	}
	return cstor_obj_not_found(err, "layer", ref, amb);
}

static int create_locked(struct cstor_image_rec **out, struct cstor_objstore *is,
			 const cstor_image_options *o, const char *layer, cstor_error *err)
	CSTOR_REQUIRES(&is->lock)
{
	char rid[65];
	const char *id = o->id;
	int r;
	if (!id) {
		if ((r = cstor_objstore_new_id(is, rid, err)) < 0)
			return r;
		id = rid;
	}
	if (cstor_objstore_by_id(is, id))
		return cstor_error_set(err, EEXIST, "an image with ID \"%s\" already exists", id);
	_cleanup_strv_free_ char **names = cstor_names_dedup((char *const *)o->names);
	if (!names)
		return cstor_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; names[i]; i++) {
		struct cstor_obj_head *other = cstor_objstore_by_name(is, names[i]);
		if (other)
			return cstor_error_set(err, EEXIST,
					       "image name \"%s\" is already associated with image "
					       "\"%s\"",
					       names[i], other->id);
	}
	struct cstor_image_rec *rec = calloc(1, sizeof(*rec));
	bool given = o->version >= 2 && o->created;
	if (!rec || !(rec->h.id = strdup(id)) ||
	    !(rec->h.created = given ? cstor_time_normalize(o->created) : cstor_time_now_json()) ||
	    (o->digest && o->digest[0] && !(rec->digest = strdup(o->digest))) ||
	    (layer && !(rec->layer = strdup(layer))) ||
	    (o->metadata && o->metadata[0] && !(rec->h.metadata = strdup(o->metadata)))) {
		cstor_image_rec_free(rec);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	rec->h.names = TAKE_PTR(names);
	if ((r = cstor_image_rec_recompute_digests(rec, err)) < 0) {
		cstor_image_rec_free(rec);
		return cstor_error_wrap(err, r, "validating digests for new image");
	}
	if (cstor_objstore_add(is, &rec->h) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	if ((r = cstor_objstore_save(is, err)) < 0) {
		cstor_objstore_remove(is, &rec->h);
		/* The file may hold the image if the save failed after its
		 * rename: written again without it, best effort, so that a
		 * create that failed leaves no image behind. */
		cstor_objstore_save(is, NULL);
		return r;
	}
	*out = rec;
	return 0;
}

int cstor_store_create_image(cstor_image **out, cstor_store *s, const cstor_image_options *o,
			     cstor_error *err)
{
	if (!o || o->version < 1 || o->version > CSTOR_IMAGE_OPTIONS_VERSION)
		return cstor_error_set(err, EINVAL, "unsupported cstor_image_options version");
	if (o->flags)
		return cstor_error_set(err, EINVAL, "unknown image flags 0x%x", o->flags);
	if (o->version >= 2 && o->created) {
		char *t = cstor_time_normalize(o->created);
		free(t);
		if (!t)
			return cstor_error_set(err, EINVAL, "invalid creation date \"%s\" (not RFC 3339)",
					       o->created);
	}
	if (o->id && !id_ok(o->id))
		return cstor_error_set(err, EINVAL, "invalid image ID \"%s\"", o->id);
	if (o->digest && o->digest[0] && cstor_digest_validate(o->digest, NULL) < 0) {
		char why[128];
		cstor_digest_go_error(why, sizeof(why), o->digest);
		return cstor_error_set(err, EINVAL,
				       "validating digests for new image: validating image digest "
				       "\"%s\": %s",
				       o->digest, why);
	}
	/* The layer store shared, so that the top layer cannot be deleted
	 * before the image that uses it is recorded. */
	struct cstor_objstore *ls = s->layers;
	int r = cstor_objstore_start_reading(ls, err);
	if (r != 0)
		return r;
	_cleanup_free_ char *layer = NULL;
	if (o->top_layer && o->top_layer[0] && (r = resolve_layer(&layer, s, ls, o->top_layer, err)) < 0)
		goto out;
	struct cstor_objstore *is = s->images;
	r = cstor_objstore_start_writing(is, err);
	if (r != 0)
		goto out;
	struct cstor_image_rec *rec = NULL;
	r = create_locked(&rec, is, o, layer, err);
	if (r == 0 && out && cstor_image_snapshot(out, is, rec) < 0)
		r = cstor_error_set(err, ENOMEM, "out of memory");
	cstor_objstore_done(is);
out:
	cstor_objstore_done(ls);
	return r;
}

/* Changes to images of the primary store */

static int push_history(struct cstor_image_rec *rec, const char *name)
{
	char **h = calloc(1, sizeof(char *));
	if (!h || strv_append(&h, name) < 0) {
		strv_free(h);
		return -ENOMEM;
	}
	for (size_t i = 0; rec->names_history && rec->names_history[i]; i++)
		if (!strv_contains(h, rec->names_history[i]) &&
		    strv_append(&h, rec->names_history[i]) < 0) {
			strv_free(h);
			return -ENOMEM;
		}
	strv_free(rec->names_history);
	rec->names_history = h;
	return 0;
}

/* Every name the image now has goes to the front of its history in turn,
 * as containers/storage's updateNames does. */
static int names_changed(struct cstor_obj_head *h)
{
	for (size_t i = 0; h->names && h->names[i]; i++)
		if (push_history(CSTOR_IMAGE_REC(h), h->names[i]) < 0)
			return -ENOMEM;
	return 0;
}

/* The digests that find the image follow its manifests. */
static int big_data_changed(struct cstor_obj_head *h, bool *changed, cstor_error *err)
{
	return cstor_image_rec_recompute_digests(CSTOR_IMAGE_REC(h), err);
}

static const struct cstor_verb_hooks image_hooks = {
	.names_changed = names_changed,
	.big_data_changed = big_data_changed,
	.names_copy_up = true,
};

static int change_names(struct cstor_store *s, const char *ref, const char *const *names,
			enum cstor_names_op op, cstor_error *err)
{
	struct cstor_objset set = cstor_store_image_set(s);
	return cstor_objset_change_names(&set, &image_hooks, ref, names, op, NULL, err);
}

int cstor_image_set_names(cstor_store *s, const char *ref, const char *const *names,
			  cstor_error *err)
{
	return change_names(s, ref, names, CSTOR_NAMES_SET, err);
}

int cstor_image_add_names(cstor_store *s, const char *ref, const char *const *names,
			  cstor_error *err)
{
	return change_names(s, ref, names, CSTOR_NAMES_ADD, err);
}

int cstor_image_remove_names(cstor_store *s, const char *ref, const char *const *names,
			     cstor_error *err)
{
	return change_names(s, ref, names, CSTOR_NAMES_REMOVE, err);
}

int cstor_image_set_metadata(cstor_store *s, const char *ref, const char *metadata,
			     cstor_error *err)
{
	struct cstor_objset set = cstor_store_image_set(s);
	return cstor_objset_set_metadata(&set, ref, metadata, NULL, err);
}

/* Big data */

int cstor_image_get_big_data(void **data, size_t *len, cstor_store *s, const char *ref,
			     const char *key, cstor_error *err)
{
	struct cstor_objset set = cstor_store_image_set(s);
	return cstor_objset_get_big_data(data, len, &set, ref, key, err);
}

int cstor_image_big_data_size(int64_t *size, cstor_store *s, const char *ref, const char *key,
			      cstor_error *err)
{
	struct cstor_objset set = cstor_store_image_set(s);
	return cstor_objset_big_data_info(size, NULL, &set, ref, key, false, err);
}

/* Go records the digest of every item it writes and computes none. */
int cstor_image_big_data_digest(char **digest, cstor_store *s, const char *ref, const char *key,
				cstor_error *err)
{
	struct cstor_objset set = cstor_store_image_set(s);
	return cstor_objset_big_data_info(NULL, digest, &set, ref, key, false, err);
}

int cstor_image_set_big_data(cstor_store *s, const char *ref, const char *key, const void *data,
			     size_t len, const char *manifest_digest, cstor_error *err)
{
	if (!key || !key[0])
		return cstor_error_set(err, EINVAL, "a data item needs a non-empty name");
	int r;
	char digest[CSTOR_DIGEST_STRING_MAX];
	if (startswith(key, CSTOR_IMAGE_MANIFEST_PREFIX) && manifest_digest) {
		if ((r = cstor_digest_validate(manifest_digest, err)) < 0)
			return cstor_error_wrap(err, -EINVAL, "digest of manifest \"%s\"", key);
		snprintf(digest, sizeof(digest), "%s", manifest_digest);
	} else if ((r = cstor_digest_buffer(digest, data, len, err)) < 0)
		return r;
	struct cstor_objset set = cstor_store_image_set(s);
	return cstor_objset_set_big_data(&set, &image_hooks, ref, key, data, len, digest, NULL, err);
}

/* Size */

int cstor_store_image_size(int64_t *size, cstor_store *s, const char *ref, cstor_error *err)
{
	cstor_image *img = NULL;
	int r = cstor_store_image(&img, s, ref, err);
	if (r < 0)
		return r;
	_cleanup_strv_free_ char **queue = calloc(1, sizeof(char *));
	int64_t total = 0;
	if (!queue)
		goto oom;
	if (cstor_image_top_layer(img) && strv_append(&queue, cstor_image_top_layer(img)) < 0)
		goto oom;
	for (const char *const *m = cstor_image_mapped_top_layers(img); *m; m++)
		if (!strv_contains(queue, *m) && strv_append(&queue, *m) < 0)
			goto oom;
	for (size_t i = 0; queue[i]; i++) {
		cstor_layer *l = NULL;
		if ((r = cstor_store_layer(&l, s, queue[i], err)) < 0)
			goto out;
		int64_t n = cstor_layer_uncompressed_size(l);
		/* The recorded size is only valid with a digest: else
		 * compute it. */
		if (!cstor_layer_uncompressed_digest(l) || n < 0)
			r = cstor_store_diff_size(&n, s, NULL, cstor_layer_id(l), err);
		const char *parent = cstor_layer_parent(l);
		if (r == 0 && parent && !strv_contains(queue, parent) && strv_append(&queue, parent) < 0)
			r = cstor_error_set(err, ENOMEM, "out of memory");
		cstor_layer_free(l);
		if (r < 0)
			goto out;
		total += n;
	}
	for (const char *const *k = cstor_image_big_data_names(img); *k; k++) {
		int64_t n = 0;
		if ((r = cstor_image_big_data_size(&n, s, cstor_image_id(img), *k, err)) < 0)
			goto out;
		total += n;
	}
	*size = total;
	goto out;
oom:
	r = cstor_error_set(err, ENOMEM, "out of memory");
out:
	cstor_image_free(img);
	return r;
}

/* get-image-dir, get-image-run-dir: <root>/<driver>-images/<id>/userdata
 * of the primary store, created (as containers/storage does, also for an
 * image of a read-only store: the read-only store is never written). */
static int image_userdata_dir(char **path, cstor_store *s, const char *ref, bool run,
			      cstor_error *err)
{
	*path = NULL;
	cstor_image *img = NULL;
	struct cstor_objstore *where = NULL;
	int r = cstor_store_find_image(&img, &where, s, ref, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *p = NULL;
	if (asprintf(&p, "%s/%s-images/%s/userdata", run ? s->cfg.run_root : s->cfg.graph_root,
		     s->driver_ops->name, cstor_image_id(img)) < 0) {
		p = NULL;
		r = cstor_error_set(err, ENOMEM, "out of memory");
	} else if ((r = cstor_mkdir_p(p, 0700, err)) == 0) {
		*path = TAKE_PTR(p);
	}
	cstor_image_free(img);
	return r;
}

int cstor_image_dir(char **path, cstor_store *s, const char *ref, cstor_error *err)
{
	return image_userdata_dir(path, s, ref, false, err);
}

int cstor_image_run_dir(char **path, cstor_store *s, const char *ref, cstor_error *err)
{
	return image_userdata_dir(path, s, ref, true, err);
}
