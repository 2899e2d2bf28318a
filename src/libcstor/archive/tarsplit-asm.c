/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tar-split assembler: replay the entries, copying segments and file
 * contents into one output buffer, checksumming each file as it is copied.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error-internal.h"
#include "util/cleanup.h"

#include "crc64.h"
#include "tar-internal.h"
#include "tarsplit.h"

#define ASM_BUF_SIZE (512 * 1024)

struct out {
	cstor_tar_write_fn write;
	void *ctx;
	unsigned char *buf;
	size_t len;
	uint64_t total;
};

static int out_flush(struct out *o, cstor_error *err)
{
	if (o->len == 0)
		return 0;
	int r = o->write(o->ctx, o->buf, o->len);
	if (r < 0)
		return cstor_error_errno(err, r, "write tar stream");
	o->len = 0;
	return 0;
}

static int out_put(struct out *o, const void *p, size_t n, cstor_error *err)
{
	int r;
	if (n == 0)
		return 0;
	if (o->len + n > ASM_BUF_SIZE && (r = out_flush(o, err)) < 0)
		return r;
	if (n >= ASM_BUF_SIZE) {
		r = o->write(o->ctx, p, n);
		if (r < 0)
			return cstor_error_errno(err, r, "write tar stream");
	} else {
		memcpy(o->buf + o->len, p, n);
		o->len += n;
	}
	o->total += n;
	return 0;
}

/* Go's %q, close enough for messages: escapes quotes, backslashes, control
 * characters and bytes that are not UTF-8. */
static char *quote(const char *s, size_t len)
{
	struct tbuf b = { 0 };
	bool ok = cstor_tar__buf_putc(&b, '"') == 0;
	for (size_t i = 0; ok && i < len && i < 4096;) {
		unsigned char c = (unsigned char)s[i];
		size_t k = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
		char esc[8];
		if (c >= 0x80 && k <= len - i && cstor_tar__utf8_valid(s + i, k)) {
			ok = cstor_tar__buf_append(&b, s + i, k) == 0;
			i += k;
			continue;
		}
		if (c == '"' || c == '\\')
			snprintf(esc, sizeof(esc), "\\%c", c);
		else if (c == '\n')
			strcpy(esc, "\\n");
		else if (c == '\t')
			strcpy(esc, "\\t");
		else if (c < 0x20 || c >= 0x7f)
			snprintf(esc, sizeof(esc), "\\x%02x", c);
		else
			snprintf(esc, sizeof(esc), "%c", c);
		ok = cstor_tar__buf_append(&b, esc, strlen(esc)) == 0;
		i++;
	}
	if (ok && cstor_tar__buf_putc(&b, '"') == 0)
		return (char *)b.data;
	cstor_tar__buf_free(&b);
	return NULL;
}

/* The CRC-64 of no bytes, big-endian: what an entry of a header-only
 * member (a directory whose header has a size) carries. */
static bool crc_of_nothing(const struct cstor_tarsplit_entry *e)
{
	static const uint8_t zero[8];
	return e->payload && e->payload_len == 8 && memcmp(e->payload, zero, 8) == 0;
}

/*
 * Read to the end, as tar-split does, and check the checksum. A regular
 * file is first measured against its entry, so that one larger or smaller
 * than the entry says (changed on disk, or an entry that lies) is refused
 * before any of it is written: the bytes after it in the stream are the
 * next header, and the checksum is only checked at the end. The size of a
 * header-only member (a directory with a size, content empty) is not its
 * content's; negative sizes are read, as tar-split does.
 */
static int copy_file(struct out *o, const struct cstor_tarsplit_entry *e, int fd,
		     cstor_error *err)
{
	uint64_t crc = 0;
	int r;
	struct stat st;
	if (e->size > 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size != e->size &&
	    !(st.st_size == 0 && crc_of_nothing(e))) {
		_cleanup_free_ char *q = quote(e->name, e->name_len);
		return cstor_error_set(err, EBADMSG,
				       "file %s has %lld bytes, its tar-split entry says %lld",
				       q ? q : "file", (long long)st.st_size, (long long)e->size);
	}
	for (;;) {
		if (o->len == ASM_BUF_SIZE && (r = out_flush(o, err)) < 0)
			return r;
		ssize_t n = read(fd, o->buf + o->len, ASM_BUF_SIZE - o->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			_cleanup_free_ char *q = quote(e->name, e->name_len);
			return cstor_error_errno(err, errno, "read content of %s", q ? q : "file");
		}
		if (n == 0)
			break;
		crc = cstor_crc64_update(crc, o->buf + o->len, (size_t)n);
		o->len += (size_t)n;
		o->total += (uint64_t)n;
	}
	uint8_t be[8];
	cstor_crc64_to_be(crc, be);
	if (!e->payload || e->payload_len != 8 || memcmp(be, e->payload, 8) != 0) {
		_cleanup_free_ char *q = quote(e->name, e->name_len);
		return cstor_error_set(err, EBADMSG, "file integrity checksum failed for %s",
				       q ? q : "file");
	}
	return 0;
}

int cstor_tarsplit_assemble(cstor_tar_read_fn read, void *rctx, cstor_tarsplit_open_fn open_file,
			    void *octx, cstor_tar_write_fn write, void *wctx, uint64_t *tar_size,
			    cstor_error *err)
{
	if (!read || !open_file || !write)
		return cstor_error_set(err, EINVAL, "invalid arguments");
	cstor_tarsplit_unpacker *u = NULL;
	struct out o = { write, wctx, malloc(ASM_BUF_SIZE), 0, 0 };
	int r;

	if (!o.buf)
		return cstor_error_set(err, ENOMEM, "out of memory");
	if ((r = cstor_tarsplit_unpacker_new(&u, read, rctx, err)) < 0)
		goto out;
	for (;;) {
		const struct cstor_tarsplit_entry *e;
		r = cstor_tarsplit_unpacker_next(u, &e, err);
		if (r <= 0)
			break;
		if (e->type == CSTOR_TARSPLIT_SEGMENT) {
			if ((r = out_put(&o, e->payload, e->payload_len, err)) < 0)
				break;
		} else if (e->type == CSTOR_TARSPLIT_FILE && e->size != 0) {
			int fd = -1;
			if ((r = open_file(octx, e->name, e->name_len, &fd, err)) < 0)
				break;
			if (fd < 0) {
				r = cstor_error_set(err, EINVAL, "open callback returned no file");
				break;
			}
			r = copy_file(&o, e, fd, err);
			close(fd);
			if (r < 0)
				break;
		}
	}
	if (r == 0)
		r = out_flush(&o, err);
	if (r == 0 && tar_size)
		*tar_size = o.total;
out:
	cstor_tarsplit_unpacker_free(u);
	free(o.buf);
	return r;
}
