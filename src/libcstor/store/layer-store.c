/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "records/apply-lock.h"
#include "store/layer-store.h"
#include "store/store-internal.h"
#include "util/cleanup.h"
#include "util/error-internal.h"
#include "util/strv.h"

static bool is_volatile(const struct cstor_obj_head *h)
{
	return CSTOR_LAYER_REC(h)->is_volatile;
}

static void set_volatile(struct cstor_obj_head *h)
{
	CSTOR_LAYER_REC(h)->is_volatile = true;
}

static bool in_image_store(const struct cstor_obj_head *h)
{
	return CSTOR_LAYER_REC(h)->in_image_store;
}

static void set_in_image_store(struct cstor_obj_head *h)
{
	CSTOR_LAYER_REC(h)->in_image_store = true;
}

static int mark_dying(struct cstor_obj_head *h)
{
	struct cstor_layer_rec *rec = CSTOR_LAYER_REC(h);
	if (cstor_layer_rec_flag_bool(rec, "incomplete"))
		return 0;
	return cstor_layer_rec_set_flag(rec, "incomplete", json_true()) < 0 ? -ENOMEM : 1;
}

static int remove_files(struct cstor_objstore *ls, const char *id, cstor_error *err)
	CSTOR_REQUIRES(&ls->lock)
{
	struct cstor_store *s = ls->ctx;
	int r = s->driver_ops->remove(cstor_store_driver_of(s, id), id, err);
	if (r < 0)
		return cstor_error_wrap(err, r, "remove layer %s", id);
	/* The removal before the save that drops the record: else a power
	 * cut can bring the directory back with no record owning it
	 * (test-power-cut). */
	if ((r = cstor_layer_sync_files(s, -1, id, err)) < 0)
		return r;
	_cleanup_free_ char *ts = NULL;
	if (asprintf(&ts, "%s.tar-split.gz", id) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	if (unlinkat(ls->file.dirfd, ts, 0) < 0 && errno != ENOENT)
		return cstor_error_errno(err, errno, "remove %s/%s", ls->file.dir, ts);
	return 0;
}

static bool layer_dead(struct cstor_store *s, struct cstor_layer_rec *rec)
{
	bool dead = cstor_layer_rec_flag_bool(rec, "incomplete") ||
		    cstor_layer_rec_flag_bool(rec, CSTOR_FLAG_CREATING);
	return dead && !cstor_apply_in_progress(s->run_layers_dir, rec->h.id);
}

/* Readers too have dead layers removed, as containers/storage's do. */
static bool has_incomplete(struct cstor_objstore *ls) CSTOR_REQUIRES_SHARED(&ls->lock)
{
	for (size_t i = 0; i < ls->n; i++)
		if (layer_dead(ls->ctx, cstor_layer_store_at(ls, i)))
			return true;
	return false;
}

int cstor_layer_sync_files(cstor_store *s, int fd, const char *id, cstor_error *err)
{
	struct cstor_driver *drv = cstor_store_driver_of(s, id);
	if (s->driver_ops->syncs_layers && !s->driver_ops->syncs_layers(drv))
		return 0;
	_cleanup_close_ int own = -1;
	if (fd < 0) {
		/* The driver home is on the layer's filesystem (its own bind
		 * mount at most), which is all syncfs() needs: a split image
		 * store's for its layers. */
		const char *home = drv == s->image_driver ? s->image_driver_home : s->driver_home;
		own = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (own < 0)
			return cstor_error_errno(err, errno, "open %s", home);
		fd = own;
	}
	/* Data and metadata of every file written since, in one call: far
	 * cheaper than an fsync per file and per directory of a layer with
	 * thousands of small files (docs/durability.md). */
	if (syncfs(fd) < 0)
		return cstor_error_errno(err, errno, "sync the files of layer %s", id);
	return 0;
}

/* Layers flagged "incomplete" were being created or deleted by a writer
 * that died (writers hold the lock exclusively from flag to unflag): finish
 * removing them, as containers/storage does at load. A layer an apply is
 * still running into (in another process, with the apply lock) is not
 * dead. */
static int remove_incomplete(struct cstor_objstore *ls, cstor_error *err)
	CSTOR_REQUIRES(&ls->lock)
{
	struct cstor_store *s = ls->ctx;
	int r = 0;
	for (size_t i = 0; i < ls->n && r == 0;) {
		struct cstor_layer_rec *rec = cstor_layer_store_at(ls, i);
		if (!layer_dead(s, rec)) {
			i++;
			continue;
		}
		/* Remembered for a delete of this layer: the delete that died
		 * may be run again (cstor_store_delete_layer). */
		if (strv_append(&ls->cleaned, rec->h.id) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
		for (char **nm = rec->h.names; nm && *nm; nm++)
			if (strv_append(&ls->cleaned, *nm) < 0)
				return cstor_error_set(err, ENOMEM, "out of memory");
		r = cstor_layer_store_delete(ls, rec, err);
	}
	/* Only in the store a process opened for writing (ctx set): with its
	 * image and container stores to ask. */
	if (r == 0 && s->collect_journals)
		r = s->collect_journals(s, ls, err);
	return r;
}

const struct cstor_objstore_ops cstor_layer_store_ops = {
	.kind = "layer",
	.json_name = "layers.json",
	.lock_name = "layers.lock",
	.codec = &cstor_layer_rec_codec,
	.big_data_names_only = true,
	/* Newer containers/storage keeps layers of volatile containers
	 * here; its token changes like layers.json's. */
	.aside_name = "volatile-layers.json",
	.aside = is_volatile,
	.set_aside = set_volatile,
	/* With a split image store, its image layers' records. */
	.split = in_image_store,
	.set_split = set_in_image_store,
	.writer_cleanup = remove_incomplete,
	.reader_cleanup = has_incomplete,
	.mark_dying = mark_dying,
	.remove_files = remove_files,
};

char *cstor_layer_store_tarsplit_path(struct cstor_objstore *ls, const char *id)
{
	char *p;
	return asprintf(&p, "%s/%s.tar-split.gz", ls->file.dir, id) < 0 ? NULL : p;
}

bool cstor_layer_store_has_children(struct cstor_objstore *ls, const char *id)
{
	for (size_t i = 0; i < ls->n; i++)
		if (streq_ptr(cstor_layer_store_at(ls, i)->parent, id))
			return true;
	return false;
}

bool cstor_layer_store_is_ancestor(struct cstor_objstore *ls, const char *id, const char *anc)
	CSTOR_REQUIRES_SHARED(&ls->lock)
{
	struct cstor_layer_rec *l = cstor_layer_store_by_id(ls, id);
	for (size_t steps = 0; l && l->parent && steps < ls->n; steps++) {
		if (streq(l->parent, anc))
			return true;
		l = cstor_layer_store_by_id(ls, l->parent);
	}
	return false;
}

bool cstor_layer_store_has_children_outside_cycle(struct cstor_objstore *ls, const char *id)
{
	for (size_t i = 0; i < ls->n; i++) {
		struct cstor_layer_rec *c = cstor_layer_store_at(ls, i);
		if (streq_ptr(c->parent, id) && !cstor_layer_store_is_ancestor(ls, id, c->h.id))
			return true;
	}
	return false;
}
