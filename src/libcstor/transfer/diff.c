/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Diff, Changes and DiffSize of layers (docs/formats.md §4.4, §5.9).
 *
 * An unchanged layer applied from a tarball, diffed against its parent, is
 * rebuilt from its tar-split: byte for byte the tarball that was applied.
 * Otherwise the changes are computed: vfs compares the layer's tree with
 * its parent's; overlay reads its diff/ directory with its whiteouts
 * (native) or, when that cannot be trusted (metacopy) or the reference is
 * not the parent, compares the two layers mounted read-only.
 *
 * Locking (docs/locking.md, "Mount, unmount, diff"): the store holding
 * the layer is held shared only while the records are read and the layer's
 * directories (and its tar-split) are opened; the files are read and the
 * tarball written with no layer store lock, so a slow consumer (a pipe, a
 * registry) never keeps other processes from writing the store. What the
 * open directories cannot guard against, the layer deleted or applied
 * again meanwhile, is found afterwards: the record is read again, and an
 * output made from a layer that changed under it is an error. When mounts
 * are needed, the layers are held mounted by process-bound holds, with no
 * lock held while the trees are read. Layers of read-only stores are
 * diffed the same way.
 */
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstor/layer.h>
#include <cstor/mount.h>

#include "archive/changes.h"
#include "archive/compress.h"
#include "archive/export.h"
#include "archive/tarsplit.h"
#include "util/error-internal.h"
#include "util/fileutil.h"
#include "mount/mount-internal.h"
#include "store/store-internal.h"
#include "util/cleanup.h"

/* Everything needed about the two layers, gathered under the locks. */
struct diff_ctx {
	struct cstor_store *s;
	struct cstor_objstore *ls; /* store of @to, held shared while ls_held */
	bool ls_held;
	char *to_id, *from_id;        /* from_id NULL: no parent */
	bool from_is_parent;
	int compression; /* of the layer as applied */
	int top;         /* layer's own files */
	int *lowers;
	size_t n_lowers;
	bool native;
	int from_top; /* vfs/naive: the reference layer's tree, -1 if none */
	char *tarsplit;
	/* @to's ID mappings: a computed diff gives container IDs. */
	struct cstor_idmap *uidmap, *gidmap;
	size_t n_uidmap, n_gidmap;
	int ts_fd; /* the tar-split, opened under the lock; -1: none */
	/* The record as read under the lock, to tell afterwards whether the
	 * layer was deleted or applied again while its files were read. */
	char *seen_created, *seen_diff_id, *seen_blob;
	int64_t seen_size;
};

static void diff_ctx_done(struct diff_ctx *c)
{
	free(c->to_id);
	free(c->from_id);
	if (c->top >= 0)
		close(c->top);
	for (size_t i = 0; i < c->n_lowers; i++)
		close(c->lowers[i]);
	free(c->lowers);
	if (c->from_top >= 0)
		close(c->from_top);
	if (c->ts_fd >= 0)
		close(c->ts_fd);
	free(c->tarsplit);
	free(c->uidmap);
	free(c->gidmap);
	free(c->seen_created);
	free(c->seen_diff_id);
	free(c->seen_blob);
}

static bool needs_mounts(const struct diff_ctx *c);

/* Find @ref in the primary store, then in the read-only ones, and take
 * that store's lock shared. On success the caller must call
 * cstor_objstore_done(*where). With @quick, the layer may come from the
 * lookup index alone (*partial then): the store's other records are not
 * loaded, so the caller may look at nothing else of it (engine.h,
 * cstor_objstore_start_lookup). */
static int lock_layer(struct cstor_objstore **where, struct cstor_layer_rec **rec,
		      struct cstor_store *s, const char *ref, bool quick, bool *partial,
		      cstor_error *err) CSTOR_NO_TSA
{
	*partial = false;
	struct cstor_objstore *stores[64];
	size_t n = 0;
	stores[n++] = s->layers;
	for (size_t i = 0; i < s->n_ro_layers && n < 64; i++)
		stores[n++] = s->ro_layers[i];
	for (size_t i = 0; i < n; i++) {
		struct cstor_obj_head *h = NULL;
		bool absent = false;
		int r = quick ? cstor_objstore_start_lookup(stores[i], ref, NULL, true, &h, &absent, err)
			      : cstor_objstore_start_reading(stores[i], err);
		if (r != 0)
			return r;
		bool amb = false;
		struct cstor_layer_rec *x = h ? CSTOR_LAYER_REC(h)
					      : absent ? NULL : cstor_layer_store_lookup(stores[i], ref, &amb);
		*partial = h != NULL;
		if (x) {
			*where = stores[i];
			*rec = x;
			return 0;
		}
		cstor_objstore_done(stores[i]);
		if (amb)
			return cstor_error_set(err, EINVAL, "layer reference \"%s\" is ambiguous", ref);
	}
	return cstor_error_set(err, ENOENT, "layer not known: %s", ref);
}

static int open_from_tree(struct diff_ctx *c, cstor_error *err);
static bool needs_mounts(const struct diff_ctx *c);

static int prepare(struct diff_ctx *c, struct cstor_store *s, const char *from, const char *to,
		   const char *what, cstor_error *err) CSTOR_NO_TSA
{
	memset(c, 0, sizeof(*c));
	c->s = s;
	c->top = c->from_top = c->ts_fd = -1;
	struct cstor_layer_rec *rec;
	/* Without a reference layer, only @to's record is needed, unless the
	 * layers are mounted (below): the lookup index may give it alone. */
	bool quick = !(from && from[0]), partial;
again:;
	int r = lock_layer(&c->ls, &rec, s, to, quick, &partial, err);
	if (r < 0)
		return cstor_error_wrap(err, r, "%s", what);
	c->ls_held = true;
	if (cstor_layer_rec_flag_bool(rec, "incomplete") ||
	    cstor_layer_rec_flag_bool(rec, CSTOR_FLAG_APPLY_INCOMPLETE) ||
	    cstor_layer_rec_flag_bool(rec, CSTOR_FLAG_CREATING)) {
		r = cstor_error_set(err, EBUSY,
				    "%s: layer %s is incomplete (an apply was interrupted); apply its "
				    "diff again or delete it",
				    what, rec->h.id);
		goto fail;
	}
	if (!(c->to_id = strdup(rec->h.id)) ||
	    (rec->h.created && !(c->seen_created = strdup(rec->h.created))) ||
	    (rec->uncompressed_digest && !(c->seen_diff_id = strdup(rec->uncompressed_digest))) ||
	    (rec->compressed_digest && !(c->seen_blob = strdup(rec->compressed_digest)))) {
		r = cstor_error_set(err, ENOMEM, "out of memory");
		goto fail;
	}
	c->seen_size = rec->uncompressed_size;
	c->compression = rec->compression;
	if (cstor_idmap_dup(&c->uidmap, &c->n_uidmap, rec->uidmap, rec->n_uidmap) < 0 ||
	    cstor_idmap_dup(&c->gidmap, &c->n_gidmap, rec->gidmap, rec->n_gidmap) < 0) {
		r = cstor_error_set(err, ENOMEM, "out of memory");
		goto fail;
	}
	const char *parent = rec->parent && rec->parent[0] ? rec->parent : NULL;
	if (from && from[0]) {
		/* The reference is looked up like any layer; it may live in
		 * another store, whose lock order comes after ours. */
		struct cstor_objstore *fls = NULL;
		struct cstor_layer_rec *frec = NULL;
		if (cstor_layer_store_lookup(c->ls, from, NULL))
			frec = cstor_layer_store_lookup(c->ls, from, NULL);
		if (frec)
			c->from_id = strdup(frec->h.id);
		else {
			cstor_error e2 = CSTOR_ERROR_INIT;
			for (size_t i = 0; i < s->n_ro_layers && !c->from_id; i++) {
				fls = s->ro_layers[i];
				if (fls == c->ls || cstor_objstore_start_reading(fls, &e2) != 0)
					continue;
				frec = cstor_layer_store_lookup(fls, from, NULL);
				if (frec)
					c->from_id = strdup(frec->h.id);
				cstor_objstore_done(fls);
			}
			cstor_error_clear(&e2);
			if (!c->from_id) {
				r = cstor_error_set(err, ENOENT, "%s: layer not known: %s", what, from);
				goto fail;
			}
		}
	} else if (parent && !(c->from_id = strdup(parent))) {
		r = cstor_error_set(err, ENOMEM, "out of memory");
		goto fail;
	}
	c->from_is_parent = streq_ptr(c->from_id, parent);
	if ((r = s->driver_ops->diff_dirs(cstor_store_driver_of(s, c->to_id), c->to_id, &c->top, &c->lowers, &c->n_lowers,
					  &c->native, err)) < 0)
		goto fail;
	if (partial && needs_mounts(c)) {
		/* Mounting looks at other layers: load them. */
		cstor_objstore_done(c->ls);
		diff_ctx_done(c);
		memset(c, 0, sizeof(*c));
		c->s = s;
		c->top = c->from_top = -1;
		quick = false;
		goto again;
	}
	if (c->from_is_parent && !(c->tarsplit = cstor_layer_store_tarsplit_path(c->ls, c->to_id))) {
		r = cstor_error_set(err, ENOMEM, "out of memory");
		goto fail;
	}
	/* Opened now: an apply renames a new one over it only under the
	 * exclusive lock, so this fd and the directories are one layer's. */
	if (c->tarsplit && (c->ts_fd = open(c->tarsplit, O_RDONLY | O_CLOEXEC)) < 0 &&
	    errno != ENOENT) {
		r = cstor_error_errno(err, errno, "open %s", c->tarsplit);
		goto fail;
	}
	/* A naive comparison's reference tree, opened under the lock too. */
	if (!needs_mounts(c) && !c->native && c->from_id && (r = open_from_tree(c, err)) < 0)
		goto fail;
	return 0;
fail:
	cstor_objstore_done(c->ls);
	diff_ctx_done(c);
	return r;
}

static void finish(struct diff_ctx *c) CSTOR_NO_TSA
{
	if (c->ls_held)
		cstor_objstore_done(c->ls);
	diff_ctx_done(c);
}

/* The long step follows: the layer store is let go (what it is needed
 * for, the directories and the tar-split, is open). */
static void unlock_store(struct diff_ctx *c) CSTOR_NO_TSA
{
	if (c->ls_held)
		cstor_objstore_done(c->ls);
	c->ls_held = false;
}

/* After the long step: is the layer still the one whose files were read?
 * Deleted, or applied again, meanwhile, what was read may be a mix of
 * both, and the output is no diff of any layer: an error. @r is the
 * step's result, returned when it failed (a read error of a deleted
 * layer's files is reported as the deletion it was). */
static int recheck(struct diff_ctx *c, int r, const char *what, cstor_error *err) CSTOR_NO_TSA
{
	cstor_error e = CSTOR_ERROR_INIT;
	int q = cstor_objstore_start_reading(c->ls, &e);
	if (q != 0) {
		if (r < 0) {
			cstor_error_clear(&e);
			return r;
		}
		cstor_error_move(err, &e);
		return q < 0 ? q : -EIO;
	}
	struct cstor_layer_rec *rec = cstor_layer_store_by_id(c->ls, c->to_id);
	bool same = rec && !cstor_layer_rec_flag_bool(rec, CSTOR_FLAG_APPLY_INCOMPLETE) &&
		    !cstor_layer_rec_flag_bool(rec, "incomplete") &&
		    streq_ptr(rec->h.created, c->seen_created) &&
		    streq_ptr(rec->uncompressed_digest, c->seen_diff_id) &&
		    streq_ptr(rec->compressed_digest, c->seen_blob) &&
		    rec->uncompressed_size == c->seen_size;
	cstor_objstore_done(c->ls);
	if (same)
		return r;
	cstor_error_clear(err);
	return cstor_error_set(err, ESTALE,
			       "%s: layer %s was %s while it was being read; the output is not "
			       "usable, run it again",
			       what, c->to_id, rec ? "applied to again" : "deleted");
}

/* The reference layer's tree for a naive comparison (vfs: its directory). */
static int open_from_tree(struct diff_ctx *c, cstor_error *err)
{
	if (!c->from_id || c->from_top >= 0)
		return 0;
	int *lw = NULL;
	size_t nl = 0;
	bool nat;
	int r = c->s->driver_ops->diff_dirs(cstor_store_driver_of(c->s, c->from_id), c->from_id, &c->from_top, &lw, &nl, &nat,
					    err);
	for (size_t i = 0; i < nl; i++)
		close(lw[i]);
	free(lw);
	return r;
}

static bool needs_mounts(const struct diff_ctx *c)
{
	/* Full trees (vfs) compare directly; a layer's own files (overlay's
	 * diff/) are only its changes, readable only against the parent and
	 * only when the driver says native diff is sound. */
	return !(c->s->driver_ops->caps & CSTOR_DRIVER_FULL_TREES) &&
	       !(c->native && c->from_is_parent);
}

/*
 * Mounted trees of both layers, for a naive comparison on overlay. Each is
 * held by a process-bound mount hold (docs/mounts.md, "Holders"), as check
 * holds the layers it reads: a layer mounted already is used where it is,
 * one that is not is mounted for the duration (as Go's naive diff mounts
 * it) and unmounted when the last holder goes; nobody unmounts it under us
 * meanwhile, and no lock is held while the trees are read: mounts and
 * listings of other layers go on. (Holding the whole mount state across
 * the read, as this did before, kept every other cstor process from
 * looking a layer up until a slow consumer had read the whole diff.)
 */
struct trees {
	int to, from;
	cstor_mount_hold *hold_to, *hold_from;
};

static int mount_tree(int *fd, cstor_mount_hold **hold, struct diff_ctx *c, const char *id,
		      cstor_error *err)
{
	_cleanup_free_ char *path = NULL;
	cstor_mount_options mo = CSTOR_MOUNT_OPTIONS_INIT;
	/* A layer of a read-only store can only be mounted read-only. */
	mo.flags = CSTOR_MOUNT_READ_ONLY_IF_NEEDED;
	mo.description = "cstor diff";
	int r = cstor_store_mount_hold(hold, &path, c->s, id, &mo, err);
	if (r < 0)
		return r;
	*fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0) {
		r = cstor_error_errno(err, errno, "open %s", path);
		cstor_mount_hold_release(*hold, c->s, NULL);
		*hold = NULL;
		return r;
	}
	return 0;
}

static void trees_done(struct trees *t, struct diff_ctx *c)
{
	if (t->to >= 0)
		close(t->to);
	if (t->from >= 0)
		close(t->from);
	cstor_mount_hold_release(t->hold_to, c->s, NULL);
	cstor_mount_hold_release(t->hold_from, c->s, NULL);
}

/* The mount holds take their own locks (the mount state comes after the
 * primary layer store and before the read-only ones, docs/locking.md): the
 * layer store is let go first. Whether the layer was deleted meanwhile is
 * checked afterwards (recheck()). */
static int trees_open(struct trees *t, struct diff_ctx *c, cstor_error *err)
{
	t->to = t->from = -1;
	t->hold_to = t->hold_from = NULL;
	unlock_store(c);
	int r = mount_tree(&t->to, &t->hold_to, c, c->to_id, err);
	if (r == 0 && c->from_id)
		r = mount_tree(&t->from, &t->hold_from, c, c->from_id, err);
	if (r < 0)
		trees_done(t, c);
	return r;
}

/* ---- tar-split reassembly --------------------------------------------- */

struct open_ctx {
	int *fds;
	size_t n;
};

static int open_member(void *ctx, const char *name, size_t name_len, int *fd_out,
		       cstor_error *err)
{
	struct open_ctx *oc = ctx;
	if (strlen(name) != name_len)
		return cstor_error_set(err, EINVAL, "tar-split names a file with a NUL byte");
	/* Resolved inside each directory by the kernel: a symlink in layer
	 * content cannot make us read outside it, nor can "../" or an
	 * absolute name (".." stops at the layer's root, as when the layer
	 * was applied). O_NONBLOCK: a fifo the entry names must not hang the
	 * open; only regular files are read (a device would never end). */
	struct open_how how = {
		.flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	const char *rel = name;
	while (rel[0] == '/')
		rel++;
	if (!rel[0])
		rel = ".";
	int last = -ENOENT;
	for (size_t i = 0; i < oc->n; i++) {
		long fd = syscall(SYS_openat2, oc->fds[i], rel, &how, sizeof(how));
		if (fd >= 0) {
			struct stat st;
			if (fstat((int)fd, &st) < 0 || !S_ISREG(st.st_mode)) {
				close((int)fd);
				return cstor_error_set(err, EBADMSG,
						       "tar-split entry \"%s\" is not a regular file "
						       "in the layer",
						       name);
			}
			*fd_out = (int)fd;
			return 0;
		}
		last = -errno;
		if (errno != ENOENT)
			break;
	}
	return cstor_error_errno(err, last, "open \"%s\" for the layer's tarball", name);
}

struct comp_ctx {
	cstor_compressor *c;
	cstor_error *err;
};

static int comp_write(void *ctx, const void *buf, size_t len)
{
	struct comp_ctx *cc = ctx;
	return cstor_compressor_write(cc->c, buf, len, cc->err);
}

static int reassemble(struct diff_ctx *c, int compression, cstor_write_fn write, void *wctx,
		      cstor_error *err)
{
	if (c->ts_fd < 0)
		return 1;
	int ts = c->ts_fd;
	int fds[1 + 512];
	size_t n = 0;
	fds[n++] = c->top;
	for (size_t i = 0; i < c->n_lowers && n < ELEMENTSOF(fds); i++)
		fds[n++] = c->lowers[i];
	/* Overlay: a file not in diff/ is looked up in the lowers, as Go
	 * does (metacopy leaves data there). */
	struct open_ctx oc = { fds, n };
	cstor_compressor *comp = NULL;
	int r = cstor_compressor_new(&comp, (cstor_compression)compression, 0, write, wctx, err);
	if (r < 0)
		return r;
	struct comp_ctx cc = { comp, err };
	r = cstor_tarsplit_assemble(cstor_fd_read, &ts, open_member, &oc, comp_write, &cc, NULL,
				    err);
	if (r == 0)
		r = cstor_compressor_finish(comp, err);
	cstor_compressor_free(comp);
	return r < 0 ? cstor_error_wrap(err, r, "reassemble layer %s from %s", c->to_id,
					c->tarsplit)
		     : 0;
}

int cstor_store_diff(cstor_store *s, const char *from, const char *to, int compression,
		     cstor_write_fn write, void *ctx, cstor_error *err)
{
	struct diff_ctx c;
	int r = prepare(&c, s, from, to, "diff", err);
	if (r < 0)
		return r;
	int comp = compression == CSTOR_DIFF_DEFAULT ? c.compression : compression;
	if (comp != CSTOR_COMPRESSION_NONE && comp != CSTOR_COMPRESSION_GZIP &&
	    comp != CSTOR_COMPRESSION_ZSTD) {
		finish(&c);
		return cstor_error_set(err, ENOTSUP,
				       "diff: layer %s was applied from %s, which cstor cannot "
				       "compress; ask for gzip (-c) or no compression (-u)",
				       to, cstor_compression_name((cstor_compression)comp));
	}
	struct cstor_idmaps maps = { c.uidmap, c.n_uidmap, c.gidmap, c.n_gidmap };
	struct cstor_export_options eo = {
		.compression = (cstor_compression)comp,
		.maps = c.n_uidmap || c.n_gidmap ? &maps : NULL,
	};
	if (c.ts_fd >= 0) {
		unlock_store(&c);
		r = reassemble(&c, comp, write, ctx, err);
	} else if (needs_mounts(&c)) {
		struct trees t;
		r = trees_open(&t, &c, err);
		if (r == 0) {
			struct cstor_change_list l = { 0 };
			if (!c.from_id)
				r = cstor_export_tree(t.to, write, ctx, &eo, err);
			else if ((r = cstor_changes_naive(&l, t.to, t.from, err)) == 0)
				r = cstor_export_changes(t.to, &l, write, ctx, &eo, err);
			cstor_change_list_done(&l);
			trees_done(&t, &c);
		}
	} else if (c.native) {
		unlock_store(&c);
		r = cstor_export_overlay_diff(c.top, c.lowers, c.n_lowers, write, ctx, &eo, err);
	} else if (!c.from_id) {
		unlock_store(&c);
		r = cstor_export_tree(c.top, write, ctx, &eo, err);
	} else {
		unlock_store(&c);
		struct cstor_change_list l = { 0 };
		r = cstor_changes_naive(&l, c.top, c.from_top, err);
		if (r == 0)
			r = cstor_export_changes(c.top, &l, write, ctx, &eo, err);
		cstor_change_list_done(&l);
	}
	r = recheck(&c, r, "diff", err);
	finish(&c);
	return r;
}

/* Releases the layer store (the walk is the long step). */
static int compute_changes(struct cstor_change_list *l, struct diff_ctx *c, cstor_error *err)
{
	if (needs_mounts(c)) {
		struct trees t;
		int r = trees_open(&t, c, err);
		if (r < 0)
			return r;
		r = cstor_changes_naive(l, t.to, t.from, err);
		trees_done(&t, c);
		return r;
	}
	unlock_store(c);
	if (c->native)
		return cstor_changes_overlay(l, c->top, c->lowers, c->n_lowers, 0, err);
	return cstor_changes_naive(l, c->top, c->from_top, err);
}

int cstor_store_changes(cstor_change **out, size_t *n, cstor_store *s, const char *from,
			const char *to, cstor_error *err)
{
	struct diff_ctx c;
	int r = prepare(&c, s, from, to, "changes", err);
	if (r < 0)
		return r;
	struct cstor_change_list l = { 0 };
	r = compute_changes(&l, &c, err);
	r = recheck(&c, r, "changes", err);
	finish(&c);
	if (r < 0) {
		cstor_change_list_done(&l);
		return r;
	}
	*out = l.v;
	*n = l.n;
	return 0;
}

void cstor_changes_free(cstor_change *changes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(changes[i].path);
	free(changes);
}

int cstor_store_diff_size(int64_t *size, cstor_store *s, const char *from, const char *to,
			  cstor_error *err)
{
	struct diff_ctx c;
	int r = prepare(&c, s, from, to, "diffsize", err);
	if (r < 0)
		return r;
	if (c.native && c.from_is_parent) {
		unlock_store(&c);
		r = cstor_dir_size(size, c.top, err);
	} else if (needs_mounts(&c)) {
		struct trees t;
		r = trees_open(&t, &c, err);
		if (r == 0) {
			struct cstor_change_list l = { 0 };
			r = cstor_changes_naive(&l, t.to, t.from, err);
			if (r == 0)
				r = cstor_changes_size(size, &l, t.to, err);
			cstor_change_list_done(&l);
			trees_done(&t, &c);
		}
	} else {
		struct cstor_change_list l = { 0 };
		r = compute_changes(&l, &c, err);
		if (r == 0)
			r = cstor_changes_size(size, &l, c.top, err);
		cstor_change_list_done(&l);
	}
	r = recheck(&c, r, "diffsize", err);
	finish(&c);
	return r;
}

int cstor_layer_diff_stored(struct cstor_store *s, const char *graph_root, const char *layers_dir,
			    const char *id, cstor_write_fn write, void *ctx, cstor_error *err)
{
	_cleanup_free_ char *files = NULL, *ts_path = NULL;
	if (s->driver_ops->files_dir(s->driver, graph_root, id, &files) < 0 ||
	    asprintf(&ts_path, "%s/%s.tar-split.gz", layers_dir, id) < 0) {
		ts_path = NULL;
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	_cleanup_close_ int ts = open(ts_path, O_RDONLY | O_CLOEXEC);
	if (ts < 0)
		return cstor_error_errno(err, errno, "open %s", ts_path);
	_cleanup_close_ int root = open(files, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return cstor_error_errno(err, errno, "open %s", files);
	int fds[1] = { root };
	struct open_ctx oc = { fds, 1 };
	int r = cstor_tarsplit_assemble(cstor_fd_read, &ts, open_member, &oc, write, ctx, NULL,
					err);
	return r < 0 ? cstor_error_wrap(err, r, "reassemble layer %s from %s", id, ts_path) : 0;
}
