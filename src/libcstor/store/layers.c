/* SPDX-License-Identifier: Apache-2.0 */
/* The public layer API on top of the layer stores and the driver. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cstor/layer.h>

#include "util/error-internal.h"
#include "records/container-rec.h"
#include "records/fields.h"
#include "store/engine.h"
#include "mount/mount-internal.h"
#include "store/store-internal.h"
#include "util/cleanup.h"
#include "util/fileutil.h"
#include "util/idmap.h"
#include "util/strv.h"
#include "util/failpoint.h"

static char *const no_names[] = { NULL };

void cstor_layer_free(cstor_layer *l)
{
	if (!l)
		return;
	cstor_rec_unref(&cstor_layer_rec_codec, l->rec ? &l->rec->h : NULL);
	free(l->mount_point);
	free(l);
}

void cstor_layer_list_free(cstor_layer **list)
{
	for (size_t i = 0; list && list[i]; i++)
		cstor_layer_free(list[i]);
	free(list);
}

const char *cstor_layer_id(const cstor_layer *l)
{
	return l->rec->h.id;
}

const char *const *cstor_layer_names(const cstor_layer *l)
{
	return (const char *const *)l->names;
}

const char *cstor_layer_parent(const cstor_layer *l)
{
	return l->rec->parent && l->rec->parent[0] ? l->rec->parent : NULL;
}

const char *cstor_layer_metadata(const cstor_layer *l)
{
	return l->rec->h.metadata;
}

const char *cstor_layer_created(const cstor_layer *l)
{
	return l->rec->h.created;
}

int cstor_layer_read_only(const cstor_layer *l)
{
	return l->read_only;
}

char *cstor_layer_to_json(const cstor_layer *l)
{
	cstor_buf b = { 0 };
	cstor_layer_rec_write(&b, l->rec);
	return cstor_buf_steal(&b, NULL);
}

const char *const *cstor_layer_big_data_names(const cstor_layer *l)
{
	return (const char *const *)l->data_names;
}

const char *cstor_layer_compressed_digest(const cstor_layer *l)
{
	return l->rec->compressed_digest;
}

int64_t cstor_layer_compressed_size(const cstor_layer *l)
{
	return l->rec->compressed_digest ? l->rec->compressed_size : -1;
}

const char *cstor_layer_uncompressed_digest(const cstor_layer *l)
{
	return l->rec->uncompressed_digest;
}

int64_t cstor_layer_uncompressed_size(const cstor_layer *l)
{
	/* containers/storage: the size is known when the digest is. */
	return l->rec->uncompressed_digest || l->rec->toc_digest ? l->rec->uncompressed_size : -1;
}

int cstor_layer_compression(const cstor_layer *l)
{
	return l->rec->compression;
}

int cstor_layer_incomplete(const cstor_layer *l)
{
	/* The flags that make the next writer remove the layer first. */
	if (cstor_layer_rec_flag_bool(l->rec, "incomplete"))
		return CSTOR_LAYER_INCOMPLETE_REMOVING;
	if (cstor_layer_rec_flag_bool(l->rec, CSTOR_FLAG_CREATING))
		return CSTOR_LAYER_INCOMPLETE_CREATING;
	if (cstor_layer_rec_flag_bool(l->rec, CSTOR_FLAG_APPLY_INCOMPLETE))
		return CSTOR_LAYER_INCOMPLETE_APPLY;
	return 0;
}

int64_t cstor_layer_mount_count(const cstor_layer *l)
{
	return l->mount_count;
}

const char *cstor_layer_mount_point(const cstor_layer *l)
{
	return l->mount_point;
}

int cstor_layer_snapshot(cstor_layer **out, struct cstor_objstore *ls,
			 const struct cstor_layer_rec *rec)
{
	struct cstor_layer *l = calloc(1, sizeof(*l));
	struct cstor_obj_head *h = NULL;
	int r = l ? cstor_objstore_copy(ls, &rec->h, &h) : -ENOMEM;
	if (r < 0) {
		free(l);
		return r;
	}
	l->rec = CSTOR_LAYER_REC(h);
	l->read_only = ls->read_only;
	l->names = l->rec->h.names ? l->rec->h.names : no_names;
	l->data_names = l->rec->h.bd.names ? l->rec->h.bd.names : no_names;
	*out = l;
	return 0;
}

/* Mount state of layers, for listings: reconciled counts, so a dead hold
 * is not listed; only layers with mount state cost more than a lookup
 * (mount/mount-internal.h). */
static void add_mount_info(cstor_store *s, cstor_layer **list, size_t from, size_t to)
{
	if (cstor_mount_state_lock(s, NULL) != 0)
		return;
	int holders_fd = cstor_mount_holders_open(s);
	for (size_t i = from; i < to; i++) {
		int64_t count = 0;
		char *path = NULL;
		if (cstor_mount_status(&count, &path, s, holders_fd, cstor_layer_id(list[i]),
				       list[i]->read_only, NULL) == 0 &&
		    count > 0) {
			list[i]->mount_count = count;
			list[i]->mount_point = path;
		} else
			free(path);
	}
	if (holders_fd >= 0)
		close(holders_fd);
	cstor_mount_state_unlock(s);
}

static int append_layers(cstor_store *s, cstor_layer ***list, size_t *n,
			 struct cstor_objstore *ls, bool ro, cstor_error *err)
{
	int r = cstor_objstore_start_reading(ls, err);
	if (r != 0)
		return r;
	size_t first = *n;
	for (size_t i = 0; i < ls->n && r == 0; i++) {
		cstor_layer **nl = realloc(*list, (*n + 2) * sizeof(*nl));
		if (!nl) {
			r = -ENOMEM;
			break;
		}
		*list = nl;
		r = cstor_layer_snapshot(&nl[*n], ls, cstor_layer_store_at(ls, i));
		if (r == 0)
			nl[++*n] = NULL;
	}
	if (r == 0 && ls == s->layers)
		add_mount_info(s, *list, first, *n);
	cstor_objstore_done(ls);
	/* A read-only store's layers are mounted too; the mount state comes
	 * before that store in the lock order. */
	if (r == 0 && ls != s->layers)
		add_mount_info(s, *list, first, *n);
	return r < 0 ? cstor_error_set(err, r, "out of memory") : 0;
}

int cstor_store_layers(cstor_layer ***out, cstor_store *s, cstor_error *err)
{
	cstor_layer **list = calloc(1, sizeof(*list));
	size_t n = 0;
	if (!list)
		return cstor_error_set(err, ENOMEM, "out of memory");
	int r = append_layers(s, &list, &n, s->layers, false, err);
	for (size_t i = 0; i < s->n_ro_layers && r == 0; i++)
		r = append_layers(s, &list, &n, s->ro_layers[i], true, err);
	if (r < 0) {
		cstor_layer_list_free(list);
		return r;
	}
	*out = list;
	return 0;
}

/* A snapshot, with the mount state for a layer of the primary store (whose
 * ctx is the store); a read-only store's layer gets it after its store is
 * released (cstor_store_find_layer). */
static int copy_layer(void *out, struct cstor_objstore *ls, const struct cstor_obj_head *h,
		      cstor_error *err)
	CSTOR_REQUIRES_SHARED(&ls->lock)
{
	cstor_layer **l = out;
	if (cstor_layer_snapshot(l, ls, CSTOR_LAYER_REC(h)) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	if (!ls->read_only && ls->ctx)
		add_mount_info(ls->ctx, l, 0, 1);
	return 0;
}

int cstor_store_find_layer(cstor_layer **out, struct cstor_objstore **where, cstor_store *s,
			   const char *ref, cstor_error *err)
{
	struct cstor_objset set = cstor_store_layer_set(s);
	struct cstor_objstore *in = NULL;
	int r = cstor_objset_find(&set, ref, copy_layer, out, &in, err);
	/* Its mounts, after its store (the lock order). */
	if (r == 0 && in != s->layers)
		add_mount_info(s, out, 0, 1);
	if (r == 0 && where)
		*where = in;
	return r;
}

int cstor_store_layer(cstor_layer **out, cstor_store *s, const char *ref, cstor_error *err)
{
	return cstor_store_find_layer(out, NULL, s, ref, err);
}

int cstor_store_create_layer(cstor_layer **out, cstor_store *s, const cstor_layer_options *o,
			     cstor_error *err)
{
	_cleanup_free_ char *id = NULL;
	int r = cstor_layer_create(&id, s, o, NULL, err);
	if (r < 0)
		return r;
	return out ? cstor_store_layer(out, s, id, err) : 0;
}

int cstor_layer_options_norm(cstor_layer_options *out, const cstor_layer_options *o,
			     cstor_error *err)
{
	if (!o || o->version < 1 || o->version > CSTOR_LAYER_OPTIONS_VERSION)
		return cstor_error_set(err, EINVAL, "unsupported cstor_layer_options version");
	/* Version 1 callers have no ID-mapping fields: read only what they have. */
	cstor_layer_options v = CSTOR_LAYER_OPTIONS_INIT;
	if (o->version == 1) {
		v.id = o->id;
		v.parent = o->parent;
		v.names = o->names;
		v.mount_label = o->mount_label;
		v.writeable = o->writeable;
		v.flags = o->flags;
	} else
		v = *o;
	*out = v;
	return 0;
}

int cstor_layer_create(char **id_out, cstor_store *s, const cstor_layer_options *opts,
		       const char *flag, cstor_error *err)
{
	cstor_layer_options ov = CSTOR_LAYER_OPTIONS_INIT;
	int nr = cstor_layer_options_norm(&ov, opts, err);
	if (nr < 0)
		return nr;
	const cstor_layer_options *o = &ov;

	/* A parent in a read-only store is found before we lock the primary
	 * store for writing (the lock order puts read-only stores after the
	 * primary one, so we must not hold the primary while reading them). */
	_cleanup_free_ char *ro_parent = NULL;
	if (o->parent && o->parent[0]) {
		cstor_layer *p = NULL;
		struct cstor_objstore *where = NULL;
		int r = cstor_store_find_layer(&p, &where, s, o->parent, err);
		if (r == 0 && where != s->layers && !(ro_parent = strdup(cstor_layer_id(p))))
			r = cstor_error_set(err, ENOMEM, "out of memory");
		cstor_layer_free(p);
		if (r < 0)
			return r;
	}

	struct cstor_objstore *ls = s->layers;
	int r = cstor_objstore_start_writing(ls, err);
	if (r != 0)
		return r;
	r = cstor_layer_create_locked(id_out, s, ls, o, ro_parent, NULL, flag, err);
	cstor_objstore_done(ls);
	return r;
}

/* What a mapped copy of a layer keeps of it (containers/storage's
 * CreateFromTemplate): the digests, sizes and owners of its diff. */
static int copy_template(struct cstor_layer_rec *rec, const struct cstor_layer_rec *t)
{
	if (!t)
		return 0;
	if ((t->h.metadata && !(rec->h.metadata = strdup(t->h.metadata))) ||
	    (t->compressed_digest && !(rec->compressed_digest = strdup(t->compressed_digest))) ||
	    (t->uncompressed_digest && !(rec->uncompressed_digest = strdup(t->uncompressed_digest))) ||
	    (t->toc_digest && !(rec->toc_digest = strdup(t->toc_digest))))
		return -ENOMEM;
	rec->compressed_size = t->compressed_size;
	rec->uncompressed_size = t->uncompressed_size;
	rec->compression = t->compression;
	if (t->n_uidset && !(rec->uidset = malloc(t->n_uidset * sizeof(uint32_t))))
		return -ENOMEM;
	if (t->n_gidset && !(rec->gidset = malloc(t->n_gidset * sizeof(uint32_t))))
		return -ENOMEM;
	if (t->n_uidset)
		memcpy(rec->uidset, t->uidset, t->n_uidset * sizeof(uint32_t));
	if (t->n_gidset)
		memcpy(rec->gidset, t->gidset, t->n_gidset * sizeof(uint32_t));
	rec->n_uidset = t->n_uidset;
	rec->n_gidset = t->n_gidset;
	return 0;
}

/* The template's tar-split, so the copy's diff is the same tarball. */
static int copy_template_tarsplit(struct cstor_objstore *ls, const char *tmpl, const char *id,
				  cstor_error *err)
{
	char from[4200], to[4200];
	snprintf(from, sizeof(from), "%s.tar-split.gz", tmpl);
	snprintf(to, sizeof(to), "%s.tar-split.gz", id);
	_cleanup_close_ int dfd = open(ls->file.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return cstor_error_errno(err, errno, "open %s", ls->file.dir);
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	int r = cstor_read_file_at(dfd, from, &data, &len, from, NULL);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return cstor_error_errno(err, r, "read %s/%s", ls->file.dir, from);
	return cstor_atomic_write_at(dfd, to, data, len, 0600, 0, to, err);
}

/* -EBUSY when layer @parent_id is a container's layer (no layer may be
 * made on top of it). Called with the primary layer store held. */
static int cstor_store_check_parent(struct cstor_store *s, const char *parent_id, cstor_error *err)
{
	struct cstor_objstore *cs = s->containers;
	int r = cstor_objstore_start_reading(cs, err);
	if (r != 0)
		return r;
	for (size_t k = 0; k < cs->n && r == 0; k++)
		if (streq(CSTOR_CONTAINER_REC(cs->recs[k])->layer, parent_id))
			r = cstor_error_set(err, EBUSY,
					    "layer %s is the layer of container %s: it cannot be a "
					    "parent",
					    parent_id, cs->recs[k]->id);
	cstor_objstore_done(cs);
	return r;
}

/* The ID mappings of layer @id of a read-only store, copied (the primary
 * store is held: read-only stores come after it in the lock order). */
static int ro_layer_maps(struct cstor_store *s, const char *id, struct cstor_idmap **u, size_t *nu,
			 struct cstor_idmap **g, size_t *ng, cstor_error *err)
{
	for (size_t i = 0; i < s->n_ro_layers; i++) {
		struct cstor_objstore *ro = s->ro_layers[i];
		int r = cstor_objstore_start_reading(ro, err);
		if (r != 0)
			return r;
		struct cstor_layer_rec *p = cstor_layer_store_by_id(ro, id);
		if (p && (cstor_idmap_dup(u, nu, p->uidmap, p->n_uidmap) < 0 ||
			  cstor_idmap_dup(g, ng, p->gidmap, p->n_gidmap) < 0))
			r = cstor_error_set(err, ENOMEM, "out of memory");
		cstor_objstore_done(ro);
		if (p || r < 0)
			return r;
	}
	return 0;
}

/* Whether the driver shifts at mount time for these mappings: then layers
 * are kept unshifted and recorded without maps (Go's canUseShifting). */
static bool can_use_shifting(struct cstor_store *s, const cstor_idmap *u, size_t nu,
			     const cstor_idmap *g, size_t ng)
{
	return s->driver_ops->supports_shifting && s->driver_ops->supports_shifting(s->driver) &&
	       cstor_idmap_contiguous(u, nu) && cstor_idmap_contiguous(g, ng);
}

bool cstor_store_can_use_shifting(struct cstor_store *s, const cstor_idmap *u, size_t nu,
				  const cstor_idmap *g, size_t ng)
{
	return can_use_shifting(s, u, nu, g, ng);
}

int cstor_layer_create_locked(char **id_out, cstor_store *s, struct cstor_objstore *ls,
			      const cstor_layer_options *o, const char *ro_parent,
			      const char *tmpl, const char *flag, cstor_error *err)
{
	if (!o || o->version != CSTOR_LAYER_OPTIONS_VERSION)
		return cstor_error_set(err, EINVAL, "unsupported cstor_layer_options version");
	int cr;
	if ((cr = cstor_idmap_check(o->uidmap, o->n_uidmap, "uid", err)) < 0 ||
	    (cr = cstor_idmap_check(o->gidmap, o->n_gidmap, "gid", err)) < 0)
		return cr;
	if ((o->host_uidmap && o->n_uidmap) || (o->host_gidmap && o->n_gidmap))
		return cstor_error_set(err, EINVAL, "host %s map specified along with %s mapping",
				       o->host_uidmap && o->n_uidmap ? "uid" : "gid",
				       o->host_uidmap && o->n_uidmap ? "UID" : "GID");
	if (o->flags & ~CSTOR_LAYER_VOLATILE)
		return cstor_error_set(err, EINVAL, "unknown layer flags 0x%x", o->flags);
	if (o->id && (!o->id[0] || strpbrk(o->id, " /") || streq(o->id, ".") || streq(o->id, "..")))
		return cstor_error_set(err, EINVAL, "invalid layer ID \"%s\"", o->id);

	char id[65];
	if (o->id)
		snprintf(id, sizeof(id), "%s", o->id);
	if (o->id && strlen(o->id) > 64)
		return cstor_error_set(err, EINVAL, "layer ID \"%s\" is longer than 64 characters",
				       o->id);
	if (!o->id && cstor_random_id(id) < 0)
		return cstor_error_errno(err, errno, "generate a layer ID");

	int r = 0;
	/* A read-only parent's mappings, copied (declared before any goto). */
	_cleanup_free_ struct cstor_idmap *ro_u = NULL, *ro_g = NULL;
	size_t n_ro_u = 0, n_ro_g = 0;
	const char *parent_id = ro_parent;
	if (o->parent && o->parent[0] && !ro_parent) {
		struct cstor_layer_rec *p = cstor_layer_store_lookup(ls, o->parent, NULL);
		if (!p) {
			r = cstor_error_set(err, ENOENT, "layer not known: %s", o->parent);
			goto out;
		}
		if (cstor_layer_rec_flag_bool(p, "incomplete") ||
		    cstor_layer_rec_flag_bool(p, CSTOR_FLAG_APPLY_INCOMPLETE) ||
		    cstor_layer_rec_flag_bool(p, CSTOR_FLAG_CREATING)) {
			r = cstor_error_set(err, EBUSY, "parent layer %s is incomplete", p->h.id);
			goto out;
		}
		parent_id = p->h.id;
	}
	/* The mappings: the caller's, else the parent's (containers/storage's
	 * PutLayer), none with host_*; what the files had before the shift:
	 * the parent's, or the template's for a copy of one. */
	const struct cstor_idmap *pu = NULL, *pg = NULL;
	size_t npu = 0, npg = 0;
	if (parent_id && !ro_parent) {
		struct cstor_layer_rec *p = cstor_layer_store_by_id(ls, parent_id);
		pu = p ? p->uidmap : NULL, npu = p ? p->n_uidmap : 0;
		pg = p ? p->gidmap : NULL, npg = p ? p->n_gidmap : 0;
	} else if (ro_parent) {
		if ((r = ro_layer_maps(s, ro_parent, &ro_u, &n_ro_u, &ro_g, &n_ro_g, err)) < 0)
			goto out;
		pu = ro_u, npu = n_ro_u, pg = ro_g, npg = n_ro_g;
	}
	struct cstor_idmaps from = { pu, npu, pg, npg };
	if (tmpl) {
		struct cstor_layer_rec *t = cstor_layer_store_by_id(ls, tmpl);
		if (!t) {
			r = cstor_error_set(err, ENOENT, "layer not known: %s", tmpl);
			goto out;
		}
		from = (struct cstor_idmaps){ t->uidmap, t->n_uidmap, t->gidmap, t->n_gidmap };
	}
	struct cstor_idmaps to = {
		o->host_uidmap ? NULL : o->n_uidmap ? o->uidmap : pu,
		o->host_uidmap ? 0 : o->n_uidmap ? o->n_uidmap : npu,
		o->host_gidmap ? NULL : o->n_gidmap ? o->gidmap : pg,
		o->host_gidmap ? 0 : o->n_gidmap ? o->n_gidmap : npg,
	};
	/* Only mapped layers ask (the driver's first answer may cost a probe). */
	if ((to.n_uids || to.n_gids) && can_use_shifting(s, to.uids, to.n_uids, to.gids, to.n_gids))
		to = (struct cstor_idmaps){ 0 };
	bool shift = !cstor_idmap_equal(from.uids, from.n_uids, to.uids, to.n_uids) ||
		     !cstor_idmap_equal(from.gids, from.n_gids, to.gids, to.n_gids);
	if (shift && !s->driver_ops->shift_owners) {
		r = cstor_error_set(err, ENOTSUP, "the %s driver cannot shift file owners",
				    s->driver_ops->name);
		goto out;
	}
	/* A container's layer is nobody's parent (Go: ErrParentIsContainer). */
	if (parent_id && s->containers && (r = cstor_store_check_parent(s, parent_id, err)) < 0)
		goto out;
	if (cstor_layer_store_by_id(ls, id)) {
		r = cstor_error_set(err, EEXIST, "a layer with ID \"%s\" already exists", id);
		goto out;
	}
	for (size_t i = 0; o->names && o->names[i]; i++)
		for (size_t k = 0; k < ls->n; k++)
			if (strv_contains(cstor_layer_store_at(ls, k)->h.names, o->names[i])) {
				r = cstor_error_set(err, EEXIST, "the layer name \"%s\" is already in use",
						    o->names[i]);
				goto out;
			}

	struct cstor_layer_rec *rec = calloc(1, sizeof(*rec));
	if (!rec || !(rec->h.id = strdup(id)) || !(rec->h.created = cstor_time_now_json()) ||
	    (parent_id && !(rec->parent = strdup(parent_id))) ||
	    (o->mount_label && o->mount_label[0] && !(rec->mountlabel = strdup(o->mount_label))) ||
	    cstor_layer_rec_set_flag(rec, "incomplete", json_true()) < 0) {
		cstor_layer_rec_free(rec);
		r = cstor_error_set(err, ENOMEM, "out of memory");
		goto out;
	}
	/* Where newest containers/storage records it (pickStoreLocation):
	 * volatile first, then an image layer in a split image store. */
	rec->is_volatile = (o->flags & CSTOR_LAYER_VOLATILE) != 0;
	rec->in_image_store = !rec->is_volatile && !o->writeable && s->image_driver;
	struct cstor_driver *drv = rec->in_image_store ? s->image_driver : s->driver;
	if (cstor_idmap_dup(&rec->uidmap, &rec->n_uidmap, to.uids, to.n_uids) < 0 ||
	    cstor_idmap_dup(&rec->gidmap, &rec->n_gidmap, to.gids, to.n_gids) < 0 ||
	    (tmpl && copy_template(rec, cstor_layer_store_by_id(ls, tmpl)) < 0)) {
		cstor_layer_rec_free(rec);
		r = cstor_error_set(err, ENOMEM, "out of memory");
		goto out;
	}
	if (o->names && (rec->h.names = strv_copy((char *const *)o->names)) == NULL) {
		cstor_layer_rec_free(rec);
		r = cstor_error_set(err, ENOMEM, "out of memory");
		goto out;
	}
	if ((r = cstor_layer_store_add(ls, rec)) < 0) {
		r = cstor_error_set(err, ENOMEM, "out of memory");
		goto out;
	}
	/* Recorded as incomplete first: if we die before the driver is done,
	 * the next writer removes the layer instead of trusting it. */
	if ((r = cstor_objstore_save(ls, err)) < 0) {
		cstor_layer_store_remove(ls, rec);
		goto out;
	}
	r = cstor_failpoint_err(err, "layer-create:before-driver", NULL, "create the layer's files");
	if (r == 0 && tmpl && !s->driver_ops->create_from_template)
		r = cstor_error_set(err, ENOTSUP, "the %s driver cannot copy layers",
				    s->driver_ops->name);
	else if (r == 0 && tmpl && cstor_store_driver_of(s, tmpl) != drv)
		/* A mapped copy goes where the template's driver home is. */
		r = cstor_error_set(err, ENOTSUP,
				    "layer %s: a mapped copy between the image store and the "
				    "graph root is not supported", tmpl);
	else if (r == 0 && tmpl)
		r = s->driver_ops->create_from_template(drv, id, tmpl, parent_id, err);
	else if (r == 0)
		r = s->driver_ops->create(drv, id, parent_id, err);
	/* The chown copy: the files get the new mappings' owners. */
	if (r == 0 && shift)
		r = s->driver_ops->shift_owners(drv, id, &from, &to, err);
	if (r == 0 && tmpl)
		r = copy_template_tarsplit(ls, tmpl, id, err);
	if (r == 0)
		r = cstor_failpoint_err(err, "layer-create:after-driver", NULL,
					"record the layer as complete");
	/* The directory (vfs: a whole copy of the parent) before the record
	 * that says it is complete; a volatile layer (a transient store's
	 * container) is never synced, as its record is not. */
	if (r == 0 && !(o->flags & CSTOR_LAYER_VOLATILE))
		r = cstor_layer_sync_files(s, -1, id, err);
	if (r == 0) {
		cstor_layer_rec_del_flag(rec, "incomplete");
		if (flag && cstor_layer_rec_set_flag(rec, flag, json_true()) < 0)
			r = cstor_error_set(err, ENOMEM, "out of memory");
		if (r == 0)
			r = cstor_objstore_save(ls, err);
	}
	if (r < 0) {
		cstor_error_wrap(err, r, "create layer %s", id);
		s->driver_ops->remove(drv, id, NULL);
		cstor_layer_store_remove(ls, rec);
		cstor_objstore_save(ls, NULL);
		goto out;
	}
	if (!(*id_out = strdup(id)))
		r = cstor_error_set(err, ENOMEM, "out of memory");
out:
	return r;
}
