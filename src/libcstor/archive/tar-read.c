/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pull-based tar reader. Input is buffered in one large buffer; headers are
 * copied out block by block, content is handed out by copy or by pointer.
 * Header parsing (fields, pax records, merging rules) lives in
 * tar-header.c; this file owns the stream: buffering, entry state, raw
 * accounting and the end of the archive.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/error-internal.h"
#include "util/cleanup.h"

#include "crc64.h"
#include "tar-header.h"

#define READ_BUF_SIZE (128 * 1024)

enum state {
	ST_HEADER,  /* before the first header */
	ST_CONTENT, /* inside an entry: content, then padding */
	ST_END,     /* end-of-archive marker seen */
};

struct cstor_tar_reader {
	cstor_tar_read_fn read;
	void *ctx;
	unsigned flags;

	unsigned char *buf;
	size_t pos, end;
	bool input_eof;
	uint64_t offset; /* bytes consumed (handed out or accounted) */

	int error; /* sticky negative errno */
	enum state state;
	int64_t content_size, remaining;
	unsigned pad;
	uint64_t crc;

	struct tbuf raw;
	struct tar_hdr_state hs;
};

static int fail(cstor_tar_reader *r, cstor_error *err, int code, const char *fmt, ...)
	_printf_(4, 5);

static int fail(cstor_tar_reader *r, cstor_error *err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int ret = cstor_error_setv(err, code, fmt, ap);
	va_end(ap);
	r->error = ret;
	return ret;
}

static int sticky(cstor_tar_reader *r, cstor_error *err)
{
	return cstor_error_set(err, r->error, "tar reader failed earlier: %s", strerror(-r->error));
}

int cstor_tar_reader_new(cstor_tar_reader **out, cstor_tar_read_fn read, void *ctx,
			 unsigned flags, cstor_error *err)
{
	if (!out || !read || (flags & ~CSTOR_TAR_READER_RAW))
		return cstor_error_set(err, EINVAL, "invalid tar reader arguments");
	_cleanup_free_ cstor_tar_reader *r = calloc(1, sizeof(*r));
	if (!r)
		return cstor_error_set(err, ENOMEM, "out of memory");
	r->buf = malloc(READ_BUF_SIZE);
	if (!r->buf)
		return cstor_error_set(err, ENOMEM, "out of memory");
	r->read = read;
	r->ctx = ctx;
	r->flags = flags;
	*out = TAKE_PTR(r);
	return 0;
}

void cstor_tar_reader_free(cstor_tar_reader *r)
{
	if (!r)
		return;
	cstor_tar__hdr_state_free(&r->hs);
	cstor_tar__buf_free(&r->raw);
	free(r->buf);
	free(r);
}

/* Make input available in the buffer: >0 bytes available, 0 at end of
 * input, or -errno (message set). */
static ssize_t fill(cstor_tar_reader *r, cstor_error *err)
{
	if (r->pos < r->end)
		return (ssize_t)(r->end - r->pos);
	r->pos = r->end = 0;
	if (r->input_eof)
		return 0;
	for (;;) {
		ssize_t n = r->read(r->ctx, r->buf, READ_BUF_SIZE);
		if (n == -EINTR)
			continue;
		if (n < 0)
			return fail(r, err, (int)n, "read archive at offset %" PRIu64 ": %s",
				    r->offset, strerror((int)-n));
		if (n > READ_BUF_SIZE)
			return fail(r, err, EIO, "read callback returned too much");
		if (n == 0)
			r->input_eof = true;
		r->end = (size_t)n;
		return n;
	}
}

/* Copy up to @n input bytes into @dst (NULL discards); *got says how many
 * before the end of input (also on error). */
static int take(cstor_tar_reader *r, void *dst, size_t n, size_t *got, cstor_error *err)
{
	size_t done = 0;
	int ret = 0;
	while (done < n) {
		ssize_t avail = fill(r, err);
		if (avail <= 0) {
			ret = (int)avail; /* 0: end of input, or -errno */
			break;
		}
		size_t k = MIN((size_t)avail, n - done);
		if (dst)
			memcpy((unsigned char *)dst + done, r->buf + r->pos, k);
		r->pos += k;
		r->offset += k;
		done += k;
	}
	/* Set on every return, errors included. */
	*got = done;
	return ret;
}

static int account(cstor_tar_reader *r, const void *p, size_t n, cstor_error *err)
{
	if (!(r->flags & CSTOR_TAR_READER_RAW) || n == 0)
		return 0;
	if (cstor_tar__buf_append(&r->raw, p, n) < 0)
		return fail(r, err, ENOMEM, "out of memory");
	return 0;
}

static inline void consumed_content(cstor_tar_reader *r, const void *p, size_t n)
{
	if (r->flags & CSTOR_TAR_READER_RAW)
		r->crc = cstor_crc64_update(r->crc, p, n);
	r->remaining -= (int64_t)n;
	r->offset += n;
}

static int truncated(cstor_tar_reader *r, cstor_error *err)
{
	return fail(r, err, EBADMSG, "unexpected EOF (end of archive) in entry %s", r->hs.hdr.name);
}

int cstor_tar_reader_peek(cstor_tar_reader *r, const void **data, size_t *len, size_t max,
			  cstor_error *err)
{
	if (r->error)
		return sticky(r, err);
	*data = NULL;
	*len = 0;
	if (r->state != ST_CONTENT || r->remaining == 0)
		return 0;
	ssize_t avail = fill(r, err);
	if (avail < 0)
		return (int)avail;
	if (avail == 0)
		return truncated(r, err);
	size_t k = (size_t)MIN((int64_t)avail, r->remaining);
	if (max && k > max)
		k = max;
	*data = r->buf + r->pos;
	*len = k;
	r->pos += k;
	consumed_content(r, *data, k);
	return 0;
}

ssize_t cstor_tar_reader_read(cstor_tar_reader *r, void *buf, size_t len, cstor_error *err)
{
	if (r->error)
		return sticky(r, err);
	if (r->state != ST_CONTENT || r->remaining == 0 || len == 0)
		return 0;
	if ((int64_t)len > r->remaining || len > SSIZE_MAX)
		len = (size_t)MIN(r->remaining, (int64_t)SSIZE_MAX);
	if (r->pos == r->end && len >= READ_BUF_SIZE / 2 && !r->input_eof) {
		/* Big reads skip the buffer: one copy less. */
		for (;;) {
			ssize_t n = r->read(r->ctx, buf, len);
			if (n == -EINTR)
				continue;
			if (n < 0)
				return fail(r, err, (int)n, "read archive in entry %s: %s",
					    r->hs.hdr.name, strerror((int)-n));
			if ((size_t)n > len)
				return fail(r, err, EIO, "read callback returned too much");
			if (n == 0) {
				r->input_eof = true;
				return truncated(r, err);
			}
			consumed_content(r, buf, (size_t)n);
			return n;
		}
	}
	const void *p;
	size_t n;
	int ret = cstor_tar_reader_peek(r, &p, &n, len, err);
	if (ret < 0)
		return ret;
	memcpy(buf, p, n);
	return (ssize_t)n;
}

int cstor_tar_reader_copy_to_fd(cstor_tar_reader *r, int fd, cstor_error *err)
{
	for (;;) {
		const void *p;
		size_t n;
		int ret = cstor_tar_reader_peek(r, &p, &n, 0, err);
		if (ret < 0)
			return ret;
		if (n == 0)
			return 0;
		while (n > 0) {
			ssize_t k = write(fd, p, n);
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				return cstor_error_errno(err, errno, "write content of %s", r->hs.hdr.name);
			p = (const unsigned char *)p + k;
			n -= (size_t)k;
		}
	}
}

int cstor_tar_reader_skip(cstor_tar_reader *r, cstor_error *err)
{
	while (!r->error && r->state == ST_CONTENT && r->remaining > 0) {
		const void *p;
		size_t n;
		int ret = cstor_tar_reader_peek(r, &p, &n, 0, err);
		if (ret < 0)
			return ret;
	}
	return r->error ? sticky(r, err) : 0;
}

int64_t cstor_tar_reader_remaining(const cstor_tar_reader *r)
{
	return r->state == ST_CONTENT ? r->remaining : 0;
}

int64_t cstor_tar_reader_content_size(const cstor_tar_reader *r)
{
	return r->state == ST_CONTENT ? r->content_size : 0;
}

uint64_t cstor_tar_reader_offset(const cstor_tar_reader *r)
{
	return r->offset;
}

void cstor_tar_reader_raw(const cstor_tar_reader *r, const void **data, size_t *len)
{
	*data = r->raw.data;
	*len = r->raw.len;
}

void cstor_tar_reader_raw_clear(cstor_tar_reader *r)
{
	r->raw.len = 0;
}

uint64_t cstor_tar_reader_content_crc64(const cstor_tar_reader *r)
{
	return r->crc;
}

/* Read a whole header block. 1 = got it, 0 = clean end of input before
 * it, <0 = error (including a partial block). */
static int read_block(cstor_tar_reader *r, unsigned char blk[CSTOR_TAR_BLOCK], cstor_error *err)
{
	size_t got;
	uint64_t at = r->offset;
	int ret = take(r, blk, CSTOR_TAR_BLOCK, &got, err);
	if (ret < 0)
		return ret;
	if (got == 0)
		return 0;
	if (got < CSTOR_TAR_BLOCK)
		return fail(r, err, EBADMSG,
			    "unexpected EOF (end of archive) in header at offset %" PRIu64, at);
	ret = account(r, blk, CSTOR_TAR_BLOCK, err);
	return ret < 0 ? ret : 1;
}

/* Padding after content or an extension body. Returns 1 when complete, 0
 * when the input ended inside it (Go then reports a clean end). */
static int read_pad(cstor_tar_reader *r, unsigned pad, cstor_error *err)
{
	unsigned char zero[CSTOR_TAR_BLOCK];
	size_t got;
	if (pad == 0)
		return 1;
	int ret = take(r, zero, pad, &got, err);
	if (ret < 0)
		return ret;
	/* Unlike tar-split's fork, keep a truncated tail in the raw bytes so
	 * the reassembled stream still equals the input. */
	ret = account(r, zero, got, err);
	if (ret < 0)
		return ret;
	return got == pad;
}

/* Read an extension body ('x', 'g', 'L', 'K') into the header state. */
static int read_special(cstor_tar_reader *r, struct tbuf *dst, int64_t size, uint64_t at,
			cstor_error *err)
{
	if (size > CSTOR_TAR_MAX_SPECIAL)
		return fail(r, err, EBADMSG,
			    "extension header of %" PRId64 " bytes at offset %" PRIu64
			    " exceeds the %d byte limit",
			    size, at, CSTOR_TAR_MAX_SPECIAL);
	dst->len = 0;
	if (cstor_tar__buf_reserve(dst, (size_t)size) < 0)
		return fail(r, err, ENOMEM, "out of memory");
	size_t got;
	int ret = take(r, dst->data, (size_t)size, &got, err);
	if (ret < 0)
		return ret;
	if (got < (size_t)size)
		return fail(r, err, EBADMSG,
			    "unexpected EOF (end of archive) in extension header at offset %" PRIu64, at);
	dst->len = got;
	dst->data[got] = 0;
	return account(r, dst->data, got, err);
}

static void enter_entry(cstor_tar_reader *r, int64_t content)
{
	r->state = ST_CONTENT;
	r->content_size = r->remaining = content;
	r->pad = (unsigned)(-(uint64_t)content & (CSTOR_TAR_BLOCK - 1));
	r->crc = 0;
}

static int finish_entry(cstor_tar_reader *r, cstor_error *err)
{
	/* Skipped content still counts as content: a tar-split of it must
	 * checksum it, not store it. */
	int ret = cstor_tar_reader_skip(r, err);
	if (ret < 0)
		return ret;
	ret = read_pad(r, r->pad, err);
	if (ret < 0)
		return ret;
	r->pad = 0;
	if (ret == 0)
		r->state = ST_END;
	return 0;
}

int cstor_tar_reader_next(cstor_tar_reader *r, const cstor_tar_header **out, cstor_error *err)
{
	unsigned char blk[CSTOR_TAR_BLOCK];
	int ret;

	*out = NULL;
	if (r->error)
		return sticky(r, err);
	if (r->state == ST_CONTENT && (ret = finish_entry(r, err)) < 0)
		return ret;
	if (r->state == ST_END)
		return 0;

	cstor_tar__hdr_state_reset(&r->hs);
	for (;;) {
		uint64_t at = r->offset;
		ret = read_block(r, blk, err);
		if (ret <= 0)
			goto end_or_error;
		if (cstor_tar__block_is_zero(blk)) {
			ret = read_block(r, blk, err);
			if (ret <= 0)
				goto end_or_error;
			if (!cstor_tar__block_is_zero(blk))
				return fail(r, err, EBADMSG,
					    "invalid tar header at offset %" PRIu64
					    ": data after a zero block",
					    at + CSTOR_TAR_BLOCK);
			r->state = ST_END;
			return 0;
		}

		struct tar_block_info bi;
		ret = cstor_tar__parse_block(&r->hs, blk, at, &bi, err);
		if (ret < 0) {
			r->error = ret;
			return ret;
		}
		switch (bi.typeflag) {
		case 'x':
		case 'g':
		case 'L':
		case 'K': {
			struct tbuf *dst = bi.typeflag == 'L'   ? &r->hs.long_name
					   : bi.typeflag == 'K' ? &r->hs.long_link
								: &r->hs.pax_buf;
			ret = read_special(r, dst, bi.size, at, err);
			if (ret < 0)
				return ret;
			int padded = read_pad(r, (unsigned)(-(uint64_t)bi.size & (CSTOR_TAR_BLOCK - 1)),
					      err);
			if (padded < 0)
				return padded;
			if (bi.typeflag == 'L' || bi.typeflag == 'K')
				cstor_tar__hdr_set_long(&r->hs, bi.typeflag);
			else if ((ret = cstor_tar__hdr_parse_pax(&r->hs, at, err)) < 0) {
				r->error = ret;
				return ret;
			}
			if (bi.typeflag == 'g') {
				if ((ret = cstor_tar__hdr_finish_global(&r->hs, err)) < 0) {
					r->error = ret;
					return ret;
				}
				/* Its padding was read already. */
				enter_entry(r, 0);
				*out = &r->hs.hdr;
				return 1;
			}
			if (padded == 0) {
				/* Input ended inside the padding: Go sees EOF. */
				r->state = ST_END;
				return 0;
			}
			continue;
		}
		default:
			break;
		}

		int64_t content;
		ret = cstor_tar__hdr_finish(&r->hs, at, &content, err);
		if (ret < 0) {
			r->error = ret;
			return ret;
		}
		enter_entry(r, content);
		*out = &r->hs.hdr;
		return 1;
	}

end_or_error:
	if (ret < 0)
		return ret;
	r->state = ST_END;
	return 0;
}

int cstor_tar_reader_trailing(cstor_tar_reader *r, const void **data, size_t *len,
			      cstor_error *err)
{
	*data = NULL;
	*len = 0;
	if (r->error)
		return sticky(r, err);
	if (r->state != ST_END)
		return cstor_error_set(err, EINVAL, "tar archive not read to its end");
	ssize_t avail = fill(r, err);
	if (avail <= 0)
		return (int)avail;
	*data = r->buf + r->pos;
	*len = (size_t)avail;
	r->pos = r->end;
	r->offset += (size_t)avail;
	return 0;
}
