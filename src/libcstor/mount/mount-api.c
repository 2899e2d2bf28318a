/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The public mount API (include/cstor/mount.h, docs/mounts.md): mount and
 * hold, release, unmount, mounted, shutdown. Each call finds the layer
 * under the right locks, reconciles it (mount/reconcile.h) and changes its
 * holders (mount/holders.h) with the layer's lock held (the gate shared):
 * mountpoints.lock only around each read or update of mountpoints.json, so
 * that operations on different layers never wait for each other's mount or
 * unmount (docs/locking.md, "Mount state").
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cstor/mount.h>

#include "mount/mount-internal.h"
#include "mount/reconcile.h"
#include "records/fields.h"
#include "util/cleanup.h"
#include "util/error-internal.h"
#include "util/fileutil.h"
#include "util/strv.h"
#include "util/failpoint.h"

struct cstor_mount_hold {
	char *id;
	char *file; /* absolute path of the holder file */
	int fd;     /* its open file description holds the OFD lock */
};

/* ---- finding the layer, with the right locks -------------------------- */

/*
 * Lock order (docs/locking.md): primary layer store, then the mount state
 * (the gate, shared), then read-only layer stores. A primary layer is
 * looked up under its store's lock (shared), then the gate and its layer
 * lock are taken; a read-only store's layer is looked up after the gate,
 * and its layer lock taken with that store held shared (nothing of ours
 * waits for a read-only store while holding a layer lock).
 */
struct located {
	struct cstor_objstore *ls; /* held shared */
	struct cstor_mount_target t;
	bool unusable;
	int lock_fd; /* holds the layer lock */
};

static void located_done(struct located *l)
{
	free(l->t.id);
	free(l->t.label);
	free((cstor_idmap *)l->t.maps.uids);
	free((cstor_idmap *)l->t.maps.gids);
	memset(l, 0, sizeof(*l));
}

static int fill_target(struct located *l, struct cstor_layer_rec *rec, bool ro)
{
	l->t.id = strdup(rec->h.id);
	l->t.label = rec->mountlabel ? strdup(rec->mountlabel) : NULL;
	l->t.ro_store = ro;
	l->unusable = cstor_layer_rec_flag_bool(rec, "incomplete") ||
		      cstor_layer_rec_flag_bool(rec, CSTOR_FLAG_APPLY_INCOMPLETE) ||
		      cstor_layer_rec_flag_bool(rec, CSTOR_FLAG_CREATING);
	return l->t.id && (!rec->mountlabel || l->t.label) ? 0 : -ENOMEM;
}

/* On success the layer's store is held shared, the gate shared and the
 * layer's lock; release with unlock_layer(). */
static int lock_layer(struct located *l, struct cstor_store *s, const char *ref,
		      const char *what, cstor_error *err)
	CSTOR_TRY_ACQUIRE_SHARED(0, &s->mounts->gate);
static void unlock_layer(struct located *l, struct cstor_store *s)
	CSTOR_RELEASE_SHARED(&s->mounts->gate);

/* A lock primitive of this file: which layer store it takes depends on
 * where the layer is, which the analysis cannot follow. */
static int lock_layer(struct located *l, struct cstor_store *s, const char *ref,
		      const char *what, cstor_error *err) CSTOR_NO_TSA
{
	memset(l, 0, sizeof(*l));
	l->lock_fd = -1;
	int r = cstor_objstore_start_reading(s->layers, err);
	if (r != 0)
		return r;
	bool amb = false;
	struct cstor_layer_rec *rec = cstor_layer_store_lookup(s->layers, ref, &amb);
	if (rec) {
		if (fill_target(l, rec, false) < 0) {
			cstor_objstore_done(s->layers);
			located_done(l);
			return cstor_error_set(err, ENOMEM, "out of memory");
		}
		/* A container's layer on a driver that shifts at mount time is
		 * mounted through the container's ID mappings, as
		 * containers/storage mounts a container; a layer recorded with
		 * maps has its files shifted already. (The container store
		 * comes after the layer stores in the lock order; it is
		 * released before the mount state is taken.) */
		if (s->driver_ops->supports_shifting && !rec->n_uidmap && !rec->n_gidmap &&
		    (r = cstor_container_layer_maps(s, l->t.id, &l->t.maps, err)) < 0) {
			cstor_objstore_done(s->layers);
			located_done(l);
			return r;
		}
		/* Only a container with maps asks the driver (the first
		 * answer may cost a probe). */
		if ((l->t.maps.n_uids || l->t.maps.n_gids) &&
		    !s->driver_ops->supports_shifting(s->driver)) {
			free((cstor_idmap *)l->t.maps.uids);
			free((cstor_idmap *)l->t.maps.gids);
			l->t.maps = (struct cstor_idmaps){ 0 };
		}
		r = cstor_mounts_layer_lock(s->mounts, l->t.id, &l->lock_fd, err);
		if (r != 0) {
			cstor_objstore_done(s->layers);
			located_done(l);
			return r;
		}
		l->ls = s->layers;
		return 0;
	}
	cstor_objstore_done(s->layers);
	if (amb)
		return cstor_error_set(err, EINVAL, "%s: layer reference \"%s\" is ambiguous", what, ref);
	/* Only a lookup, for the ID whose lock to take: the stores are read
	 * again below, in order after the gate. */
	for (size_t i = 0; i < s->n_ro_layers && !l->t.id; i++) {
		struct cstor_objstore *ro = s->ro_layers[i];
		r = cstor_objstore_start_reading(ro, err);
		if (r != 0)
			return r;
		rec = cstor_layer_store_lookup(ro, ref, NULL);
		if (rec && fill_target(l, rec, true) < 0) {
			cstor_objstore_done(ro);
			located_done(l);
			return cstor_error_set(err, ENOMEM, "out of memory");
		}
		cstor_objstore_done(ro);
	}
	if (!l->t.id)
		return cstor_error_set(err, ENOENT, "%s: layer not known: %s", what, ref);
	r = cstor_mounts_layer_lock(s->mounts, l->t.id, &l->lock_fd, err);
	if (r != 0) {
		located_done(l);
		return r;
	}
	/* Found again under the locks: the store may have changed between. */
	for (size_t i = 0; i < s->n_ro_layers; i++) {
		struct cstor_objstore *ro = s->ro_layers[i];
		r = cstor_objstore_start_reading(ro, err);
		if (r != 0) {
			cstor_mounts_layer_unlock(s->mounts, l->lock_fd);
			located_done(l);
			return r;
		}
		rec = cstor_layer_store_by_id(ro, l->t.id);
		if (rec) {
			struct located n = { .lock_fd = l->lock_fd };
			located_done(l);
			if (fill_target(&n, rec, true) < 0) {
				cstor_objstore_done(ro);
				cstor_mounts_layer_unlock(s->mounts, n.lock_fd);
				located_done(&n);
				return cstor_error_set(err, ENOMEM, "out of memory");
			}
			*l = n;
			l->ls = ro;
			return 0;
		}
		cstor_objstore_done(ro);
	}
	cstor_mounts_layer_unlock(s->mounts, l->lock_fd);
	located_done(l);
	return cstor_error_set(err, ENOENT, "%s: layer not known: %s", what, ref);
}

static void unlock_layer(struct located *l, struct cstor_store *s) CSTOR_NO_TSA
{
	cstor_mounts_layer_unlock(s->mounts, l->lock_fd);
	cstor_objstore_done(l->ls);
	located_done(l);
}

/* ---- mount ------------------------------------------------------------ */

static bool has_ro(const char *const *options)
{
	for (size_t i = 0; options && options[i]; i++)
		if (streq(options[i], "ro"))
			return true;
	return false;
}

static int do_mount(cstor_mount_hold **hold, char **mountpoint, struct cstor_store *s,
		    const char *ref, const cstor_mount_options *o, bool process, cstor_error *err)
{
	if (o && o->version != CSTOR_MOUNT_OPTIONS_VERSION)
		return cstor_error_set(err, EINVAL, "unsupported cstor_mount_options version");
	if (o && (o->flags & ~(uint32_t)(CSTOR_MOUNT_HOLD_INHERIT | CSTOR_MOUNT_READ_ONLY_IF_NEEDED)))
		return cstor_error_set(err, EINVAL, "unknown mount flags 0x%x", o->flags);
	_cleanup_strv_free_ char **with_ro = NULL;
	struct located l;
	int r = lock_layer(&l, s, ref, "mount", err);
	if (r != 0)
		return r;
	struct cstor_reconciled rc = { 0 };
	_cleanup_free_ char *file = NULL;
	int fd = -1;
	if (l.unusable) {
		r = cstor_error_set(err, EBUSY,
				    "mount %s: the layer is incomplete (an apply was interrupted); "
				    "apply its diff again or delete it",
				    l.t.id);
		goto out;
	}
	const char *const *options = o ? o->options : NULL;
	if (l.t.ro_store && !has_ro(options) && o && (o->flags & CSTOR_MOUNT_READ_ONLY_IF_NEEDED)) {
		/* The caller's options and "ro": also what repairs remount with. */
		if ((options && !(with_ro = strv_copy((char *const *)options))) ||
		    strv_append(&with_ro, "ro") < 0) {
			r = cstor_error_set(err, ENOMEM, "out of memory");
			goto out;
		}
		options = (const char *const *)with_ro;
	}
	if (l.t.ro_store && !has_ro(options)) {
		r = cstor_error_set(err, EROFS,
				    "mount %s: the layer is in a read-only image store; it can only "
				    "be mounted read-only",
				    l.t.id);
		goto out;
	}
	if ((r = cstor_mount_reconcile_layer(&rc, s, &l.t, false, err)) < 0)
		goto out;
	if (!rc.mounted) {
		/* First holder: mount, and remember how for repairs. */
		strv_free(rc.st.options);
		rc.st.options = options ? strv_copy((char *const *)options) : NULL;
		free(rc.st.label);
		rc.st.label = o && o->mount_label ? strdup(o->mount_label) : NULL;
		if ((r = cstor_failpoint_err(err, "mount:before-mount", NULL, "mount the layer")) < 0 ||
		    (r = cstor_mount_remount(s, &rc, &l.t, err)) < 0)
			goto out;
	}
	/* Mounted (or already), no holder yet. */
	r = cstor_failpoint_err(err, "mount:before-holder", NULL, "mount: record the holder");
	if (r == 0)
		r = cstor_holder_create(process ? &fd : NULL, process ? &file : NULL, rc.dir,
					process, o && (o->flags & CSTOR_MOUNT_HOLD_INHERIT),
					o ? o->description : NULL, err);
	if (r < 0) {
		if (rc.live + rc.foreign == 0)
			s->driver_ops->put(cstor_store_driver_of(s, l.t.id), l.t.id, NULL);
		goto out;
	}
	rc.live++;
	if ((r = cstor_failpoint_err(err, "mount:after-holder", NULL,
				     "mount: record the mount")) < 0 ||
	    (r = cstor_mount_write_out_layer(s, &rc, l.t.id, err)) < 0)
		goto out;
	if (mountpoint && !(*mountpoint = strdup(rc.path)))
		r = cstor_error_set(err, ENOMEM, "out of memory");
	if (r == 0 && process) {
		cstor_mount_hold *h = calloc(1, sizeof(*h));
		if (!h || !(h->id = strdup(l.t.id))) {
			free(h);
			r = cstor_error_set(err, ENOMEM, "out of memory");
		} else {
			h->file = TAKE_PTR(file);
			h->fd = TAKE_FD(fd);
			*hold = h;
		}
	}
out:
	if (fd >= 0) {
		if (file)
			unlink(file);
		close(fd);
	}
	cstor_reconciled_done(&rc);
	unlock_layer(&l, s);
	return r;
}

int cstor_store_mount(char **mountpoint, cstor_store *s, const char *ref,
		      const cstor_mount_options *o, cstor_error *err)
{
	return do_mount(NULL, mountpoint, s, ref, o, false, err);
}

int cstor_store_mount_hold(cstor_mount_hold **hold, char **mountpoint, cstor_store *s,
			   const char *ref, const cstor_mount_options *o, cstor_error *err)
{
	return do_mount(hold, mountpoint, s, ref, o, true, err);
}

int cstor_mount_hold_fd(const cstor_mount_hold *h)
{
	return h->fd;
}

void cstor_mount_hold_free(cstor_mount_hold *h)
{
	if (!h)
		return;
	if (h->fd >= 0)
		close(h->fd);
	free(h->id);
	free(h->file);
	free(h);
}

int cstor_mount_hold_release(cstor_mount_hold *h, cstor_store *s, cstor_error *err)
{
	if (!h)
		return 0;
	struct located l;
	int r = lock_layer(&l, s, h->id, "release mount", err);
	if (r != 0) {
		cstor_mount_hold_free(h);
		if (r != -ENOENT)
			return r;
		/* The layer is gone (deleted by force?): just let go. */
		cstor_error_clear(err);
		return 0;
	}
	unlink(h->file);
	struct cstor_reconciled rc;
	r = cstor_mount_reconcile_layer(&rc, s, &l.t, false, err);
	cstor_reconciled_done(&rc);
	unlock_layer(&l, s);
	cstor_mount_hold_free(h);
	return r;
}

/* ---- unmount, mounted -------------------------------------------------- */

static char *describe_process_holders(const struct cstor_holder_scan *h)
{
	cstor_buf b = { 0 };
	for (size_t i = 0; i < h->n; i++) {
		if (h->list[i].kind != CSTOR_HOLDER_PROCESS)
			continue;
		cstor_buf_printf(&b, "%spid %lld", b.len ? ", " : "", (long long)h->list[i].pid);
		if (h->list[i].description)
			cstor_buf_printf(&b, " (%s)", h->list[i].description);
	}
	return cstor_buf_steal(&b, NULL);
}

int cstor_store_unmount(int *still_mounted, cstor_store *s, const char *ref, int force,
			cstor_error *err)
{
	struct located l;
	int r = lock_layer(&l, s, ref, "unmount", err);
	if (r != 0)
		return r;
	struct cstor_reconciled rc;
	if ((r = cstor_mount_reconcile_layer(&rc, s, &l.t, true, err)) < 0)
		goto out;
	if (rc.live + rc.foreign == 0) {
		/* Not mounted: fine, as in containers/storage. */
		if (still_mounted)
			*still_mounted = 0;
		goto out;
	}
	size_t drop = force ? strv_length(rc.h.persistent_files) : (rc.h.persistent > 0);
	for (size_t i = 0; i < drop; i++) {
		char p[4300];
		snprintf(p, sizeof(p), "%s/%s", rc.dir, rc.h.persistent_files[i]);
		unlink(p);
		rc.live--;
	}
	if (force)
		rc.foreign = 0;
	else if (drop == 0 && rc.foreign > 0)
		rc.foreign--;
	else if (drop == 0) {
		_cleanup_free_ char *who = describe_process_holders(&rc.h);
		r = cstor_error_set(err, EBUSY,
				    "unmount %s: the mount is held by running processes (%s); it is "
				    "released when they exit",
				    l.t.id, who ? who : "?");
		goto out;
	}
	if ((r = cstor_failpoint_err(err, "unmount:after-release", NULL,
				     "unmount: unmount the layer")) < 0)
		goto out;
	if (rc.live + rc.foreign == 0 && rc.mounted) {
		if ((r = s->driver_ops->put(cstor_store_driver_of(s, l.t.id), l.t.id, err)) < 0)
			goto out;
		if ((r = cstor_failpoint_err(err, "unmount:after-put", NULL,
					     "unmount: record the unmount")) < 0)
			goto out;
		rc.mounted = false;
		free(rc.path);
		rc.path = NULL;
	}
	r = cstor_mount_write_out_layer(s, &rc, l.t.id, err);
	if (r == 0 && still_mounted)
		*still_mounted = rc.total > 0;
out:
	cstor_reconciled_done(&rc);
	unlock_layer(&l, s);
	return r;
}

int cstor_store_mounted(int64_t *count, cstor_store *s, const char *ref, cstor_error *err)
{
	struct located l;
	int r = lock_layer(&l, s, ref, "mounted", err);
	if (r != 0)
		return r;
	struct cstor_reconciled rc;
	r = cstor_mount_reconcile_layer(&rc, s, &l.t, false, err);
	if (r == 0)
		*count = rc.total;
	cstor_reconciled_done(&rc);
	unlock_layer(&l, s);
	return r;
}

int cstor_store_mount_holders(char **mountpoint, cstor_mount_holder **holders, size_t *n,
			      cstor_store *s, const char *ref, cstor_error *err)
{
	struct located l;
	int r = lock_layer(&l, s, ref, "mounted", err);
	if (r != 0)
		return r;
	struct cstor_reconciled rc;
	r = cstor_mount_reconcile_layer(&rc, s, &l.t, true, err);
	if (r == 0 && mountpoint && rc.path && !(*mountpoint = strdup(rc.path)))
		r = cstor_error_set(err, ENOMEM, "out of memory");
	else if (r == 0 && mountpoint && !rc.path)
		*mountpoint = NULL;
	if (r == 0) {
		*holders = rc.h.list;
		*n = rc.h.n;
		rc.h.list = NULL;
		rc.h.n = 0;
	}
	cstor_reconciled_done(&rc);
	unlock_layer(&l, s);
	return r;
}

/* ---- shutdown ---------------------------------------------------------- */

/* Every layer with mount state: a record, or a holder directory. */
static int collect_ids(char ***ids, struct cstor_store *s, cstor_error *err)
	CSTOR_REQUIRES(&s->mounts->lock)
{
	/* A record whose ID names no possible layer (a path, written by
	 * someone else) has nothing of ours to reconcile: skipped, never
	 * turned into a path. */
	for (size_t i = 0; i < s->mounts->n; i++)
		if (cstor_rec_id_valid(s->mounts->recs[i].id) &&
		    !strv_contains(*ids, s->mounts->recs[i].id) &&
		    strv_append(ids, s->mounts->recs[i].id) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
	_cleanup_free_ char *dir = cstor_path_join(s->run_layers_dir, CSTOR_HOLDERS_DIR);
	if (!dir)
		return cstor_error_set(err, ENOMEM, "out of memory");
	_cleanup_closedir_ DIR *d = opendir(dir);
	if (!d && errno != ENOENT)
		return cstor_error_errno(err, errno, "open %s", dir);
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.' && cstor_rec_id_valid(de->d_name) && !strv_contains(*ids, de->d_name) &&
		    strv_append(ids, de->d_name) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
	return 0;
}

int cstor_store_shutdown(cstor_store *s, int force, cstor_error *err)
{
	int r = cstor_objstore_start_reading(s->layers, err);
	if (r != 0)
		return r;
	r = cstor_mounts_start(s->mounts, err);
	if (r != 0) {
		cstor_objstore_done(s->layers);
		return r;
	}
	_cleanup_strv_free_ char **ids = NULL;
	bool busy = false;
	r = collect_ids(&ids, s, err);
	for (size_t i = 0; r == 0 && ids && ids[i]; i++) {
		struct cstor_layer_rec *rec = cstor_layer_store_by_id(s->layers, ids[i]);
		struct cstor_mount_target t = { ids[i], rec == NULL, NULL };
		struct cstor_reconciled rc;
		r = cstor_mount_reconcile(&rc, s, &t, false, err);
		if (r == 0 && force && rc.total > 0) {
			/* Force drops every hold that is not a running process's. */
			for (size_t k = 0; rc.h.persistent_files && rc.h.persistent_files[k]; k++) {
				char p[4300];
				snprintf(p, sizeof(p), "%s/%s", rc.dir, rc.h.persistent_files[k]);
				unlink(p);
				rc.live--;
			}
			rc.foreign = 0;
			if (rc.live == 0 && rc.mounted) {
				r = s->driver_ops->put(cstor_store_driver_of(s, t.id), t.id, err);
				rc.mounted = false;
				free(rc.path);
				rc.path = NULL;
			}
			if (r == 0)
				r = cstor_mount_write_out(s, &rc, t.id, err);
		}
		if (r == 0 && rc.total > 0)
			busy = true;
		cstor_reconciled_done(&rc);
	}
	cstor_mounts_done(s->mounts);
	cstor_objstore_done(s->layers);
	if (r < 0)
		return r;
	if (busy)
		/* containers/storage's words: scripts look for them. */
		return cstor_error_set(err, EBUSY, "a layer is mounted: layer is in use by a container");
	cstor_lock_lock(&s->graph_lock);
	cstor_lock_token t;
	r = cstor_lock_record_write(&s->graph_lock, &t, err);
	if (r == 0 && s->driver_ops->cleanup)
		r = s->driver_ops->cleanup(s->driver, err);
	if (r == 0 && s->driver_ops->cleanup && s->image_driver)
		r = s->driver_ops->cleanup(s->image_driver, err);
	cstor_lock_unlock(&s->graph_lock);
	return r;
}
