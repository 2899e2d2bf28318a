/* SPDX-License-Identifier: Apache-2.0 */
/*
 * repair and gc (include/cstor/check.h, docs/check.md).
 *
 * Where containers/storage's repair deletes every damaged layer with the
 * images that use it, cstor first rebuilds the layer's files in place: its
 * ID, its record and its overlay link stay, so its children, the images
 * and the containers built on it are untouched. The content must come back
 * with the recorded DiffID (the rebuild checks it before the layer is
 * usable again), from the layer's kept blob, another layer's kept blob
 * with the same DiffID, or the diff of an intact layer with the same
 * DiffID in any store. Only what none of these can rebuild is removed.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstor/check.h>
#include <cstor/container.h>
#include <cstor/image.h>
#include <cstor/layer.h>
#include <cstor/mount.h>
#include <cstor/transfer.h>

#include "records/bigdata.h"
#include "records/layer-rec.h"
#include "records/pending.h"
#include "store/check-internal.h"
#include "store/engine.h"
#include "store/store-internal.h"
#include "util/cleanup.h"
#include "util/fileutil.h"
#include "util/macro.h"
#include "util/error-internal.h"
#include "util/rm.h"
#include "util/strv.h"

static int say(char ***v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int say(char ***v, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	int k = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (k < 0)
		return -ENOMEM;
	return strv_consume(v, s);
}

static long fd_read(void *ctx, void *buf, size_t len)
{
	int fd = *(int *)ctx;
	for (;;) {
		ssize_t n = read(fd, buf, len);
		if (n >= 0 || errno != EINTR)
			return n;
	}
}

static int fd_write(void *ctx, const void *buf, size_t len)
{
	return cstor_write_all(*(int *)ctx, buf, len);
}

static bool is_kept_blob(const char *key)
{
	return strncmp(key, CSTOR_KEPT_BLOB_PREFIX, strlen(CSTOR_KEPT_BLOB_PREFIX)) == 0;
}

static bool blob_is_bad(const struct check_layer *l, const char *key)
{
	return strv_contains(l->bad_blobs, key);
}

/* Rebuild @l from kept blob @key of layer @src. */
static int from_blob(cstor_store *s, const struct check_layer *l, const struct check_layer *src,
		     const char *key, cstor_error *err)
{
	_cleanup_free_ char *file = NULL;
	int r = cstor_big_data_file_name(&file, key, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *path = cstor_path_join(src->data_dir, file);
	if (!path)
		return cstor_error_set(err, ENOMEM, "out of memory");
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cstor_error_errno(err, errno, "open %s", path);
	return cstor_layer_apply(NULL, s, l->id, CSTOR_APPLY_REBUILD, -1, NULL, fd_read, &fd, err);
}

/* Rebuild @l from the diff of layer @src (same DiffID): through the
 * store's diff for a layer it finds by ID, or reassembled from its own
 * store's files for a read-only copy of @l itself (same ID, shadowed by
 * ours). The diff goes through an unnamed temporary file: making it takes
 * the store's locks, which the rebuild takes too. */
static int from_diff(cstor_store *s, const struct check_layer *l, const struct check_layer *src,
		     cstor_error *err)
{
	_cleanup_close_ int fd = open(s->layers_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return cstor_error_errno(err, errno, "create a temporary file in %s", s->layers_dir);
	int r;
	if (src->shadowed) {
		_cleanup_free_ char *root = strdup(src->layers_dir);
		char *slash = root ? strrchr(root, '/') : NULL;
		if (!slash)
			return cstor_error_set(err, ENOMEM, "out of memory");
		*slash = 0;
		r = cstor_layer_diff_stored(s, root, src->layers_dir, src->id, fd_write, &fd, err);
	} else {
		r = cstor_store_diff(s, NULL, src->id, CSTOR_DIFF_UNCOMPRESSED, fd_write, &fd, err);
	}
	if (r < 0)
		return r;
	if (lseek(fd, 0, SEEK_SET) < 0)
		return cstor_error_errno(err, errno, "rewind the diff of layer %s", src->id);
	return cstor_layer_apply(NULL, s, l->id, CSTOR_APPLY_REBUILD, -1, NULL, fd_read, &fd, err);
}

/* Try every source in turn; *how says which one worked. */
static int rebuild(char **how, cstor_store *s, const struct cstor_check_report *rep,
		   const struct check_layer *l, cstor_error *err)
{
	cstor_error last = CSTOR_ERROR_INIT;
	int r = -ENOENT;
	/* Kept blobs first, the layer's own before others': no temporary
	 * copy, and the blob is what the layer was made from. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < rep->n_layers; i++) {
			const struct check_layer *src = &rep->layers[i];
			if ((pass == 0) != (src == l) || !src->diff_id || !streq(src->diff_id, l->diff_id))
				continue;
			for (size_t k = 0; src->data && src->data[k]; k++) {
				const char *key = src->data[k];
				if (!is_kept_blob(key) || blob_is_bad(src, key))
					continue;
				cstor_error_clear(&last);
				r = from_blob(s, l, src, key, &last);
				if (r == 0) {
					cstor_error_clear(&last);
					if (src == l)
						return asprintf(how, "its kept blob %s",
								key + strlen(CSTOR_KEPT_BLOB_PREFIX)) < 0 ?
							       -ENOMEM :
							       0;
					return asprintf(how, "the kept blob %s of %slayer %s",
							key + strlen(CSTOR_KEPT_BLOB_PREFIX),
							src->ro ? "read-only " : "", src->id) < 0 ?
						       -ENOMEM :
						       0;
				}
			}
		}
	}
	/* Then intact layers with the same DiffID: ours and other stores'
	 * by their diff, and a read-only store's copy of this very layer
	 * (same ID, so only reachable through its own store's files). */
	for (size_t i = 0; i < rep->n_layers; i++) {
		const struct check_layer *src = &rep->layers[i];
		if (src == l || !src->diff_id || !streq(src->diff_id, l->diff_id))
			continue;
		if (!src->shadowed && (!src->diff_ok || src->content_bad))
			continue;
		cstor_error_clear(&last);
		r = from_diff(s, l, src, &last);
		if (r == 0) {
			cstor_error_clear(&last);
			return asprintf(how, "%slayer %s%s, which has the same content",
					src->ro ? "read-only " : "", src->id,
					src->shadowed ? " (its copy in a read-only store)" : "") < 0 ?
				       -ENOMEM :
				       0;
		}
	}
	if (last.code)
		cstor_error_move(err, &last);
	else
		cstor_error_set(err, ENOENT, "no kept blob and no intact layer with DiffID %s",
				l->diff_id);
	return r < 0 ? r : -ENOENT;
}

/* Drop big-data name @key from primary layer @id's record (a kept blob
 * that is gone or wrong: it is a cache, not part of the layer). */
static int drop_data_name(cstor_store *s, const char *id, const char *key, cstor_error *err)
{
	struct cstor_objstore *ls = s->layers;
	int r = cstor_objstore_start_writing(ls, err);
	if (r != 0)
		return r < 0 ? r : -EIO;
	struct cstor_obj_head *h = cstor_objstore_by_id(ls, id);
	if (h && strv_contains(h->bd.names, key)) {
		strv_remove(h->bd.names, key);
		cstor_objstore_changed(ls);
		r = cstor_objstore_save(ls, err);
	}
	cstor_objstore_done(ls);
	if (r == 0) {
		_cleanup_free_ char *file = NULL;
		_cleanup_free_ char *dir = cstor_objstore_data_dir(ls, id);
		if (dir && cstor_big_data_file_name(&file, key, NULL) == 0) {
			_cleanup_free_ char *p = cstor_path_join(dir, file);
			if (p)
				unlink(p);
		}
	}
	return r;
}

/* Whether @l (or a layer it is built on) stays damaged. */
static bool chain_bad(const struct cstor_check_report *rep, const char *top, const bool *fixed)
{
	size_t steps = 0;
	for (const char *cur = top; cur && steps++ <= rep->n_layers;) {
		const struct check_layer *l = check_find_layer(rep, cur);
		if (!l)
			return true;
		size_t i = (size_t)(l - rep->layers);
		if (l->other_bad || (l->content_bad && !fixed[i]))
			return true;
		cur = l->parent;
	}
	return false;
}

static bool image_bad(const struct cstor_check_report *rep, const struct check_image *im,
		      const bool *fixed)
{
	for (size_t i = 0; i < rep->n_problems; i++) {
		const struct check_problem *p = &rep->problems[i];
		if (p->p.object == CSTOR_CHECK_IMAGE && streq(p->id, im->id) &&
		    p->p.code != CSTOR_PROBLEM_IMAGE_LAYER_DAMAGED)
			return true;
	}
	for (size_t k = 0; im->layers && im->layers[k]; k++)
		if (chain_bad(rep, im->layers[k], fixed))
			return true;
	return false;
}

static size_t depth(const struct cstor_check_report *rep, const struct check_layer *l)
{
	size_t d = 0;
	for (const char *cur = l->parent; cur && d <= rep->n_layers; d++) {
		const struct check_layer *p = check_find_layer(rep, cur);
		if (!p)
			break;
		cur = p->parent;
	}
	return d;
}

static int remove_mount_record(cstor_store *s, const char *id, cstor_error *err)
{
	int r = cstor_mounts_start(s->mounts, err);
	if (r != 0)
		return r < 0 ? r : -EIO;
	if (cstor_mounts_get(s->mounts, id)) {
		r = cstor_mounts_set(s->mounts, id, NULL, 0, err);
		if (r == 0)
			r = cstor_mounts_save(s->mounts, err);
	}
	cstor_mounts_done(s->mounts);
	return r;
}

static int remove_unaccounted(cstor_store *s, const char *id, cstor_error *err);

int cstor_store_repair(char ***done_out, char ***failed_out, cstor_store *s,
		       const cstor_check_report *rep, const cstor_repair_options *o,
		       cstor_error *err)
{
	*done_out = NULL;
	*failed_out = NULL;
	if (o && o->version != CSTOR_REPAIR_OPTIONS_VERSION)
		return cstor_error_set(err, EINVAL, "unsupported cstor_repair_options version");
	bool remove_containers = o && (o->flags & CSTOR_REPAIR_REMOVE_CONTAINERS);
	_cleanup_strv_free_ char **done = NULL, **failed = NULL;
	_cleanup_free_ bool *fixed = calloc(rep->n_layers + 1, sizeof(bool));
	if (!fixed)
		return cstor_error_set(err, ENOMEM, "out of memory");
	int r = 0;
#define NOTE(v, ...)                                  \
	do {                                          \
		if (say(v, __VA_ARGS__) < 0)          \
			return cstor_error_set(err, ENOMEM, "out of memory"); \
	} while (0)

	/* 1. Containers, only when asked: their read-write layers are work
	 * that no blob can bring back. */
	for (size_t i = 0; remove_containers && i < rep->n_containers; i++) {
		const struct check_container *c = &rep->containers[i];
		if (!check_has_problem(rep, CSTOR_CHECK_CONTAINER, c->id))
			continue;
		cstor_error e = CSTOR_ERROR_INIT;
		int q = cstor_store_delete_container(s, c->id, &e);
		if (q == 0 || q == -ENOENT)
			NOTE(&done, "container %s: removed", c->id);
		else
			NOTE(&failed, "container %s: %s", c->id, cstor_error_message(&e));
		cstor_error_clear(&e);
	}

	/* 2. Kept blobs that are gone or wrong are forgotten. */
	for (size_t i = 0; i < rep->n_layers; i++) {
		const struct check_layer *l = &rep->layers[i];
		for (size_t k = 0; !l->ro && !l->shadowed && l->data && l->data[k]; k++) {
			if (!is_kept_blob(l->data[k]) || !blob_is_bad(l, l->data[k]))
				continue;
			cstor_error e = CSTOR_ERROR_INIT;
			if (drop_data_name(s, l->id, l->data[k], &e) == 0)
				NOTE(&done, "layer %s: dropped its damaged kept blob %s", l->id,
				     l->data[k] + strlen(CSTOR_KEPT_BLOB_PREFIX));
			else
				NOTE(&failed, "layer %s: %s", l->id, cstor_error_message(&e));
			cstor_error_clear(&e);
		}
	}

	/* 3. Damaged files are rebuilt, parents before children (a rebuilt
	 * parent can then serve as a source). */
	for (size_t d = 0; d <= rep->n_layers; d++) {
		bool any = false;
		for (size_t i = 0; i < rep->n_layers; i++) {
			const struct check_layer *l = &rep->layers[i];
			size_t ld = depth(rep, l);
			if (ld >= d)
				any = true;
			if (ld != d || l->ro || l->shadowed || !l->content_bad || l->other_bad || l->busy ||
			    !l->diff_id)
				continue;
			_cleanup_free_ char *how = NULL;
			cstor_error e = CSTOR_ERROR_INIT;
			if (rebuild(&how, s, rep, l, &e) == 0) {
				fixed[i] = true;
				NOTE(&done, "layer %s: rebuilt from %s", l->id, how);
			} else {
				NOTE(&done, "layer %s: cannot be rebuilt: %s", l->id,
				     cstor_error_message(&e));
			}
			cstor_error_clear(&e);
		}
		if (!any)
			break;
	}

	/* 4. Images that stay damaged are removed, with the layers only they
	 * used: what the repair cost is said image by image. */
	for (size_t i = 0; i < rep->n_images; i++) {
		const struct check_image *im = &rep->images[i];
		if (im->ro || !image_bad(rep, im, fixed))
			continue;
		_cleanup_strv_free_ char **gone = NULL;
		cstor_error e = CSTOR_ERROR_INIT;
		int q = cstor_store_delete_image(&gone, s, im->id, 0, &e);
		if (q == 0 || q == -ENOENT) {
			NOTE(&done, "image %s: removed: it could not be repaired", im->id);
			for (size_t k = 0; gone && gone[k]; k++)
				NOTE(&done, "layer %s: removed with image %s", gone[k], im->id);
		} else {
			NOTE(&failed, "image %s: %s", im->id, cstor_error_message(&e));
		}
		cstor_error_clear(&e);
	}

	/* 5. Layers that stay damaged, nothing uses, or a dead writer left:
	 * children first. */
	size_t maxd = 0;
	for (size_t i = 0; i < rep->n_layers; i++) {
		size_t dd = depth(rep, &rep->layers[i]);
		if (dd > maxd)
			maxd = dd;
	}
	for (size_t d = maxd + 1; d-- > 0;) {
		for (size_t i = 0; i < rep->n_layers; i++) {
			const struct check_layer *l = &rep->layers[i];
			if (l->ro || l->shadowed || l->busy || depth(rep, l) != d)
				continue;
			bool damaged = l->other_bad || (l->content_bad && !fixed[i]);
			if (!l->unused && !damaged)
				continue;
			cstor_error e = CSTOR_ERROR_INIT;
			int q = cstor_store_delete_layer(s, l->id, &e);
			if (q == 0)
				NOTE(&done, "layer %s: removed", l->id);
			else if (q != -ENOENT && q != -EROFS) /* -EROFS: only a read-only copy is left */
				NOTE(&failed, "layer %s: %s", l->id, cstor_error_message(&e));
			cstor_error_clear(&e);
		}
	}

	/* 6. Driver directories no record owns, records of mounts of no
	 * layer, journals of dead writers. */
	for (size_t i = 0; rep->unaccounted && rep->unaccounted[i]; i++) {
		cstor_error e = CSTOR_ERROR_INIT;
		if (remove_unaccounted(s, rep->unaccounted[i], &e) == 0)
			NOTE(&done, "layer %s: removed its driver directory, which no record owned",
			     rep->unaccounted[i]);
		else
			NOTE(&failed, "layer %s: %s", rep->unaccounted[i], cstor_error_message(&e));
		cstor_error_clear(&e);
	}
	for (size_t i = 0; i < rep->n_problems; i++) {
		const struct check_problem *p = &rep->problems[i];
		if (p->p.code != CSTOR_PROBLEM_LAYER_MOUNTS)
			continue;
		cstor_error e = CSTOR_ERROR_INIT;
		if (remove_mount_record(s, p->id, &e) == 0)
			NOTE(&done, "layer %s: removed its record from mountpoints.json", p->id);
		else
			NOTE(&failed, "layer %s: %s", p->id, cstor_error_message(&e));
		cstor_error_clear(&e);
	}
	for (size_t i = 0; rep->journals && rep->journals[i]; i++)
		cstor_pending_remove(s->layers_dir, rep->journals[i]);

	/* What could not be fixed in the primary store. */
	for (size_t i = 0; i < rep->n_layers; i++) {
		const struct check_layer *l = &rep->layers[i];
		cstor_layer *still = NULL;
		if (!l->ro && l->content_bad && !fixed[i] && !l->other_bad &&
		    cstor_store_layer(&still, s, l->id, NULL) == 0) {
			bool ours = !cstor_layer_read_only(still);
			cstor_layer_free(still);
			if (ours)
				NOTE(&failed, "layer %s: could not be rebuilt or removed", l->id);
		}
	}
#undef NOTE
	r = failed ? -EIO : 0;
	if (r < 0)
		cstor_error_set(err, EIO, "%zu problems could not be repaired", strv_length(failed));
	*done_out = TAKE_PTR(done);
	*failed_out = TAKE_PTR(failed);
	return r;
}

/* ---- gc ------------------------------------------------------------------ */

static int remove_unaccounted(cstor_store *s, const char *id, cstor_error *err)
{
	if (!cstor_rec_id_valid(id))
		return cstor_error_set(err, EINVAL, "invalid layer ID %s", id);
	struct cstor_objstore *ls = s->layers;
	int r = cstor_objstore_start_writing(ls, err);
	if (r != 0)
		return r < 0 ? r : -EIO;
	/* Under the lock: a layer being created has its record first. */
	if (!cstor_objstore_by_id(ls, id) && !cstor_apply_in_progress(s->run_layers_dir, id))
		r = s->driver_ops->remove(cstor_store_driver_of(s, id), id, err);
	cstor_objstore_done(ls);
	return r;
}

/* Entries of @dir named like records of @os that it does not have:
 * directories <id> and, for layers, <id>.tar-split.gz and the temporary
 * tar-splits of dead applies. */
static int gc_dir(char ***removed, struct cstor_objstore *os, const char *kind,
		  const char *run_dir, cstor_error *err)
{
	int r = cstor_objstore_start_writing(os, err);
	if (r != 0)
		return r < 0 ? r : -EIO;
	_cleanup_close_ int dfd = open(os->file.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int dup = dfd >= 0 ? fcntl(dfd, F_DUPFD_CLOEXEC, 3) : -1;
	_cleanup_closedir_ DIR *d = dup >= 0 ? fdopendir(dup) : NULL;
	if (!d) {
		if (dup >= 0)
			close(dup);
		cstor_objstore_done(os);
		return errno == ENOENT ? 0 : cstor_error_errno(err, errno, "open %s", os->file.dir);
	}
	struct dirent *de;
	while (r == 0 && (de = readdir(d))) {
		char id[128];
		const char *name = de->d_name;
		bool tmp = strncmp(name, ".tmp-", 5) == 0;
		const char *ts = strstr(name, ".tar-split.gz");
		if (ts && ts[13] == 0) {
			size_t l = (size_t)(ts - name) - (tmp ? 5 : 0);
			if (l >= sizeof(id))
				continue;
			memcpy(id, name + (tmp ? 5 : 0), l);
			id[l] = 0;
		} else if (!tmp && strlen(name) < sizeof(id)) {
			memcpy(id, name, strlen(name) + 1);
		} else {
			continue;
		}
		if (strlen(id) != 64 || !cstor_rec_id_valid(id) || cstor_objstore_by_id(os, id))
			continue;
		if (run_dir && cstor_apply_in_progress(run_dir, id))
			continue;
		struct stat st;
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (!ts && !S_ISDIR(st.st_mode))
			continue;
		r = cstor_rm_rf_at(dfd, name, err);
		if (r == 0 && say(removed, "%s %s: removed %s, which no record owned", kind, id,
				  name) < 0)
			r = cstor_error_set(err, ENOMEM, "out of memory");
	}
	cstor_objstore_done(os);
	return r;
}

int cstor_store_gc(char ***removed_out, cstor_store *s, cstor_error *err)
{
	*removed_out = NULL;
	_cleanup_strv_free_ char **removed = NULL;
	/* The layer store's writer cleanup collects interrupted imports'
	 * and image deletes' layers (layer-store.c): run it, and report
	 * what it (or an earlier writer in this process) removed. */
	{
		int w = cstor_objstore_start_writing(s->layers, err);
		if (w != 0)
			return w < 0 ? w : -EIO;
		removed = TAKE_PTR(s->collected);
		cstor_objstore_done(s->layers);
	}
	/* Journals left since (the cleanup runs once per load): the same
	 * here. Layers of interrupted imports and image deletes, newest first,
	 * while nothing uses them (delete refuses a layer with children or
	 * users, so a layer another image came to share stays). */
	struct cstor_pending_dead *dead = NULL;
	size_t n = 0;
	int r = cstor_pending_scan(&dead, &n, s->layers_dir, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++) {
		/* Children go before parents, whatever order the journal
		 * has: passes until one removes nothing. */
		size_t k = strv_length(dead[i].ids);
		bool *gone = calloc(k + 1, sizeof(bool));
		if (!gone) {
			r = cstor_error_set(err, ENOMEM, "out of memory");
			break;
		}
		for (bool progress = true; progress && r == 0;) {
			progress = false;
			for (size_t j = 0; j < k && r == 0; j++) {
				const char *id = dead[i].ids[j];
				cstor_error e = CSTOR_ERROR_INIT;
				if (gone[j] || cstor_store_delete_layer(s, id, &e) < 0) {
					cstor_error_clear(&e);
					continue;
				}
				gone[j] = progress = true;
				if (say(&removed, "layer %s: removed, left unused by an interrupted %s",
					id, dead[i].what) < 0)
					r = cstor_error_set(err, ENOMEM, "out of memory");
			}
		}
		free(gone);
		if (r == 0)
			cstor_pending_remove(s->layers_dir, dead[i].file);
	}
	cstor_pending_dead_free(dead, n);
	if (r < 0)
		return r;
	/* Driver directories no record owns. */
	if (s->driver_ops->list) {
		_cleanup_strv_free_ char **dirs = NULL;
		struct cstor_objstore *ls = s->layers;
		r = cstor_objstore_start_writing(ls, err);
		if (r != 0)
			return r < 0 ? r : -EIO;
		r = cstor_store_driver_list(&dirs, s, err);
		for (size_t i = 0; r == 0 && dirs && dirs[i]; i++) {
			if (cstor_objstore_by_id(ls, dirs[i]) || !cstor_rec_id_valid(dirs[i]) ||
			    cstor_apply_in_progress(s->run_layers_dir, dirs[i]))
				continue;
			r = s->driver_ops->remove(cstor_store_driver_of(s, dirs[i]), dirs[i], err);
			if (r == 0 && say(&removed, "layer %s: removed its driver directory, which no record owned",
					  dirs[i]) < 0)
				r = cstor_error_set(err, ENOMEM, "out of memory");
		}
		cstor_objstore_done(ls);
		if (r < 0)
			return r;
	}
	if ((r = gc_dir(&removed, s->layers, "layer", s->run_layers_dir, err)) < 0 ||
	    (r = gc_dir(&removed, s->images, "image", NULL, err)) < 0 ||
	    (r = gc_dir(&removed, s->containers, "container", NULL, err)) < 0)
		return r;
	*removed_out = TAKE_PTR(removed);
	return 0;
}
