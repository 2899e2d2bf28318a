/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What involves layers, images and containers together: opening the image
 * and container stores, the layer-in-use check, deleting images and
 * containers with their layers, wiping the store.
 *
 * Lock order (docs/locking.md): the primary layer store, then the mount
 * state nested in it, then read-only layer stores, then the primary image
 * store, read-only image stores, the container store. Writers that change
 * several hold the layer store exclusively throughout, ask the mount state
 * what they need before taking the image and container stores, and never
 * take an earlier lock while holding a later one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cstor/container.h>
#include <cstor/image.h>
#include <cstor/layer.h>

#include "util/error-internal.h"
#include "mount/mount-internal.h"
#include "records/pending.h"
#include "store/objects-internal.h"
#include "util/cleanup.h"
#include "util/strv.h"

/* The layer-in-use hook: with the primary layer store held exclusively by
 * delete_layer, look at the image and container stores (later in the
 * order). */
static int layer_in_use(struct cstor_store *s, const char *id, cstor_error *err)
{
	for (size_t i = 0; i <= s->n_ro_images; i++) {
		struct cstor_objstore *is = i == 0 ? s->images : s->ro_images[i - 1];
		int r = cstor_objstore_start_reading(is, err);
		if (r != 0)
			return r;
		for (size_t k = 0; k < is->n && r == 0; k++) {
			struct cstor_image_rec *img = CSTOR_IMAGE_REC(is->recs[k]);
			if (streq_ptr(img->layer, id) || strv_contains(img->mapped_layers, id))
				r = cstor_error_set(err, EBUSY, "delete layer %s: layer is used by image %s",
						    id, img->h.id);
		}
		cstor_objstore_done(is);
		if (r < 0)
			return r;
	}
	struct cstor_objstore *cs = s->containers;
	int r = cstor_objstore_start_reading(cs, err);
	if (r != 0)
		return r;
	for (size_t k = 0; k < cs->n && r == 0; k++) {
		struct cstor_container_rec *c = CSTOR_CONTAINER_REC(cs->recs[k]);
		if (streq(c->layer, id))
			r = cstor_error_set(err, EBUSY, "delete layer %s: layer is used by container %s",
					    id, c->h.id);
	}
	cstor_objstore_done(cs);
	return r;
}

/*
 * The journals of imports and image deletes that died (records/pending.h):
 * their layers that nothing uses, that no live journal lists (an import in
 * progress may be about to use them) and that no apply is writing into
 * go, children before parents; then the journal. The layer store is held
 * exclusively; the in-use checks take the image and container stores
 * shared, after it, in lock order. What went is said in s->collected, for
 * gc to report. A journal is read only here and by gc, so the cost in the
 * common case is one read of the directory per load. The layer store's
 * writer cleanup calls it through s->collect_journals (set below, with the
 * image and container stores it asks).
 */
static int collect_journals(struct cstor_store *s, struct cstor_objstore *ls, cstor_error *err)
	CSTOR_REQUIRES(&ls->lock)
{
	struct cstor_pending_dead *dead = NULL;
	size_t n = 0;
	_cleanup_strv_free_ char **live = NULL;
	int r = cstor_pending_scan_all(&dead, &n, &live, s->layers_dir, err);
	if (r < 0 || n == 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++) {
		size_t k = strv_length(dead[i].ids);
		/* A layer spared for a live operation keeps the journal, so
		 * that a later writer can try it (and its parents) again. */
		bool spared = false;
		/* An image the dead import made, while nobody claimed it (no
		 * names: its import names it last; no container): before its
		 * layers, which it would keep in use. */
		for (size_t j = 0; dead[i].images && dead[i].images[j] && r == 0; j++) {
			const char *id = dead[i].images[j];
			if (strv_contains(live, id)) {
				spared = true;
				continue;
			}
			cstor_error e = CSTOR_ERROR_INIT;
			int d = cstor_image_drop_unclaimed(s, id, &e);
			cstor_error_clear(&e);
			char *msg;
			if (d > 0 && (asprintf(&msg, "image %s: removed, left unnamed by an interrupted %s",
					       id, dead[i].what) < 0 ||
				      strv_consume(&s->collected, msg) < 0))
				r = cstor_error_set(err, ENOMEM, "out of memory");
		}
		for (bool progress = true; progress && r == 0;) {
			progress = false;
			for (size_t j = 0; j < k && r == 0; j++) {
				const char *id = dead[i].ids[j];
				struct cstor_layer_rec *rec = cstor_layer_store_by_id(ls, id);
				if (!rec)
					continue;
				if (strv_contains(live, id) ||
				    cstor_apply_in_progress(s->run_layers_dir, id)) {
					spared = true;
					continue;
				}
				cstor_error e = CSTOR_ERROR_INIT;
				int d = cstor_layer_delete_checked(s, ls, rec, &e);
				cstor_error_clear(&e);
				if (d < 0)
					continue; /* in use, a parent, mounted: it stays */
				progress = true;
				char *msg;
				if (asprintf(&msg, "layer %s: removed, left unused by an interrupted %s",
					     id, dead[i].what) < 0 ||
				    strv_consume(&s->collected, msg) < 0)
					r = cstor_error_set(err, ENOMEM, "out of memory");
			}
		}
		if (r == 0 && !spared)
			cstor_pending_remove(s->layers_dir, dead[i].file);
	}
	cstor_pending_dead_free(dead, n);
	return r;
}

int cstor_store_open_objects(struct cstor_store *s, cstor_error *err)
{
	int r = cstor_objstore_open(&s->images, &cstor_image_store_ops, s->images_dir, false, err);
	if (r < 0)
		return r;
	size_t n = strv_length(s->image_stores);
	if (!(s->ro_images = calloc(n + 2, sizeof(*s->ro_images))))
		return cstor_error_set(err, ENOMEM, "out of memory");
	/* With a split image store, the graph root's images are found
	 * first among the others, as newest containers/storage does. */
	if (s->graph_images_dir) {
		/* Writable (it is ours): an image there can still be deleted,
		 * as Go's rwImageStores allow. Nothing else writes it. */
		if ((r = cstor_objstore_open(&s->ro_images[0], &cstor_image_store_ops,
					     s->graph_images_dir, false, err)) < 0)
			return r;
		s->graph_images = s->ro_images[0];
		s->n_ro_images++;
	}
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *dir = NULL;
		if (asprintf(&dir, "%s/%s-images", s->image_stores[i], s->driver_ops->name) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
		if ((r = cstor_objstore_open(&s->ro_images[s->n_ro_images], &cstor_image_store_ops,
					     dir, true, err)) < 0)
			return r;
		s->n_ro_images++;
	}
	/* A transient store keeps its lock and its (volatile) records on the
	 * run root; containers.json stays on the graph root. */
	struct cstor_objstore_where w = {
		.dir = s->containers_dir,
		.lock_dir = s->cfg.transient_store ? s->run_containers_dir : NULL,
		.aside_dir = s->cfg.transient_store ? s->run_containers_dir : NULL,
	};
	if ((r = cstor_objstore_open_at(&s->containers, &cstor_container_store_ops, &w, false,
					err)) < 0)
		return r;
	s->layer_in_use = layer_in_use;
	s->collect_journals = collect_journals;
	return 0;
}

void cstor_store_free_objects(struct cstor_store *s)
{
	cstor_objstore_free(s->containers);
	for (size_t i = 0; i < s->n_ro_images; i++)
		cstor_objstore_free(s->ro_images[i]);
	free(s->ro_images);
	cstor_objstore_free(s->images);
	s->containers = s->images = s->graph_images = NULL;
	s->ro_images = NULL;
	s->n_ro_images = 0;
}

/* Refuse to delete a layer that is mounted or being applied. Asks the
 * mount state, so the caller holds the layer store and nothing later. */
static int check_deletable(struct cstor_store *s, struct cstor_objstore *ls, const char *id,
			   const char *what, cstor_error *err) CSTOR_REQUIRES(&ls->lock)
{
	int64_t count = 0;
	int r = cstor_mount_live_count(&count, s, id, err);
	if (r < 0)
		return r;
	if (count > 0)
		return cstor_error_set(err, EBUSY, "%s: layer %s is mounted (%lld times)", what, id,
				       (long long)count);
	if (cstor_apply_in_progress(s->run_layers_dir, id))
		return cstor_error_set(err, EBUSY, "%s: a diff is being applied to layer %s", what,
				       id);
	return 0;
}

int cstor_image_drop_unclaimed(struct cstor_store *s, const char *id, cstor_error *err)
{
	struct cstor_objstore *is = s->images, *cs = s->containers;
	int r = cstor_objstore_start_writing(is, err);
	if (r != 0)
		return r < 0 ? r : -EIO;
	struct cstor_obj_head *h = cstor_objstore_by_id(is, id);
	if (!h || (h->names && h->names[0])) {
		cstor_objstore_done(is);
		return 0;
	}
	r = cstor_objstore_start_reading(cs, err);
	if (r != 0) {
		cstor_objstore_done(is);
		return r < 0 ? r : -EIO;
	}
	bool used = false;
	for (size_t i = 0; i < cs->n && !used; i++)
		used = streq(CSTOR_CONTAINER_REC(cs->recs[i])->image, id);
	cstor_objstore_done(cs);
	r = used ? 0 : cstor_objstore_delete(is, h, err);
	cstor_objstore_done(is);
	return r < 0 ? r : !used;
}

/* Delete primary layer @id (held exclusively); a missing one is fine. */
static int delete_layer_locked(struct cstor_objstore *ls, const char *id, cstor_error *err)
	CSTOR_REQUIRES(&ls->lock)
{
	struct cstor_layer_rec *l = cstor_layer_store_by_id(ls, id);
	return l ? cstor_layer_store_delete(ls, l, err) : 0;
}

/* Containers */

struct del_container {
	char *id;
	char *layer;
};

static int delete_container_locked(struct del_container *dc, struct cstor_store *s,
				   struct cstor_objstore *ls, cstor_error *err)
	CSTOR_REQUIRES(&ls->lock)
{
	struct cstor_objstore *cs = s->containers;
	int r = cstor_objstore_start_writing(cs, err);
	if (r != 0)
		return r;
	struct cstor_obj_head *h = cstor_objstore_by_id(cs, dc->id);
	if (!h || !streq(CSTOR_CONTAINER_REC(h)->layer, dc->layer)) {
		/* Changed while we checked its layer: as if not found. */
		r = cstor_obj_not_found(err, "container", dc->id, false);
		goto out;
	}
	/* The record first: an interruption then leaves an unused layer,
	 * never a container whose layer is gone. */
	if ((r = cstor_objstore_delete(cs, h, err)) < 0 ||
	    (r = delete_layer_locked(ls, dc->layer, err)) < 0)
		goto out;
	r = cstor_container_remove_dirs(s, dc->id, err);
out:
	cstor_objstore_done(cs);
	return r;
}

int cstor_store_delete_container(cstor_store *s, const char *ref, cstor_error *err)
{
	struct cstor_objstore *ls = s->layers;
	int r = cstor_objstore_start_writing(ls, err);
	if (r != 0)
		return r;
	cstor_container *c = NULL;
	struct del_container dc = { 0 };
	if ((r = cstor_store_container(&c, s, ref, err)) < 0)
		goto out;
	dc.id = strdup(cstor_container_id(c));
	dc.layer = strdup(cstor_container_layer(c));
	if (!dc.id || !dc.layer) {
		r = cstor_error_set(err, ENOMEM, "out of memory");
		goto out;
	}
	if (cstor_layer_store_by_id(ls, dc.layer) &&
	    (r = check_deletable(s, ls, dc.layer, "delete container", err)) < 0)
		goto out;
	r = delete_container_locked(&dc, s, ls, err);
out:
	cstor_container_free(c);
	free(dc.id);
	free(dc.layer);
	cstor_objstore_done(ls);
	return r;
}

/* Images */

struct del_image {
	uint32_t flags;
	char *id;
	char **candidates; /* layers checked for mounts: the chain from the top */
	char **plan;       /* layers to delete, in order */
};

/* Go's DeleteImage walk: the mapped top layers, then the top layer and each
 * parent while it is not another image's top layer, not a container's
 * layer, has no children besides those being removed, and (cstor) lives in
 * the primary store. */
static int plan_layers(struct del_image *di, struct cstor_objstore *ls,
		       struct cstor_objstore *is, struct cstor_objstore *cs,
		       const struct cstor_image_rec *img, cstor_error *err)
	CSTOR_REQUIRES(&ls->lock) CSTOR_REQUIRES_SHARED(&is->lock) CSTOR_REQUIRES_SHARED(&cs->lock)
{
	/* The other images' layers, borrowed from their records (which the
	 * plan outlives only as copies): sized first, so that filling it is
	 * linear in the store. */
	size_t count = 0;
	for (size_t i = 0; i < is->n; i++) {
		const struct cstor_image_rec *o = CSTOR_IMAGE_REC(is->recs[i]);
		count += (o->layer != NULL) + strv_length(o->mapped_layers);
	}
	_cleanup_free_ const char **others = calloc(count + 1, sizeof(char *));
	if (!others || !(di->plan = calloc(1, sizeof(char *))))
		return cstor_error_set(err, ENOMEM, "out of memory");
	size_t no = 0;
	for (size_t i = 0; i < is->n; i++) {
		const struct cstor_image_rec *o = CSTOR_IMAGE_REC(is->recs[i]);
		if (o == img)
			continue;
		if (o->layer)
			others[no++] = o->layer;
		for (size_t k = 0; o->mapped_layers && o->mapped_layers[k]; k++)
			others[no++] = o->mapped_layers[k];
	}
	for (size_t k = 0; img->mapped_layers && img->mapped_layers[k]; k++)
		if (cstor_layer_store_by_id(ls, img->mapped_layers[k]) &&
		    strv_append(&di->plan, img->mapped_layers[k]) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
	const char *layer = img->layer && img->layer[0] ? img->layer : NULL;
	while (layer) {
		struct cstor_layer_rec *l = cstor_layer_store_by_id(ls, layer);
		/* Planned already: the parents loop (a corrupt store). */
		if (!l || strv_contains((char *const *)others, layer) || strv_contains(di->plan, layer))
			break;
		bool used = false;
		for (size_t i = 0; i < cs->n && !used; i++) {
			const struct cstor_container_rec *c = CSTOR_CONTAINER_REC(cs->recs[i]);
			used = streq(c->layer, layer) || streq(c->h.id, layer);
		}
		/* Children that stay: of this layer, and for the top layer of
		 * its mapped copies too. A child that is also an ancestor (the
		 * parents of a corrupt store loop) is on the way down: the walk
		 * takes it next. */
		for (size_t i = 0; i < ls->n && !used; i++) {
			const char *p = cstor_layer_store_at(ls, i)->parent;
			const char *cid = cstor_layer_store_at(ls, i)->h.id;
			if (!p || strv_contains(di->plan, cid))
				continue;
			used = (streq(p, layer) ||
				(streq(layer, img->layer) && strv_contains(img->mapped_layers, p))) &&
			       !cstor_layer_store_is_ancestor(ls, layer, cid);
		}
		if (used)
			break;
		if (strv_append(&di->plan, layer) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
		layer = l->parent && l->parent[0] ? l->parent : NULL;
	}
	return 0;
}

/* With the layer store and the image store held exclusively (as Go does,
 * even for a dry run) and the container store shared. */
static int delete_image_locked(struct del_image *di, struct cstor_objstore *ls,
			       struct cstor_objstore *is, struct cstor_objstore *cs,
			       cstor_error *err)
	CSTOR_REQUIRES(&ls->lock) CSTOR_REQUIRES(&is->lock) CSTOR_REQUIRES_SHARED(&cs->lock)
{
	struct cstor_obj_head *h = cstor_objstore_by_id(is, di->id);
	if (!h)
		return cstor_obj_not_found(err, "image", di->id, false);
	const char *user = NULL;
	for (size_t i = 0; i < cs->n; i++)
		if (streq(CSTOR_CONTAINER_REC(cs->recs[i])->image, di->id))
			user = cs->recs[i]->id; /* the last one, as Go reports */
	if (user)
		return cstor_error_set(err, EBUSY, "image used by %s: image is in use by a container",
				       user);
	int r;
	if (!(di->flags & CSTOR_DELETE_IMAGE_KEEP_LAYERS) &&
	    (r = plan_layers(di, ls, is, cs, CSTOR_IMAGE_REC(h), err)) < 0)
		return r;
	if (di->flags & CSTOR_DELETE_IMAGE_DRY_RUN)
		return 0;
	for (size_t i = 0; di->plan && di->plan[i]; i++)
		if (!strv_contains(di->candidates, di->plan[i]))
			/* The image's layers changed between the checks. */
			return cstor_error_set(err, EAGAIN,
					       "delete image %s: the image changed meanwhile; try again",
					       di->id);
	if ((r = cstor_objstore_delete(is, h, err)) < 0)
		return r;
	for (size_t i = 0; di->plan && di->plan[i]; i++)
		if ((r = delete_layer_locked(ls, di->plan[i], err)) < 0)
			return r;
	return 0;
}

/* The layers an image may take with it: its mapped copies and the chain
 * from its top layer down, in the primary store. */
static int candidates(struct del_image *di, struct cstor_objstore *ls, const cstor_image *img,
		      cstor_error *err) CSTOR_REQUIRES(&ls->lock)
{
	if (!(di->candidates = calloc(1, sizeof(char *))))
		return cstor_error_set(err, ENOMEM, "out of memory");
	for (const char *const *m = cstor_image_mapped_top_layers(img); *m; m++)
		if (cstor_layer_store_by_id(ls, *m) && strv_append(&di->candidates, *m) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
	const char *layer = cstor_image_top_layer(img);
	while (layer && !strv_contains(di->candidates, layer)) {
		struct cstor_layer_rec *l = cstor_layer_store_by_id(ls, layer);
		if (!l)
			break;
		if (strv_append(&di->candidates, layer) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
		layer = l->parent && l->parent[0] ? l->parent : NULL;
	}
	return 0;
}

static int delete_image_stores(struct del_image *di, struct cstor_store *s,
			       struct cstor_objstore *is, struct cstor_objstore *ls, cstor_error *err)
	CSTOR_REQUIRES(&ls->lock)
{
	struct cstor_objstore *cs = s->containers;
	int r = cstor_objstore_start_writing(is, err);
	if (r != 0)
		return r;
	r = cstor_objstore_start_reading(cs, err);
	if (r != 0) {
		cstor_objstore_done(is);
		return r;
	}
	r = delete_image_locked(di, ls, is, cs, err);
	cstor_objstore_done(cs);
	cstor_objstore_done(is);
	return r;
}

int cstor_store_delete_image(char ***deleted_layers, cstor_store *s, const char *ref,
			     uint32_t flags, cstor_error *err)
{
	if (flags & ~(uint32_t)(CSTOR_DELETE_IMAGE_DRY_RUN | CSTOR_DELETE_IMAGE_KEEP_LAYERS))
		return cstor_error_set(err, EINVAL, "unknown delete-image flags 0x%x", flags);
	struct cstor_objstore *ls = s->layers;
	int r = cstor_objstore_start_writing(ls, err);
	if (r != 0)
		return r;
	struct del_image di = { .flags = flags };
	struct cstor_pending *journal = NULL;
	cstor_image *img = NULL;
	struct cstor_objstore *where = NULL;
	if ((r = cstor_store_find_image(&img, &where, s, ref, err)) < 0)
		goto out;
	if (where != s->images && (!where || where != s->graph_images)) {
		r = cstor_error_set(err, EROFS, "image %s is in a read-only image store", ref);
		goto out;
	}
	if (!(di.id = strdup(cstor_image_id(img)))) {
		r = cstor_error_set(err, ENOMEM, "out of memory");
		goto out;
	}
	if ((r = candidates(&di, ls, img, err)) < 0)
		goto out;
	if (!(flags & (CSTOR_DELETE_IMAGE_DRY_RUN | CSTOR_DELETE_IMAGE_KEEP_LAYERS)))
		for (size_t i = 0; di.candidates[i]; i++)
			if ((r = check_deletable(s, ls, di.candidates[i], "delete image", err)) < 0)
				goto out;
	/* The image record goes first, then its layers one by one: if we
	 * die in between, the journal tells gc which layers were meant to go
	 * (each is checked again for users before it is removed). */
	if (!(flags & (CSTOR_DELETE_IMAGE_DRY_RUN | CSTOR_DELETE_IMAGE_KEEP_LAYERS)) &&
	    di.candidates[0]) {
		cstor_error je = CSTOR_ERROR_INIT;
		if (cstor_pending_open(&journal, s->layers_dir, "image delete", &je) == 0 &&
		    cstor_pending_add_all(journal, di.candidates, &je) < 0) {
			cstor_pending_done(journal);
			journal = NULL;
		}
		cstor_error_clear(&je);
	}
	if ((r = delete_image_stores(&di, s, where, ls, err)) < 0)
		goto out;
	if (deleted_layers) {
		*deleted_layers = di.plan ? TAKE_PTR(di.plan) : calloc(1, sizeof(char *));
		if (!*deleted_layers)
			r = cstor_error_set(err, ENOMEM, "out of memory");
	}
out:
	cstor_pending_done(journal);
	cstor_image_free(img);
	free(di.id);
	strv_free(di.candidates);
	strv_free(di.plan);
	cstor_objstore_done(ls);
	return r;
}

/* Wipe */

static int wipe_locked(struct cstor_store *s, struct cstor_objstore *ls,
		       struct cstor_objstore *is, struct cstor_objstore *cs, cstor_error *err)
	CSTOR_REQUIRES(&ls->lock) CSTOR_REQUIRES(&is->lock) CSTOR_REQUIRES(&cs->lock)
{
	int r = 0;
	while (cs->n > 0 && r == 0) {
		_cleanup_free_ char *id = strdup(cs->recs[cs->n - 1]->id);
		if (!id)
			return cstor_error_set(err, ENOMEM, "out of memory");
		if ((r = cstor_objstore_delete(cs, cs->recs[cs->n - 1], err)) == 0)
			r = cstor_container_remove_dirs(s, id, err);
	}
	while (is->n > 0 && r == 0)
		r = cstor_objstore_delete(is, is->recs[is->n - 1], err);
	/* Children before parents: the last layer without children first
	 * (layers are usually recorded parents first; Go goes newest
	 * first). When every layer left has children, their parents form a
	 * cycle (a corrupt store): the last one goes anyway, which opens
	 * the cycle, since a wipe must never stop half-way. */
	while (ls->n > 0 && r == 0) {
		size_t i = ls->n;
		while (i > 0 && cstor_layer_store_has_children(ls, cstor_layer_store_at(ls, i - 1)->h.id))
			i--;
		r = cstor_layer_store_delete(ls, cstor_layer_store_at(ls, i > 0 ? i - 1 : ls->n - 1), err);
	}
	return r;
}

static int wipe_stores(struct cstor_store *s, struct cstor_objstore *ls, cstor_error *err)
	CSTOR_REQUIRES(&ls->lock)
{
	struct cstor_objstore *is = s->images, *cs = s->containers;
	int r = cstor_objstore_start_writing(is, err);
	if (r != 0)
		return r;
	r = cstor_objstore_start_writing(cs, err);
	if (r != 0) {
		cstor_objstore_done(is);
		return r;
	}
	r = wipe_locked(s, ls, is, cs, err);
	cstor_objstore_done(cs);
	cstor_objstore_done(is);
	return r;
}

int cstor_store_wipe(cstor_store *s, cstor_error *err)
{
	struct cstor_objstore *ls = s->layers;
	int r = cstor_objstore_start_writing(ls, err);
	if (r != 0)
		return r;
	/* Nothing is deleted while a layer is mounted (Go unmounts). */
	for (size_t i = 0; i < ls->n && r == 0; i++)
		r = check_deletable(s, ls, cstor_layer_store_at(ls, i)->h.id, "wipe", err);
	if (r == 0)
		r = wipe_stores(s, ls, err);
	cstor_objstore_done(ls);
	return r;
}
