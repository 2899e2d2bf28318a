/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tar-split assembler over arbitrary input. First byte: bit 0 set = the rest
 * is plain JSON and gets gzip-compressed here (so the fuzzer can work on the
 * JSON directly), clear = the rest is the .gz as is. Files exist for every
 * name; their content is the name itself, so a crafted checksum can match.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "util/error-internal.h"

#include "archive/tarsplit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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

static int sink(void *ctx, const void *p, size_t n)
{
	uint64_t *total = ctx;
	*total += n;
	(void)p;
	return 0;
}

static int open_name(void *ctx, const char *name, size_t len, int *fd_out, cstor_error *err)
{
	int p[2];
	(void)ctx;
	if (len > 4096 || len == 3)
		return cstor_error_set(err, ENOENT, "no such file");
	assert(pipe2(p, O_CLOEXEC) == 0);
	if (len)
		assert(write(p[1], name, len) == (ssize_t)len);
	close(p[1]);
	*fd_out = p[0];
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	unsigned char *gz = NULL;
	size_t gz_len = size - 1;
	const uint8_t *in = data + 1;
	if (mode & 1) {
		uLongf cap = compressBound((uLong)gz_len) + 32;
		gz = malloc(cap);
		z_stream z = { 0 };
		assert(deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
		z.next_in = (unsigned char *)in;
		z.avail_in = (uInt)gz_len;
		z.next_out = gz;
		z.avail_out = (uInt)cap;
		assert(deflate(&z, Z_FINISH) == Z_STREAM_END);
		gz_len = z.total_out;
		deflateEnd(&z);
		in = gz;
	}
	static const size_t chunks[] = { 1, 13, 4096, 1 << 20 };
	struct src s = { in, gz_len, 0, chunks[(mode >> 1) % 4] };
	uint64_t total = 0, reported = 0;
	cstor_error err = CSTOR_ERROR_INIT;
	int r = cstor_tarsplit_assemble(src_read, &s, open_name, NULL, sink, &total, &reported, &err);
	assert(r <= 0);
	if (r == 0)
		assert(total == reported);
	else
		assert(err.code == -r);
	cstor_error_clear(&err);
	free(gz);
	return 0;
}
