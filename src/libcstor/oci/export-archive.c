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
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive/compress.h"
#include "archive/tar.h"
#include "util/error-internal.h"
#include "oci/export-internal.h"
#include "util/cleanup.h"
#include "util/strv.h"

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

int cstor_export_archive_write(int layout_fd, const char *file, cstor_error *err)
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
	for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
		uint32_t rnd = 0;
		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
			rnd = (uint32_t)getpid() * 2654435761u + (uint32_t)attempt;
		free(tmp);
		if (asprintf(&tmp, ".%s.tmp-%08x", base, rnd) < 0) {
			tmp = NULL;
			return cstor_error_set(err, ENOMEM, "out of memory");
		}
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0 && errno != EEXIST)
			return cstor_error_errno(err, errno, "create a temporary file next to %s", file);
	}
	if (fd < 0)
		return cstor_error_set(err, EEXIST, "cannot create a temporary file next to %s", file);

	int r = write_tar(fd, layout_fd, err);
	if (r == 0 && fdatasync(fd) < 0)
		r = cstor_error_errno(err, errno, "sync %s", file);
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
