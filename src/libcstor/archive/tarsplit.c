/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tar-split packer: JSON Lines entries as Go's encoding/json writes
 * tar-split's storage.Entry, gzip-compressed with zlib.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "util/error-internal.h"
#include "util/cleanup.h"

#include "crc64.h"
#include "tar-internal.h"
#include "tarsplit.h"

#define PACK_FLUSH_AT (256 * 1024)
#define PACK_OUT_SIZE (256 * 1024)
#define TRAILING_CHUNK (1024 * 1024)

struct cstor_tarsplit_packer {
	cstor_tar_write_fn write;
	void *ctx;
	z_stream z;
	bool z_init, closed;
	int error;
	struct tbuf json; /* lines not yet compressed */
	unsigned char *out;
	int64_t position;
	struct tar_strset seen;
	struct tbuf trailing;
};

int cstor_tarsplit_packer_new(cstor_tarsplit_packer **out, cstor_tar_write_fn write, void *ctx,
			      cstor_error *err)
{
	if (!out || !write)
		return cstor_error_set(err, EINVAL, "invalid arguments");
	cstor_tarsplit_packer *p = calloc(1, sizeof(*p));
	if (!p || !(p->out = malloc(PACK_OUT_SIZE))) {
		free(p);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	/* Level 1 like tar-split's pgzip writer; 15 + 16 = gzip framing. */
	if (deflateInit2(&p->z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(p->out);
		free(p);
		return cstor_error_set(err, ENOMEM, "cannot initialise gzip compression");
	}
	p->z_init = true;
	p->write = write;
	p->ctx = ctx;
	*out = p;
	return 0;
}

void cstor_tarsplit_packer_free(cstor_tarsplit_packer *p)
{
	if (!p)
		return;
	if (p->z_init)
		deflateEnd(&p->z);
	cstor_tar__buf_free(&p->json);
	cstor_tar__buf_free(&p->trailing);
	cstor_tar__strset_free(&p->seen);
	free(p->out);
	free(p);
}

static int pfail(cstor_tarsplit_packer *p, int r)
{
	p->error = r;
	return r;
}

static int deflate_pending(cstor_tarsplit_packer *p, int flush, cstor_error *err)
{
	p->z.next_in = p->json.data;
	p->z.avail_in = (uInt)p->json.len;
	for (;;) {
		p->z.next_out = p->out;
		p->z.avail_out = PACK_OUT_SIZE;
		int zr = deflate(&p->z, flush);
		if (zr == Z_STREAM_ERROR)
			return pfail(p, cstor_error_set(err, EIO, "gzip compression failed"));
		size_t n = PACK_OUT_SIZE - p->z.avail_out;
		if (n) {
			int r = p->write(p->ctx, p->out, n);
			if (r < 0)
				return pfail(p, cstor_error_errno(err, r, "write tar-split data"));
		}
		if (flush == Z_FINISH ? zr == Z_STREAM_END : (p->z.avail_in == 0 && p->z.avail_out != 0))
			break;
	}
	p->json.len = 0;
	return 0;
}

static int check(cstor_tarsplit_packer *p, cstor_error *err)
{
	if (p->error)
		return cstor_error_set(err, p->error, "tar-split packer failed earlier");
	if (p->closed)
		return cstor_error_set(err, EINVAL, "tar-split packer already closed");
	return 0;
}

static int end_line(cstor_tarsplit_packer *p, cstor_error *err)
{
	char num[32];
	int n = snprintf(num, sizeof(num), ",\"position\":%" PRId64 "}\n", p->position);
	if (cstor_tar__buf_append(&p->json, num, (size_t)n) < 0)
		return pfail(p, cstor_error_set(err, ENOMEM, "out of memory"));
	p->position++;
	if (p->json.len >= PACK_FLUSH_AT)
		return deflate_pending(p, Z_NO_FLUSH, err);
	return 0;
}

int cstor_tarsplit_packer_segment(cstor_tarsplit_packer *p, const void *data, size_t len,
				  cstor_error *err)
{
	int r = check(p, err);
	if (r < 0)
		return r;
	static const char head[] = "{\"type\":2,\"payload\":\"";
	if (cstor_tar__buf_append(&p->json, head, sizeof(head) - 1) < 0 ||
	    cstor_tar__base64_append(&p->json, data, len) < 0 ||
	    cstor_tar__buf_putc(&p->json, '"') < 0)
		return pfail(p, cstor_error_set(err, ENOMEM, "out of memory"));
	return end_line(p, err);
}

int cstor_tarsplit_packer_file(cstor_tarsplit_packer *p, const char *name, size_t name_len,
			       int64_t size, const uint64_t *crc, cstor_error *err)
{
	int r = check(p, err);
	if (r < 0)
		return r;

	size_t clen;
	_cleanup_free_ char *clean = cstor_tar__path_clean(name, name_len, &clen);
	if (!clean)
		return pfail(p, cstor_error_set(err, ENOMEM, "out of memory"));
	r = cstor_tar__strset_add(&p->seen, clean, clen);
	if (r < 0)
		return pfail(p, cstor_error_set(err, r, "out of memory"));
	if (r == 0)
		return pfail(p, cstor_error_set(err, EBADMSG,
						"duplicates of file paths not supported: %.*s",
						(int)MIN(name_len, (size_t)4096), name));

	bool ok = cstor_tar__buf_append(&p->json, "{\"type\":1", 9) == 0;
	if (ok && name_len > 0) {
		/* Go moves names that are not valid UTF-8 to name_raw. */
		if (cstor_tar__utf8_valid(name, name_len))
			ok = cstor_tar__buf_append(&p->json, ",\"name\":", 8) == 0 &&
			     cstor_tar__json_string_append(&p->json, name, name_len) == 0;
		else
			ok = cstor_tar__buf_append(&p->json, ",\"name_raw\":\"", 13) == 0 &&
			     cstor_tar__base64_append(&p->json, name, name_len) == 0 &&
			     cstor_tar__buf_putc(&p->json, '"') == 0;
	}
	if (ok && size != 0) {
		char num[40];
		int n = snprintf(num, sizeof(num), ",\"size\":%" PRId64, size);
		ok = cstor_tar__buf_append(&p->json, num, (size_t)n) == 0;
	}
	if (ok && crc) {
		uint8_t be[8];
		cstor_crc64_to_be(*crc, be);
		ok = cstor_tar__buf_append(&p->json, ",\"payload\":\"", 12) == 0 &&
		     cstor_tar__base64_append(&p->json, be, 8) == 0 &&
		     cstor_tar__buf_putc(&p->json, '"') == 0;
	} else if (ok)
		ok = cstor_tar__buf_append(&p->json, ",\"payload\":null", 15) == 0;
	if (!ok)
		return pfail(p, cstor_error_set(err, ENOMEM, "out of memory"));
	return end_line(p, err);
}

static int flush_raw(cstor_tarsplit_packer *p, cstor_tar_reader *r, cstor_error *err)
{
	const void *raw;
	size_t len;
	cstor_tar_reader_raw(r, &raw, &len);
	if (len == 0)
		return 0;
	int ret = cstor_tarsplit_packer_segment(p, raw, len, err);
	cstor_tar_reader_raw_clear(r);
	return ret;
}

int cstor_tarsplit_packer_add_entry(cstor_tarsplit_packer *p, cstor_tar_reader *r,
				    const cstor_tar_header *h, cstor_error *err)
{
	int ret = check(p, err);
	if (ret < 0)
		return ret;
	if ((ret = cstor_tar_reader_skip(r, err)) < 0)
		return ret;
	if ((ret = flush_raw(p, r, err)) < 0)
		return ret;
	uint64_t crc = cstor_tar_reader_content_crc64(r);
	/* tar-split checksums whatever content there is once the header
	 * announces a size, even for types that carry none (crc 0). */
	return cstor_tarsplit_packer_file(p, h->name, strlen(h->name), h->size,
					  h->size > 0 ? &crc : NULL, err);
}

int cstor_tarsplit_packer_close(cstor_tarsplit_packer *p, cstor_error *err)
{
	int r = check(p, err);
	if (r < 0)
		return r;
	if ((r = deflate_pending(p, Z_FINISH, err)) < 0)
		return r;
	p->closed = true;
	return 0;
}

int cstor_tarsplit_packer_finish(cstor_tarsplit_packer *p, cstor_tar_reader *r,
				 cstor_error *err)
{
	int ret = check(p, err);
	if (ret < 0)
		return ret;
	if ((ret = flush_raw(p, r, err)) < 0)
		return ret;
	/* Record padding and whatever follows the end marker. */
	for (;;) {
		const void *data;
		size_t len;
		if ((ret = cstor_tar_reader_trailing(r, &data, &len, err)) < 0)
			return ret;
		if (len == 0)
			break;
		while (len > 0) {
			size_t k = MIN(len, TRAILING_CHUNK - p->trailing.len);
			if (cstor_tar__buf_append(&p->trailing, data, k) < 0)
				return pfail(p, cstor_error_set(err, ENOMEM, "out of memory"));
			data = (const unsigned char *)data + k;
			len -= k;
			if (p->trailing.len == TRAILING_CHUNK) {
				if ((ret = cstor_tarsplit_packer_segment(p, p->trailing.data,
									 p->trailing.len, err)) < 0)
					return ret;
				p->trailing.len = 0;
			}
		}
	}
	if (p->trailing.len > 0 &&
	    (ret = cstor_tarsplit_packer_segment(p, p->trailing.data, p->trailing.len, err)) < 0)
		return ret;
	/* tar-split 0.11.2 adds the zero-length read at EOF as a segment. */
	if ((ret = cstor_tarsplit_packer_segment(p, "", 0, err)) < 0)
		return ret;
	return cstor_tarsplit_packer_close(p, err);
}

int cstor_tarsplit_disassemble(cstor_tar_read_fn read, void *rctx, cstor_tar_write_fn write,
			       void *wctx, uint64_t *tar_size, cstor_error *err)
{
	cstor_tar_reader *r = NULL;
	cstor_tarsplit_packer *p = NULL;
	int ret = cstor_tar_reader_new(&r, read, rctx, CSTOR_TAR_READER_RAW, err);
	if (ret < 0)
		return ret;
	if ((ret = cstor_tarsplit_packer_new(&p, write, wctx, err)) < 0)
		goto out;
	for (;;) {
		const cstor_tar_header *h;
		ret = cstor_tar_reader_next(r, &h, err);
		if (ret < 0)
			goto out;
		if (ret == 0)
			break;
		if ((ret = cstor_tarsplit_packer_add_entry(p, r, h, err)) < 0)
			goto out;
	}
	ret = cstor_tarsplit_packer_finish(p, r, err);
	if (ret == 0 && tar_size)
		*tar_size = cstor_tar_reader_offset(r);
out:
	cstor_tarsplit_packer_free(p);
	cstor_tar_reader_free(r);
	return ret;
}
