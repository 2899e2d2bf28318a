/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layer big data written from a file range rather than a buffer: an
 * original compressed layer blob kept at import (oci/import.c) can be
 * hundreds of megabytes. The bytes are copied with no store lock held (into
 * a temporary file in the layer's data directory, which only the layer's
 * creator writes), then published under the exclusive lock by a rename and
 * the record's name list, so readers see the whole item or none.
 */
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "records/bigdata.h"
#include "util/error-internal.h"
#include "util/fileutil.h"
#include "store/store-internal.h"
#include "util/cleanup.h"
#include "util/strv.h"
#include "util/failpoint.h"

static int copy_range(int out, int in, off_t off, uint64_t size)
{
	/* A whole file on a filesystem that shares extents: no bytes move. */
	struct stat st;
	if (off == 0 && fstat(in, &st) == 0 && (uint64_t)st.st_size == size &&
	    ioctl(out, FICLONE, in) == 0)
		return 0;
	loff_t ioff = off, ooff = 0;
	uint64_t left = size;
	while (left > 0) {
		ssize_t n = copy_file_range(in, &ioff, out, &ooff, left > (1u << 30) ? 1u << 30 : left,
					    0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP ||
			      errno == EINVAL) && ooff == 0)
			break;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* the source is shorter than it said */
		left -= (uint64_t)n;
	}
	if (left == 0)
		return 0;
	_cleanup_free_ char *buf = malloc(1 << 20);
	if (!buf)
		return -ENOMEM;
	while (left > 0) {
		ssize_t n = pread(in, buf, left > (1u << 20) ? 1u << 20 : left, ioff);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		int r = cstor_write_all(out, buf, (size_t)n);
		if (r < 0)
			return r;
		ioff += n;
		left -= (uint64_t)n;
	}
	return 0;
}

int cstor_layer_set_big_data_fd(struct cstor_store *s, const char *id, const char *key, int fd,
				off_t off, uint64_t size, cstor_error *err)
{
	struct cstor_objstore *ls = s->layers;
	_cleanup_free_ char *name = NULL, *dir = cstor_objstore_data_dir(ls, id);
	if (!dir)
		return cstor_error_set(err, ENOMEM, "out of memory");
	_cleanup_close_ int dfd = -1;
	int r = cstor_big_data_open_dir(&dfd, &name, dir, key, err);
	if (r < 0)
		return r;
	char tmp[600];
	snprintf(tmp, sizeof(tmp), ".tmp-%.500s%d", name, (int)getpid());
	/* Only the layer's creator writes here: a leftover of that name is
	 * from a dead process with the same pid. */
	unlinkat(dfd, tmp, 0);
	_cleanup_close_ int out = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0)
		return cstor_error_errno(err, errno, "create %s/%s", dir, tmp);
	r = copy_range(out, fd, off, size);
	if (r == 0 && fdatasync(out) < 0)
		r = -errno;
	if (r == 0)
		r = cstor_failpoint("kept-blob:before-rename");
	if (r < 0) {
		unlinkat(dfd, tmp, 0);
		return cstor_error_errno(err, -r, "write layer %s data \"%s\"", id, key);
	}
	r = cstor_objstore_start_writing(ls, err);
	if (r != 0) {
		unlinkat(dfd, tmp, 0);
		return r;
	}
	struct cstor_layer_rec *rec = cstor_layer_store_by_id(ls, id);
	if (!rec)
		r = cstor_error_set(err, ENOENT, "layer %s was deleted meanwhile", id);
	else if (renameat(dfd, tmp, dfd, name) < 0)
		r = cstor_error_errno(err, errno, "rename %s/%s", dir, tmp);
	else if ((r = cstor_failpoint_err(err, "kept-blob:after-rename", NULL,
					  "record the kept blob")) < 0)
		;
	/* The rename is in the layer's own data directory, which the save of
	 * the record below does not sync: without this a power cut could
	 * keep the record naming the item and lose the item (test-power-cut). */
	else if (fsync(dfd) < 0)
		r = cstor_error_errno(err, errno, "sync %s", dir);
	else {
		bool changed = false;
		if (cstor_bigdata_index_set(&rec->h.bd, key, 0, NULL, &changed) < 0)
			r = cstor_error_set(err, ENOMEM, "out of memory");
		else if (changed)
			r = cstor_objstore_save(ls, err);
	}
	cstor_objstore_done(ls);
	if (r < 0)
		unlinkat(dfd, tmp, 0);
	return r;
}
