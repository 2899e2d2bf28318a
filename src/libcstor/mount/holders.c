/* SPDX-License-Identifier: Apache-2.0 */
/* Holder files and their liveness (mount/holders.h, docs/mounts.md). */
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "mount/holders.h"
#include "records/fields.h"
#include "records/layer-rec.h"
#include "util/cleanup.h"
#include "util/error-internal.h"
#include "util/fileutil.h"
#include "util/gojson.h"
#include "util/strv.h"
#include "util/failpoint.h"

/* Public (include/cstor/mount.h), here with the holder lists it frees. */
void cstor_mount_holders_free(cstor_mount_holder *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(h[i].description);
	free(h);
}

void cstor_holder_state_done(struct cstor_holder_state *st)
{
	free(st->path);
	strv_free(st->options);
	free(st->label);
	memset(st, 0, sizeof(*st));
}

void cstor_holder_scan_done(struct cstor_holder_scan *h)
{
	cstor_mount_holders_free(h->list, h->n);
	strv_free(h->persistent_files);
	memset(h, 0, sizeof(*h));
}

int cstor_holder_dir(char **out, const char *run_layers_dir, const char *id, cstor_error *err)
{
	/* IDs come from mountpoints.json too, which anyone able to write the
	 * run root can fill: "../.." would make the holder directory (which
	 * reconciliation cleans and removes) one outside the store. */
	if (!cstor_rec_id_valid(id)) {
		*out = NULL;
		return cstor_error_set(err, EINVAL, "invalid layer ID \"%s\" in mount state", id);
	}
	if (asprintf(out, "%s/%s/%s", run_layers_dir, CSTOR_HOLDERS_DIR, id) < 0) {
		*out = NULL;
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	return 0;
}

int cstor_holder_state_read(struct cstor_holder_state *st, const char *dir, cstor_error *err)
{
	memset(st, 0, sizeof(*st));
	st->written = -1;
	_cleanup_free_ char *p = cstor_path_join(dir, "state"), *data = NULL;
	if (!p)
		return cstor_error_set(err, ENOMEM, "out of memory");
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
	int r = 0;
	if (json_is_string(pa) && !(st->path = strdup(json_string_value(pa))))
		r = -ENOMEM;
	if (json_is_string(lb) && !(st->label = strdup(json_string_value(lb))))
		r = -ENOMEM;
	if (cstor_json_get_strv(&st->options, json_object_get(j, "options"), "state", NULL) == -ENOMEM)
		r = -ENOMEM;
	json_decref(j);
	if (r < 0) {
		cstor_holder_state_done(st);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	return 0;
}

int cstor_holder_state_write(const char *dir, const struct cstor_holder_state *st,
			     cstor_error *err)
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
	/* The error names the file (EIO or ENOSPC there is the user's to
	 * find), not only "mount state". */
	_cleanup_free_ char *what = cstor_path_join(dir, "state");
	int r = dfd < 0 ? cstor_error_errno(err, errno, "open %s", dir)
			: cstor_atomic_write_at(dfd, "state", b.data, b.len, 0600, 0,
						what ? what : "mount state", err);
	cstor_buf_free(&b);
	return r;
}

bool cstor_holder_alive(int dirfd, const char *name)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return true; /* cannot tell: never drop a hold we are unsure of */
	return fl.l_type != F_UNLCK;
}

int cstor_holder_list_add(struct cstor_holder_scan *h, int kind, int dirfd, const char *name,
			  int64_t count, cstor_error *err)
{
	cstor_mount_holder *n = realloc(h->list, (h->n + 1) * sizeof(*n));
	if (!n)
		return cstor_error_set(err, ENOMEM, "out of memory");
	h->list = n;
	cstor_mount_holder *x = &n[h->n++];
	memset(x, 0, sizeof(*x));
	x->kind = kind;
	x->count = count;
	if (!name)
		return 0;
	/* The description is for people: a holder whose file cannot be read
	 * still holds, it is only shown with less detail. */
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
	int r = 0;
	if (json_is_string(desc) && !(x->description = strdup(json_string_value(desc))))
		r = cstor_error_set(err, ENOMEM, "out of memory");
	json_decref(j);
	return r;
}

int cstor_holders_scan(struct cstor_holder_scan *h, const char *dir, bool list, cstor_error *err)
{
	memset(h, 0, sizeof(*h));
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : cstor_error_errno(err, errno, "open %s", dir);
	int dup = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
	_cleanup_closedir_ DIR *d = dup >= 0 ? fdopendir(dup) : NULL;
	if (!d) {
		int r = cstor_error_errno(err, errno, "read %s", dir);
		if (dup >= 0)
			close(dup);
		return r;
	}
	struct dirent *de;
	int r = 0;
	while (r == 0 && (errno = 0, de = readdir(d))) {
		if (startswith(de->d_name, "s-")) {
			h->persistent++;
			if (strv_append(&h->persistent_files, de->d_name) < 0)
				r = cstor_error_set(err, ENOMEM, "out of memory");
			else if (list)
				r = cstor_holder_list_add(h, CSTOR_HOLDER_PERSISTENT, dfd, de->d_name, 1,
							  err);
		} else if (startswith(de->d_name, "p-")) {
			if (!cstor_holder_alive(dfd, de->d_name)) {
				/* Its process is gone, whatever happened to it. */
				unlinkat(dfd, de->d_name, 0);
				continue;
			}
			h->process++;
			if (list)
				r = cstor_holder_list_add(h, CSTOR_HOLDER_PROCESS, dfd, de->d_name, 1, err);
		} else if (startswith(de->d_name, ".tmp-")) {
			/* Half-made by a dead process (we hold the lock). */
			unlinkat(dfd, de->d_name, 0);
		}
	}
	if (r == 0 && errno != 0)
		r = cstor_error_errno(err, errno, "read %s", dir);
	if (r < 0)
		cstor_holder_scan_done(h);
	return r;
}

int cstor_holder_create(int *fd_out, char **file_out, const char *dir, bool process, bool inherit,
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
		return cstor_error_errno(err, r, "write mount holder in %s", dir);
	}
	if (process) {
		/* Locked before it is visible: a reconciler never sees a
		 * process holder without a live lock unless it is dead. */
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
			r = cstor_error_errno(err, errno, "lock mount holder in %s", dir);
			unlinkat(dfd, tmp, 0);
			return r;
		}
	}
	if ((r = cstor_failpoint("holder:before-rename")) < 0 ||
	    (r = renameat(dfd, tmp, dfd, name) < 0 ? -errno : 0) < 0) {
		cstor_error_errno(err, -r, "create mount holder in %s", dir);
		unlinkat(dfd, tmp, 0);
		return r;
	}
	if (file_out && asprintf(file_out, "%s/%s", dir, name) < 0) {
		*file_out = NULL;
		unlinkat(dfd, name, 0);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	if (fd_out)
		*fd_out = TAKE_FD(fd);
	return 0;
}
