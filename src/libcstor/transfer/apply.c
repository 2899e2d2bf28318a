/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ApplyDiff: a layer tarball into a layer, with what containers/storage
 * records about it (digests, sizes, compression, owners, tar-split).
 *
 * Locking (docs/locking.md): the layer store is held exclusively only to
 * flag the layer at the start and to record the results at the end; the
 * files are written under a shared hold, so mounting other layers (which
 * needs the store shared) never waits for a long apply. The flag,
 * "cstor.apply-incomplete", makes every other user refuse the layer until
 * the apply has finished; a per-layer apply lock in the run root (an OFD
 * lock held by the applying process) excludes concurrent applies to the same
 * layer and tells an interrupted apply (no holder) from a running one.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstor/layer.h>

#include "archive/apply.h"
#include "archive/compress.h"
#include "archive/tar.h"
#include "archive/tarsplit.h"
#include "util/error-internal.h"
#include "util/fileutil.h"
#include "records/fields.h"
#include "mount/mount-internal.h"
#include "store/store-internal.h"
#include "util/cleanup.h"
#include "util/idmap.h"
#include "util/rm.h"
#include "util/failpoint.h"

/* ---- the pipeline ------------------------------------------------------ */

struct source {
	cstor_read_fn read;
	void *ctx;
};

static ssize_t source_read(void *ctx, void *buf, size_t len)
{
	struct source *src = ctx;
	return src->read(src->ctx, buf, len);
}

struct dec_ctx {
	cstor_decompressor *d;
	cstor_error err;
};

static ssize_t dec_read(void *ctx, void *buf, size_t len)
{
	struct dec_ctx *c = ctx;
	return cstor_decompressor_read(c->d, buf, len, &c->err);
}

struct results {
	cstor_decompress_result dr;
	cstor_compression compression;
	struct cstor_apply_stats stats;
};

/* vfs.ignore_chown_errors / overlay.ignore_chown_errors, as containers/storage
 * honours them: files an unprivileged user cannot give away stay theirs. */
static bool ignores_chown(const struct cstor_store *s)
{
	return s->driver_ops->ignores_chown_errors &&
	       s->driver_ops->ignores_chown_errors(s->driver);
}

/* The driver's "sync" option, of the driver instance holding layer @id
 * (a split image store has its own). */
static bool syncs_layers(struct cstor_store *s, const char *id)
{
	struct cstor_driver *d = id ? cstor_store_driver_of(s, id) : s->driver;
	return !s->driver_ops->syncs_layers || s->driver_ops->syncs_layers(d);
}

/* Decompress, extract into @root_fd and write the tar-split to @ts_fd. */

static int run_pipeline(struct results *res, int root_fd, int whiteouts, bool skip_root,
			bool ignore_chown, const struct cstor_idmaps *maps, bool durable, int ts_fd,
			cstor_read_fn read, void *ctx, cstor_error *err)
{
	struct source src = { read, ctx };
	struct dec_ctx dc = { NULL, CSTOR_ERROR_INIT };
	int r = cstor_decompressor_new(&dc.d, source_read, &src,
				       CSTOR_DECOMPRESS_DIGEST_COMPRESSED |
					       CSTOR_DECOMPRESS_DIGEST_UNCOMPRESSED,
				       err);
	if (r < 0)
		return r;
	res->compression = cstor_decompressor_compression(dc.d);
	cstor_tar_reader *tr = NULL;
	cstor_tarsplit_packer *pk = NULL;
	if ((r = cstor_tar_reader_new(&tr, dec_read, &dc, CSTOR_TAR_READER_RAW, err)) < 0)
		goto out;
	if ((r = cstor_tarsplit_packer_new(&pk, cstor_fd_write, &ts_fd, err)) < 0)
		goto out;
	struct cstor_apply_options ao = {
		.whiteouts = (enum cstor_whiteout_mode)whiteouts,
		.skip_existing_root = skip_root,
		.ignore_chown_errors = ignore_chown,
		.maps = maps,
		.start_writeback = durable,
	};
	r = cstor_apply_tar(root_fd, tr, &ao, pk, &res->stats, err);
	if (r < 0) {
		/* The decompressor's own message says more than the tar
		 * reader's "read error". */
		if (dc.err.code)
			cstor_error_move(err, &dc.err);
		goto out;
	}
	r = cstor_decompressor_finish(dc.d, &res->dr, err);
out:
	cstor_tarsplit_packer_free(pk);
	cstor_tar_reader_free(tr);
	cstor_decompressor_free(dc.d);
	cstor_error_clear(&dc.err);
	return r;
}

static int copy_ids(uint32_t **dst, size_t *n_dst, const uint32_t *src, size_t n)
{
	free(*dst);
	*dst = NULL;
	*n_dst = 0;
	if (n == 0)
		return 0;
	*dst = malloc(n * sizeof(uint32_t));
	if (!*dst)
		return -ENOMEM;
	memcpy(*dst, src, n * sizeof(uint32_t));
	*n_dst = n;
	return 0;
}

static int record_results(struct cstor_layer_rec *rec, const struct results *res)
{
	char *cd = strdup(res->dr.compressed_digest);
	char *ud = strdup(res->dr.uncompressed_digest);
	if (!cd || !ud) {
		free(cd);
		free(ud);
		return -ENOMEM;
	}
	free(rec->compressed_digest);
	rec->compressed_digest = cd;
	free(rec->uncompressed_digest);
	rec->uncompressed_digest = ud;
	rec->compressed_size = (int64_t)res->dr.compressed_size;
	rec->uncompressed_size = (int64_t)res->dr.uncompressed_size;
	rec->compression = (int)res->compression;
	if (copy_ids(&rec->uidset, &rec->n_uidset, res->stats.uids, res->stats.n_uids) < 0 ||
	    copy_ids(&rec->gidset, &rec->n_gidset, res->stats.gids, res->stats.n_gids) < 0)
		return -ENOMEM;
	return 0;
}

static int check_expect(const struct cstor_apply_expect *e, const cstor_decompress_result *dr,
			cstor_error *err)
{
	if (!e)
		return 0;
	if (e->compressed_digest && !streq(e->compressed_digest, dr->compressed_digest))
		return cstor_error_set(err, EBADMSG, "blob digest mismatch: expected %s, got %s",
				       e->compressed_digest, dr->compressed_digest);
	if (e->uncompressed_digest && !streq(e->uncompressed_digest, dr->uncompressed_digest))
		return cstor_error_set(err, EBADMSG,
				       "uncompressed digest (DiffID) mismatch: expected %s, got %s",
				       e->uncompressed_digest, dr->uncompressed_digest);
	return 0;
}

/*
 * Apply into the existing layer @id of the primary store, as @mode says.
 */
int cstor_layer_apply(int64_t *size, struct cstor_store *s, const char *ref,
		      enum cstor_apply_mode mode, int lock_fd,
		      const struct cstor_apply_expect *expect, cstor_read_fn read, void *ctx,
		      cstor_error *err)
{
	struct cstor_objstore *ls = s->layers;
	_cleanup_free_ char *id = NULL;
	_cleanup_free_ char *parent = NULL;
	_cleanup_free_ char *diff_id = NULL;
	struct cstor_apply_expect rebuild_expect = { 0 };
	bool new_layer = mode == CSTOR_APPLY_NEW_LAYER;
	bool rebuild = mode == CSTOR_APPLY_REBUILD;

	/* Phase 1, exclusive: check and flag. */
	int r = cstor_objstore_start_writing(ls, err);
	if (r != 0)
		return r;
	struct cstor_layer_rec *rec = cstor_store_find_primary_layer(s, ls, ref, "apply diff", err);
	if (!rec) {
		r = err && err->code ? -err->code : -ENOENT;
		cstor_objstore_done(ls);
		if (lock_fd >= 0)
			close(lock_fd);
		return r;
	}
	if (!(id = strdup(rec->h.id))) {
		cstor_objstore_done(ls);
		if (lock_fd >= 0)
			close(lock_fd);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	if (rebuild) {
		/* Only the recorded content may come back. */
		if (!rec->uncompressed_digest) {
			cstor_objstore_done(ls);
			cstor_apply_lock_release(s->run_layers_dir, id, lock_fd);
			return cstor_error_set(err, EINVAL,
					       "rebuild layer %s: no recorded DiffID to rebuild", id);
		}
		if (!(diff_id = strdup(rec->uncompressed_digest)) ||
		    (rec->parent && !(parent = strdup(rec->parent)))) {
			cstor_objstore_done(ls);
			cstor_apply_lock_release(s->run_layers_dir, id, lock_fd);
			return cstor_error_set(err, ENOMEM, "out of memory");
		}
		rebuild_expect.uncompressed_digest = diff_id;
		expect = &rebuild_expect;
	} else if (cstor_layer_store_has_children(ls, id)) {
		cstor_objstore_done(ls);
		cstor_apply_lock_release(s->run_layers_dir, id, lock_fd);
		/* The children were built on the current content. */
		return cstor_error_set(err, EBUSY, "apply diff to layer %s: the layer has children", id);
	}
	int64_t holders = 0;
	if ((r = cstor_mount_live_count(&holders, s, id, err)) < 0) {
		cstor_objstore_done(ls);
		cstor_apply_lock_release(s->run_layers_dir, id, lock_fd);
		return r;
	}
	/* A layer whose earlier apply was interrupted (killed, or failed on a
	 * full disk) holds part of that diff: start again from its parent's
	 * content, or what the interrupted diff left stays in the layer
	 * beside the new one (found by the crash-point walk and the ENOSPC
	 * test: check then reports files the recorded diffs do not have). */
	bool redo = !rebuild && !new_layer &&
		    cstor_layer_rec_flag_bool(rec, CSTOR_FLAG_APPLY_INCOMPLETE);
	if (redo && rec->parent && !(parent = strdup(rec->parent))) {
		cstor_objstore_done(ls);
		cstor_apply_lock_release(s->run_layers_dir, id, lock_fd);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	bool mounted = holders > 0;
	if (mounted) {
		cstor_objstore_done(ls);
		cstor_apply_lock_release(s->run_layers_dir, id, lock_fd);
		return cstor_error_set(err, EBUSY, "apply diff to layer %s: the layer is mounted", id);
	}
	if (lock_fd < 0 && (r = cstor_apply_lock_take(&lock_fd, s->run_layers_dir, id, err)) < 0) {
		cstor_objstore_done(ls);
		return r;
	}
	if (cstor_layer_rec_set_flag(rec, CSTOR_FLAG_APPLY_INCOMPLETE, json_true()) < 0)
		r = cstor_error_set(err, ENOMEM, "out of memory");
	else
		r = cstor_objstore_save(ls, err);
	cstor_objstore_done(ls);
	if (r < 0) {
		cstor_apply_lock_release(s->run_layers_dir, id, lock_fd);
		return r;
	}

	/* Phase 2, shared: the files. The flag and the apply lock keep
	 * everybody else away from this layer. */
	struct results res = { 0 };
	_cleanup_close_ int root_fd = -1;
	_cleanup_close_ int ts_fd = -1;
	char ts_tmp[4200];
	snprintf(ts_tmp, sizeof(ts_tmp), "%s/.tmp-%s.tar-split.gz", ls->file.dir, id);
	r = cstor_objstore_start_reading(ls, err);
	if (r != 0)
		goto fail_unlocked;
	rec = cstor_layer_store_by_id(ls, id);
	if (!rec) {
		cstor_objstore_done(ls);
		r = cstor_error_set(err, ENOENT, "apply diff: layer %s was deleted meanwhile", id);
		goto fail_unlocked;
	}
	int whiteouts = 0;
	bool skip_root = false;
	/* Flagged, no file touched yet: failing here takes the path of a
	 * failed extraction. */
	r = cstor_failpoint_err(err, "apply:after-flag", NULL, "extract the files");
	if (r == 0 && (rebuild || redo))
		r = s->driver_ops->reset(cstor_store_driver_of(s, id), id, parent, err);
	if (r == 0)
		r = s->driver_ops->apply_target(cstor_store_driver_of(s, id), id, &root_fd, &whiteouts, &skip_root,
						err);
	if (r == 0) {
		ts_fd = open(ts_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (ts_fd < 0)
			r = cstor_error_errno(err, errno, "create %s", ts_tmp);
	}
	/* A mapped layer's files get the host IDs of the tarball's. */
	struct cstor_idmaps maps = { rec->uidmap, rec->n_uidmap, rec->gidmap, rec->n_gidmap };
	if (r == 0)
		r = run_pipeline(&res, root_fd, whiteouts, skip_root, ignores_chown(s), &maps,
				 syncs_layers(s, id), ts_fd, read, ctx, err);
	if (r == 0)
		r = check_expect(expect, &res.dr, err);
	if (r == 0)
		r = cstor_failpoint_err(err, "apply:after-files", NULL, "sync the tar-split");
	if (r == 0 && fdatasync(ts_fd) < 0)
		r = cstor_error_errno(err, errno, "sync %s", ts_tmp);
	/* The files before the record that says they are complete; still
	 * without the exclusive lock. */
	if (r == 0)
		r = cstor_layer_sync_files(s, root_fd, id, err);
	cstor_objstore_done(ls);
	if (r < 0) {
		cstor_error_wrap(err, r, "%s layer %s", rebuild ? "rebuild" : "apply diff to", id);
		goto fail_unlocked;
	}

	/* Phase 3, exclusive: record and unflag. */
	r = cstor_objstore_start_writing(ls, err);
	if (r != 0)
		goto fail_unlocked;
	rec = cstor_layer_store_by_id(ls, id);
	if (!rec) {
		cstor_objstore_done(ls);
		r = cstor_error_set(err, ENOENT, "apply diff: layer %s was deleted meanwhile", id);
		goto fail_unlocked;
	}
	char ts_final[4200];
	snprintf(ts_final, sizeof(ts_final), "%s/%s.tar-split.gz", ls->file.dir, id);
	/* A rebuild gave the recorded DiffID: the record stays as it is
	 * (its compressed digest names the blob it was imported from). */
	if (!rebuild && record_results(rec, &res) < 0)
		r = cstor_error_set(err, ENOMEM, "out of memory");
	else if ((r = cstor_failpoint_at("apply:before-tar-split-rename", NULL)) < 0)
		cstor_error_errno(err, -r, "rename %s", ts_tmp);
	else if (rename(ts_tmp, ts_final) < 0)
		r = cstor_error_errno(err, errno, "rename %s", ts_tmp);
	if (r == 0)
		r = cstor_failpoint_err(err, "apply:after-tar-split-rename", NULL,
					"apply diff: record the layer");
	if (r == 0) {
		cstor_layer_rec_del_flag(rec, CSTOR_FLAG_APPLY_INCOMPLETE);
		cstor_layer_rec_del_flag(rec, CSTOR_FLAG_CREATING);
		r = cstor_objstore_save(ls, err);
	}
	if (r < 0 && new_layer)
		cstor_layer_store_delete(ls, rec, NULL);
	cstor_objstore_done(ls);
	cstor_apply_stats_done(&res.stats);
	unlink(ts_tmp);
	cstor_apply_lock_release(s->run_layers_dir, id, lock_fd);
	if (r == 0 && size)
		*size = (int64_t)res.dr.uncompressed_size;
	return r;

fail_unlocked:
	cstor_apply_stats_done(&res.stats);
	unlink(ts_tmp);
	if (new_layer) {
		/* A layer made for this apply goes away with it. */
		if (cstor_objstore_start_writing(ls, NULL) == 0) {
			struct cstor_layer_rec *x = cstor_layer_store_by_id(ls, id);
			if (x)
				cstor_layer_store_delete(ls, x, NULL);
			cstor_objstore_done(ls);
		}
	}
	/* An existing layer keeps its flag: its files are partly new. */
	cstor_apply_lock_release(s->run_layers_dir, id, lock_fd);
	return r;
}

int cstor_store_apply_diff(int64_t *size, cstor_store *s, const char *ref, cstor_read_fn read,
			   void *ctx, cstor_error *err)
{
	return cstor_layer_apply(size, s, ref, CSTOR_APPLY_EXISTING, -1, NULL, read, ctx, err);
}

int cstor_store_import_layer(cstor_layer **out, cstor_store *s, const cstor_layer_options *o,
			     cstor_read_fn read, void *ctx, cstor_error *err)
{
	_cleanup_free_ char *id = NULL;
	int r = cstor_layer_import(&id, s, o, NULL, read, ctx, err);
	if (r < 0)
		return r;
	return out ? cstor_store_layer(out, s, id, err) : 0;
}

int cstor_layer_import(char **id_out, struct cstor_store *s, const cstor_layer_options *o,
		       const struct cstor_apply_expect *expect, cstor_read_fn read, void *ctx,
		       cstor_error *err)
{
	/* The apply lock is taken before the layer exists, so that no writer
	 * ever sees it "creating" without a live owner. */
	char rid[65];
	cstor_layer_options opts = CSTOR_LAYER_OPTIONS_INIT;
	int nr = cstor_layer_options_norm(&opts, o, err);
	if (nr < 0)
		return nr;
	if (!opts.id) {
		if (cstor_random_id(rid) < 0)
			return cstor_error_errno(err, errno, "generate a layer ID");
		opts.id = rid;
	}
	int lock_fd = -1;
	int r = cstor_apply_lock_take(&lock_fd, s->run_layers_dir, opts.id, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *id = NULL;
	/* "cstor.creating" makes the next writer remove the layer if we die
	 * before the content is complete, as Go's "incomplete" would. */
	r = cstor_layer_create(&id, s, &opts, CSTOR_FLAG_CREATING, err);
	if (r < 0) {
		cstor_apply_lock_release(s->run_layers_dir, opts.id, lock_fd);
		return r;
	}
	if ((r = cstor_layer_apply(NULL, s, id, CSTOR_APPLY_NEW_LAYER, lock_fd, expect, read, ctx,
				     err)) < 0)
		return r;
	if (id_out)
		*id_out = TAKE_PTR(id);
	return 0;
}


/*
 * applydiff-using-staging-dir (newer containers/storage): the tarball is
 * extracted into a staging directory of the driver home with no store lock
 * held at all, then committed as the layer's files in one rename under the
 * exclusive lock. Only a driver that keeps a layer's own files apart from
 * its parent's can do this (the stage ops); the layer must have no files yet.
 */
static bool has_staging(const struct cstor_driver_ops *ops)
{
	return ops->stage_create != NULL;
}

int cstor_store_apply_diff_staged(int64_t *size, cstor_store *s, const char *ref,
				  cstor_read_fn read, void *ctx, cstor_error *err)
{
	if (!has_staging(s->driver_ops)) {
		_cleanup_free_ char *which = cstor_driver_names(has_staging, ", ");
		if (!which)
			return cstor_error_set(err, ENOMEM, "out of memory");
		return cstor_error_set(err, ENOTSUP,
				       "applydiff-using-staging-dir: the %s driver has no staging "
				       "directories (%s only)",
				       s->driver_ops->name, which);
	}
	_cleanup_free_ char *stage = NULL;
	int whiteouts = 0;
	/* Staged in the home the layer's files are in (a split image
	 * store's, or the graph root's): the commit is a rename. */
	struct cstor_driver *drv = s->driver;
	cstor_layer *target = NULL;
	if (cstor_store_find_layer(&target, NULL, s, ref, NULL) == 0)
		drv = cstor_store_driver_of(s, cstor_layer_id(target));
	cstor_layer_free(target);
	int r = s->driver_ops->stage_create(drv, &stage, &whiteouts, err);
	if (r < 0)
		return r;
	char ts_tmp[4300];
	/* Next to its final place: the driver home is a bind mount of its
	 * own, and rename() does not cross mounts. */
	snprintf(ts_tmp, sizeof(ts_tmp), "%s/.tmp-%s.tar-split.gz", s->layers->file.dir,
		 strrchr(stage, '/') + 1);
	struct results res = { 0 };
	_cleanup_close_ int stage_fd = open(stage, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int ts_fd = open(ts_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (stage_fd < 0 || ts_fd < 0)
		r = cstor_error_errno(err, errno, "open %s", stage);
	/* The layer's ID mappings, read first (checked again at the commit:
	 * mappings never change once a layer exists). */
	cstor_layer *l = NULL;
	struct cstor_idmaps maps = { 0 };
	if (r == 0 && (r = cstor_store_layer(&l, s, ref, err)) == 0)
		maps = (struct cstor_idmaps){ l->rec->uidmap, l->rec->n_uidmap, l->rec->gidmap,
					      l->rec->n_gidmap };
	if (r == 0)
		r = run_pipeline(&res, stage_fd, whiteouts, true, ignores_chown(s), &maps,
				 syncs_layers(s, l ? cstor_layer_id(l) : NULL), ts_fd, read, ctx, err);
	cstor_layer_free(l);
	if (r == 0 && fdatasync(ts_fd) < 0)
		r = cstor_error_errno(err, errno, "sync %s", ts_tmp);
	/* The staged files, with no lock held; the commit's rename is made
	 * durable by the driver. */
	if (r == 0)
		r = cstor_layer_sync_files(s, stage_fd, ref, err);
	if (r < 0) {
		cstor_error_wrap(err, r, "applydiff-using-staging-dir to %s", ref);
		goto out;
	}

	/* Commit, exclusively: the layer, empty, childless and unmounted. */
	struct cstor_objstore *ls = s->layers;
	r = cstor_objstore_start_writing(ls, err);
	if (r != 0)
		goto out;
	struct cstor_layer_rec *rec = cstor_store_find_primary_layer(s, ls, ref, "apply diff", err);
	int64_t holders = 0;
	char ts_final[4300];
	if (!rec)
		r = err && err->code ? -err->code : -ENOENT;
	else if (cstor_layer_store_has_children(ls, rec->h.id))
		r = cstor_error_set(err, EBUSY, "apply diff to layer %s: the layer has children",
				    rec->h.id);
	else if ((r = cstor_mount_live_count(&holders, s, rec->h.id, err)) == 0 && holders > 0)
		r = cstor_error_set(err, EBUSY, "apply diff to layer %s: the layer is mounted", rec->h.id);
	if (r == 0)
		r = cstor_store_driver_of(s, rec->h.id) == drv
			    ? s->driver_ops->stage_commit(drv, rec->h.id, stage, err)
			    : cstor_error_set(err, EXDEV,
					      "apply diff to layer %s: the layer moved between stores",
					      rec->h.id);
	if (r == 0) {
		snprintf(ts_final, sizeof(ts_final), "%s/%s.tar-split.gz", ls->file.dir, rec->h.id);
		if (record_results(rec, &res) < 0)
			r = cstor_error_set(err, ENOMEM, "out of memory");
		else if (rename(ts_tmp, ts_final) < 0)
			r = cstor_error_errno(err, errno, "rename %s", ts_tmp);
		else
			r = cstor_objstore_save(ls, err);
	}
	cstor_objstore_done(ls);
	if (r == 0 && size)
		*size = (int64_t)res.dr.uncompressed_size;
out:
	cstor_apply_stats_done(&res.stats);
	unlink(ts_tmp);
	cstor_rm_rf_at_quiet(AT_FDCWD, stage);
	return r;
}
