/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tar-split test plumbing: pack a tar while keeping every member's content
 * in a memfd, so the assembler can be fed the files by name.
 */
#ifndef CSTOR_TESTS_TARSPLIT_HELPERS_H
#define CSTOR_TESTS_TARSPLIT_HELPERS_H

#include <sys/mman.h>

#include "archive/tarsplit.h"
#include "test-tar-helpers.h"

struct files {
	struct file {
		char *name;
		size_t len;
		int fd;
	} *v;
	size_t n;
	int open_calls;
};

_unused_ static void files_free(struct files *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].name);
		close(f->v[i].fd);
	}
	free(f->v);
	*f = (struct files){ 0 };
}

_unused_ static int files_add(struct files *f, const char *name, size_t len, const void *data,
			      size_t dlen)
{
	int fd = memfd_create("content", MFD_CLOEXEC);
	if (fd < 0 || (dlen && write(fd, data, dlen) != (ssize_t)dlen))
		return -1;
	f->v = realloc(f->v, (f->n + 1) * sizeof(*f->v));
	f->v[f->n].name = malloc(len + 1);
	memcpy(f->v[f->n].name, name, len);
	f->v[f->n].name[len] = 0;
	f->v[f->n].len = len;
	f->v[f->n].fd = fd;
	f->n++;
	return 0;
}

_unused_ static int files_open(void *ctx, const char *name, size_t len, int *fd_out,
			       cstor_error *err)
{
	struct files *f = ctx;
	f->open_calls++;
	for (size_t i = f->n; i-- > 0;)
		if (f->v[i].len == len && memcmp(f->v[i].name, name, len) == 0) {
			char p[64];
			snprintf(p, sizeof(p), "/proc/self/fd/%d", f->v[i].fd);
			/* A fresh open file description: its own offset. */
			int fd = open(p, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				return cstor_error_errno(err, errno, "open %s", p);
			*fd_out = fd;
			return 0;
		}
	return cstor_error_set(err, ENOENT, "no such file in the test: %.*s", (int)len, name);
}

/* Pack @tar (RAW reader + packer), keeping contents in @files. */
_unused_ static int pack_tar(const void *tar, size_t len, size_t chunk, struct msink *gz,
			     struct files *files, cstor_error *err)
{
	struct msrc src = { tar, len, 0, chunk, 0 };
	cstor_tar_reader *r = NULL;
	cstor_tarsplit_packer *p = NULL;
	int ret = cstor_tar_reader_new(&r, msrc_read, &src, CSTOR_TAR_READER_RAW, NULL);
	if (ret < 0)
		return ret;
	if ((ret = cstor_tarsplit_packer_new(&p, msink_write, gz, err)) < 0)
		goto out;
	for (;;) {
		const cstor_tar_header *h;
		if ((ret = cstor_tar_reader_next(r, &h, err)) <= 0)
			break;
		/* Read part of the content only: the packer takes the rest. */
		const void *d;
		size_t n;
		if ((ret = cstor_tar_reader_peek(r, &d, &n, 100, err)) < 0 ||
		    (ret = cstor_tarsplit_packer_add_entry(p, r, h, err)) < 0)
			break;
		if (files) {
			/* The content ends at the current offset (its padding is
			 * read by the next _next()). */
			size_t csize = (size_t)cstor_tar_reader_content_size(r);
			size_t at = (size_t)cstor_tar_reader_offset(r) - csize;
			files_add(files, h->name, strlen(h->name), (const char *)tar + at, csize);
		}
	}
	if (ret == 0)
		ret = cstor_tarsplit_packer_finish(p, r, err);
out:
	cstor_tarsplit_packer_free(p);
	cstor_tar_reader_free(r);
	return ret;
}

_unused_ static int assemble(const void *gz, size_t len, struct files *files, struct msink *out,
			     cstor_error *err)
{
	struct msrc src = { gz, len, 0, 0, 0 };
	uint64_t size = 0;
	int r = cstor_tarsplit_assemble(msrc_read, &src, files_open, files, msink_write, out, &size,
					err);
	if (r == 0 && size != out->len)
		return cstor_error_set(err, EIO, "size %llu vs %zu", (unsigned long long)size,
				       out->len);
	return r;
}

#endif
