/* SPDX-License-Identifier: Apache-2.0 */
/*
 * oci-archive: an OCI layout as a plain tarball (what containers/image's
 * oci-archive transport reads): oci-layout, index.json, blobs/,
 * blobs/sha256/ and the blobs in name order, so the same layout always
 * gives the same archive apart from file times.
 */
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <jansson.h>
#include <unistd.h>

#include "archive/compress.h"
#include "archive/tar.h"
#include "util/error-internal.h"
#include "oci/export-internal.h"
#include "util/cleanup.h"
#include "util/rm.h"
#include "util/strv.h"
#include "util/failpoint.h"

static int add_entry(cstor_tar_writer *w, int dirfd, const char *name, const char *tar_name,
		     cstor_error *err)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return cstor_error_errno(err, errno, "open %s", tar_name);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return cstor_error_errno(err, errno, "stat %s", tar_name);
	bool dir = S_ISDIR(st.st_mode);
	if (!dir && !S_ISREG(st.st_mode))
		return cstor_error_set(err, EBADMSG, "%s is not a regular file", tar_name);
	cstor_tar_header h = {
		.name = (char *)tar_name,
		.typeflag = dir ? '5' : '0',
		.mode = dir ? 0755 : 0644,
		.size = dir ? 0 : st.st_size,
		.mtime = st.st_mtim,
	};
	int r = cstor_tar_writer_header(w, &h, err);
	if (r < 0 || dir)
		return r;
	return cstor_tar_writer_data_fd(w, fd, err);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The blob names of blobs/sha256, sorted; temporary files (dot files) are
 * not blobs. */
static int list_blobs(char ***out, int layout_fd, cstor_error *err)
{
	int fd = openat(layout_fd, "blobs/sha256", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return cstor_error_errno(err, errno, "open blobs/sha256");
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return cstor_error_errno(err, errno, "open blobs/sha256");
	}
	_cleanup_strv_free_ char **names = calloc(1, sizeof(char *));
	if (!names)
		return cstor_error_set(err, ENOMEM, "out of memory");
	struct dirent *de;
	while ((errno = 0, de = readdir(d)))
		if (de->d_name[0] != '.' && strv_append(&names, de->d_name) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
	if (errno)
		return cstor_error_errno(err, errno, "read blobs/sha256");
	qsort(names, strv_length(names), sizeof(char *), cmp_str);
	*out = TAKE_PTR(names);
	return 0;
}

static int write_tar(int out_fd, int layout_fd, cstor_error *err)
{
	_cleanup_strv_free_ char **blobs = NULL;
	int r = list_blobs(&blobs, layout_fd, err);
	if (r < 0)
		return r;
	cstor_tar_writer *w = NULL;
	if ((r = cstor_tar_writer_new(&w, cstor_fd_write, &out_fd, err)) < 0)
		return r;
	if ((r = add_entry(w, layout_fd, "oci-layout", "oci-layout", err)) < 0 ||
	    (r = add_entry(w, layout_fd, "index.json", "index.json", err)) < 0 ||
	    (r = add_entry(w, layout_fd, "blobs", "blobs/", err)) < 0 ||
	    (r = add_entry(w, layout_fd, "blobs/sha256", "blobs/sha256/", err)) < 0)
		goto out;
	for (size_t i = 0; blobs[i]; i++) {
		_cleanup_free_ char *tar_name = NULL;
		if (asprintf(&tar_name, "blobs/sha256/%s", blobs[i]) < 0) {
			r = cstor_error_set(err, ENOMEM, "out of memory");
			goto out;
		}
		if ((r = add_entry(w, layout_fd, tar_name, tar_name, err)) < 0)
			goto out;
	}
	r = cstor_tar_writer_close(w, err);
out:
	cstor_tar_writer_free(w);
	return r;
}

/* @name is @prefix followed by exactly @len characters of [0-9a-zA-Z]. */
static bool is_ours(const char *name, const char *prefix, size_t len)
{
	const char *rest = startswith(name, prefix);
	if (!rest || strlen(rest) != len)
		return false;
	for (; *rest; rest++)
		if (!((*rest >= '0' && *rest <= '9') || (*rest >= 'a' && *rest <= 'z') ||
		      (*rest >= 'A' && *rest <= 'Z')))
			return false;
	return true;
}

void cstor_export_archive_remove_dead(const char *file)
{
	_cleanup_free_ char *dcopy = strdup(file), *bcopy = strdup(file);
	_cleanup_free_ char *staging = NULL, *tmp = NULL;
	if (!dcopy || !bcopy)
		return;
	const char *base = basename(bcopy);
	if (asprintf(&staging, CSTOR_ARCHIVE_STAGING_FMT, base) < 0 ||
	    asprintf(&tmp, CSTOR_ARCHIVE_TMP_FMT, base) < 0)
		return;
	_cleanup_close_ int dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int dup = dfd >= 0 ? fcntl(dfd, F_DUPFD_CLOEXEC, 3) : -1;
	_cleanup_closedir_ DIR *d = dup >= 0 ? fdopendir(dup) : NULL;
	if (!d) {
		if (dup >= 0)
			close(dup);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		bool dir = is_ours(de->d_name, staging, 6); /* mkdtemp's XXXXXX */
		if (!dir && !is_ours(de->d_name, tmp, 8))
			continue;
		_cleanup_close_ int fd = openat(dfd, de->d_name,
						O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK |
							(dir ? O_DIRECTORY : 0));
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0 || !(dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode)))
			continue;
		/* Locked: a live export's. Ours to remove while we hold it
		 * (the export that made it checks, once it holds the lock,
		 * that it is still there). */
		if (flock(fd, LOCK_EX | LOCK_NB) < 0)
			continue;
		if (dir)
			cstor_rm_rf_at_quiet(dfd, de->d_name);
		else
			unlinkat(dfd, de->d_name, 0);
	}
}

typedef int (*tar_body_fn)(int out_fd, int layout_fd, void *ctx, cstor_error *err);

static int oci_body(int out_fd, int layout_fd, void *ctx, cstor_error *err)
{
	(void)ctx;
	return write_tar(out_fd, layout_fd, err);
}

static int write_file(int layout_fd, const char *file, tar_body_fn body, void *ctx,
		      cstor_error *err);

int cstor_export_archive_write(int layout_fd, const char *file, cstor_error *err)
{
	return write_file(layout_fd, file, oci_body, NULL, err);
}

struct docker_ctx {
	const char *config_hex;
	char *const *layers;
	const char *manifest_json;
};

static int add_blob(cstor_tar_writer *w, int layout_fd, const char *hex, const char *tar_name,
		    cstor_error *err)
{
	_cleanup_free_ char *name = NULL;
	if (asprintf(&name, "blobs/sha256/%s", hex) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	return add_entry(w, layout_fd, name, tar_name, err);
}

/* docker save's order: the layers, the config, manifest.json. */
static int docker_members(cstor_tar_writer *w, int layout_fd, const struct docker_ctx *c,
			  cstor_error *err)
{
	_cleanup_strv_free_ char **done = calloc(1, sizeof(char *));
	if (!done)
		return cstor_error_set(err, ENOMEM, "out of memory");
	int r;
	for (size_t i = 0; c->layers[i]; i++) {
		const char *hex = c->layers[i] + strlen("sha256:");
		if (strv_contains(done, hex))
			continue; /* the same layer twice: one member */
		_cleanup_free_ char *tn = NULL;
		if (asprintf(&tn, "%s.tar", hex) < 0 || strv_append(&done, hex) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
		if ((r = add_blob(w, layout_fd, hex, tn, err)) < 0)
			return r;
	}
	_cleanup_free_ char *cn = NULL;
	if (asprintf(&cn, "%s.json", c->config_hex) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	if ((r = add_blob(w, layout_fd, c->config_hex, cn, err)) < 0)
		return r;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	size_t ml = strlen(c->manifest_json);
	cstor_tar_header h = {
		.name = (char *)"manifest.json",
		.typeflag = '0',
		.mode = 0644,
		.size = (int64_t)ml,
		.mtime = now,
	};
	if ((r = cstor_tar_writer_header(w, &h, err)) < 0 ||
	    (r = cstor_tar_writer_data(w, c->manifest_json, ml, err)) < 0)
		return r;
	return cstor_tar_writer_close(w, err);
}

static int docker_body(int out_fd, int layout_fd, void *ctx, cstor_error *err)
{
	cstor_tar_writer *w = NULL;
	int r = cstor_tar_writer_new(&w, cstor_fd_write, &out_fd, err);
	if (r < 0)
		return r;
	r = docker_members(w, layout_fd, ctx, err);
	cstor_tar_writer_free(w);
	return r;
}

int cstor_export_docker_archive_write(int layout_fd, const char *file, const char *config_digest,
				      char *const *layers, const char *repo_tag, cstor_error *err)
{
	json_auto_t *names = json_array(), *lay = json_array();
	if (!names || !lay || (repo_tag && json_array_append_new(names, json_string(repo_tag)) < 0))
		return cstor_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; layers[i]; i++) {
		_cleanup_free_ char *tn = NULL;
		if (asprintf(&tn, "%s.tar", layers[i] + strlen("sha256:")) < 0 ||
		    json_array_append_new(lay, json_string(tn)) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
	}
	const char *config_hex = config_digest + strlen("sha256:");
	_cleanup_free_ char *cn = NULL;
	if (asprintf(&cn, "%s.json", config_hex) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	json_auto_t *m = json_pack("[{s:s,s:O,s:O}]", "Config", cn, "RepoTags", names,
					     "Layers", lay);
	_cleanup_free_ char *mj = m ? json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	if (!mj)
		return cstor_error_set(err, ENOMEM, "out of memory");
	struct docker_ctx c = { .config_hex = config_hex, .layers = layers, .manifest_json = mj };
	return write_file(layout_fd, file, docker_body, &c, err);
}

static int write_file(int layout_fd, const char *file, tar_body_fn body, void *ctx,
		      cstor_error *err)
{
	_cleanup_free_ char *dcopy = strdup(file), *bcopy = strdup(file);
	if (!dcopy || !bcopy)
		return cstor_error_set(err, ENOMEM, "out of memory");
	const char *dir = dirname(dcopy), *base = basename(bcopy);
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return cstor_error_errno(err, errno, "open %s", dir);

	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -1;
	int r;
	for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
		uint32_t rnd = 0;
		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
			rnd = (uint32_t)getpid() * 2654435761u + (uint32_t)attempt;
		free(tmp);
		if (asprintf(&tmp, CSTOR_ARCHIVE_TMP_FMT "%08x", base, rnd) < 0) {
			tmp = NULL;
			return cstor_error_set(err, ENOMEM, "out of memory");
		}
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0 && errno != EEXIST)
			return cstor_error_errno(err, errno, "create a temporary file next to %s", file);
		/* Locked while it lives, so that the next export removes it
		 * if we are killed (cstor_export_archive_remove_dead). Another
		 * export may have removed it before the lock: then anew. */
		struct stat st;
		if (fd >= 0 && flock(fd, LOCK_EX) < 0) {
			r = cstor_error_errno(err, errno, "lock %s", tmp);
			unlinkat(dfd, tmp, 0);
			return r;
		}
		if (fd >= 0 && fstat(fd, &st) == 0 && st.st_nlink == 0)
			closep(&fd);
	}
	if (fd < 0)
		return cstor_error_set(err, EEXIST, "cannot create a temporary file next to %s", file);

	r = body(fd, layout_fd, ctx, err);
	if (r == 0 && fdatasync(fd) < 0)
		r = cstor_error_errno(err, errno, "sync %s", file);
	if (r == 0 && (r = cstor_failpoint_at("export:before-rename", NULL)) < 0)
		cstor_error_errno(err, -r, "replace %s", file);
	if (r == 0 && renameat(dfd, tmp, dfd, base) < 0)
		r = cstor_error_errno(err, errno, "replace %s", file);
	if (r < 0) {
		unlinkat(dfd, tmp, 0);
		return r;
	}
	if (fsync(dfd) < 0)
		return cstor_error_errno(err, errno, "sync directory of %s", file);
	return 0;
}
