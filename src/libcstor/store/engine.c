/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "records/bigdata.h"
#include "util/error-internal.h"
#include "util/fileutil.h"
#include "store/engine.h"
#include "store/store-internal.h"
#include "util/cleanup.h"
#include "util/rm.h"
#include "util/strv.h"

static void free_records(const struct cstor_objstore_ops *ops, struct cstor_obj_head **recs,
			 size_t n)
{
	for (size_t i = 0; i < n; i++)
		ops->free(recs[i]);
	free(recs);
}

int cstor_objstore_open(struct cstor_objstore **out, const struct cstor_objstore_ops *ops,
			const char *dir, bool read_only, cstor_error *err)
{
	struct cstor_objstore *os = calloc(1, sizeof(*os));
	if (!os)
		return cstor_error_set(err, ENOMEM, "out of memory");
	os->ops = ops;
	os->read_only = read_only;
	int r = cstor_recfile_open(&os->file, &os->lock, dir, ops->json_name, ops->lock_name,
				   read_only, err);
	if (r < 0) {
		free(os);
		return r;
	}
	*out = os;
	return 0;
}

void cstor_objstore_free(struct cstor_objstore *os) CSTOR_NO_TSA
{
	if (!os)
		return;
	free_records(os->ops, os->recs, os->n);
	cstor_recfile_close(&os->file, &os->lock);
	free(os);
}

static int reload(struct cstor_objstore *os, cstor_error *err) CSTOR_REQUIRES(&os->lock)
{
	struct cstor_recfile_seen seen;
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	int r = cstor_recfile_read(&os->file, &os->lock, &data, &len, &seen, err);
	if (r < 0)
		return r;
	struct cstor_obj_head **recs = NULL;
	size_t n = 0;
	if (data && (r = os->ops->parse_all(&recs, &n, data, len, os->file.path, err)) < 0)
		return r;
	/* Names are unique: a later record takes a name from earlier ones, as
	 * when Go loads such a file. */
	bool dup = false;
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; recs[i]->names && recs[i]->names[k]; k++)
			for (size_t j = 0; j < i; j++)
				if (strv_contains(recs[j]->names, recs[i]->names[k])) {
					dup = true;
					strv_remove(recs[j]->names, recs[i]->names[k]);
				}
	if (dup && os->read_only) {
		free_records(os->ops, recs, n);
		return cstor_error_set(err, EBADMSG,
				       "read-only %s store %s assigns the same name to multiple %ss",
				       os->ops->kind, os->file.dir, os->ops->kind);
	}
	free_records(os->ops, os->recs, os->n);
	os->recs = recs;
	os->n = n;
	os->seen = seen;
	os->needs_save = dup;
	return 0;
}

static bool stale(struct cstor_objstore *os) CSTOR_REQUIRES_SHARED(&os->lock)
{
	return cstor_recfile_stale(&os->file, &os->lock, &os->seen);
}

int cstor_objstore_start_reading(struct cstor_objstore *os, cstor_error *err) CSTOR_NO_TSA
{
	for (;;) {
		cstor_lock_rlock(&os->lock);
		if (!stale(os))
			return 0;
		cstor_lock_unlock(&os->lock);
		/* Reloading replaces records other threads may be reading: it
		 * needs the lock exclusively (for a read-only store: exclusive
		 * among our threads, still shared on the file). */
		cstor_lock_lock(&os->lock);
		int r = stale(os) ? reload(os, err) : 0;
		cstor_lock_unlock(&os->lock);
		if (r < 0)
			return r;
	}
}

int cstor_objstore_start_writing(struct cstor_objstore *os, cstor_error *err) CSTOR_NO_TSA
{
	if (os->read_only)
		return cstor_error_set(err, EROFS, "%s store %s is read-only", os->ops->kind,
				       os->file.dir);
	cstor_lock_lock(&os->lock);
	int r = stale(os) ? reload(os, err) : 0;
	if (r == 0 && os->needs_save)
		r = cstor_objstore_save(os, err);
	if (r < 0)
		cstor_lock_unlock(&os->lock);
	return r;
}

void cstor_objstore_done(struct cstor_objstore *os) CSTOR_NO_TSA
{
	cstor_lock_unlock(&os->lock);
}

int cstor_objstore_save(struct cstor_objstore *os, cstor_error *err)
{
	if (os->read_only)
		return cstor_error_set(err, EROFS, "%s store %s is read-only", os->ops->kind,
				       os->file.dir);
	cstor_buf b = { 0 };
	cstor_buf_putc(&b, '[');
	for (size_t i = 0; i < os->n; i++) {
		if (i)
			cstor_buf_putc(&b, ',');
		os->ops->write(&b, os->recs[i]);
	}
	cstor_buf_putc(&b, ']');
	if (b.oom) {
		cstor_buf_free(&b);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	int r = cstor_recfile_write(&os->file, &os->lock, b.data, b.len, &os->seen, err);
	cstor_buf_free(&b);
	if (r == 0)
		os->needs_save = false;
	return r;
}

struct cstor_obj_head *cstor_objstore_by_id(struct cstor_objstore *os, const char *id)
{
	for (size_t i = 0; i < os->n; i++)
		if (streq(os->recs[i]->id, id))
			return os->recs[i];
	return NULL;
}

struct cstor_obj_head *cstor_objstore_by_name(struct cstor_objstore *os, const char *name)
{
	for (size_t i = 0; i < os->n; i++)
		if (strv_contains(os->recs[i]->names, name))
			return os->recs[i];
	return NULL;
}

struct cstor_obj_head *cstor_objstore_lookup(struct cstor_objstore *os, const char *ref,
					     bool *ambiguous)
{
	if (ambiguous)
		*ambiguous = false;
	if (!ref || !ref[0])
		return NULL;
	struct cstor_obj_head *h = cstor_objstore_by_id(os, ref);
	if (!h)
		h = cstor_objstore_by_name(os, ref);
	for (size_t i = 0; !h && os->ops->alt_key && i < os->n; i++)
		if (streq_ptr(os->ops->alt_key(os->recs[i]), ref))
			h = os->recs[i];
	if (h)
		return h;
	size_t l = strlen(ref);
	for (size_t i = 0; i < os->n; i++) {
		if (strncmp(os->recs[i]->id, ref, l) != 0)
			continue;
		if (h) {
			if (ambiguous)
				*ambiguous = true;
			return NULL;
		}
		h = os->recs[i];
	}
	return h;
}

int cstor_objstore_add(struct cstor_objstore *os, struct cstor_obj_head *h)
{
	struct cstor_obj_head **n = realloc(os->recs, (os->n + 1) * sizeof(*n));
	if (!n) {
		os->ops->free(h);
		return -ENOMEM;
	}
	n[os->n++] = h;
	os->recs = n;
	return 0;
}

void cstor_objstore_remove(struct cstor_objstore *os, struct cstor_obj_head *h)
{
	for (size_t i = 0; i < os->n; i++)
		if (os->recs[i] == h) {
			memmove(&os->recs[i], &os->recs[i + 1], (os->n - i - 1) * sizeof(*os->recs));
			os->n--;
			os->ops->free(h);
			return;
		}
}

char *cstor_objstore_data_dir(struct cstor_objstore *os, const char *id)
{
	return cstor_path_join(os->file.dir, id);
}

int cstor_objstore_delete(struct cstor_objstore *os, struct cstor_obj_head *h, cstor_error *err)
{
	_cleanup_free_ char *id = strdup(h->id);
	if (!id)
		return cstor_error_set(err, ENOMEM, "out of memory");
	cstor_objstore_remove(os, h);
	int r = cstor_objstore_save(os, err);
	if (r < 0)
		return r;
	/* The record is gone: the directory is only garbage now. */
	return cstor_rm_rf_at(os->file.dirfd, id, err);
}

int cstor_objstore_set_names(struct cstor_objstore *os, struct cstor_obj_head *h,
			     char *const *names)
{
	_cleanup_strv_free_ char **v = cstor_names_dedup(names);
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; v[i]; i++)
		for (size_t k = 0; k < os->n; k++)
			if (os->recs[k] != h)
				strv_remove(os->recs[k]->names, v[i]);
	strv_free(h->names);
	h->names = TAKE_PTR(v);
	return 0;
}

int cstor_objstore_write_big_data(struct cstor_objstore *os, struct cstor_obj_head *h,
				  const char *key, const void *data, size_t len,
				  const char *digest, bool *changed, cstor_error *err)
{
	_cleanup_free_ char *dir = cstor_objstore_data_dir(os, h->id);
	if (!dir)
		return cstor_error_set(err, ENOMEM, "out of memory");
	int r = cstor_big_data_write(dir, key, data, len, err);
	if (r < 0)
		return r;
	if (cstor_bigdata_index_set(&h->bd, key, (int64_t)len, digest, changed) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	return 0;
}

int cstor_objstore_new_id(struct cstor_objstore *os, char id[65], cstor_error *err)
{
	do {
		if (cstor_random_id(id) < 0)
			return cstor_error_errno(err, errno, "generate a random ID");
	} while (cstor_objstore_by_id(os, id));
	return 0;
}
