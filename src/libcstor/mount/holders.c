/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mount holders and reconciliation (docs/mounts.md, include/cstor/mount.h).
 *
 * containers/storage keeps one number per mounted layer in
 * <runroot>/<drv>-layers/mountpoints.json. cstor keeps, next to it, who
 * holds each mount, in a directory Go never reads or rewrites:
 *
 *   <runroot>/<drv>-layers/cstor-holders/<layer-id>/
 *       p-<random>   a process-bound holder: its process keeps the file open
 *                    with an OFD write lock; the lock dies with the last
 *                    process holding the open file description
 *       s-<random>   a persistent holder
 *       state        what we last wrote: the count, how many of it were
 *                    foreign (Go's) holds, the mount point and its options
 *
 * Everything here runs with mountpoints.lock held exclusively, so holder
 * files appear (already locked: created under a temporary name, locked,
 * renamed) and disappear atomically with respect to reconciliation.
 *
 * Reconciling a layer: live = persistent holders + process holders whose
 * lock is held (dead ones are removed); foreign = the foreign holds of our
 * last write, plus however much a Go writer changed the count since (a Go
 * mount adds one, a Go unmount removes one); a foreign hold only counts
 * while the kernel still has the mount. Then: no live holder and mounted ->
 * unmount; live holders but the mount vanished -> mount again (the record
 * was lying, the holders still want it); write count = live + foreign.
 */
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstor/mount.h>

#include "util/error-internal.h"
#include "util/fileutil.h"
#include "util/gojson.h"
#include "store/store-internal.h"
#include "util/cleanup.h"
#include "util/rm.h"
#include "util/strv.h"

#define HOLDERS_DIR "cstor-holders"

struct cstor_mount_hold {
	char *id;
	char *file; /* absolute path of the holder file */
	int fd;
};

struct layer_state {
	int64_t written; /* count we last wrote, -1 if no state */
	int64_t foreign;
	/* Set while a write of mountpoints.json is under way: the count
	 * before it. A process killed in the middle leaves it set, and the
	 * next reconciler tells from the file whether the write happened. */
	int64_t pending_prev;
	bool pending;
	char *path;
	char **options; /* mount options the mount was made with */
	char *label;
};

struct holder_scan {
	int64_t persistent, process;
	cstor_mount_holder *list; /* when collecting */
	size_t n;
	char **persistent_files;
};

static void state_done(struct layer_state *st)
{
	free(st->path);
	strv_free(st->options);
	free(st->label);
	memset(st, 0, sizeof(*st));
}

static void scan_done(struct holder_scan *h)
{
	cstor_mount_holders_free(h->list, h->n);
	strv_free(h->persistent_files);
	memset(h, 0, sizeof(*h));
}

static int holder_dir(char **out, struct cstor_store *s, const char *id)
{
	return asprintf(out, "%s/%s/%s", s->run_layers_dir, HOLDERS_DIR, id) < 0 ? -ENOMEM : 0;
}

static int read_state(struct layer_state *st, const char *dir)
{
	memset(st, 0, sizeof(*st));
	st->written = -1;
	_cleanup_free_ char *p = cstor_path_join(dir, "state"), *data = NULL;
	if (!p)
		return -ENOMEM;
	size_t len;
	if (cstor_read_file_at(AT_FDCWD, p, &data, &len, p, NULL) < 0)
		return 0; /* no state: nothing written by cstor */
	json_t *j = json_loadb(data, len, 0, NULL);
	if (!j)
		return 0; /* a torn state is as good as none: Go's count rules */
	json_t *w = json_object_get(j, "written"), *f = json_object_get(j, "foreign");
	json_t *pa = json_object_get(j, "path"), *lb = json_object_get(j, "label");
	json_t *pp = json_object_get(j, "pending-previous");
	if (json_is_integer(pp)) {
		st->pending = true;
		st->pending_prev = json_integer_value(pp);
	}
	if (json_is_integer(w))
		st->written = json_integer_value(w);
	if (json_is_integer(f))
		st->foreign = json_integer_value(f);
	if (json_is_string(pa))
		st->path = strdup(json_string_value(pa));
	if (json_is_string(lb))
		st->label = strdup(json_string_value(lb));
	cstor_json_get_strv(&st->options, json_object_get(j, "options"), "state", NULL);
	json_decref(j);
	return 0;
}

static int write_state(const char *dir, const struct layer_state *st, cstor_error *err)
{
	cstor_buf b = { 0 };
	bool first = true;
	cstor_buf_putc(&b, '{');
	cstor_json_key(&b, &first, "written");
	cstor_buf_printf(&b, "%lld", (long long)st->written);
	cstor_json_key(&b, &first, "foreign");
	cstor_buf_printf(&b, "%lld", (long long)st->foreign);
	if (st->pending) {
		cstor_json_key(&b, &first, "pending-previous");
		cstor_buf_printf(&b, "%lld", (long long)st->pending_prev);
	}
	cstor_json_kv_str(&b, &first, "path", st->path ? st->path : "");
	cstor_json_kv_strv_omit(&b, &first, "options", st->options);
	cstor_json_kv_str_omit(&b, &first, "label", st->label);
	cstor_buf_putc(&b, '}');
	if (b.oom) {
		cstor_buf_free(&b);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = dfd < 0 ? cstor_error_errno(err, errno, "open %s", dir)
			: cstor_atomic_write_at(dfd, "state", b.data, b.len, 0600, 0, "mount state",
						err);
	cstor_buf_free(&b);
	return r;
}

/* Whether somebody holds an OFD/POSIX write-conflicting lock on @path. */
static bool holder_alive(int dirfd, const char *name)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return true; /* cannot tell: never drop a hold we are unsure of */
	return fl.l_type != F_UNLCK;
}

static int add_listed(struct holder_scan *h, int kind, int dirfd, const char *name, int64_t count)
{
	cstor_mount_holder *n = realloc(h->list, (h->n + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	h->list = n;
	cstor_mount_holder *x = &n[h->n++];
	memset(x, 0, sizeof(*x));
	x->kind = kind;
	x->count = count;
	if (!name)
		return 0;
	_cleanup_free_ char *data = NULL;
	size_t len;
	if (cstor_read_file_at(dirfd, name, &data, &len, name, NULL) < 0)
		return 0;
	json_t *j = json_loadb(data, len, 0, NULL);
	if (!j)
		return 0;
	json_t *pid = json_object_get(j, "pid"), *since = json_object_get(j, "since"),
	       *desc = json_object_get(j, "description");
	if (json_is_integer(pid))
		x->pid = json_integer_value(pid);
	if (json_is_integer(since))
		x->since = json_integer_value(since);
	if (json_is_string(desc))
		x->description = strdup(json_string_value(desc));
	json_decref(j);
	return 0;
}

/* Count (and, with @list, describe) live holders; remove dead ones. */
static int scan_holders(struct holder_scan *h, const char *dir, bool list)
{
	memset(h, 0, sizeof(*h));
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : -errno;
	int dup = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
	_cleanup_closedir_ DIR *d = dup >= 0 ? fdopendir(dup) : NULL;
	if (!d) {
		if (dup >= 0)
			close(dup);
		return -errno;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (startswith(de->d_name, "s-")) {
			h->persistent++;
			if (strv_append(&h->persistent_files, de->d_name) < 0)
				return -ENOMEM;
			if (list && add_listed(h, CSTOR_HOLDER_PERSISTENT, dfd, de->d_name, 1) < 0)
				return -ENOMEM;
		} else if (startswith(de->d_name, "p-")) {
			if (!holder_alive(dfd, de->d_name)) {
				/* Its process is gone, whatever happened to it. */
				unlinkat(dfd, de->d_name, 0);
				continue;
			}
			h->process++;
			if (list && add_listed(h, CSTOR_HOLDER_PROCESS, dfd, de->d_name, 1) < 0)
				return -ENOMEM;
		} else if (startswith(de->d_name, ".tmp-")) {
			/* Half-made by a dead process (we hold the lock). */
			unlinkat(dfd, de->d_name, 0);
		}
	}
	return 0;
}

/* What mount() and reconcile() need to know about the layer. */
struct target {
	char *id;
	bool ro_store;
	char *label; /* the layer's mount label */
};

struct reconciled {
	int64_t total, live, foreign;
	bool mounted;
	char *path;
	struct layer_state st;
	struct holder_scan h;
	char *dir;
};

static void reconciled_done(struct reconciled *rc)
{
	free(rc->path);
	state_done(&rc->st);
	scan_done(&rc->h);
	free(rc->dir);
	memset(rc, 0, sizeof(*rc));
}

/*
 * Write the count and our state. Three steps, so that a process killed at
 * any point leaves something the next reconciler reads right: the state
 * with the new count marked pending (and the count before), the Go file,
 * then the state without the mark.
 */
static int write_out(struct cstor_store *s, struct reconciled *rc, const char *id,
		     cstor_error *err) CSTOR_REQUIRES(&s->mounts->lock)
{
	int64_t total = rc->live + rc->foreign;
	struct cstor_mount_rec *m = cstor_mounts_get(s->mounts, id);
	int64_t before = m ? m->count : 0;
	rc->total = total;
	rc->st.foreign = rc->foreign;
	free(rc->st.path);
	rc->st.path = rc->path ? strdup(rc->path) : NULL;
	int r = cstor_mkdir_p(rc->dir, 0700, err);
	if (r < 0)
		return r;
	rc->st.written = total;
	rc->st.pending = true;
	rc->st.pending_prev = before;
	if ((r = write_state(rc->dir, &rc->st, err)) < 0)
		return r;
	if (cstor_mounts_set(s->mounts, id, rc->path, total > 0 ? total : 0) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	if ((r = cstor_mounts_save(s->mounts, err)) < 0)
		return r;
	rc->st.pending = false;
	if (total == 0 && rc->live == 0) {
		/* Nothing to remember any more. */
		cstor_rm_rf_at_quiet(AT_FDCWD, rc->dir);
		return 0;
	}
	return write_state(rc->dir, &rc->st, err);
}

static int remount(struct cstor_store *s, struct reconciled *rc, const struct target *t,
		   cstor_error *err)
{
	_cleanup_free_ char *path = NULL;
	const char *label = rc->st.label ? rc->st.label : t->label;
	int r = s->driver_ops->get(s->driver, t->id, rc->st.options, label, &path, err);
	if (r < 0)
		return r;
	free(rc->path);
	rc->path = TAKE_PTR(path);
	rc->mounted = true;
	return 0;
}

/* Bring the records of @t in line with its holders and the kernel. */
static int reconcile(struct reconciled *rc, struct cstor_store *s, const struct target *t,
		     bool list, cstor_error *err) CSTOR_REQUIRES(&s->mounts->lock)
{
	memset(rc, 0, sizeof(*rc));
	int r = holder_dir(&rc->dir, s, t->id);
	if (r < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	if ((r = read_state(&rc->st, rc->dir)) < 0 || (r = scan_holders(&rc->h, rc->dir, list)) < 0)
		return cstor_error_errno(err, r, "read mount holders of %s", t->id);
	rc->live = rc->h.persistent + rc->h.process;

	struct cstor_mount_rec *m = cstor_mounts_get(s->mounts, t->id);
	int64_t json_count = m ? m->count : 0;
	const char *path = m && m->path[0] ? m->path : rc->st.path;
	if (path && !(rc->path = strdup(path)))
		return cstor_error_set(err, ENOMEM, "out of memory");
	/* No record of a path: look where the driver would have mounted it
	 * (a process killed between mounting and recording leaves that). */
	if (!rc->path && s->driver_ops->mount_path(s->driver, t->id, &rc->path) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	rc->mounted = rc->path && s->driver_ops->is_mounted(s->driver, t->id, rc->path);

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
		rc->foreign = MAX(0, rc->st.foreign + (json_count - rc->st.written));
	if (!rc->mounted)
		rc->foreign = 0; /* a Go hold on a mount that is gone holds nothing */

	if (rc->live == 0 && rc->foreign == 0 && rc->mounted) {
		if ((r = s->driver_ops->put(s->driver, t->id, err)) < 0)
			return r;
		rc->mounted = false;
	}
	if (rc->live > 0 && !rc->mounted && (r = remount(s, rc, t, err)) < 0)
		return r;
	if (!rc->mounted) {
		free(rc->path);
		rc->path = NULL;
	}
	if (list && rc->foreign > 0 && add_listed(&rc->h, CSTOR_HOLDER_FOREIGN, -1, NULL,
						  rc->foreign) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");

	int64_t total = rc->live + rc->foreign;
	if (total != json_count || !streq_ptr(m && m->path[0] ? m->path : NULL, rc->path) ||
	    (rc->st.written >= 0 ? rc->st.written : json_count) != total ||
	    rc->st.foreign != rc->foreign || pending)
		return write_out(s, rc, t->id, err);
	rc->total = total;
	return 0;
}

static int new_holder(int *fd_out, char **file_out, const char *dir, bool process, bool inherit,
		      const char *description, cstor_error *err)
{
	int r = cstor_mkdir_p(dir, 0700, err);
	if (r < 0)
		return r;
	unsigned char rnd[8];
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return cstor_error_errno(err, errno, "getrandom");
	char name[64], tmp[80];
	snprintf(name, sizeof(name), "%c-%02x%02x%02x%02x%02x%02x%02x%02x", process ? 'p' : 's',
		 rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	snprintf(tmp, sizeof(tmp), ".tmp-%s", name);
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return cstor_error_errno(err, errno, "open %s", dir);
	_cleanup_close_ int fd =
		openat(dfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | (inherit ? 0 : O_CLOEXEC),
		       0600);
	if (fd < 0)
		return cstor_error_errno(err, errno, "create mount holder in %s", dir);
	cstor_buf b = { 0 };
	bool first = true;
	cstor_buf_putc(&b, '{');
	cstor_json_key(&b, &first, "pid");
	cstor_buf_printf(&b, "%lld", (long long)getpid());
	cstor_json_key(&b, &first, "since");
	cstor_buf_printf(&b, "%lld", (long long)time(NULL));
	cstor_json_kv_str_omit(&b, &first, "description", description);
	cstor_buf_putc(&b, '}');
	r = b.oom ? -ENOMEM : cstor_write_all(fd, b.data, b.len);
	cstor_buf_free(&b);
	if (r < 0) {
		unlinkat(dfd, tmp, 0);
		return cstor_error_errno(err, r, "write mount holder");
	}
	if (process) {
		/* Locked before it is visible: a reconciler never sees a
		 * process holder without a live lock unless it is dead. */
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
			r = cstor_error_errno(err, errno, "lock mount holder");
			unlinkat(dfd, tmp, 0);
			return r;
		}
	}
	if (renameat(dfd, tmp, dfd, name) < 0) {
		r = cstor_error_errno(err, errno, "create mount holder in %s", dir);
		unlinkat(dfd, tmp, 0);
		return r;
	}
	if (file_out && asprintf(file_out, "%s/%s", dir, name) < 0) {
		unlinkat(dfd, name, 0);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	if (fd_out)
		*fd_out = TAKE_FD(fd);
	return 0;
}

/* ---- finding the layer, with the right locks -------------------------- */

/*
 * Lock order (docs/locking.md): primary layer store, then the mount state,
 * then read-only layer stores. A primary layer is looked up under its
 * store's lock (shared), then the mount state is locked; a read-only
 * store's layer is looked up after the mount state is locked.
 */
struct located {
	struct cstor_objstore *ls; /* held shared */
	struct target t;
	bool unusable;
};

static void located_done(struct located *l)
{
	free(l->t.id);
	free(l->t.label);
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

/* On success the layer's store is held shared and the mount state
 * exclusively; release with unlock_layer(). */
static int lock_layer(struct located *l, struct cstor_store *s, const char *ref,
		      const char *what, cstor_error *err) CSTOR_TRY_ACQUIRE(0, &s->mounts->lock);
static void unlock_layer(struct located *l, struct cstor_store *s)
	CSTOR_RELEASE(&s->mounts->lock);

/* A lock primitive of this file: which layer store it takes depends on
 * where the layer is, which the analysis cannot follow. */
static int lock_layer(struct located *l, struct cstor_store *s, const char *ref,
		      const char *what, cstor_error *err) CSTOR_NO_TSA
{
	memset(l, 0, sizeof(*l));
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
		r = cstor_mounts_start(s->mounts, err);
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
	r = cstor_mounts_start(s->mounts, err);
	if (r != 0)
		return r;
	for (size_t i = 0; i < s->n_ro_layers; i++) {
		struct cstor_objstore *ro = s->ro_layers[i];
		r = cstor_objstore_start_reading(ro, err);
		if (r != 0) {
			cstor_mounts_done(s->mounts);
			return r;
		}
		rec = cstor_layer_store_lookup(ro, ref, NULL);
		if (rec) {
			if (fill_target(l, rec, true) < 0) {
				cstor_objstore_done(ro);
				cstor_mounts_done(s->mounts);
				located_done(l);
				return cstor_error_set(err, ENOMEM, "out of memory");
			}
			l->ls = ro;
			return 0;
		}
		cstor_objstore_done(ro);
	}
	cstor_mounts_done(s->mounts);
	return cstor_error_set(err, ENOENT, "%s: layer not known: %s", what, ref);
}

static void unlock_layer(struct located *l, struct cstor_store *s) CSTOR_NO_TSA
{
	cstor_mounts_done(s->mounts);
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
	CSTOR_NO_TSA
{
	if (o && o->version != CSTOR_MOUNT_OPTIONS_VERSION)
		return cstor_error_set(err, EINVAL, "unsupported cstor_mount_options version");
	if (o && (o->flags & ~(uint32_t)CSTOR_MOUNT_HOLD_INHERIT))
		return cstor_error_set(err, EINVAL, "unknown mount flags 0x%x", o->flags);
	struct located l;
	int r = lock_layer(&l, s, ref, "mount", err);
	if (r != 0)
		return r;
	struct reconciled rc = { 0 };
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
	if (l.t.ro_store && !has_ro(options)) {
		r = cstor_error_set(err, EROFS,
				    "mount %s: the layer is in a read-only image store; it can only "
				    "be mounted read-only",
				    l.t.id);
		goto out;
	}
	if ((r = reconcile(&rc, s, &l.t, false, err)) < 0)
		goto out;
	if (!rc.mounted) {
		/* First holder: mount, and remember how for repairs. */
		strv_free(rc.st.options);
		rc.st.options = options ? strv_copy((char *const *)options) : NULL;
		free(rc.st.label);
		rc.st.label = o && o->mount_label ? strdup(o->mount_label) : NULL;
		if ((r = remount(s, &rc, &l.t, err)) < 0)
			goto out;
	}
	r = new_holder(process ? &fd : NULL, process ? &file : NULL, rc.dir, process,
		       o && (o->flags & CSTOR_MOUNT_HOLD_INHERIT), o ? o->description : NULL, err);
	if (r < 0) {
		if (rc.live + rc.foreign == 0)
			s->driver_ops->put(s->driver, l.t.id, NULL);
		goto out;
	}
	rc.live++;
	if ((r = write_out(s, &rc, l.t.id, err)) < 0)
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
	reconciled_done(&rc);
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
		/* The layer is gone (deleted by force?): just let go. */
		cstor_mount_hold_free(h);
		return r == -ENOENT ? 0 : r;
	}
	unlink(h->file);
	struct reconciled rc;
	r = reconcile(&rc, s, &l.t, false, err);
	reconciled_done(&rc);
	unlock_layer(&l, s);
	cstor_mount_hold_free(h);
	return r;
}

/* ---- unmount, mounted -------------------------------------------------- */

static char *describe_process_holders(const struct holder_scan *h)
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
	struct reconciled rc;
	if ((r = reconcile(&rc, s, &l.t, true, err)) < 0)
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
	if (rc.live + rc.foreign == 0 && rc.mounted) {
		if ((r = s->driver_ops->put(s->driver, l.t.id, err)) < 0)
			goto out;
		rc.mounted = false;
		free(rc.path);
		rc.path = NULL;
	}
	r = write_out(s, &rc, l.t.id, err);
	if (r == 0 && still_mounted)
		*still_mounted = rc.total > 0;
out:
	reconciled_done(&rc);
	unlock_layer(&l, s);
	return r;
}

int cstor_store_mounted(int64_t *count, cstor_store *s, const char *ref, cstor_error *err)
{
	struct located l;
	int r = lock_layer(&l, s, ref, "mounted", err);
	if (r != 0)
		return r;
	struct reconciled rc;
	r = reconcile(&rc, s, &l.t, false, err);
	if (r == 0)
		*count = rc.total;
	reconciled_done(&rc);
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
	struct reconciled rc;
	r = reconcile(&rc, s, &l.t, true, err);
	if (r == 0) {
		if (mountpoint)
			*mountpoint = rc.path ? strdup(rc.path) : NULL;
		*holders = rc.h.list;
		*n = rc.h.n;
		rc.h.list = NULL;
		rc.h.n = 0;
	}
	reconciled_done(&rc);
	unlock_layer(&l, s);
	return r;
}

void cstor_mount_holders_free(cstor_mount_holder *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(h[i].description);
	free(h);
}

/* For delete and apply: the live holder count of a primary layer, reconciled. The
 * caller holds the layer store (exclusively) and nothing later. */
int cstor_mount_live_count(int64_t *count, struct cstor_store *s, const char *id,
				 cstor_error *err) CSTOR_NO_TSA
{
	int r = cstor_mounts_start(s->mounts, err);
	if (r != 0)
		return r;
	struct target t = { (char *)id, false, NULL };
	struct reconciled rc;
	r = reconcile(&rc, s, &t, false, err);
	if (r == 0)
		*count = rc.total;
	reconciled_done(&rc);
	cstor_mounts_done(s->mounts);
	return r;
}

/* ---- shutdown ---------------------------------------------------------- */

static int collect_ids(char ***ids, struct cstor_store *s) CSTOR_REQUIRES(&s->mounts->lock)
{
	for (size_t i = 0; i < s->mounts->n; i++)
		if (!strv_contains(*ids, s->mounts->recs[i].id) &&
		    strv_append(ids, s->mounts->recs[i].id) < 0)
			return -ENOMEM;
	_cleanup_free_ char *dir = NULL;
	if (asprintf(&dir, "%s/%s", s->run_layers_dir, HOLDERS_DIR) < 0)
		return -ENOMEM;
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.' && !strv_contains(*ids, de->d_name) &&
		    strv_append(ids, de->d_name) < 0)
			return -ENOMEM;
	return 0;
}

int cstor_store_shutdown(cstor_store *s, int force, cstor_error *err) CSTOR_NO_TSA
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
	if (collect_ids(&ids, s) < 0)
		r = cstor_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; r == 0 && ids && ids[i]; i++) {
		struct cstor_layer_rec *rec = cstor_layer_store_by_id(s->layers, ids[i]);
		struct target t = { ids[i], rec == NULL, NULL };
		struct reconciled rc;
		r = reconcile(&rc, s, &t, false, err);
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
				r = s->driver_ops->put(s->driver, t.id, err);
				rc.mounted = false;
				free(rc.path);
				rc.path = NULL;
			}
			if (r == 0)
				r = write_out(s, &rc, t.id, err);
		}
		if (r == 0 && rc.total > 0)
			busy = true;
		reconciled_done(&rc);
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
	cstor_lock_unlock(&s->graph_lock);
	return r;
}
