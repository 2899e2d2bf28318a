/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reconciliation (mount/reconcile.h) and the reconciled views the rest of
 * the library reads (mount/mount-internal.h).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mount/mount-internal.h"
#include "mount/reconcile.h"
#include "util/cleanup.h"
#include "util/error-internal.h"
#include "util/fileutil.h"
#include "util/rm.h"
#include "util/strv.h"

void cstor_reconciled_done(struct cstor_reconciled *rc)
{
	free(rc->path);
	cstor_holder_state_done(&rc->st);
	cstor_holder_scan_done(&rc->h);
	free(rc->dir);
	memset(rc, 0, sizeof(*rc));
}

/* a + b and a - b, saturated at the int64_t limits instead of wrapping. */
static int64_t sat_add(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

static int64_t sat_sub(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_sub_overflow(a, b, &r))
		return b < 0 ? INT64_MAX : INT64_MIN;
	return r;
}

/* Foreign holds in [0, INT64_MAX - live], so live + foreign never wraps. */
static int64_t clamp_foreign(int64_t foreign, int64_t live)
{
	if (foreign < 0)
		return 0;
	return foreign > INT64_MAX - live ? INT64_MAX - live : foreign;
}

/*
 * Write the count and our state. Three steps, so that a process killed at
 * any point leaves something the next reconciler reads right: the state
 * with the new count marked pending (and the count before), the Go file,
 * then the state without the mark. With @brief the caller holds the layer
 * lock, not mountpoints.lock, which is taken here around the first two
 * steps only: a Go writer may have changed the count since reconcile() read
 * it (Go 1.43 mounts under the layer store lock held for writing, which a
 * mount of ours excludes, but another Go version might not), so the change
 * is added to the foreign holds, as reconcile() would add it.
 */
static int write_out(struct cstor_store *s, struct cstor_reconciled *rc, const char *id,
		     bool brief, cstor_error *err) CSTOR_NO_TSA
{
	/* A foreign count near INT64_MAX (anything may be in a file Go
	 * programs write) plus our holders would wrap to a negative count
	 * and drop the record: saturate, the excess being foreign holds. */
	rc->foreign = clamp_foreign(rc->foreign, rc->live);
	free(rc->st.path);
	rc->st.path = NULL;
	if (rc->path && !(rc->st.path = strdup(rc->path)))
		return cstor_error_set(err, ENOMEM, "out of memory");
	int r = cstor_mkdir_p(rc->dir, 0700, err);
	if (r < 0)
		return r;
	if (brief && (r = cstor_mounts_update_start(s->mounts, err)) != 0)
		return r;
	struct cstor_mount_rec *m = cstor_mounts_get(s->mounts, id);
	int64_t before = m ? m->count : 0;
	if (!rc->ro_store && rc->mounted)
		rc->foreign = clamp_foreign(sat_add(rc->foreign, sat_sub(MAX(0, before), rc->json_seen)),
					    rc->live);
	int64_t total = rc->live + rc->foreign;
	rc->total = total;
	rc->json_seen = total;
	rc->st.foreign = rc->foreign;
	rc->st.written = total;
	rc->st.pending = true;
	rc->st.pending_prev = before;
	if ((r = cstor_holder_state_write(rc->dir, &rc->st, err)) >= 0 &&
	    (r = cstor_mounts_set(s->mounts, id, rc->path, total > 0 ? total : 0, err)) >= 0)
		r = cstor_mounts_save(s->mounts, err);
	if (brief)
		cstor_mounts_update_done(s->mounts);
	if (r < 0)
		return r;
	rc->st.pending = false;
	if (total == 0 && rc->live == 0) {
		/* Nothing to remember any more. */
		cstor_rm_rf_at_quiet(AT_FDCWD, rc->dir);
		return 0;
	}
	return cstor_holder_state_write(rc->dir, &rc->st, err);
}

int cstor_mount_write_out(struct cstor_store *s, struct cstor_reconciled *rc, const char *id,
			  cstor_error *err)
{
	return write_out(s, rc, id, false, err);
}

int cstor_mount_write_out_layer(struct cstor_store *s, struct cstor_reconciled *rc,
				const char *id, cstor_error *err)
{
	return write_out(s, rc, id, true, err);
}

int cstor_mount_remount(struct cstor_store *s, struct cstor_reconciled *rc,
			const struct cstor_mount_target *t, cstor_error *err)
{
	_cleanup_free_ char *path = NULL;
	const char *label = rc->st.label ? rc->st.label : t->label;
	const struct cstor_idmaps *maps = t->maps.n_uids || t->maps.n_gids ? &t->maps : NULL;
	int r = s->driver_ops->get(cstor_store_driver_of(s, t->id), t->id, rc->st.options, label, maps,
				   &path, err);
	if (r < 0)
		return r;
	free(rc->path);
	rc->path = TAKE_PTR(path);
	rc->mounted = true;
	return 0;
}

static int reconcile(struct cstor_reconciled *rc, struct cstor_store *s,
		     const struct cstor_mount_target *t, bool list, bool brief, cstor_error *err)
	CSTOR_NO_TSA
{
	memset(rc, 0, sizeof(*rc));
	rc->ro_store = t->ro_store;
	int r = cstor_holder_dir(&rc->dir, s->run_layers_dir, t->id, err);
	if (r < 0)
		return r;
	if ((r = cstor_holder_state_read(&rc->st, rc->dir, err)) < 0 ||
	    (r = cstor_holders_scan(&rc->h, rc->dir, list, err)) < 0)
		return cstor_error_wrap(err, r, "mount holders of %s", t->id);
	rc->live = rc->h.persistent + rc->h.process;

	/* With @brief (the caller holds the layer lock), mountpoints.lock
	 * only while the record is read: what reconciliation does next, a
	 * mount or an unmount among it, lets other layers' operations run. */
	if (brief && (r = cstor_mounts_update_start(s->mounts, err)) != 0)
		return r;
	struct cstor_mount_rec *m = cstor_mounts_get(s->mounts, t->id);
	/* A negative count (Go never writes one) holds nothing. */
	int64_t json_count = m ? MAX(0, m->count) : 0;
	_cleanup_free_ char *json_path = m && m->path[0] ? strdup(m->path) : NULL;
	bool oom = m && m->path[0] && !json_path;
	if (brief)
		cstor_mounts_update_done(s->mounts);
	if (oom)
		return cstor_error_set(err, ENOMEM, "out of memory");
	rc->json_seen = json_count;
	/* The mount point is where the driver mounts the layer, computed,
	 * never taken from a record: a record is only a claim (stale, or
	 * written by anyone who can write the run root), and following it
	 * would report a path that does not exist or act on one outside the
	 * store. A record that disagrees is rewritten below. */
	if (s->driver_ops->mount_path(cstor_store_driver_of(s, t->id), t->id, &rc->path) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	rc->mounted = s->driver_ops->is_mounted(cstor_store_driver_of(s, t->id), t->id, rc->path);

	bool pending = rc->st.pending;
	if (rc->st.pending) {
		/* A writer died during write_out(): if the file still has the
		 * count from before, its write did not happen. */
		if (json_count == rc->st.pending_prev && rc->st.pending_prev != rc->st.written)
			rc->st.written = rc->st.pending_prev;
		rc->st.pending = false;
	}
	if (t->ro_store)
		/* Go cannot mount these: every hold is ours. (Go also drops
		 * their records, not knowing the layer, when it rewrites the
		 * file; the state here survives that.) */
		rc->foreign = 0;
	else if (rc->st.written < 0)
		rc->foreign = json_count;
	else
		rc->foreign = sat_add(rc->st.foreign, sat_sub(json_count, rc->st.written));
	rc->foreign = clamp_foreign(rc->foreign, rc->live);
	if (!rc->mounted)
		rc->foreign = 0; /* a Go hold on a mount that is gone holds nothing */

	if (rc->live == 0 && rc->foreign == 0 && rc->mounted) {
		if ((r = s->driver_ops->put(cstor_store_driver_of(s, t->id), t->id, err)) < 0)
			return r;
		rc->mounted = false;
	}
	if (rc->live > 0 && !rc->mounted && (r = cstor_mount_remount(s, rc, t, err)) < 0)
		return r;
	if (!rc->mounted) {
		free(rc->path);
		rc->path = NULL;
	}
	if (list && rc->foreign > 0 &&
	    (r = cstor_holder_list_add(&rc->h, CSTOR_HOLDER_FOREIGN, -1, NULL, rc->foreign, err)) < 0)
		return r;

	int64_t total = rc->live + rc->foreign;
	if (total != json_count || !streq_ptr(json_path, rc->path) ||
	    (rc->st.written >= 0 ? rc->st.written : json_count) != total ||
	    rc->st.foreign != rc->foreign || pending)
		return write_out(s, rc, t->id, brief, err);
	rc->total = total;
	return 0;
}

int cstor_mount_reconcile(struct cstor_reconciled *rc, struct cstor_store *s,
			  const struct cstor_mount_target *t, bool list, cstor_error *err)
{
	return reconcile(rc, s, t, list, false, err);
}

int cstor_mount_reconcile_layer(struct cstor_reconciled *rc, struct cstor_store *s,
				const struct cstor_mount_target *t, bool list, cstor_error *err)
{
	return reconcile(rc, s, t, list, true, err);
}

/* ---- what the rest of the library reads (mount/mount-internal.h) ------ */

int cstor_mount_state_lock(struct cstor_store *s, cstor_error *err)
{
	return cstor_mounts_start(s->mounts, err);
}

void cstor_mount_state_unlock(struct cstor_store *s)
{
	cstor_mounts_done(s->mounts);
}

int cstor_mount_live_count(int64_t *count, struct cstor_store *s, const char *id,
			   cstor_error *err)
{
	int r = cstor_mount_state_lock(s, err);
	if (r != 0)
		return r;
	struct cstor_mount_target t = { (char *)id, false, NULL };
	struct cstor_reconciled rc;
	r = cstor_mount_reconcile(&rc, s, &t, false, err);
	if (r == 0)
		*count = rc.total;
	cstor_reconciled_done(&rc);
	cstor_mount_state_unlock(s);
	return r;
}

int cstor_mount_holders_open(struct cstor_store *s)
{
	_cleanup_free_ char *dir = cstor_path_join(s->run_layers_dir, CSTOR_HOLDERS_DIR);
	if (!dir)
		return -ENOMEM;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd >= 0 ? fd : -errno;
}

int cstor_mount_status(int64_t *count, char **path, struct cstor_store *s, int holders_fd,
		       const char *id, bool ro_store, cstor_error *err)
{
	*count = 0;
	*path = NULL;
	/* Whatever holds a mount leaves a record (Go's holders, and ours
	 * once written) or a holder directory (ours, from before the record
	 * is written): without both there is no holder to count. */
	if (!cstor_mounts_get(s->mounts, id) && (holders_fd >= 0 || holders_fd == -ENOENT)) {
		if (!cstor_rec_id_valid(id))
			return cstor_error_set(err, EINVAL, "invalid layer ID \"%s\" in mount state",
					       id);
		struct stat st;
		if (holders_fd == -ENOENT ||
		    (fstatat(holders_fd, id, &st, 0) < 0 && errno == ENOENT))
			return 0;
	} else if (!cstor_mounts_get(s->mounts, id)) {
		_cleanup_free_ char *dir = NULL;
		int r = cstor_holder_dir(&dir, s->run_layers_dir, id, err);
		if (r < 0)
			return r;
		struct stat st;
		if (stat(dir, &st) < 0 && errno == ENOENT)
			return 0;
	}
	struct cstor_mount_target t = { (char *)id, ro_store, NULL };
	struct cstor_reconciled rc;
	int r = cstor_mount_reconcile(&rc, s, &t, false, err);
	if (r == 0) {
		*count = rc.total;
		*path = rc.total > 0 ? TAKE_PTR(rc.path) : NULL;
	}
	cstor_reconciled_done(&rc);
	return r;
}

int cstor_mount_borrow(char **path, bool *temporary, struct cstor_store *s, const char *id,
		       cstor_error *err)
{
	*path = NULL;
	*temporary = false;
	/* Whether the layer is ours decides only whether Go may hold it;
	 * the driver knows without a layer store lock (the caller may hold
	 * a read-only store's, which comes after ours). */
	struct cstor_mount_target t = { (char *)id,
					  !s->driver_ops->exists(cstor_store_driver_of(s, id), id),
					  NULL };
	struct cstor_reconciled rc;
	int r = cstor_mount_reconcile(&rc, s, &t, false, err);
	if (r == 0 && rc.total > 0 && rc.path) {
		*path = TAKE_PTR(rc.path);
	} else if (r == 0) {
		char *const ro[] = { (char *)"ro", NULL };
		r = s->driver_ops->get(cstor_store_driver_of(s, id), id, ro, NULL, NULL, path, err);
		*temporary = r == 0;
	}
	cstor_reconciled_done(&rc);
	return r;
}

void cstor_mount_borrow_end(struct cstor_store *s, const char *id, bool temporary)
{
	if (temporary)
		s->driver_ops->put(cstor_store_driver_of(s, id), id, NULL);
}
