/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error-internal.h"
#include "util/fileutil.h"
#include "util/gojson.h"
#include "mount/mountpoints.h"
#include "util/cleanup.h"

#define MOUNTS_JSON "mountpoints.json"
#define GATE_LOCK "cstor-mount-gate.lock"
#define LAYER_LOCKS "cstor-mount-layers.lock"

/* The index in @recs of the record for @id, or @n (the next free one, then
 * claimed for @id) when there is none: open addressing over @slots, which
 * hold record indexes (SIZE_MAX: empty). */
static size_t id_slot(size_t *slots, size_t mask, const struct cstor_mount_rec *recs,
		      const char *id, size_t n)
{
	size_t h = 1469598103934665603ULL; /* FNV-1a */
	for (const char *c = id; *c; c++)
		h = (h ^ (unsigned char)*c) * 1099511628211ULL;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		if (slots[i] == SIZE_MAX) {
			slots[i] = n;
			return n;
		}
		if (streq(recs[slots[i]].id, id))
			return slots[i];
	}
}

static void free_recs(struct cstor_mount_rec *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(r[i].id);
		free(r[i].path);
	}
	free(r);
}

int cstor_mounts_open(struct cstor_mounts **out, const char *dir, cstor_error *err)
{
	struct cstor_mounts *m = calloc(1, sizeof(*m));
	if (!m || !(m->dir = strdup(dir))) {
		free(m);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	int r = cstor_mkdir_p(dir, 0700, err);
	m->dirfd = r < 0 ? -1 : open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r >= 0 && m->dirfd < 0)
		r = cstor_error_errno(err, errno, "open %s", dir);
	_cleanup_free_ char *lp = r < 0 ? NULL : cstor_path_join(dir, "mountpoints.lock");
	_cleanup_free_ char *gp = r < 0 ? NULL : cstor_path_join(dir, GATE_LOCK);
	if (r >= 0)
		r = lp && gp ? cstor_lock_open(&m->lock, lp, false, err)
			     : cstor_error_set(err, ENOMEM, "out of memory");
	if (r >= 0 && (r = cstor_lock_open(&m->gate, gp, false, err)) < 0)
		cstor_lock_close(&m->lock);
	if (r < 0) {
		if (m->dirfd >= 0)
			close(m->dirfd);
		free(m->dir);
		free(m);
		return r;
	}
	*out = m;
	return 0;
}

/* A lock primitive (it closes the lock): the records it frees are guarded
 * by that lock, which nobody can hold any more. */
void cstor_mounts_free(struct cstor_mounts *m) CSTOR_NO_TSA
{
	if (!m)
		return;
	free_recs(m->recs, m->n);
	cstor_lock_close(&m->lock);
	cstor_lock_close(&m->gate);
	if (m->dirfd >= 0)
		close(m->dirfd);
	free(m->dir);
	free(m);
}

static void file_mtime(struct cstor_mounts *m, struct timespec *t)
{
	struct stat st;
	if (fstatat(m->dirfd, MOUNTS_JSON, &st, 0) == 0)
		*t = st.st_mtim;
	else
		t->tv_sec = t->tv_nsec = 0;
}

static bool stale(struct cstor_mounts *m) CSTOR_REQUIRES_SHARED(&m->lock)
{
	if (!m->loaded)
		return true;
	cstor_lock_token t;
	if (cstor_lock_read_token(&m->lock, &t, NULL) < 0 || !cstor_lock_token_equal(&t, &m->token))
		return true;
	struct timespec ts;
	file_mtime(m, &ts);
	return ts.tv_sec != m->mtime.tv_sec || ts.tv_nsec != m->mtime.tv_nsec;
}

static int reload(struct cstor_mounts *m, cstor_error *err) CSTOR_REQUIRES(&m->lock)
{
	_cleanup_free_ char *path = cstor_path_join(m->dir, MOUNTS_JSON);
	if (!path)
		return cstor_error_set(err, ENOMEM, "out of memory");
	cstor_lock_token t;
	int r = cstor_lock_read_token(&m->lock, &t, err);
	if (r < 0)
		return r;
	struct timespec mt;
	file_mtime(m, &mt);
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	r = cstor_read_file_at(m->dirfd, MOUNTS_JSON, &data, &len, path, err);
	if (r == -ENOENT) {
		cstor_error_clear(err);
		r = 0;
	}
	if (r < 0)
		return r;
	struct cstor_mount_rec *recs = NULL;
	size_t n = 0;
	size_t i = 0;
	while (data && i < len && strchr(" \t\r\n", data[i]))
		i++;
	if (data && i < len) {
		json_error_t je;
		/* Go reads a bare null as no mounts; jansson needs DECODE_ANY for it. */
		json_t *root = json_loadb(data, len, JSON_DECODE_ANY, &je);
		if (!root)
			return cstor_error_set(err, EBADMSG, "loading \"%s\": %s at line %d, column %d",
					       path, je.text, je.line, je.column);
		if (!json_is_array(root) && !json_is_null(root)) {
			json_decref(root);
			return cstor_error_set(err, EBADMSG, "loading \"%s\": expected a list", path);
		}
		size_t k = json_array_size(root);
		size_t mask = 15;
		while (mask < 2 * k)
			mask = mask * 2 + 1;
		_cleanup_free_ size_t *slots = malloc((mask + 1) * sizeof(*slots));
		recs = calloc(k + 1, sizeof(*recs));
		if (slots)
			for (size_t x = 0; x <= mask; x++)
				slots[x] = SIZE_MAX;
		if (!recs || !slots) {
			free(recs);
			json_decref(root);
			return cstor_error_set(err, ENOMEM, "out of memory");
		}
		for (size_t j = 0; j < k; j++) {
			json_t *e = json_array_get(root, j);
			json_t *id = json_object_get(e, "id"), *p = json_object_get(e, "path"),
			       *c = json_object_get(e, "count");
			if (!json_is_string(id) || (p && !json_is_string(p)) ||
			    (c && !json_is_integer(c))) {
				free_recs(recs, n);
				json_decref(root);
				return cstor_error_set(err, EBADMSG, "loading \"%s\": bad mount record %zu",
						       path, j);
			}
			/* An ID listed twice: the last record is the one Go
			 * reads (it fills its layers in file order), so it is
			 * the one cstor reads, updates and keeps. */
			size_t at = id_slot(slots, mask, recs, json_string_value(id), n);
			if (at < n) {
				free(recs[at].id);
				free(recs[at].path);
			} else
				n++;
			recs[at].id = strdup(json_string_value(id));
			recs[at].path = strdup(p ? json_string_value(p) : "");
			recs[at].count = c ? json_integer_value(c) : 0;
			if (!recs[at].id || !recs[at].path) {
				free_recs(recs, n);
				json_decref(root);
				return cstor_error_set(err, ENOMEM, "out of memory");
			}
		}
		json_decref(root);
	}
	free_recs(m->recs, m->n);
	m->recs = recs;
	m->n = n;
	m->token = t;
	m->mtime = mt;
	m->loaded = true;
	return 0;
}

int cstor_mounts_update_start(struct cstor_mounts *m, cstor_error *err) CSTOR_NO_TSA
{
	cstor_lock_lock(&m->lock);
	int r = stale(m) ? reload(m, err) : 0;
	if (r < 0)
		cstor_lock_unlock(&m->lock);
	return r;
}

void cstor_mounts_update_done(struct cstor_mounts *m) CSTOR_NO_TSA
{
	cstor_lock_unlock(&m->lock);
}

/* Lock primitives: the gate is implied by m->lock on this path. */
int cstor_mounts_start(struct cstor_mounts *m, cstor_error *err) CSTOR_NO_TSA
{
	cstor_lock_lock(&m->gate);
	int r = cstor_mounts_update_start(m, err);
	if (r < 0)
		cstor_lock_unlock(&m->gate);
	return r;
}

void cstor_mounts_done(struct cstor_mounts *m) CSTOR_NO_TSA
{
	cstor_lock_unlock(&m->lock);
	cstor_lock_unlock(&m->gate);
}

/* The byte of cstor-mount-layers.lock that stands for layer @id. Two IDs
 * on one byte only make their layers wait for each other. */
static off_t layer_byte(const char *id)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (const char *c = id; *c; c++)
		h = (h ^ (unsigned char)*c) * 1099511628211ULL;
	return (off_t)(h % ((uint64_t)1 << 30));
}

int cstor_mounts_layer_lock(struct cstor_mounts *m, const char *id, int *fd, cstor_error *err)
	CSTOR_NO_TSA
{
	/* An open file description of its own per call: OFD locks of one
	 * description never exclude each other, so threads sharing one
	 * would not wait for each other. */
	*fd = openat(m->dirfd, LAYER_LOCKS, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (*fd < 0)
		return cstor_error_errno(err, errno, "open %s/%s", m->dir, LAYER_LOCKS);
	cstor_lock_rlock(&m->gate);
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = layer_byte(id),
			    .l_len = 1 };
	/* Retried like every lock of ours (EINTR, ENOLCK): it cannot fail
	 * for good, the file being open read-write. */
	while (fcntl(*fd, F_OFD_SETLKW, &fl) < 0)
		if (errno != EINTR && errno != ENOLCK) {
			int r = cstor_error_errno(err, errno, "lock the mount state of %s", id);
			cstor_lock_unlock(&m->gate);
			close(*fd);
			*fd = -1;
			return r;
		}
	return 0;
}

void cstor_mounts_layer_unlock(struct cstor_mounts *m, int fd) CSTOR_NO_TSA
{
	if (fd >= 0)
		close(fd); /* the last fd of the description: the lock goes */
	cstor_lock_unlock(&m->gate);
}

struct cstor_mount_rec *cstor_mounts_get(struct cstor_mounts *m, const char *id)
{
	for (size_t i = 0; i < m->n; i++)
		if (streq(m->recs[i].id, id))
			return &m->recs[i];
	return NULL;
}

int cstor_mounts_set(struct cstor_mounts *m, const char *id, const char *path, int64_t count,
		     cstor_error *err)
{
	struct cstor_mount_rec *r = cstor_mounts_get(m, id);
	if (count <= 0) {
		if (r) {
			size_t i = (size_t)(r - m->recs);
			free(r->id);
			free(r->path);
			memmove(&m->recs[i], &m->recs[i + 1], (m->n - i - 1) * sizeof(*r));
			m->n--;
		}
		return 0;
	}
	char *p = strdup(path ? path : "");
	if (!p)
		return cstor_error_set(err, ENOMEM, "out of memory");
	if (!r) {
		struct cstor_mount_rec *nr = realloc(m->recs, (m->n + 1) * sizeof(*nr));
		char *i = strdup(id);
		if (!nr || !i) {
			free(p);
			free(i);
			if (nr)
				m->recs = nr;
			return cstor_error_set(err, ENOMEM, "out of memory");
		}
		m->recs = nr;
		r = &m->recs[m->n++];
		r->id = i;
		r->path = NULL;
	}
	free(r->path);
	r->path = p;
	r->count = count;
	return 0;
}

int cstor_mounts_save(struct cstor_mounts *m, cstor_error *err)
{
	cstor_buf b = { 0 };
	cstor_buf_putc(&b, '[');
	bool any = false;
	for (size_t i = 0; i < m->n; i++) {
		if (m->recs[i].count <= 0 || !m->recs[i].path[0])
			continue;
		bool first = true;
		cstor_buf_puts(&b, any ? ",{" : "{");
		any = true;
		cstor_json_kv_str(&b, &first, "id", m->recs[i].id);
		cstor_json_kv_str(&b, &first, "path", m->recs[i].path);
		cstor_json_key(&b, &first, "count");
		cstor_buf_printf(&b, "%lld}", (long long)m->recs[i].count);
	}
	cstor_buf_putc(&b, ']');
	if (b.oom) {
		cstor_buf_free(&b);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	_cleanup_free_ char *path = cstor_path_join(m->dir, MOUNTS_JSON);
	cstor_lock_token t;
	int r = cstor_lock_record_write(&m->lock, &t, err);
	/* The run root is a tmpfs: durability buys nothing there. */
	if (r >= 0)
		r = cstor_atomic_write_at(m->dirfd, MOUNTS_JSON, b.data, b.len, 0600, 0,
					  path ? path : MOUNTS_JSON, err);
	cstor_buf_free(&b);
	if (r >= 0)
		r = cstor_lock_record_write(&m->lock, &t, err);
	if (r < 0)
		return r;
	m->token = t;
	file_mtime(m, &m->mtime);
	return 0;
}
