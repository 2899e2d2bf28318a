/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error-internal.h"
#include "util/fileutil.h"
#include "records/recfile.h"
#include "util/cleanup.h"

int cstor_recfile_open(struct cstor_recfile *f, cstor_lock *lock, const char *dir,
		       const char *name, const char *lock_name, bool read_only, cstor_error *err)
{
	return cstor_recfile_open_at(f, lock, dir, name, dir, lock_name, read_only, err);
}

int cstor_recfile_open_at(struct cstor_recfile *f, cstor_lock *lock, const char *dir,
			  const char *name, const char *lock_dir, const char *lock_name,
			  bool read_only, cstor_error *err)
{
	memset(f, 0, sizeof(*f));
	f->dirfd = -1;
	f->name = name;
	f->read_only = read_only;
	f->dir = strdup(dir);
	f->path = cstor_path_join(dir, name);
	_cleanup_free_ char *lp = cstor_path_join(lock_dir, lock_name);
	int r = 0;
	if (!f->dir || !f->path || !lp)
		r = cstor_error_set(err, ENOMEM, "out of memory");
	if (r == 0 && !read_only)
		r = cstor_mkdir_p(dir, 0700, err);
	if (r == 0) {
		f->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (f->dirfd < 0 && !(read_only && errno == ENOENT))
			r = cstor_error_errno(err, errno, "open store directory %s", dir);
	}
	if (r == 0)
		r = cstor_lock_open(lock, lp, read_only, err);
	if (r < 0) {
		if (f->dirfd >= 0)
			close(f->dirfd);
		free(f->dir);
		free(f->path);
		memset(f, 0, sizeof(*f));
		f->dirfd = -1;
	}
	return r;
}

void cstor_recfile_close(struct cstor_recfile *f, cstor_lock *lock)
{
	if (lock->file)
		cstor_lock_close(lock);
	if (f->dirfd >= 0)
		close(f->dirfd);
	free(f->dir);
	free(f->path);
	f->dir = f->path = NULL;
	f->dirfd = -1;
}

static int file_mtime(struct cstor_recfile *f, struct timespec *out)
{
	struct stat st;
	out->tv_sec = 0;
	out->tv_nsec = 0;
	if (f->dirfd < 0)
		return 0;
	if (fstatat(f->dirfd, f->name, &st, 0) < 0)
		return errno == ENOENT ? 0 : -errno;
	*out = st.st_mtim;
	return 0;
}

bool cstor_recfile_stale(struct cstor_recfile *f, cstor_lock *lock,
			 const struct cstor_recfile_seen *seen)
{
	if (!seen->loaded)
		return true;
	cstor_lock_token t;
	if (cstor_lock_read_token(lock, &t, NULL) < 0 || !cstor_lock_token_equal(&t, &seen->token))
		return true;
	struct timespec m;
	if (file_mtime(f, &m) < 0)
		return true;
	return m.tv_sec != seen->mtime.tv_sec || m.tv_nsec != seen->mtime.tv_nsec;
}

int cstor_recfile_read(struct cstor_recfile *f, cstor_lock *lock, char **data, size_t *len,
		       struct cstor_recfile_seen *seen, cstor_error *err)
{
	*data = NULL;
	*len = 0;
	int r = cstor_lock_read_token(lock, &seen->token, err);
	if (r < 0)
		return r;
	if ((r = file_mtime(f, &seen->mtime)) < 0)
		return cstor_error_errno(err, r, "stat %s", f->path);
	seen->loaded = true;
	if (f->dirfd < 0)
		return 0;
	r = cstor_read_file_at(f->dirfd, f->name, data, len, f->path, err);
	if (r == -ENOENT) {
		cstor_error_clear(err);
		*data = NULL;
		*len = 0;
		return 0;
	}
	return r;
}

int cstor_recfile_write(struct cstor_recfile *f, cstor_lock *lock, const void *data, size_t len,
			struct cstor_recfile_seen *seen, cstor_error *err)
{
	if (f->read_only)
		return cstor_error_set(err, EROFS, "%s belongs to a read-only store", f->path);
	cstor_lock_token t;
	/* Token before the data (newer Go readers) ... */
	int r = cstor_lock_record_write(lock, &t, err);
	if (r >= 0)
		r = cstor_atomic_write_at(f->dirfd, f->name, data, len, 0600,
					  CSTOR_WRITE_DURABLE | CSTOR_WRITE_KEEP_SPARE,
					  f->path, err);
	/* ... and after it (Go 1.43 readers check only after). */
	if (r >= 0)
		r = cstor_lock_record_write(lock, &t, err);
	if (r < 0)
		return r;
	seen->token = t;
	seen->loaded = true;
	(void)file_mtime(f, &seen->mtime);
	return 0;
}

int cstor_recfile_touch(struct cstor_recfile *f, cstor_lock *lock,
			struct cstor_recfile_seen *seen, cstor_error *err)
{
	if (f->read_only)
		return cstor_error_set(err, EROFS, "%s belongs to a read-only store", f->path);
	cstor_lock_token t;
	int r = cstor_lock_record_write(lock, &t, err);
	if (r < 0)
		return r;
	seen->token = t;
	return 0;
}

bool cstor_recfile_blank(const char *data, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!strchr(" \t\r\n", data[i]) || data[i] == 0)
			return false;
	return true;
}

int cstor_recfile_parse_list(json_t **root, const char *data, size_t len, const char *path,
			     const char *what, cstor_error *err)
{
	*root = NULL;
	if (cstor_recfile_blank(data, len))
		return 0;
	json_error_t je;
	json_t *j = json_loadb(data, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	if (!j)
		return cstor_error_set(err, EBADMSG, "loading \"%s\": %s at line %d, column %d", path,
				       je.text, je.line, je.column);
	if (json_is_null(j)) {
		json_decref(j);
		return 0;
	}
	if (!json_is_array(j)) {
		json_decref(j);
		return cstor_error_set(err, EBADMSG, "loading \"%s\": expected a list of %s", path,
				       what);
	}
	*root = j;
	return 0;
}
