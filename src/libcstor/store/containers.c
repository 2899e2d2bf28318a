/* SPDX-License-Identifier: Apache-2.0 */
/* The public container API on top of the container store (objstore.h). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cstor/container.h>
#include <cstor/layer.h>

#include "archive/digest.h"
#include "records/bigdata.h"
#include "records/pending.h"
#include "util/error-internal.h"
#include "util/fileutil.h"
#include "store/objects-internal.h"
#include "util/cleanup.h"
#include "util/idmap.h"
#include "util/rm.h"
#include "util/strv.h"
#include "util/failpoint.h"

static char *const none[] = { NULL };

/* Containers are also found by their layer's ID. */
static const char *layer_key(const struct cstor_obj_head *h)
{
	return CSTOR_CONTAINER_REC(h)->layer;
}

static bool container_volatile(const struct cstor_obj_head *h)
{
	return CSTOR_CONTAINER_REC(h)->is_volatile;
}

static void set_container_volatile(struct cstor_obj_head *h)
{
	CSTOR_CONTAINER_REC(h)->is_volatile = true;
}

const struct cstor_objstore_ops cstor_container_store_ops = {
	.kind = "container",
	.json_name = "containers.json",
	.lock_name = "containers.lock",
	.codec = &cstor_container_rec_codec,
	.alt_key = layer_key,
	/* Newest containers/storage keeps volatile containers here (on the
	 * run root in a transient store), written without fsync. */
	.aside_name = "volatile-containers.json",
	.aside = container_volatile,
	.set_aside = set_container_volatile,
};

/* Snapshots */

void cstor_container_free(cstor_container *c)
{
	if (!c)
		return;
	cstor_rec_unref(&cstor_container_rec_codec, c->rec ? &c->rec->h : NULL);
	strv_free(c->mount_options);
	free(c);
}

void cstor_container_list_free(cstor_container **list)
{
	for (size_t i = 0; list && list[i]; i++)
		cstor_container_free(list[i]);
	free(list);
}

int cstor_container_snapshot(cstor_container **out, struct cstor_objstore *cs,
			     const struct cstor_container_rec *rec)
{
	cstor_container *c = calloc(1, sizeof(*c));
	struct cstor_obj_head *h = NULL;
	int r = c ? cstor_objstore_copy(cs, &rec->h, &h) : -ENOMEM;
	if (r < 0) {
		free(c);
		return r;
	}
	c->rec = CSTOR_CONTAINER_REC(h);
	json_t *opts = rec->h.flags ? json_object_get(rec->h.flags, CSTOR_CONTAINER_FLAG_MOUNT_OPTS)
				    : NULL;
	size_t i;
	json_t *o;
	c->mount_options = calloc(1, sizeof(char *));
	json_array_foreach(opts, i, o)
	{
		if (c->mount_options && json_is_string(o) &&
		    strv_append(&c->mount_options, json_string_value(o)) < 0) {
			strv_free(c->mount_options);
			c->mount_options = NULL;
		}
	}
	if (!c->mount_options) {
		cstor_container_free(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

const char *const *cstor_container_mount_options(const cstor_container *c)
{
	return (const char *const *)c->mount_options;
}

const char *cstor_container_id(const cstor_container *c)
{
	return c->rec->h.id;
}

const char *const *cstor_container_names(const cstor_container *c)
{
	return (const char *const *)(c->rec->h.names ? c->rec->h.names : (char **)none);
}

const char *cstor_container_image(const cstor_container *c)
{
	return c->rec->image[0] ? c->rec->image : NULL;
}

const char *cstor_container_layer(const cstor_container *c)
{
	return c->rec->layer;
}

const char *cstor_container_metadata(const cstor_container *c)
{
	return c->rec->h.metadata;
}

const char *cstor_container_created(const cstor_container *c)
{
	return c->rec->h.created;
}

const char *const *cstor_container_big_data_names(const cstor_container *c)
{
	return (const char *const *)(c->rec->h.bd.names ? c->rec->h.bd.names : (char **)none);
}

const char *cstor_container_mount_label(const cstor_container *c)
{
	const char *l = cstor_container_rec_flag_str(c->rec, CSTOR_CONTAINER_FLAG_MOUNT_LABEL);
	return l ? l : "";
}

const char *cstor_container_process_label(const cstor_container *c)
{
	const char *l = cstor_container_rec_flag_str(c->rec, CSTOR_CONTAINER_FLAG_PROCESS_LABEL);
	return l ? l : "";
}

char *cstor_container_to_json(const cstor_container *c)
{
	cstor_buf b = { 0 };
	cstor_container_rec_write(&b, c->rec);
	return cstor_buf_steal(&b, NULL);
}

/* Listing and lookup */

int cstor_store_containers(cstor_container ***out, cstor_store *s, cstor_error *err)
{
	struct cstor_objstore *cs = s->containers;
	int r = cstor_objstore_start_reading(cs, err);
	if (r != 0)
		return r;
	cstor_container **list = calloc(cs->n + 1, sizeof(*list));
	for (size_t i = 0; list && i < cs->n && r == 0; i++)
		r = cstor_container_snapshot(&list[i], cs, CSTOR_CONTAINER_REC(cs->recs[i]));
	cstor_objstore_done(cs);
	if (!list || r < 0) {
		cstor_container_list_free(list);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	*out = list;
	return 0;
}

int cstor_store_container(cstor_container **out, cstor_store *s, const char *ref,
			  cstor_error *err)
{
	struct cstor_objstore *cs = s->containers;
	int r = cstor_objstore_start_reading(cs, err);
	if (r != 0)
		return r;
	bool amb = false;
	struct cstor_obj_head *h = cstor_objstore_lookup(cs, ref, &amb);
	if (!h)
		r = cstor_obj_not_found(err, "container", ref, amb);
	else if (cstor_container_snapshot(out, cs, CSTOR_CONTAINER_REC(h)) < 0)
		r = cstor_error_set(err, ENOMEM, "out of memory");
	cstor_objstore_done(cs);
	return r;
}

/* Creation */

static int set_flag(struct cstor_container_rec *rec, const char *key, json_t *v)
{
	if (!v || (!rec->h.flags && !(rec->h.flags = json_object()))) {
		json_decref(v);
		return -ENOMEM;
	}
	return json_object_set_new(rec->h.flags, key, v) < 0 ? -ENOMEM : 0;
}

static struct cstor_container_rec *new_record(const cstor_container_options *o, const char *id,
					      char **names, const char *image, const char *layer)
{
	struct cstor_container_rec *rec = calloc(1, sizeof(*rec));
	if (!rec || !(rec->h.id = strdup(id)) || !(rec->h.created = cstor_time_now_json()) ||
	    !(rec->image = strdup(image ? image : "")) || !(rec->layer = strdup(layer)) ||
	    (o->metadata && o->metadata[0] && !(rec->h.metadata = strdup(o->metadata))) ||
	    !(rec->h.names = strv_copy(names)))
		goto oom;
	/* Both labels are always recorded, "" without SELinux, as Go does. */
	if (set_flag(rec, CSTOR_CONTAINER_FLAG_MOUNT_LABEL,
		     json_string(o->mount_label ? o->mount_label : "")) < 0 ||
	    set_flag(rec, CSTOR_CONTAINER_FLAG_PROCESS_LABEL,
		     json_string(o->process_label ? o->process_label : "")) < 0)
		goto oom;
	if (o->mount_options) {
		json_t *a = json_array();
		for (size_t i = 0; a && o->mount_options[i]; i++)
			if (json_array_append_new(a, json_string(o->mount_options[i])) < 0) {
				json_decref(a);
				a = NULL;
			}
		if (set_flag(rec, CSTOR_CONTAINER_FLAG_MOUNT_OPTS, a) < 0)
			goto oom;
	}
	if (o->is_volatile && set_flag(rec, CSTOR_CONTAINER_FLAG_VOLATILE, json_true()) < 0)
		goto oom;
	/* The mappings asked for (not those inherited from the image), as
	 * containers/storage records them. */
	if (cstor_idmap_dup(&rec->uidmap, &rec->n_uidmap, o->host_uidmap ? NULL : o->uidmap,
			    o->host_uidmap ? 0 : o->n_uidmap) < 0 ||
	    cstor_idmap_dup(&rec->gidmap, &rec->n_gidmap, o->host_gidmap ? NULL : o->gidmap,
			    o->host_gidmap ? 0 : o->n_gidmap) < 0)
		goto oom;
	return rec;
oom:
	cstor_container_rec_free(rec);
	return NULL;
}

struct create {
	const cstor_container_options *o;
	const char *image_id; /* NULL: no image */
	const char *top;      /* the parent layer's ID, NULL: none */
	const char *ro_parent; /* = top when it lives in a read-only store */
	char *id_out;
	char *mapped_top; /* a mapped copy of the top layer made for us */
};

/* Whether @id and @names are free in the container store. */
static int check_free(struct cstor_objstore *cs, const char *id, char *const *names,
		      cstor_error *err) CSTOR_REQUIRES_SHARED(&cs->lock)
{
	if (cstor_objstore_by_id(cs, id))
		return cstor_error_set(err, EEXIST, "a container with ID \"%s\" already exists", id);
	for (size_t i = 0; names[i]; i++) {
		struct cstor_obj_head *other = cstor_objstore_by_name(cs, names[i]);
		if (other)
			return cstor_error_set(err, EEXIST,
					       "the container name \"%s\" is already in use by %s",
					       names[i], other->id);
	}
	return 0;
}

/* Record the container (the layer exists): the container store held. */
static int add_record(struct create *c, struct cstor_objstore *cs, const char *id,
		      char *const *names, const char *layer, bool vol, cstor_error *err)
	CSTOR_REQUIRES(&cs->lock)
{
	/* Checked again: another writer may have come between. */
	int r = check_free(cs, id, names, err);
	if (r < 0)
		return r;
	struct cstor_container_rec *rec = new_record(c->o, id, (char **)names, c->image_id, layer);
	/* Go flags a transient store's containers as volatile ones. */
	if (rec && vol && !c->o->is_volatile &&
	    set_flag(rec, CSTOR_CONTAINER_FLAG_VOLATILE, json_true()) < 0) {
		cstor_container_rec_free(rec);
		rec = NULL;
	}
	if (rec)
		rec->is_volatile = vol;
	if (!rec || cstor_objstore_add(cs, &rec->h) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	if ((r = cstor_objstore_save(cs, err)) < 0) {
		cstor_objstore_remove(cs, &rec->h);
		/* A save can fail after its rename (syncing the directory):
		 * the file may hold the record, whose layer our caller now
		 * removes. Written again without it, best effort, as a
		 * failed layer creation does (found by the crash-point walk:
		 * "container layer is missing"). */
		cstor_objstore_save(cs, NULL);
	}
	return r;
}

/* With the primary layer store (and the image's store) held: the ID and
 * names are checked first (so that a refused container costs no layer), the
 * layer is made (its parent check reads the container store), then the
 * record. Without a record the layer is removed again. */
static int create_locked(struct create *c, struct cstor_store *s, struct cstor_objstore *ls,
			 cstor_error *err) CSTOR_REQUIRES(&ls->lock)
{
	struct cstor_objstore *cs = s->containers;
	char rid[65];
	const char *id = c->o->id;
	_cleanup_strv_free_ char **names = cstor_names_dedup((char *const *)c->o->names);
	_cleanup_free_ char *layer = NULL;
	if (!names)
		return cstor_error_set(err, ENOMEM, "out of memory");
	int r = cstor_objstore_start_reading(cs, err);
	if (r != 0)
		return r;
	if (!id && (r = cstor_objstore_new_id(cs, rid, err)) == 0)
		id = rid;
	if (r == 0)
		r = check_free(cs, id, names, err);
	cstor_objstore_done(cs);
	if (r < 0)
		return r;

	cstor_layer_options lo = CSTOR_LAYER_OPTIONS_INIT;
	lo.parent = c->top;
	lo.mount_label = c->o->mount_label;
	lo.writeable = 1;
	/* A transient store's containers and their layers are volatile
	 * records, on the run root, as newest containers/storage keeps them.
	 * A container made volatile in a store that is not transient is
	 * recorded as containers/storage 1.43 records it, in containers.json
	 * (newest Go puts it in the graph root's volatile-containers.json,
	 * which 1.43 does not read; cstor reads and keeps both). */
	bool vol = s->cfg.transient_store;
	if (vol)
		lo.flags |= CSTOR_LAYER_VOLATILE;
	lo.uidmap = c->o->uidmap, lo.n_uidmap = c->o->n_uidmap;
	lo.gidmap = c->o->gidmap, lo.n_gidmap = c->o->n_gidmap;
	lo.host_uidmap = c->o->host_uidmap, lo.host_gidmap = c->o->host_gidmap;
	/* The layer is journaled before it is made: if we die before the
	 * container's record is on disk, the next writer of the layer store
	 * finds it unused and removes it (records/pending.h), so a crash or
	 * a power cut leaves the store as before, never with an orphan
	 * container layer. */
	char lid[65];
	if (cstor_random_id(lid) < 0)
		return cstor_error_errno(err, errno, "generate a layer ID");
	lo.id = lid;
	struct cstor_pending *journal = NULL;
	/* Not for a transient store's container: nothing of it is synced
	 * (what a crash leaves there goes with the run root, or to gc). */
	if (!vol && ((r = cstor_pending_open(&journal, s->layers_dir, "container create", err)) < 0 ||
		     (r = cstor_pending_add(journal, lid, err)) < 0)) {
		cstor_pending_done(journal);
		return r;
	}
	if ((r = cstor_layer_create_locked(&layer, s, ls, &lo, c->ro_parent, NULL, NULL, err)) < 0) {
		cstor_pending_done(journal);
		return r;
	}
	r = cstor_failpoint_err(err, "container-create:after-layer", NULL,
				"record the container");
	if (r == 0) {
		r = cstor_objstore_start_writing(cs, err);
		if (r == 0) {
			r = add_record(c, cs, id, names, layer, vol, err);
			cstor_objstore_done(cs);
		}
	}
	if (r < 0) {
		/* No container: no layer either. */
		struct cstor_layer_rec *l = cstor_layer_store_by_id(ls, layer);
		if (l)
			cstor_layer_store_delete(ls, l, NULL);
	}
	cstor_pending_done(journal);
	if (r < 0)
		return r;
	if (!(c->id_out = strdup(id)))
		return cstor_error_set(err, ENOMEM, "out of memory");
	return 0;
}

static void drop_layer(struct cstor_objstore *ls, const char *id) CSTOR_REQUIRES(&ls->lock)
{
	struct cstor_layer_rec *l = cstor_layer_store_by_id(ls, id);
	if (l)
		cstor_layer_store_delete(ls, l, NULL);
}

/* containers/storage's layerMatchesMappingOptions: whether a top layer
 * with maps @u/@g serves a container asking for @o's. */
static bool layer_matches(struct cstor_store *s, const cstor_container_options *o,
			  const cstor_idmap *u, size_t nu, const cstor_idmap *g, size_t ng)
{
	const cstor_idmap *ou = o->host_uidmap ? NULL : o->uidmap;
	const cstor_idmap *og = o->host_gidmap ? NULL : o->gidmap;
	size_t nou = o->host_uidmap ? 0 : o->n_uidmap, nog = o->host_gidmap ? 0 : o->n_gidmap;
	/* Nothing mapped on either side: a match without asking the driver
	 * (whose first answer may cost a probe). */
	if (nu == 0 && ng == 0 && nou == 0 && nog == 0)
		return true;
	if (nu == 0 && ng == 0 && cstor_store_can_use_shifting(s, ou, nou, og, nog))
		return true;
	if ((o->host_uidmap && nu) || (o->host_gidmap && ng))
		return false;
	return cstor_idmap_equal(u, nu, ou, nou) && cstor_idmap_equal(g, ng, og, nog);
}

/* The top layer to build on (containers/storage's imageTopLayerForMapping):
 * the image's top layer or one of its mapped copies whose mappings match;
 * else, when @can_copy (an image of the primary image store whose top
 * layer is ours), a new mapped copy of the top layer, added to the image's
 * "mapped-layers" (*added: the caller saves the image store); else the top
 * layer (the container's own layer is then shifted). */
static int pick_top(struct create *c, struct cstor_store *s, struct cstor_objstore *ls,
		    struct cstor_image_rec *img, bool can_copy, bool *added, cstor_error *err)
	CSTOR_REQUIRES(&ls->lock)
{
	*added = false;
	if (c->ro_parent)
		return 0; /* a read-only store's layer: nothing of ours to copy */
	struct cstor_layer_rec *top = cstor_layer_store_by_id(ls, c->top);
	if (!top || layer_matches(s, c->o, top->uidmap, top->n_uidmap, top->gidmap, top->n_gidmap))
		return 0;
	for (size_t i = 0; img->mapped_layers && img->mapped_layers[i]; i++) {
		struct cstor_layer_rec *m = cstor_layer_store_by_id(ls, img->mapped_layers[i]);
		if (m && layer_matches(s, c->o, m->uidmap, m->n_uidmap, m->gidmap, m->n_gidmap)) {
			c->top = m->h.id;
			return 0;
		}
	}
	if (!can_copy)
		return 0;
	cstor_layer_options lo = CSTOR_LAYER_OPTIONS_INIT;
	lo.parent = top->parent && top->parent[0] ? top->parent : NULL;
	lo.mount_label = top->mountlabel;
	lo.uidmap = c->o->uidmap, lo.n_uidmap = c->o->n_uidmap;
	lo.gidmap = c->o->gidmap, lo.n_gidmap = c->o->n_gidmap;
	/* Asked for no mappings: none, not the parent's. */
	lo.host_uidmap = c->o->host_uidmap || !c->o->n_uidmap;
	lo.host_gidmap = c->o->host_gidmap || !c->o->n_gidmap;
	const char *ro_parent = lo.parent && !cstor_layer_store_by_id(ls, lo.parent) ? lo.parent : NULL;
	int r = cstor_layer_create_locked(&c->mapped_top, s, ls, &lo, ro_parent, top->h.id, NULL,
					  err);
	if (r < 0)
		return cstor_error_wrap(err, r, "creating an ID-mapped copy of layer %s", top->h.id);
	if (strv_append(&img->mapped_layers, c->mapped_top) < 0) {
		drop_layer(ls, c->mapped_top);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	*added = true;
	c->top = c->mapped_top;
	return 0;
}

/* The image record, if it is still there on that layer. */
static struct cstor_image_rec *image_held(struct create *c, struct cstor_objstore *home,
					  cstor_error *err) CSTOR_REQUIRES_SHARED(&home->lock)
{
	struct cstor_obj_head *h = cstor_objstore_by_id(home, c->image_id);
	if (!h || !streq_ptr(CSTOR_IMAGE_REC(h)->layer && CSTOR_IMAGE_REC(h)->layer[0]
				     ? CSTOR_IMAGE_REC(h)->layer
				     : NULL,
			     c->top)) {
		cstor_obj_not_found(err, "image", c->image_id, false);
		return NULL;
	}
	return CSTOR_IMAGE_REC(h);
}

/* With the image's store held: is the image still there, on that layer?
 * The primary image store is held for writing: a mapped copy of the top
 * layer is registered with the image before the container is made. */
static int create_with_image(struct create *c, struct cstor_store *s,
			     struct cstor_objstore *ls, struct cstor_objstore *home,
			     cstor_error *err) CSTOR_REQUIRES(&ls->lock)
{
	int r;
	if (home != s->images) {
		r = cstor_objstore_start_reading(home, err);
		if (r != 0)
			return r;
		struct cstor_image_rec *img = image_held(c, home, err);
		bool added = false;
		r = !img ? -ENOENT : c->top ? pick_top(c, s, ls, img, false, &added, err) : 0;
		if (r == 0)
			r = create_locked(c, s, ls, err);
		cstor_objstore_done(home);
		return r;
	}
	r = cstor_objstore_start_writing(home, err);
	if (r != 0)
		return r;
	struct cstor_image_rec *img = image_held(c, home, err);
	bool added = false;
	int k = !img ? -ENOENT : c->top ? pick_top(c, s, ls, img, true, &added, err) : 0;
	if (k == 0 && added && (k = cstor_objstore_save(home, err)) < 0) {
		strv_remove(img->mapped_layers, c->mapped_top);
		drop_layer(ls, c->mapped_top);
		cstor_error_wrap(err, k, "registering ID-mapped layer with image %s", c->image_id);
	}
	if (k == 0)
		k = create_locked(c, s, ls, err);
	cstor_objstore_done(home);
	return k;
}

static int resolve_parent(struct create *c, char **ro_parent, struct cstor_store *s,
			  struct cstor_objstore *ls, cstor_error *err)
	CSTOR_REQUIRES(&ls->lock)
{
	if (!c->top || cstor_layer_store_by_id(ls, c->top))
		return 0;
	/* The image's layers may live in a read-only store (later in the lock
	 * order than the primary layer store we hold). */
	for (size_t i = 0; i < s->n_ro_layers; i++) {
		struct cstor_objstore *ro = s->ro_layers[i];
		int r = cstor_objstore_start_reading(ro, err);
		if (r != 0)
			return r;
		bool found = cstor_layer_store_by_id(ro, c->top) != NULL;
		cstor_objstore_done(ro);
		if (found) {
			if (!(*ro_parent = strdup(c->top)))
				return cstor_error_set(err, ENOMEM, "out of memory");
			c->ro_parent = *ro_parent;
			return 0;
		}
	}
	return cstor_error_set(err, ENOENT, "layer not known: %s (top layer of image %s)", c->top,
			       c->image_id);
}

static bool id_ok(const char *id)
{
	return cstor_rec_id_valid(id) && !strchr(id, ' ');
}

int cstor_store_create_container(cstor_container **out, cstor_store *s,
				 const cstor_container_options *opts, cstor_error *err)
{
	if (!opts || opts->version < 1 || opts->version > CSTOR_CONTAINER_OPTIONS_VERSION)
		return cstor_error_set(err, EINVAL, "unsupported cstor_container_options version");
	/* Version 1 callers have no ID-mapping fields. */
	cstor_container_options ov = CSTOR_CONTAINER_OPTIONS_INIT;
	if (opts->version == 1) {
		ov.id = opts->id, ov.image = opts->image, ov.names = opts->names;
		ov.metadata = opts->metadata, ov.mount_label = opts->mount_label;
		ov.process_label = opts->process_label, ov.mount_options = opts->mount_options;
		ov.is_volatile = opts->is_volatile, ov.flags = opts->flags;
	} else
		ov = *opts;
	const cstor_container_options *o = &ov;
	int r;
	if ((r = cstor_idmap_check(o->uidmap, o->n_uidmap, "uid", err)) < 0 ||
	    (r = cstor_idmap_check(o->gidmap, o->n_gidmap, "gid", err)) < 0)
		return r;
	if (o->host_uidmap && o->n_uidmap)
		return cstor_error_set(err, EINVAL, "host uid map specified along with UID mapping");
	if (o->host_gidmap && o->n_gidmap)
		return cstor_error_set(err, EINVAL, "host gid map specified along with GID mapping");
	if (o->flags)
		return cstor_error_set(err, EINVAL, "unknown container flags 0x%x", o->flags);
	if (o->id && !id_ok(o->id))
		return cstor_error_set(err, EINVAL, "invalid container ID \"%s\"", o->id);
	bool ml = o->mount_label && o->mount_label[0], pl = o->process_label && o->process_label[0];
	if (ml != pl)
		return cstor_error_set(err, EINVAL,
				       "ProcessLabel and Mountlabel must either not be specified or "
				       "both specified");

	/* The image first, with no lock held across: image stores come after
	 * the layer stores in the lock order. It is checked again below. */
	cstor_image *img = NULL;
	struct cstor_objstore *home = NULL;
	if (o->image && o->image[0] && (r = cstor_store_find_image(&img, &home, s, o->image, err)) < 0)
		return r;
	_cleanup_free_ char *image_id = img ? strdup(cstor_image_id(img)) : NULL;
	_cleanup_free_ char *top = img && cstor_image_top_layer(img)
					   ? strdup(cstor_image_top_layer(img))
					   : NULL;
	bool oom = img && (!image_id || (cstor_image_top_layer(img) && !top));
	cstor_image_free(img);
	if (oom)
		return cstor_error_set(err, ENOMEM, "out of memory");

	struct create c = { .o = o, .image_id = image_id, .top = top };
	_cleanup_free_ char *ro_parent = NULL;
	struct cstor_objstore *ls = s->layers;
	r = cstor_objstore_start_writing(ls, err);
	if (r != 0)
		return r;
	r = resolve_parent(&c, &ro_parent, s, ls, err);
	if (r == 0)
		r = home ? create_with_image(&c, s, ls, home, err) : create_locked(&c, s, ls, err);
	cstor_objstore_done(ls);
	if (r == 0 && out)
		r = cstor_store_container(out, s, c.id_out, err);
	free(c.id_out);
	free(c.mapped_top);
	return r;
}

/* Changes */

static struct cstor_container_rec *find_locked(struct cstor_objstore *cs, const char *ref,
					       cstor_error *err) CSTOR_REQUIRES_SHARED(&cs->lock)
{
	bool amb = false;
	struct cstor_obj_head *h = cstor_objstore_lookup(cs, ref, &amb);
	if (!h)
		cstor_obj_not_found(err, "container", ref, amb);
	return h ? CSTOR_CONTAINER_REC(h) : NULL;
}

static int change_names(struct cstor_store *s, const char *ref, const char *const *names,
			enum cstor_names_op op, cstor_error *err)
{
	struct cstor_objset set = cstor_store_container_set(s);
	return cstor_objset_change_names(&set, NULL, ref, names, op, NULL, err);
}

int cstor_container_set_names(cstor_store *s, const char *ref, const char *const *names,
			      cstor_error *err)
{
	return change_names(s, ref, names, CSTOR_NAMES_SET, err);
}

int cstor_container_add_names(cstor_store *s, const char *ref, const char *const *names,
			      cstor_error *err)
{
	return change_names(s, ref, names, CSTOR_NAMES_ADD, err);
}

int cstor_container_remove_names(cstor_store *s, const char *ref, const char *const *names,
				 cstor_error *err)
{
	return change_names(s, ref, names, CSTOR_NAMES_REMOVE, err);
}

int cstor_container_set_metadata(cstor_store *s, const char *ref, const char *metadata,
				 cstor_error *err)
{
	struct cstor_objset set = cstor_store_container_set(s);
	return cstor_objset_set_metadata(&set, ref, metadata, NULL, err);
}

/* Big data */

int cstor_container_get_big_data(void **data, size_t *len, cstor_store *s, const char *ref,
				 const char *key, cstor_error *err)
{
	struct cstor_objset set = cstor_store_container_set(s);
	return cstor_objset_get_big_data(data, len, &set, ref, key, err);
}

/* Go computes (and records) what an older record lacks. */
int cstor_container_big_data_size(int64_t *size, cstor_store *s, const char *ref,
				  const char *key, cstor_error *err)
{
	struct cstor_objset set = cstor_store_container_set(s);
	return cstor_objset_big_data_info(size, NULL, &set, ref, key, true, err);
}

int cstor_container_big_data_digest(char **digest, cstor_store *s, const char *ref,
				    const char *key, cstor_error *err)
{
	struct cstor_objset set = cstor_store_container_set(s);
	return cstor_objset_big_data_info(NULL, digest, &set, ref, key, true, err);
}

int cstor_container_set_big_data(cstor_store *s, const char *ref, const char *key,
				 const void *data, size_t len, cstor_error *err)
{
	if (!key || !key[0])
		return cstor_error_set(err, EINVAL, "a data item needs a non-empty name");
	char digest[CSTOR_DIGEST_STRING_MAX];
	int r = cstor_digest_buffer(digest, data, len, err);
	if (r < 0)
		return r;
	struct cstor_objset set = cstor_store_container_set(s);
	return cstor_objset_set_big_data(&set, NULL, ref, key, data, len, digest, NULL, err);
}

/* Directories */

char *cstor_container_graph_dir(struct cstor_store *s, const char *id)
{
	return cstor_path_join(s->containers_dir, id);
}

char *cstor_container_run_dir_path(struct cstor_store *s, const char *id)
{
	char *p;
	return asprintf(&p, "%s/%s-containers/%s", s->cfg.run_root, s->driver_ops->name, id) < 0
		       ? NULL
		       : p;
}

int cstor_container_remove_dirs(struct cstor_store *s, const char *id, cstor_error *err)
{
	_cleanup_free_ char *g = cstor_container_graph_dir(s, id);
	_cleanup_free_ char *rd = cstor_container_run_dir_path(s, id);
	if (!g || !rd)
		return cstor_error_set(err, ENOMEM, "out of memory");
	int r = cstor_rm_rf_at(AT_FDCWD, g, err);
	if (r == 0)
		r = cstor_rm_rf_at(AT_FDCWD, rd, err);
	return r;
}

static int userdata_dir(char **path, struct cstor_store *s, const char *ref, bool run,
			cstor_error *err)
{
	/* Shared: the directory belongs to the container, created under the
	 * lock so that it cannot be deleted meanwhile. */
	struct cstor_objstore *cs = s->containers;
	int r = cstor_objstore_start_reading(cs, err);
	if (r != 0)
		return r;
	struct cstor_container_rec *rec = find_locked(cs, ref, err);
	_cleanup_free_ char *base = NULL, *p = NULL;
	if (!rec)
		r = cstor_objset_fail_code(err);
	else if (!(base = run ? cstor_container_run_dir_path(s, rec->h.id)
			      : cstor_container_graph_dir(s, rec->h.id)) ||
		 !(p = cstor_path_join(base, "userdata")))
		r = cstor_error_set(err, ENOMEM, "out of memory");
	else if ((r = cstor_mkdir_p(p, 0700, err)) == 0)
		*path = TAKE_PTR(p);
	cstor_objstore_done(cs);
	return r;
}

int cstor_container_dir(char **path, cstor_store *s, const char *ref, cstor_error *err)
{
	return userdata_dir(path, s, ref, false, err);
}

int cstor_container_run_dir(char **path, cstor_store *s, const char *ref, cstor_error *err)
{
	return userdata_dir(path, s, ref, true, err);
}

/* Go's directory.Size: the sizes of everything but directories, each inode
 * once, not following symlinks. */
struct inodes {
	ino_t *v;
	size_t n, cap;
};

static bool seen_inode(struct inodes *in, ino_t ino)
{
	for (size_t i = 0; i < in->n; i++)
		if (in->v[i] == ino)
			return true;
	if (in->n == in->cap) {
		size_t cap = in->cap ? in->cap * 2 : 64;
		ino_t *v = realloc(in->v, cap * sizeof(*v));
		if (!v)
			return false;
		in->v = v;
		in->cap = cap;
	}
	in->v[in->n++] = ino;
	return false;
}

static int dir_size(int64_t *total, int dfd, const char *what, struct inodes *in, int depth,
		    cstor_error *err)
{
	if (depth > 1024)
		return cstor_error_set(err, ELOOP, "%s: directory tree too deep", what);
	int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return cstor_error_errno(err, errno, "%s", what);
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return cstor_error_errno(err, errno, "%s", what);
	}
	struct dirent *de;
	while ((errno = 0, de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			return cstor_error_errno(err, errno, "%s/%s", what, de->d_name);
		}
		if (seen_inode(in, st.st_ino))
			continue;
		if (!S_ISDIR(st.st_mode)) {
			*total += st.st_size;
			continue;
		}
		_cleanup_close_ int sub =
			openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			if (errno == ENOENT)
				continue;
			return cstor_error_errno(err, errno, "%s/%s", what, de->d_name);
		}
		int r = dir_size(total, sub, what, in, depth + 1, err);
		if (r < 0)
			return r;
	}
	if (errno)
		return cstor_error_errno(err, errno, "%s", what);
	return 0;
}

static int tree_size(int64_t *total, const char *path, cstor_error *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return cstor_error_errno(err, errno, "%s", path);
	struct inodes in = { 0 };
	int r = dir_size(total, fd, path, &in, 0, err);
	free(in.v);
	return r;
}

int cstor_store_container_size(int64_t *size, cstor_store *s, const char *ref, cstor_error *err)
{
	cstor_container *c = NULL;
	int r = cstor_store_container(&c, s, ref, err);
	if (r < 0)
		return r;
	int64_t total = 0, n = 0;
	_cleanup_free_ char *dir = NULL, *run = NULL;
	if ((r = cstor_store_diff_size(&n, s, NULL, cstor_container_layer(c), err)) < 0)
		goto out;
	total += n;
	for (const char *const *k = cstor_container_big_data_names(c); *k; k++) {
		if ((r = cstor_container_big_data_size(&n, s, cstor_container_id(c), *k, err)) < 0)
			goto out;
		total += n;
	}
	if ((r = cstor_container_dir(&dir, s, cstor_container_id(c), err)) < 0 ||
	    (r = tree_size(&total, dir, err)) < 0 ||
	    (r = cstor_container_run_dir(&run, s, cstor_container_id(c), err)) < 0 ||
	    (r = tree_size(&total, run, err)) < 0)
		goto out;
	*size = total;
out:
	cstor_container_free(c);
	return r;
}
