/* SPDX-License-Identifier: Apache-2.0 */
/* Journals of layers an interrupted operation may leave (pending.h). */
#include <dirent.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "records/fields.h"
#include "records/pending.h"
#include "util/cleanup.h"
#include "util/macro.h"
#include "util/error-internal.h"
#include "util/fileutil.h"
#include "util/strv.h"

struct cstor_pending {
	int dirfd;
	int fd;
	char name[sizeof(CSTOR_PENDING_PREFIX) + 16];
};

static int lock_fd(int fd, bool wait)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	return fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}

int cstor_pending_open(struct cstor_pending **out, const char *dir, const char *what,
		       cstor_error *err)
{
	_cleanup_free_ struct cstor_pending *p = calloc(1, sizeof(*p));
	if (!p)
		return cstor_error_set(err, ENOMEM, "out of memory");
	p->fd = -1;
	p->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p->dirfd < 0)
		return cstor_error_errno(err, errno, "open %s", dir);
	char rid[65], tmp[sizeof(p->name) + 8];
	/* Made under a name no scan looks at, locked, then renamed into
	 * place: a journal is never seen unlocked (as dead) by a writer
	 * collecting dead ones, which would take it from under us. */
	for (int tries = 0;; tries++) {
		if (cstor_random_id(rid) < 0) {
			close(p->dirfd);
			return cstor_error_errno(err, errno, "generate a journal name");
		}
		snprintf(p->name, sizeof(p->name), "%s%.16s", CSTOR_PENDING_PREFIX, rid);
		snprintf(tmp, sizeof(tmp), ".tmp-%s", p->name);
		p->fd = openat(p->dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (p->fd >= 0 || errno != EEXIST || tries > 8)
			break;
	}
	int r = p->fd < 0 ? -errno : lock_fd(p->fd, false);
	if (r == 0 && dprintf(p->fd, "%s\n", what) < 0)
		r = -errno;
	bool renamed = false;
	if (r == 0 && !(renamed = renameat(p->dirfd, tmp, p->dirfd, p->name) == 0))
		r = -errno;
	/* The journal's name on disk before any record change it covers:
	 * its lines are synced as they are added, but without this a power
	 * cut could lose the whole file and with it the layers to remove
	 * (test-power-cut: an image deleted, its layers kept, no journal). */
	if (r == 0 && fsync(p->dirfd) < 0)
		r = -errno;
	if (r < 0) {
		if (p->fd >= 0) {
			unlinkat(p->dirfd, renamed ? p->name : tmp, 0);
			close(p->fd);
		}
		close(p->dirfd);
		return cstor_error_errno(err, r, "create a journal in %s", dir);
	}
	*out = TAKE_PTR(p);
	return 0;
}

int cstor_pending_add(struct cstor_pending *p, const char *id, cstor_error *err)
{
	const char *ids[] = { id, NULL };
	return cstor_pending_add_all(p, (char *const *)ids, err);
}

int cstor_pending_add_image(struct cstor_pending *p, const char *id, cstor_error *err)
{
	if (dprintf(p->fd, "image %s\n", id) < 0)
		return cstor_error_errno(err, errno, "write journal %s", p->name);
	if (fdatasync(p->fd) < 0)
		return cstor_error_errno(err, errno, "sync journal %s", p->name);
	return 0;
}

int cstor_pending_add_all(struct cstor_pending *p, char *const *ids, cstor_error *err)
{
	for (size_t i = 0; ids && ids[i]; i++)
		if (dprintf(p->fd, "%s\n", ids[i]) < 0)
			return cstor_error_errno(err, errno, "write journal %s", p->name);
	if (fdatasync(p->fd) < 0)
		return cstor_error_errno(err, errno, "sync journal %s", p->name);
	return 0;
}

void cstor_pending_done(struct cstor_pending *p)
{
	if (!p)
		return;
	unlinkat(p->dirfd, p->name, 0);
	close(p->fd);
	close(p->dirfd);
	free(p);
}

static void dead_free_one(struct cstor_pending_dead *d)
{
	free(d->file);
	free(d->what);
	strv_free(d->ids);
	strv_free(d->images);
}

void cstor_pending_dead_free(struct cstor_pending_dead *d, size_t n)
{
	for (size_t i = 0; d && i < n; i++)
		dead_free_one(&d[i]);
	free(d);
}

/* Parse a journal's text: the operation, then IDs. Lines that are not
 * layer IDs (a torn last line) are skipped: the journal only ever names
 * candidates, each checked again before anything is removed. */
static int parse(struct cstor_pending_dead *d, char *text)
{
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!d->what) {
			if (!(d->what = strdup(line)))
				return -ENOMEM;
			continue;
		}
		if (strncmp(line, "image ", 6) == 0) {
			if (cstor_rec_id_valid(line + 6) && !strv_contains(d->images, line + 6) &&
			    strv_append(&d->images, line + 6) < 0)
				return -ENOMEM;
			continue;
		}
		if (!cstor_rec_id_valid(line) || strv_contains(d->ids, line))
			continue;
		if (strv_append(&d->ids, line) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* Append what journal @j lists (layers and images) to @ids. */
static int add_listed(char ***ids, const struct cstor_pending_dead *j)
{
	char **const lists[] = { j->ids, j->images };
	for (size_t l = 0; l < ELEMENTSOF(lists); l++)
		for (size_t i = 0; lists[l] && lists[l][i]; i++)
			if (!strv_contains(*ids, lists[l][i]) && strv_append(ids, lists[l][i]) < 0)
				return -ENOMEM;
	return 0;
}

int cstor_pending_scan_all(struct cstor_pending_dead **out, size_t *n_out, char ***live,
			   const char *dir, cstor_error *err)
{
	*out = NULL;
	*n_out = 0;
	if (live)
		*live = NULL;
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : cstor_error_errno(err, errno, "open %s", dir);
	int dup = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
	if (dup < 0)
		return cstor_error_errno(err, errno, "open %s", dir);
	_cleanup_closedir_ DIR *d = fdopendir(dup);
	if (!d) {
		close(dup);
		return cstor_error_errno(err, errno, "open %s", dir);
	}
	struct cstor_pending_dead *v = NULL;
	size_t n = 0;
	struct dirent *de;
	int r = 0;
	while (r == 0 && (de = readdir(d))) {
		if (strncmp(de->d_name, CSTOR_PENDING_PREFIX, strlen(CSTOR_PENDING_PREFIX)) != 0)
			continue;
		_cleanup_close_ int fd = openat(dfd, de->d_name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue; /* gone */
		/* Taken: its writer died (our lock goes with the close). */
		bool dead = lock_fd(fd, false) == 0;
		if (!dead && !live)
			continue;
		_cleanup_free_ char *text = NULL;
		size_t len = 0;
		if (cstor_read_file_at(dfd, de->d_name, &text, &len, de->d_name, NULL) < 0)
			continue;
		struct cstor_pending_dead j = { 0 };
		if (!(j.file = strdup(de->d_name)) || parse(&j, text) < 0 ||
		    (!j.what && !(j.what = strdup("?")))) {
			r = -ENOMEM;
		} else if (!dead) {
			r = add_listed(live, &j);
		} else {
			struct cstor_pending_dead *nv = realloc(v, (n + 1) * sizeof(*v));
			if (nv) {
				v = nv;
				v[n++] = j;
				continue;
			}
			r = -ENOMEM;
		}
		dead_free_one(&j);
	}
	if (r < 0) {
		cstor_pending_dead_free(v, n);
		if (live) {
			strv_free(*live);
			*live = NULL;
		}
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	*out = v;
	*n_out = n;
	return 0;
}

int cstor_pending_scan(struct cstor_pending_dead **out, size_t *n_out, const char *dir,
		       cstor_error *err)
{
	return cstor_pending_scan_all(out, n_out, NULL, dir, err);
}

void cstor_pending_remove(const char *dir, const char *file)
{
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	_cleanup_close_ int fd = openat(dfd, file, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	/* Only while we hold its lock: a writer that got it meanwhile (none
	 * can: names are never reused) keeps it. */
	if (fd >= 0 && lock_fd(fd, false) == 0)
		unlinkat(dfd, file, 0);
}
