/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error-internal.h"
#include "util/fileutil.h"
#include "store/layer-store.h"
#include "util/cleanup.h"
#include "drivers/driver.h"
#include "util/rm.h"
#include "util/strv.h"

#define LAYERS_JSON "layers.json"
/* Newer containers/storage keeps layers of volatile containers here,
 * written without fsync; its token changes like layers.json's. */
#define VOLATILE_JSON "volatile-layers.json"

static void free_records(struct cstor_layer_rec **recs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cstor_layer_rec_free(recs[i]);
	free(recs);
}

int cstor_layer_store_open(struct cstor_layer_store **out, const char *dir, bool read_only,
			   cstor_error *err)
{
	struct cstor_layer_store *ls = calloc(1, sizeof(*ls));
	if (!ls)
		return cstor_error_set(err, ENOMEM, "out of memory");
	ls->read_only = read_only;
	int r = cstor_recfile_open(&ls->file, &ls->lock, dir, LAYERS_JSON, "layers.lock", read_only,
				   err);
	if (r < 0) {
		free(ls);
		return r;
	}
	ls->dir = ls->file.dir;
	*out = ls;
	return 0;
}

void cstor_layer_store_free(struct cstor_layer_store *ls) CSTOR_NO_TSA
{
	if (!ls)
		return;
	free_records(ls->layers, ls->n_layers);
	cstor_recfile_close(&ls->file, &ls->lock);
	free(ls);
}

static bool stale(struct cstor_layer_store *ls) CSTOR_REQUIRES_SHARED(&ls->lock)
{
	return cstor_recfile_stale(&ls->file, &ls->lock, &ls->seen);
}

/* Remove a name from every record but @keep. */
static void steal_name(struct cstor_layer_store *ls, const char *name,
		       const struct cstor_layer_rec *keep) CSTOR_REQUIRES(&ls->lock)
{
	for (size_t i = 0; i < ls->n_layers; i++)
		if (ls->layers[i] != keep && strv_contains(ls->layers[i]->names, name))
			strv_remove(ls->layers[i]->names, name);
}

static int reload(struct cstor_layer_store *ls, cstor_error *err) CSTOR_REQUIRES(&ls->lock)
{
	struct cstor_recfile_seen seen;
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	int r = cstor_recfile_read(&ls->file, &ls->lock, &data, &len, &seen, err);
	if (r < 0)
		return r;
	struct cstor_layer_rec **recs = NULL;
	size_t n = 0;
	if (data && (r = cstor_layer_recs_parse(&recs, &n, data, len, ls->file.path, err)) < 0)
		return r;
	/* Then the volatile ones; a duplicate ID there is skipped, as Go
	 * does. */
	_cleanup_free_ char *vdata = NULL;
	size_t vlen = 0;
	if (ls->file.dirfd >= 0) {
		_cleanup_free_ char *vpath = cstor_path_join(ls->dir, VOLATILE_JSON);
		r = vpath ? cstor_read_file_at(ls->file.dirfd, VOLATILE_JSON, &vdata, &vlen, vpath, err)
			  : -ENOMEM;
		if (r == -ENOENT) {
			cstor_error_clear(err);
			r = 0;
		}
		struct cstor_layer_rec **vrecs = NULL;
		size_t vn = 0;
		if (r == 0 && vdata)
			r = cstor_layer_recs_parse(&vrecs, &vn, vdata, vlen, vpath, err);
		if (r < 0) {
			free_records(recs, n);
			return r;
		}
		if (vn) {
			struct cstor_layer_rec **all = realloc(recs, (n + vn + 1) * sizeof(*all));
			if (!all) {
				free_records(recs, n);
				free_records(vrecs, vn);
				return cstor_error_set(err, ENOMEM, "out of memory");
			}
			recs = all;
			for (size_t i = 0; i < vn; i++) {
				bool dup = false;
				for (size_t j = 0; j < n && !dup; j++)
					dup = streq(recs[j]->id, vrecs[i]->id);
				if (dup) {
					cstor_layer_rec_free(vrecs[i]);
					continue;
				}
				vrecs[i]->is_volatile = true;
				recs[n++] = vrecs[i];
			}
		}
		free(vrecs);
	}
	free_records(ls->layers, ls->n_layers);
	ls->layers = recs;
	ls->n_layers = n;
	ls->seen = seen;
	ls->check_incomplete = true;

	/* Names are unique among layers: a later record wins, as when Go
	 * loads such a file. */
	bool dup = false;
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; recs[i]->names && recs[i]->names[k]; k++)
			for (size_t j = 0; j < i; j++)
				if (strv_contains(recs[j]->names, recs[i]->names[k])) {
					dup = true;
					strv_remove(recs[j]->names, recs[i]->names[k]);
				}
	if (dup) {
		if (ls->read_only)
			return cstor_error_set(err, EBADMSG,
					       "read-only layer store %s assigns the same name to "
					       "multiple layers",
					       ls->dir);
		ls->needs_save = true;
	}
	return 0;
}

int cstor_layer_store_start_reading(struct cstor_layer_store *ls, cstor_error *err) CSTOR_NO_TSA
{
	for (int attempt = 0;; attempt++) {
		cstor_lock_rlock(&ls->lock);
		if (!stale(ls))
			return 0;
		cstor_lock_unlock(&ls->lock);
		/* Reloading replaces the records other readers of this process
		 * may be looking at: it needs the lock exclusively. For a
		 * read-only store that is exclusive among our threads and
		 * still shared on the file. */
		cstor_lock_lock(&ls->lock);
		int r = stale(ls) ? reload(ls, err) : 0;
		cstor_lock_unlock(&ls->lock);
		if (r < 0)
			return r;
		(void)attempt;
	}
}

/* Layers flagged "incomplete" were being created or deleted by a writer
 * that died (writers hold the lock exclusively from flag to unflag): finish
 * removing them, as containers/storage does at load. */
static int remove_incomplete(struct cstor_layer_store *ls, cstor_error *err)
	CSTOR_REQUIRES(&ls->lock)
{
	int r = 0;
	for (size_t i = 0; i < ls->n_layers && r == 0;) {
		struct cstor_layer_rec *rec = ls->layers[i];
		bool dead = cstor_layer_rec_flag_bool(rec, "incomplete") ||
			    cstor_layer_rec_flag_bool(rec, CSTOR_FLAG_CREATING);
		if (dead && ls->apply_live && ls->apply_live(ls->apply_live_ctx, rec->id))
			dead = false;
		if (!dead) {
			i++;
			continue;
		}
		r = cstor_layer_store_delete(ls, rec, err);
	}
	if (r == 0 && ls->needs_save)
		r = cstor_layer_store_save(ls, err);
	return r;
}

int cstor_layer_store_start_writing(struct cstor_layer_store *ls, cstor_error *err) CSTOR_NO_TSA
{
	if (ls->read_only)
		return cstor_error_set(err, EROFS, "layer store %s is read-only", ls->dir);
	cstor_lock_lock(&ls->lock);
	int r = 0;
	if (stale(ls))
		r = reload(ls, err);
	/* Also after a reader's reload: a process whose first look at the
	 * store was a read would otherwise never clean up. */
	if (r == 0 && ls->check_incomplete && ls->drv_ops) {
		r = remove_incomplete(ls, err);
		if (r == 0)
			ls->check_incomplete = false;
	}
	if (r < 0)
		cstor_lock_unlock(&ls->lock);
	return r;
}

char *cstor_layer_store_tarsplit_path(struct cstor_layer_store *ls, const char *id)
{
	char *p;
	return asprintf(&p, "%s/%s.tar-split.gz", ls->dir, id) < 0 ? NULL : p;
}

char *cstor_layer_store_data_dir(struct cstor_layer_store *ls, const char *id)
{
	return cstor_path_join(ls->dir, id);
}

int cstor_layer_store_delete(struct cstor_layer_store *ls, struct cstor_layer_rec *rec,
			     cstor_error *err)
{
	int r;
	if (!cstor_layer_rec_flag_bool(rec, "incomplete")) {
		if (cstor_layer_rec_set_flag(rec, "incomplete", json_true()) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
		if ((r = cstor_layer_store_save(ls, err)) < 0)
			return r;
	}
	if (ls->drv_ops && (r = ls->drv_ops->remove(ls->drv, rec->id, err)) < 0)
		return cstor_error_wrap(err, r, "remove layer %s", rec->id);
	_cleanup_free_ char *ts = NULL;
	if (asprintf(&ts, "%s.tar-split.gz", rec->id) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	if (unlinkat(ls->file.dirfd, ts, 0) < 0 && errno != ENOENT)
		return cstor_error_errno(err, errno, "remove %s/%s", ls->dir, ts);
	if ((r = cstor_rm_rf_at(ls->file.dirfd, rec->id, err)) < 0)
		return r;
	cstor_layer_store_remove(ls, rec);
	return cstor_layer_store_save(ls, err);
}

void cstor_layer_store_done(struct cstor_layer_store *ls) CSTOR_NO_TSA
{
	cstor_lock_unlock(&ls->lock);
}

int cstor_layer_store_save(struct cstor_layer_store *ls, cstor_error *err)
{
	if (ls->read_only)
		return cstor_error_set(err, EROFS, "layer store %s is read-only", ls->dir);
	cstor_buf b = { 0 }, v = { 0 };
	cstor_buf_putc(&b, '[');
	cstor_buf_putc(&v, '[');
	size_t nb = 0, nv = 0;
	for (size_t i = 0; i < ls->n_layers; i++) {
		cstor_buf *t = ls->layers[i]->is_volatile ? &v : &b;
		size_t *k = ls->layers[i]->is_volatile ? &nv : &nb;
		if ((*k)++)
			cstor_buf_putc(t, ',');
		cstor_layer_rec_write(t, ls->layers[i]);
	}
	cstor_buf_putc(&b, ']');
	cstor_buf_putc(&v, ']');
	if (b.oom || v.oom) {
		cstor_buf_free(&b);
		cstor_buf_free(&v);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	/* The volatile file is only rewritten when there is one or when it
	 * has records to hold (Go 1.43 never writes it). */
	int r = 0;
	struct stat st;
	if (nv > 0 || fstatat(ls->file.dirfd, VOLATILE_JSON, &st, 0) == 0)
		r = cstor_atomic_write_at(ls->file.dirfd, VOLATILE_JSON, v.data, v.len, 0600, 0,
					  VOLATILE_JSON, err);
	cstor_buf_free(&v);
	if (r == 0)
		r = cstor_recfile_write(&ls->file, &ls->lock, b.data, b.len, &ls->seen, err);
	cstor_buf_free(&b);
	if (r < 0)
		return r;
	ls->needs_save = false;
	return 0;
}

struct cstor_layer_rec *cstor_layer_store_by_id(struct cstor_layer_store *ls, const char *id)
{
	for (size_t i = 0; i < ls->n_layers; i++)
		if (streq(ls->layers[i]->id, id))
			return ls->layers[i];
	return NULL;
}

struct cstor_layer_rec *cstor_layer_store_lookup(struct cstor_layer_store *ls, const char *ref,
						 bool *ambiguous)
{
	if (ambiguous)
		*ambiguous = false;
	if (!ref || !ref[0])
		return NULL;
	struct cstor_layer_rec *r = cstor_layer_store_by_id(ls, ref);
	if (r)
		return r;
	for (size_t i = 0; i < ls->n_layers; i++)
		if (strv_contains(ls->layers[i]->names, ref))
			return ls->layers[i];
	struct cstor_layer_rec *found = NULL;
	size_t l = strlen(ref);
	for (size_t i = 0; i < ls->n_layers; i++) {
		if (strncmp(ls->layers[i]->id, ref, l) != 0)
			continue;
		if (found) {
			if (ambiguous)
				*ambiguous = true;
			return NULL;
		}
		found = ls->layers[i];
	}
	return found;
}

int cstor_layer_store_add(struct cstor_layer_store *ls, struct cstor_layer_rec *rec)
{
	struct cstor_layer_rec **n = realloc(ls->layers, (ls->n_layers + 1) * sizeof(*n));
	if (!n) {
		cstor_layer_rec_free(rec);
		return -ENOMEM;
	}
	n[ls->n_layers++] = rec;
	ls->layers = n;
	return 0;
}

void cstor_layer_store_remove(struct cstor_layer_store *ls, struct cstor_layer_rec *rec)
{
	for (size_t i = 0; i < ls->n_layers; i++)
		if (ls->layers[i] == rec) {
			memmove(&ls->layers[i], &ls->layers[i + 1],
				(ls->n_layers - i - 1) * sizeof(*ls->layers));
			ls->n_layers--;
			cstor_layer_rec_free(rec);
			return;
		}
}

int cstor_layer_store_set_names(struct cstor_layer_store *ls, struct cstor_layer_rec *rec,
				char *const *names)
{
	_cleanup_strv_free_ char **v = calloc(1, sizeof(char *));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; names && names[i]; i++)
		if (!strv_contains(v, names[i]) && strv_append(&v, names[i]) < 0)
			return -ENOMEM;
	for (size_t i = 0; v[i]; i++)
		steal_name(ls, v[i], rec);
	strv_free(rec->names);
	rec->names = TAKE_PTR(v);
	return 0;
}

bool cstor_layer_store_has_children(struct cstor_layer_store *ls, const char *id)
{
	for (size_t i = 0; i < ls->n_layers; i++)
		if (streq_ptr(ls->layers[i]->parent, id))
			return true;
	return false;
}
