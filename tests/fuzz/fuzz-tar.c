/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tar reader over arbitrary bytes, with the tar-split packer attached. The
 * first byte picks the read granularity and how content is consumed. When
 * the archive reads cleanly, three invariants are checked:
 *   - raw bytes + content + trailing data == the input;
 *   - the tar-split assembles back to the input;
 *   - every header the writer accepts reads back with the same fields.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/error-internal.h"

#include "archive/tar.h"
#include "archive/tarsplit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct buf {
	unsigned char *p;
	size_t len, cap;
};

static void buf_put(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = realloc(b->p, b->cap);
		assert(b->p);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static int buf_write(void *ctx, const void *p, size_t n)
{
	buf_put(ctx, p, n);
	return 0;
}

struct src {
	const uint8_t *p;
	size_t len, pos, chunk;
};

static ssize_t src_read(void *ctx, void *out, size_t len)
{
	struct src *s = ctx;
	size_t n = s->len - s->pos;
	if (n > len)
		n = len;
	if (n > s->chunk)
		n = s->chunk;
	if (n)
		memcpy(out, s->p + s->pos, n);
	s->pos += n;
	return (ssize_t)n;
}

/* Contents of the members, by name, for the assembler. */
struct member {
	char *name;
	size_t off, len; /* into the content buffer */
};

struct members {
	struct member *v;
	size_t n;
	struct buf content;
};

static int open_member(void *ctx, const char *name, size_t len, int *fd_out, cstor_error *err)
{
	struct members *m = ctx;
	for (size_t i = 0; i < m->n; i++) {
		if (strlen(m->v[i].name) != len || memcmp(m->v[i].name, name, len) != 0)
			continue;
		int fd = memfd_create("m", MFD_CLOEXEC);
		assert(fd >= 0);
		size_t n = m->v[i].len;
		if (n)
			assert(write(fd, m->content.p + m->v[i].off, n) == (ssize_t)n);
		lseek(fd, 0, SEEK_SET);
		*fd_out = fd;
		return 0;
	}
	return cstor_error_set(err, ENOENT, "no member");
}

static void check_writer(const cstor_tar_header *h)
{
	struct buf out = { 0 };
	cstor_tar_writer *w;
	cstor_error err = CSTOR_ERROR_INIT;
	assert(cstor_tar_writer_new(&w, buf_write, &out, NULL) == 0);
	cstor_tar_header c = *h;
	/* Keep the content small: the header is what is being tested. */
	bool header_only = c.typeflag >= '1' && c.typeflag <= '6';
	if (!header_only && c.size > 4096)
		c.size = 4096;
	int r = cstor_tar_writer_header(w, &c, &err);
	if (r == 0) {
		static const char zero[4096];
		if (!header_only && c.typeflag != 'g')
			assert(cstor_tar_writer_data(w, zero, (size_t)c.size, &err) == 0);
		assert(cstor_tar_writer_close(w, &err) == 0);
		struct src s = { out.p, out.len, 0, out.len };
		cstor_tar_reader *r2;
		const cstor_tar_header *h2;
		assert(cstor_tar_reader_new(&r2, src_read, &s, 0, NULL) == 0);
		assert(cstor_tar_reader_next(r2, &h2, &err) == 1);
		assert(strcmp(h2->name, c.name) == 0);
		assert(strcmp(h2->linkname, c.linkname) == 0);
		assert(h2->size == c.size && h2->uid == c.uid && h2->gid == c.gid);
		assert(h2->mtime.tv_sec == c.mtime.tv_sec);
		assert(cstor_tar_reader_next(r2, &h2, &err) == 0);
		cstor_tar_reader_free(r2);
	}
	cstor_error_clear(&err);
	cstor_tar_writer_free(w);
	free(out.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	struct src s = { data + 1, size - 1, 0, 0 };
	static const size_t chunks[] = { 1, 7, 512, 4096, 1 << 20 };
	s.chunk = chunks[mode % 5];
	bool do_writer = mode & 0x40;

	struct buf gz = { 0 }, rebuilt = { 0 };
	struct members m = { 0 };
	cstor_error err = CSTOR_ERROR_INIT;
	cstor_tar_reader *r;
	cstor_tarsplit_packer *p;
	assert(cstor_tar_reader_new(&r, src_read, &s, CSTOR_TAR_READER_RAW, NULL) == 0);
	assert(cstor_tarsplit_packer_new(&p, buf_write, &gz, &err) == 0);

	const cstor_tar_header *h;
	int ret;
	unsigned i = 0;
	while ((ret = cstor_tar_reader_next(r, &h, &err)) > 0) {
		const void *raw;
		size_t rlen;
		cstor_tar_reader_raw(r, &raw, &rlen);
		buf_put(&rebuilt, raw, rlen);
		size_t start = m.content.len;
		/* Consume some or all of the content in different ways. */
		unsigned how = (mode >> 3 ^ i++) % 3;
		const void *d;
		size_t n;
		char tmp[333];
		ssize_t k;
		if (how == 0) {
			while ((ret = cstor_tar_reader_peek(r, &d, &n, 1000, &err)) == 0 && n)
				buf_put(&m.content, d, n);
		} else if (how == 1) {
			while ((k = cstor_tar_reader_read(r, tmp, sizeof(tmp), &err)) > 0)
				buf_put(&m.content, tmp, (size_t)k);
			ret = k < 0 ? (int)k : 0;
		} else {
			ret = 0;
			if (cstor_tar_reader_remaining(r) > 0 &&
			    cstor_tar_reader_peek(r, &d, &n, 10, &err) == 0)
				buf_put(&m.content, d, n);
		}
		if (ret < 0)
			break;
		int64_t csize = cstor_tar_reader_content_size(r);
		int64_t left = cstor_tar_reader_remaining(r);
		uint64_t off = cstor_tar_reader_offset(r);
		if ((ret = cstor_tarsplit_packer_add_entry(p, r, h, &err)) < 0)
			break;
		/* Whatever the packer skipped is still in the input. */
		if (left > 0)
			buf_put(&m.content, s.p + off, (size_t)left);
		assert((int64_t)(m.content.len - start) == csize);
		if (csize > 0)
			buf_put(&rebuilt, m.content.p + start, (size_t)csize);
		m.v = realloc(m.v, (m.n + 1) * sizeof(*m.v));
		m.v[m.n++] = (struct member){ strdup(h->name), start, (size_t)csize };
		if (do_writer)
			check_writer(h);
	}
	if (ret == 0) {
		const void *raw;
		size_t rlen;
		cstor_tar_reader_raw(r, &raw, &rlen);
		buf_put(&rebuilt, raw, rlen);
		/* The packer drains the trailing data; it is the input's tail. */
		size_t at = (size_t)cstor_tar_reader_offset(r);
		ret = cstor_tarsplit_packer_finish(p, r, &err);
		if (ret == 0) {
			buf_put(&rebuilt, s.p + at, s.len - at);
			assert(rebuilt.len == s.len);
			assert(s.len == 0 || memcmp(rebuilt.p, s.p, s.len) == 0);
			struct src gs = { gz.p, gz.len, 0, gz.len };
			struct buf out = { 0 };
			int a = cstor_tarsplit_assemble(src_read, &gs, open_member, &m, buf_write, &out,
							NULL, &err);
			/* Only duplicate names make assembling fail, and the
			 * packer refused those already. */
			assert(a == 0);
			assert(out.len == s.len && (s.len == 0 || memcmp(out.p, s.p, s.len) == 0));
			free(out.p);
		}
	}
	cstor_error_clear(&err);
	cstor_tarsplit_packer_free(p);
	cstor_tar_reader_free(r);
	for (size_t k = 0; k < m.n; k++)
		free(m.v[k].name);
	free(m.v);
	free(m.content.p);
	free(gz.p);
	free(rebuilt.p);
	return 0;
}
