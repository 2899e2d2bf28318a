/* SPDX-License-Identifier: Apache-2.0 */
#include <bzlib.h>
#include <fcntl.h>
#include <lzma.h>
#include <stdint.h>
#include <zlib.h>
#include <zstd.h>

#include "tap.h"

#include "archive/compress.h"
#include "archive/digest.h"
#include "cstor-config.h"
#include "util/error-internal.h"
#include "util/cleanup.h"

/* ---- helpers --------------------------------------------------------------- */

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static void buf_freep(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
#define _cleanup_buf_ _cleanup_(buf_freep)

static int buf_append(struct buf *b, const void *d, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	if (d && n)
		memcpy(b->p + b->len, d, n);
	b->len += n;
	return 0;
}

static int sink_write(void *ctx, const void *d, size_t n)
{
	return buf_append(ctx, d, n);
}

static int failing_write(void *ctx, const void *d, size_t n)
{
	return -ENOSPC;
}

/* An in-memory source that hands out pieces of pseudo-random size, so the
 * decoders see input boundaries everywhere. */
struct src {
	const uint8_t *p;
	size_t len, pos;
	size_t max_chunk; /* 0: as much as asked */
	uint32_t rng;
	size_t fail_at; /* fail with -EIO once pos reaches this; SIZE_MAX: never */
};

static uint32_t xorshift(uint32_t *s)
{
	uint32_t x = *s ? *s : 2463534242u;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

static ssize_t src_read(void *ctx, void *out, size_t n)
{
	struct src *s = ctx;
	if (s->pos >= s->fail_at)
		return -EIO;
	size_t left = s->len - s->pos;
	if (n > left)
		n = left;
	if (s->max_chunk && n > 0) {
		size_t c = 1 + xorshift(&s->rng) % s->max_chunk;
		if (n > c)
			n = c;
	}
	if (s->fail_at != SIZE_MAX && s->pos + n > s->fail_at)
		n = s->fail_at - s->pos;
	memcpy(out, s->p + s->pos, n);
	s->pos += n;
	return (ssize_t)n;
}

/* Half random bytes, half repetitive text: exercises literals and matches. */
static uint8_t *make_data(size_t n, uint32_t seed)
{
	uint8_t *p = malloc(n ? n : 1);
	if (!p)
		return NULL;
	static const char words[] = "layer image container overlay vfs tar whiteout digest ";
	for (size_t i = 0; i < n;) {
		size_t run = 1 + xorshift(&seed) % 4096;
		bool random = xorshift(&seed) & 1;
		for (size_t j = 0; j < run && i < n; j++, i++)
			p[i] = random ? (uint8_t)xorshift(&seed) : (uint8_t)words[i % (sizeof(words) - 1)];
	}
	return p;
}

static int compress_buf(struct buf *out, cstor_compression c, int level, const void *in,
			size_t n)
{
	_cleanup_compressor_ cstor_compressor *z = NULL;
	int r = cstor_compressor_new(&z, c, level, sink_write, out, NULL);
	if (r < 0)
		return r;
	r = cstor_compressor_write(z, in, n, NULL);
	if (r < 0)
		return r;
	return cstor_compressor_finish(z, NULL);
}

static int bzip2_buf(struct buf *out, const void *in, size_t n)
{
	unsigned int cap = (unsigned int)(n + n / 100 + 600);
	size_t base = out->len;
	int r = buf_append(out, NULL, cap);
	if (r < 0)
		return r;
	unsigned int len = cap;
	if (BZ2_bzBuffToBuffCompress((char *)out->p + base, &len, (char *)in, (unsigned)n, 9, 0,
				     0) != BZ_OK)
		return -EIO;
	out->len = base + len;
	return 0;
}

static int xz_buf(struct buf *out, const void *in, size_t n)
{
	size_t cap = lzma_stream_buffer_bound(n);
	size_t base = out->len, pos = 0;
	int r = buf_append(out, NULL, cap);
	if (r < 0)
		return r;
	if (lzma_easy_buffer_encode(1, LZMA_CHECK_CRC64, NULL, in, n, out->p + base, &pos, cap) !=
	    LZMA_OK)
		return -EIO;
	out->len = base + pos;
	return 0;
}

struct run {
	size_t max_chunk; /* source chunking */
	size_t read_len;  /* caller's read size */
	unsigned flags;
};

/* Decompress @in completely; the result code is the first failure. */
static int decompress(const struct run *run, const void *in, size_t n, struct buf *out,
		      cstor_decompress_result *res, cstor_compression *ret_c, cstor_error *err)
{
	struct src s = { in, n, 0, run->max_chunk, 12345, SIZE_MAX };
	_cleanup_decompressor_ cstor_decompressor *d = NULL;
	int r = cstor_decompressor_new(&d, src_read, &s, run->flags, err);
	if (r < 0)
		return r;
	if (ret_c)
		*ret_c = cstor_decompressor_compression(d);
	size_t rl = run->read_len ? run->read_len : 128 * 1024;
	_cleanup_free_ uint8_t *tmp = malloc(rl);
	if (!tmp)
		return -ENOMEM;
	for (;;) {
		ssize_t k = cstor_decompressor_read(d, tmp, rl, err);
		if (k < 0)
			return (int)k;
		if (k == 0)
			break;
		if ((size_t)k > rl)
			return -EOVERFLOW;
		r = buf_append(out, tmp, (size_t)k);
		if (r < 0)
			return r;
	}
	cstor_decompress_result tmpres;
	r = cstor_decompressor_finish(d, res ? res : &tmpres, err);
	if (r < 0)
		return r;
	/* Nothing may be left unread in the source. */
	if (s.pos != s.len)
		return -EPIPE;
	return 0;
}

static const unsigned gzip_engines[] = { 0, CSTOR_DECOMPRESS_FORCE_ZLIB };

/* Decompress with several chunkings and both gzip engines, compare. */
static int check_roundtrip(const void *comp, size_t clen, const void *plain, size_t plen,
			   cstor_compression want)
{
	static const struct run runs[] = {
		{ 0, 0, 0 },
		{ 0, 0, CSTOR_DECOMPRESS_FORCE_ZLIB },
		{ 7, 13, 0 },
		{ 7, 13, CSTOR_DECOMPRESS_FORCE_ZLIB },
		{ 1, 1000, 0 },
		{ 1, 1000, CSTOR_DECOMPRESS_FORCE_ZLIB },
		{ 65536, 1, 0 },
		{ 3000, 70000, 0 },
	};
	for (size_t i = 0; i < ELEMENTSOF(runs); i++) {
		/* One-byte reads of a megabyte take too long under sanitizers
		 * and add nothing over the small cases. */
		if ((runs[i].max_chunk == 1 || runs[i].read_len == 1) && plen > 200000)
			continue;
		_cleanup_buf_ struct buf out = { 0 };
		cstor_error err = CSTOR_ERROR_INIT;
		cstor_compression c = 99;
		cstor_decompress_result res;
		struct run run = runs[i];
		run.flags |= CSTOR_DECOMPRESS_DIGEST_COMPRESSED | CSTOR_DECOMPRESS_DIGEST_UNCOMPRESSED;
		int r = decompress(&run, comp, clen, &out, &res, &c, &err);
		CHECK_MSG(r == 0, "run %zu: %d %s", i, r, cstor_error_message(&err));
		cstor_error_clear(&err);
		CHECK(c == want);
		CHECK_MSG(out.len == plen, "run %zu: %zu != %zu", i, out.len, plen);
		CHECK(plen == 0 || memcmp(out.p, plain, plen) == 0);
		CHECK(res.compressed_size == clen);
		CHECK(res.uncompressed_size == plen);
		char want_c[CSTOR_DIGEST_STRING_MAX], want_u[CSTOR_DIGEST_STRING_MAX];
		CHECK_OK(cstor_digest_buffer(want_c, comp, clen, NULL));
		CHECK_OK(cstor_digest_buffer(want_u, plain, plen, NULL));
		CHECK_STREQ(res.compressed_digest, want_c);
		CHECK_STREQ(res.uncompressed_digest, want_u);
	}
	return TEST_PASS;
}

static int expect_failure(const void *comp, size_t clen, unsigned flags, size_t max_chunk,
			  int want, const char *msg_part)
{
	_cleanup_buf_ struct buf out = { 0 };
	cstor_error err = CSTOR_ERROR_INIT;
	struct run run = { max_chunk, 0, flags };
	int r = decompress(&run, comp, clen, &out, NULL, NULL, &err);
	CHECK_MSG(r == want, "len %zu flags %u: got %d (%s), want %d", clen, flags, r,
		  cstor_error_message(&err), want);
	if (msg_part)
		CHECK_MSG(strstr(cstor_error_message(&err), msg_part), "message \"%s\"",
			  cstor_error_message(&err));
	cstor_error_clear(&err);
	return TEST_PASS;
}

#define EXPECT_FAILURE(...) CHECK(expect_failure(__VA_ARGS__) == TEST_PASS)

/* ---- detection ------------------------------------------------------------- */

static int test_detect(void)
{
	CHECK(cstor_compression_detect("\x1f\x8b\x08", 3) == CSTOR_COMPRESSION_GZIP);
	CHECK(cstor_compression_detect("\x1f\x8b\x07", 3) == CSTOR_COMPRESSION_NONE);
	CHECK(cstor_compression_detect("\x1f\x8b", 2) == CSTOR_COMPRESSION_NONE);
	CHECK(cstor_compression_detect("BZh91AY", 7) == CSTOR_COMPRESSION_BZIP2);
	CHECK(cstor_compression_detect("BZ", 2) == CSTOR_COMPRESSION_NONE);
	CHECK(cstor_compression_detect("\xfd" "7zXZ\0", 6) == CSTOR_COMPRESSION_XZ);
	CHECK(cstor_compression_detect("\xfd" "7zXZ", 5) == CSTOR_COMPRESSION_NONE);
	CHECK(cstor_compression_detect("\xfd" "7zXZ\1", 6) == CSTOR_COMPRESSION_NONE);
	CHECK(cstor_compression_detect("\x28\xb5\x2f\xfd", 4) == CSTOR_COMPRESSION_ZSTD);
	CHECK(cstor_compression_detect("\x28\xb5\x2f", 3) == CSTOR_COMPRESSION_NONE);
	CHECK(cstor_compression_detect("", 0) == CSTOR_COMPRESSION_NONE);
	CHECK(cstor_compression_detect("./etc/", 6) == CSTOR_COMPRESSION_NONE);
	return TEST_PASS;
}

static int test_names(void)
{
	CHECK_STREQ(cstor_compression_name(CSTOR_COMPRESSION_NONE), "none");
	CHECK_STREQ(cstor_compression_name(CSTOR_COMPRESSION_GZIP), "gzip");
	CHECK_STREQ(cstor_compression_name(CSTOR_COMPRESSION_ZSTD), "zstd");
	CHECK_STREQ(cstor_compression_extension(CSTOR_COMPRESSION_NONE), "tar");
	CHECK_STREQ(cstor_compression_extension(CSTOR_COMPRESSION_BZIP2), "tar.bz2");
	CHECK_STREQ(cstor_compression_extension(CSTOR_COMPRESSION_GZIP), "tar.gz");
	CHECK_STREQ(cstor_compression_extension(CSTOR_COMPRESSION_XZ), "tar.xz");
	CHECK_STREQ(cstor_compression_extension(CSTOR_COMPRESSION_ZSTD), "tar.zst");
	CHECK(cstor_compression_name((cstor_compression)9) == NULL);
	/* The numbers are stored in layer records ("compression": 2). */
	CHECK(CSTOR_COMPRESSION_BZIP2 == 1 && CSTOR_COMPRESSION_GZIP == 2 &&
	      CSTOR_COMPRESSION_XZ == 3 && CSTOR_COMPRESSION_ZSTD == 4);
	return TEST_PASS;
}

/* ---- known answers from the command-line tools ----------------------------- */

static const uint8_t hello_gz[] = {
	0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb, 0x48, 0xcd,
	0xc9, 0xc9, 0xe7, 0x02, 0x00, 0x20, 0x30, 0x3a, 0x36, 0x06, 0x00, 0x00, 0x00,
};
static const uint8_t hello_zst[] = {
	0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58, 0x31, 0x00, 0x00, 0x68,
	0x65, 0x6c, 0x6c, 0x6f, 0x0a, 0x53, 0x88, 0xbd, 0x91,
};
static const uint8_t hello_bz2[] = {
	0x42, 0x5a, 0x68, 0x39, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59, 0xc1, 0xc0,
	0x80, 0xe2, 0x00, 0x00, 0x01, 0x41, 0x00, 0x00, 0x10, 0x02, 0x44, 0xa0,
	0x00, 0x30, 0xcd, 0x00, 0xc3, 0x46, 0x29, 0x97, 0x17, 0x72, 0x45, 0x38,
	0x50, 0x90, 0xc1, 0xc0, 0x80, 0xe2,
};
static const uint8_t hello_xz[] = {
	0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x04, 0xe6, 0xd6, 0xb4, 0x46, 0x02, 0x00,
	0x21, 0x01, 0x16, 0x00, 0x00, 0x00, 0x74, 0x2f, 0xe5, 0xa3, 0x01, 0x00, 0x05, 0x68,
	0x65, 0x6c, 0x6c, 0x6f, 0x0a, 0x00, 0x00, 0x00, 0xa5, 0x60, 0x97, 0xf1, 0x94, 0xf6,
	0xfd, 0xe0, 0x00, 0x01, 0x1e, 0x06, 0xc1, 0x2f, 0xa4, 0x1d, 0x1f, 0xb6, 0xf3, 0x7d,
	0x01, 0x00, 0x00, 0x00, 0x00, 0x04, 0x59, 0x5a,
};

static int test_known_answers(void)
{
	CHECK(check_roundtrip(hello_gz, sizeof(hello_gz), "hello\n", 6, CSTOR_COMPRESSION_GZIP) ==
	      TEST_PASS);
	CHECK(check_roundtrip(hello_zst, sizeof(hello_zst), "hello\n", 6,
			      CSTOR_COMPRESSION_ZSTD) == TEST_PASS);
	CHECK(check_roundtrip(hello_bz2, sizeof(hello_bz2), "hello\n", 6,
			      CSTOR_COMPRESSION_BZIP2) == TEST_PASS);
	CHECK(check_roundtrip(hello_xz, sizeof(hello_xz), "hello\n", 6, CSTOR_COMPRESSION_XZ) ==
	      TEST_PASS);
	return TEST_PASS;
}

/* ---- uncompressed ---------------------------------------------------------- */

static int test_none_empty(void)
{
	CHECK(check_roundtrip("", 0, "", 0, CSTOR_COMPRESSION_NONE) == TEST_PASS);
	return TEST_PASS;
}

static int test_none_short(void)
{
	/* Shorter than any magic, and a prefix of one. */
	CHECK(check_roundtrip("\x1f\x8b", 2, "\x1f\x8b", 2, CSTOR_COMPRESSION_NONE) == TEST_PASS);
	CHECK(check_roundtrip("abcdefgh", 8, "abcdefgh", 8, CSTOR_COMPRESSION_NONE) == TEST_PASS);
	return TEST_PASS;
}

static int test_none_large(void)
{
	size_t n = 3 * 1024 * 1024 + 17;
	_cleanup_free_ uint8_t *data = make_data(n, 1);
	CHECK(data);
	data[0] = 'x'; /* not a magic */
	CHECK(check_roundtrip(data, n, data, n, CSTOR_COMPRESSION_NONE) == TEST_PASS);
	return TEST_PASS;
}

static int test_none_single_digest_flag(void)
{
	/* Asking for the compressed digest alone of plain input still gives
	 * the right value, and no uncompressed digest. */
	_cleanup_buf_ struct buf out = { 0 };
	cstor_decompress_result res;
	struct run run = { 0, 0, CSTOR_DECOMPRESS_DIGEST_COMPRESSED };
	CHECK_OK(decompress(&run, "abc", 3, &out, &res, NULL, NULL));
	CHECK_STREQ(res.compressed_digest,
		    "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	CHECK_STREQ(res.uncompressed_digest, "");
	CHECK(res.compressed_size == 3 && res.uncompressed_size == 3);

	run.flags = 0;
	CHECK_OK(decompress(&run, "abc", 3, &out, &res, NULL, NULL));
	CHECK_STREQ(res.compressed_digest, "");
	CHECK_STREQ(res.uncompressed_digest, "");
	return TEST_PASS;
}

/* ---- gzip ------------------------------------------------------------------ */

static int test_gzip_roundtrip(void)
{
	size_t n = 1500 * 1000;
	_cleanup_free_ uint8_t *data = make_data(n, 2);
	_cleanup_buf_ struct buf comp = { 0 };
	CHECK(data);
	CHECK_OK(compress_buf(&comp, CSTOR_COMPRESSION_GZIP, 0, data, n));
	CHECK(check_roundtrip(comp.p, comp.len, data, n, CSTOR_COMPRESSION_GZIP) == TEST_PASS);
	return TEST_PASS;
}

static int test_gzip_small_roundtrip(void)
{
	/* Small enough for the one-byte chunkings to run. */
	size_t n = 50000;
	_cleanup_free_ uint8_t *data = make_data(n, 3);
	_cleanup_buf_ struct buf comp = { 0 };
	CHECK(data);
	CHECK_OK(compress_buf(&comp, CSTOR_COMPRESSION_GZIP, 9, data, n));
	CHECK(check_roundtrip(comp.p, comp.len, data, n, CSTOR_COMPRESSION_GZIP) == TEST_PASS);
	return TEST_PASS;
}

static int test_gzip_empty_payload(void)
{
	_cleanup_buf_ struct buf comp = { 0 };
	CHECK_OK(compress_buf(&comp, CSTOR_COMPRESSION_GZIP, 0, "", 0));
	CHECK(check_roundtrip(comp.p, comp.len, "", 0, CSTOR_COMPRESSION_GZIP) == TEST_PASS);
	return TEST_PASS;
}

static int test_gzip_multi_member(void)
{
	/* Members of assorted sizes, including empty ones, as pigz/pgzip and
	 * `cat a.gz b.gz` produce. */
	size_t n = 400 * 1000;
	_cleanup_free_ uint8_t *data = make_data(n, 4);
	_cleanup_buf_ struct buf comp = { 0 };
	CHECK(data);
	size_t cuts[] = { 0, 1, 1, 1000, 1000, 70000, 200000, 200001, 399999, n };
	for (size_t i = 0; i + 1 < ELEMENTSOF(cuts); i++)
		CHECK_OK(compress_buf(&comp, CSTOR_COMPRESSION_GZIP, 1 + (int)(i % 9),
				      data + cuts[i], cuts[i + 1] - cuts[i]));
	CHECK(check_roundtrip(comp.p, comp.len, data, n, CSTOR_COMPRESSION_GZIP) == TEST_PASS);
	return TEST_PASS;
}

static int test_gzip_many_tiny_members(void)
{
	_cleanup_buf_ struct buf comp = { 0 };
	_cleanup_buf_ struct buf plain = { 0 };
	for (int i = 0; i < 300; i++) {
		char s[32];
		int l = snprintf(s, sizeof(s), "member %d\n", i);
		CHECK_OK(buf_append(&plain, s, (size_t)l));
		CHECK_OK(compress_buf(&comp, CSTOR_COMPRESSION_GZIP, 0, s, (size_t)l));
	}
	CHECK(check_roundtrip(comp.p, comp.len, plain.p, plain.len, CSTOR_COMPRESSION_GZIP) ==
	      TEST_PASS);
	return TEST_PASS;
}

/* A gzip member with FEXTRA, FNAME, FCOMMENT and FHCRC, which isa-l and
 * zlib must both skip. */
static int gzip_with_header(struct buf *out, const void *in, size_t n)
{
	z_stream z = { 0 };
	if (deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -EIO;
	unsigned char extra[] = "XYextra";
	gz_header h = { 0 };
	h.text = 1;
	h.time = 1234567890;
	h.os = 3;
	h.extra = extra;
	h.extra_len = 7;
	h.name = (Bytef *)"layer.tar";
	h.comment = (Bytef *)"a comment";
	h.hcrc = 1;
	deflateSetHeader(&z, &h);
	size_t cap = deflateBound(&z, (uLong)n) + 64, base = out->len;
	if (buf_append(out, NULL, cap) < 0) {
		deflateEnd(&z);
		return -ENOMEM;
	}
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)n;
	z.next_out = out->p + base;
	z.avail_out = (uInt)cap;
	int r = deflate(&z, Z_FINISH);
	out->len = base + (cap - z.avail_out);
	deflateEnd(&z);
	return r == Z_STREAM_END ? 0 : -EIO;
}

static int test_gzip_header_fields(void)
{
	size_t n = 20000;
	_cleanup_free_ uint8_t *data = make_data(n, 5);
	_cleanup_buf_ struct buf comp = { 0 };
	CHECK(data);
	CHECK_OK(gzip_with_header(&comp, data, n / 2));
	CHECK_OK(gzip_with_header(&comp, data + n / 2, n - n / 2));
	CHECK(check_roundtrip(comp.p, comp.len, data, n, CSTOR_COMPRESSION_GZIP) == TEST_PASS);
	return TEST_PASS;
}

static int test_gzip_trailing_garbage(void)
{
	size_t n = 100000;
	_cleanup_free_ uint8_t *data = make_data(n, 6);
	CHECK(data);
	static const struct {
		const char *tail;
		size_t len;
	} tails[] = {
		{ "garbage!", 8 },
		{ "\0\0\0\0\0\0\0\0", 8 },
		{ "\0", 1 },
		{ "\x1f", 1 },       /* a truncated next header */
		{ "\x1f\x8b\x08", 3 },
		{ "\x1f\x8b\x09\0\0\0\0\0\0\0", 10 }, /* bad method */
	};
	for (size_t t = 0; t < ELEMENTSOF(tails); t++) {
		_cleanup_buf_ struct buf comp = { 0 };
		CHECK_OK(compress_buf(&comp, CSTOR_COMPRESSION_GZIP, 0, data, n));
		CHECK_OK(buf_append(&comp, tails[t].tail, tails[t].len));
		for (size_t e = 0; e < ELEMENTSOF(gzip_engines); e++) {
			EXPECT_FAILURE(comp.p, comp.len, gzip_engines[e], 0, -EBADMSG, "gzip");
			EXPECT_FAILURE(comp.p, comp.len, gzip_engines[e], 5, -EBADMSG, "gzip");
		}
	}
	return TEST_PASS;
}

static int test_gzip_truncated(void)
{
	size_t n = 3000;
	_cleanup_free_ uint8_t *data = make_data(n, 7);
	_cleanup_buf_ struct buf comp = { 0 };
	CHECK(data);
	CHECK_OK(compress_buf(&comp, CSTOR_COMPRESSION_GZIP, 0, data, n));
	/* Every cut from the complete magic on, including inside the trailer. */
	for (size_t cut = 3; cut < comp.len; cut++)
		for (size_t e = 0; e < ELEMENTSOF(gzip_engines); e++)
			EXPECT_FAILURE(comp.p, cut, gzip_engines[e], cut % 2 ? 0 : 3, -EBADMSG,
				       NULL);
	return TEST_PASS;
}

static int test_gzip_bad_checksums(void)
{
	size_t n = 5000;
	_cleanup_free_ uint8_t *data = make_data(n, 8);
	_cleanup_buf_ struct buf comp = { 0 };
	CHECK(data);
	CHECK_OK(compress_buf(&comp, CSTOR_COMPRESSION_GZIP, 0, data, n));
	/* CRC-32 (trailer bytes -8..-5), then ISIZE (-4..-1). */
	for (size_t off = 8; off >= 1; off--) {
		comp.p[comp.len - off] ^= 0x40;
		for (size_t e = 0; e < ELEMENTSOF(gzip_engines); e++)
			EXPECT_FAILURE(comp.p, comp.len, gzip_engines[e], 0, -EBADMSG, "checksum");
		comp.p[comp.len - off] ^= 0x40;
	}
	return TEST_PASS;
}

static int test_gzip_corrupt_body(void)
{
	size_t n = 50000;
	_cleanup_free_ uint8_t *data = make_data(n, 9);
	CHECK(data);
	/* Flip bytes across the deflate data; each must fail (bad code or bad
	 * CRC), never pass or hang. */
	for (size_t i = 0; i < 40; i++) {
		_cleanup_buf_ struct buf comp = { 0 };
		CHECK_OK(compress_buf(&comp, CSTOR_COMPRESSION_GZIP, 0, data, n));
		size_t off = 10 + (i * 7919) % (comp.len - 18);
		comp.p[off] ^= (uint8_t)(1u << (i % 8));
		for (size_t e = 0; e < ELEMENTSOF(gzip_engines); e++)
			EXPECT_FAILURE(comp.p, comp.len, gzip_engines[e], 0, -EBADMSG, "gzip");
	}
	return TEST_PASS;
}

static int test_gzip_engine_choice(void)
{
	struct src s = { hello_gz, sizeof(hello_gz), 0, 0, 1, SIZE_MAX };
	_cleanup_decompressor_ cstor_decompressor *d = NULL;
	CHECK_OK(cstor_decompressor_new(&d, src_read, &s, 0, NULL));
	CHECK(cstor_decompressor_uses_isal(d) == (bool)HAVE_ISAL);
	cstor_decompressor_free(d);
	s.pos = 0;
	CHECK_OK(cstor_decompressor_new(&d, src_read, &s, CSTOR_DECOMPRESS_FORCE_ZLIB, NULL));
	CHECK(!cstor_decompressor_uses_isal(d));
	return TEST_PASS;
}

/* ---- zstd ------------------------------------------------------------------ */

static int test_zstd_roundtrip(void)
{
	size_t n = 1500 * 1000;
	_cleanup_free_ uint8_t *data = make_data(n, 10);
	_cleanup_buf_ struct buf comp = { 0 };
	CHECK(data);
	CHECK_OK(compress_buf(&comp, CSTOR_COMPRESSION_ZSTD, 0, data, n));
	/* Content checksum flag in the frame header descriptor. */
	CHECK(comp.len > 5 && (comp.p[4] & 0x04));
	CHECK(check_roundtrip(comp.p, comp.len, data, n, CSTOR_COMPRESSION_ZSTD) == TEST_PASS);
	return TEST_PASS;
}

static int test_zstd_multi_frame(void)
{
	size_t n = 300 * 1000;
	_cleanup_free_ uint8_t *data = make_data(n, 11);
	_cleanup_buf_ struct buf comp = { 0 };
	CHECK(data);
	/* A skippable frame (magic 0x184D2A5?, LE size) between data frames
	 * and at the end is part of a valid stream. */
	static const uint8_t skippable[] = { 0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 'a', 'b', 'c' };
	size_t cuts[] = { 0, 10, 10, 150000, n };
	for (size_t i = 0; i + 1 < ELEMENTSOF(cuts); i++) {
		CHECK_OK(compress_buf(&comp, CSTOR_COMPRESSION_ZSTD, 1 + (int)i, data + cuts[i],
				      cuts[i + 1] - cuts[i]));
		if (i == 1)
			CHECK_OK(buf_append(&comp, skippable, sizeof(skippable)));
	}
	CHECK_OK(buf_append(&comp, skippable, sizeof(skippable)));
	CHECK(check_roundtrip(comp.p, comp.len, data, n, CSTOR_COMPRESSION_ZSTD) == TEST_PASS);
	return TEST_PASS;
}

static int test_zstd_small_chunks(void)
{
	size_t n = 40000;
	_cleanup_free_ uint8_t *data = make_data(n, 12);
	_cleanup_buf_ struct buf comp = { 0 };
	CHECK(data);
	CHECK_OK(compress_buf(&comp, CSTOR_COMPRESSION_ZSTD, 19, data, n));
	CHECK(check_roundtrip(comp.p, comp.len, data, n, CSTOR_COMPRESSION_ZSTD) == TEST_PASS);
	return TEST_PASS;
}

static int test_zstd_trailing_garbage(void)
{
	static const struct {
		const char *tail;
		size_t len;
	} tails[] = { { "garbage!", 8 }, { "\0\0\0\0", 4 }, { "\x28\xb5\x2f\xfd", 4 }, { "x", 1 } };
	for (size_t t = 0; t < ELEMENTSOF(tails); t++) {
		_cleanup_buf_ struct buf comp = { 0 };
		CHECK_OK(compress_buf(&comp, CSTOR_COMPRESSION_ZSTD, 0, "hello hello hello", 17));
		CHECK_OK(buf_append(&comp, tails[t].tail, tails[t].len));
		EXPECT_FAILURE(comp.p, comp.len, 0, 0, -EBADMSG, "zstd");
		EXPECT_FAILURE(comp.p, comp.len, 0, 2, -EBADMSG, "zstd");
	}
	return TEST_PASS;
}

static int test_zstd_truncated(void)
{
	size_t n = 3000;
	_cleanup_free_ uint8_t *data = make_data(n, 13);
	_cleanup_buf_ struct buf comp = { 0 };
	CHECK(data);
	CHECK_OK(compress_buf(&comp, CSTOR_COMPRESSION_ZSTD, 0, data, n));
	for (size_t cut = 4; cut < comp.len; cut++)
		EXPECT_FAILURE(comp.p, cut, 0, cut % 2 ? 0 : 3, -EBADMSG, "zstd");
	return TEST_PASS;
}

static int test_zstd_bad_checksum(void)
{
	_cleanup_buf_ struct buf comp = { 0 };
	CHECK_OK(compress_buf(&comp, CSTOR_COMPRESSION_ZSTD, 0, "hello hello hello", 17));
	comp.p[comp.len - 1] ^= 1;
	EXPECT_FAILURE(comp.p, comp.len, 0, 0, -EBADMSG, "zstd");
	return TEST_PASS;
}

/* ---- bzip2 and xz ---------------------------------------------------------- */

static int test_bzip2_roundtrip_concatenated(void)
{
	size_t n = 200 * 1000;
	_cleanup_free_ uint8_t *data = make_data(n, 14);
	_cleanup_buf_ struct buf comp = { 0 };
	CHECK(data);
	CHECK_OK(bzip2_buf(&comp, data, n / 3));
	CHECK_OK(bzip2_buf(&comp, data + n / 3, n - n / 3));
	CHECK(check_roundtrip(comp.p, comp.len, data, n, CSTOR_COMPRESSION_BZIP2) == TEST_PASS);
	return TEST_PASS;
}

static int test_bzip2_errors(void)
{
	_cleanup_buf_ struct buf comp = { 0 };
	CHECK_OK(bzip2_buf(&comp, "hello hello hello", 17));
	for (size_t cut = 3; cut < comp.len; cut++)
		EXPECT_FAILURE(comp.p, cut, 0, cut % 2 ? 0 : 3, -EBADMSG, "bzip2");
	CHECK_OK(buf_append(&comp, "garbage!", 8));
	EXPECT_FAILURE(comp.p, comp.len, 0, 0, -EBADMSG, "bzip2");
	return TEST_PASS;
}

static int test_xz_roundtrip_concatenated(void)
{
	size_t n = 300 * 1000;
	_cleanup_free_ uint8_t *data = make_data(n, 15);
	_cleanup_buf_ struct buf comp = { 0 };
	CHECK(data);
	CHECK_OK(xz_buf(&comp, data, n / 2));
	/* Stream padding (multiples of four zero bytes) between and after
	 * streams is valid .xz. */
	CHECK_OK(buf_append(&comp, "\0\0\0\0", 4));
	CHECK_OK(xz_buf(&comp, data + n / 2, n - n / 2));
	CHECK_OK(buf_append(&comp, "\0\0\0\0\0\0\0\0", 8));
	CHECK(check_roundtrip(comp.p, comp.len, data, n, CSTOR_COMPRESSION_XZ) == TEST_PASS);
	return TEST_PASS;
}

static int test_xz_errors(void)
{
	_cleanup_buf_ struct buf comp = { 0 };
	CHECK_OK(xz_buf(&comp, "hello hello hello", 17));
	for (size_t cut = 6; cut < comp.len; cut++)
		EXPECT_FAILURE(comp.p, cut, 0, cut % 2 ? 0 : 3, -EBADMSG, "xz");
	size_t good = comp.len;
	CHECK_OK(buf_append(&comp, "\0\0\0", 3)); /* padding not a multiple of 4 */
	EXPECT_FAILURE(comp.p, comp.len, 0, 0, -EBADMSG, "xz");
	comp.len = good;
	CHECK_OK(buf_append(&comp, "garbage!", 8));
	EXPECT_FAILURE(comp.p, comp.len, 0, 0, -EBADMSG, "xz");
	return TEST_PASS;
}

/* ---- reader behaviour ------------------------------------------------------ */

static int test_finish_drains(void)
{
	size_t n = 700 * 1000;
	_cleanup_free_ uint8_t *data = make_data(n, 16);
	_cleanup_buf_ struct buf comp = { 0 };
	CHECK(data);
	CHECK_OK(compress_buf(&comp, CSTOR_COMPRESSION_ZSTD, 0, data, n));
	struct src s = { comp.p, comp.len, 0, 0, 1, SIZE_MAX };
	_cleanup_decompressor_ cstor_decompressor *d = NULL;
	CHECK_OK(cstor_decompressor_new(&d, src_read, &s,
					CSTOR_DECOMPRESS_DIGEST_COMPRESSED |
						CSTOR_DECOMPRESS_DIGEST_UNCOMPRESSED,
					NULL));
	uint8_t tmp[1000];
	CHECK(cstor_decompressor_read(d, tmp, sizeof(tmp), NULL) > 0);
	cstor_decompress_result res;
	CHECK_OK(cstor_decompressor_finish(d, &res, NULL));
	CHECK(res.uncompressed_size == n);
	CHECK(res.compressed_size == comp.len);
	char want[CSTOR_DIGEST_STRING_MAX];
	CHECK_OK(cstor_digest_buffer(want, data, n, NULL));
	CHECK_STREQ(res.uncompressed_digest, want);
	/* Reads after the end keep returning 0. */
	CHECK(cstor_decompressor_read(d, tmp, sizeof(tmp), NULL) == 0);
	return TEST_PASS;
}

static int test_source_error_is_sticky(void)
{
	size_t n = 600 * 1000;
	_cleanup_free_ uint8_t *data = make_data(n, 17);
	_cleanup_buf_ struct buf comp = { 0 };
	CHECK(data);
	CHECK_OK(compress_buf(&comp, CSTOR_COMPRESSION_GZIP, 0, data, n));
	for (size_t e = 0; e < ELEMENTSOF(gzip_engines); e++) {
		struct src s = { comp.p, comp.len, 0, 0, 1, comp.len / 2 };
		_cleanup_decompressor_ cstor_decompressor *d = NULL;
		cstor_error err = CSTOR_ERROR_INIT;
		CHECK_OK(cstor_decompressor_new(&d, src_read, &s, gzip_engines[e], NULL));
		_cleanup_free_ uint8_t *tmp = malloc(65536);
		CHECK(tmp);
		ssize_t r;
		while ((r = cstor_decompressor_read(d, tmp, 65536, &err)) > 0)
			;
		CHECK(r == -EIO);
		CHECK_STREQ(cstor_error_message(&err), "reading layer data: Input/output error");
		cstor_error_clear(&err);
		CHECK(cstor_decompressor_read(d, tmp, 65536, &err) == -EIO);
		cstor_decompress_result res;
		CHECK(cstor_decompressor_finish(d, &res, &err) == -EIO);
		cstor_error_clear(&err);
	}
	return TEST_PASS;
}

static int test_source_error_at_start(void)
{
	struct src s = { hello_gz, sizeof(hello_gz), 0, 0, 1, 0 };
	cstor_decompressor *d = NULL;
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK(cstor_decompressor_new(&d, src_read, &s, 0, &err) == -EIO);
	CHECK(d == NULL);
	cstor_error_clear(&err);
	return TEST_PASS;
}

static int test_decompressor_bad_args(void)
{
	cstor_decompressor *d = NULL;
	struct src s = { hello_gz, sizeof(hello_gz), 0, 0, 1, SIZE_MAX };
	CHECK(cstor_decompressor_new(&d, src_read, &s, 1u << 20, NULL) == -EINVAL);
	CHECK(cstor_decompressor_new(&d, NULL, &s, 0, NULL) == -EINVAL);
	CHECK(d == NULL);
	cstor_decompressor_free(NULL);
	return TEST_PASS;
}

static int test_fd_callbacks(void)
{
	int p[2];
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	_cleanup_close_ int rfd = p[0];
	_cleanup_close_ int wfd = p[1];
	CHECK_OK(cstor_fd_write(&wfd, hello_zst, sizeof(hello_zst)));
	closep(&wfd);
	_cleanup_decompressor_ cstor_decompressor *d = NULL;
	CHECK_OK(cstor_decompressor_new(&d, cstor_fd_read, &rfd, 0, NULL));
	char out[64];
	CHECK(cstor_decompressor_read(d, out, sizeof(out), NULL) == 6);
	CHECK(memcmp(out, "hello\n", 6) == 0);
	CHECK(cstor_decompressor_read(d, out, sizeof(out), NULL) == 0);
	int bad = -1;
	CHECK(cstor_fd_read(&bad, out, 1) == -EBADF);
	CHECK(cstor_fd_write(&bad, out, 1) == -EBADF);
	return TEST_PASS;
}

/* ---- compressor ------------------------------------------------------------ */

static int test_compress_levels_and_chunks(void)
{
	size_t n = 900 * 1000;
	_cleanup_free_ uint8_t *data = make_data(n, 18);
	CHECK(data);
	static const struct {
		cstor_compression c;
		int level;
	} cases[] = {
		{ CSTOR_COMPRESSION_GZIP, 0 }, { CSTOR_COMPRESSION_GZIP, 1 },
		{ CSTOR_COMPRESSION_GZIP, 9 }, { CSTOR_COMPRESSION_ZSTD, 0 },
		{ CSTOR_COMPRESSION_ZSTD, 1 }, { CSTOR_COMPRESSION_ZSTD, -5 },
		{ CSTOR_COMPRESSION_NONE, 0 },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_buf_ struct buf comp = { 0 };
		_cleanup_compressor_ cstor_compressor *z = NULL;
		CHECK_OK(cstor_compressor_new(&z, cases[i].c, cases[i].level, sink_write, &comp,
					      NULL));
		/* Writes of every size, including empty ones. */
		uint32_t rng = 99;
		for (size_t pos = 0; pos < n;) {
			size_t k = xorshift(&rng) % 70000;
			if (k > n - pos)
				k = n - pos;
			CHECK_OK(cstor_compressor_write(z, data + pos, k, NULL));
			pos += k;
		}
		CHECK_OK(cstor_compressor_finish(z, NULL));
		if (cases[i].c != CSTOR_COMPRESSION_NONE)
			CHECK(comp.len < n);
		CHECK(check_roundtrip(comp.p, comp.len, data, n, cases[i].c) == TEST_PASS);
	}
	return TEST_PASS;
}

static int test_compress_unsupported(void)
{
	cstor_compressor *z = NULL;
	cstor_error err = CSTOR_ERROR_INIT;
	struct buf b = { 0 };
	CHECK(cstor_compressor_new(&z, CSTOR_COMPRESSION_BZIP2, 0, sink_write, &b, &err) ==
	      -ENOTSUP);
	CHECK_STREQ(cstor_error_message(&err), "bzip2 compression is not supported");
	CHECK(cstor_compressor_new(&z, CSTOR_COMPRESSION_XZ, 0, sink_write, &b, &err) == -ENOTSUP);
	CHECK(cstor_compressor_new(&z, (cstor_compression)7, 0, sink_write, &b, &err) == -EINVAL);
	CHECK(cstor_compressor_new(&z, CSTOR_COMPRESSION_GZIP, 10, sink_write, &b, &err) ==
	      -EINVAL);
	CHECK(cstor_compressor_new(&z, CSTOR_COMPRESSION_GZIP, -1, sink_write, &b, &err) ==
	      -EINVAL);
	CHECK(cstor_compressor_new(&z, CSTOR_COMPRESSION_ZSTD, 1000, sink_write, &b, &err) ==
	      -EINVAL);
	CHECK(cstor_compressor_new(&z, CSTOR_COMPRESSION_ZSTD, 0, NULL, &b, &err) == -EINVAL);
	CHECK(z == NULL);
	cstor_error_clear(&err);
	cstor_compressor_free(NULL);
	return TEST_PASS;
}

static int test_compress_misuse(void)
{
	static const cstor_compression cs[] = { CSTOR_COMPRESSION_GZIP, CSTOR_COMPRESSION_ZSTD,
						CSTOR_COMPRESSION_NONE };
	for (size_t i = 0; i < ELEMENTSOF(cs); i++) {
		_cleanup_buf_ struct buf b = { 0 };
		_cleanup_compressor_ cstor_compressor *z = NULL;
		CHECK_OK(cstor_compressor_new(&z, cs[i], 0, sink_write, &b, NULL));
		CHECK_OK(cstor_compressor_write(z, "abc", 3, NULL));
		CHECK_OK(cstor_compressor_finish(z, NULL));
		CHECK(cstor_compressor_finish(z, NULL) == -EINVAL);
		CHECK(cstor_compressor_write(z, "abc", 3, NULL) == -EINVAL);
		CHECK(check_roundtrip(b.p, b.len, "abc", 3, cs[i]) == TEST_PASS);
	}
	return TEST_PASS;
}

static int test_compress_sink_error(void)
{
	size_t n = 2 * 1024 * 1024;
	_cleanup_free_ uint8_t *data = make_data(n, 19);
	CHECK(data);
	static const struct {
		cstor_compression c;
		int level;
	} cases[] = { { CSTOR_COMPRESSION_GZIP, 6 },
		      { CSTOR_COMPRESSION_GZIP, 1 },
		      { CSTOR_COMPRESSION_ZSTD, 1 },
		      { CSTOR_COMPRESSION_NONE, 0 } };
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_compressor_ cstor_compressor *z = NULL;
		cstor_error err = CSTOR_ERROR_INIT;
		CHECK_OK(cstor_compressor_new(&z, cases[i].c, cases[i].level, failing_write, NULL,
					      NULL));
		int r = cstor_compressor_write(z, data, n, &err);
		if (r == 0)
			r = cstor_compressor_finish(z, &err);
		CHECK_MSG(r == -ENOSPC, "case %zu: %d", i, r);
		CHECK(strstr(cstor_error_message(&err), "No space left"));
		CHECK(cstor_compressor_write(z, "x", 1, &err) == -ENOSPC);
		CHECK(cstor_compressor_finish(z, &err) == -ENOSPC);
		cstor_error_clear(&err);
	}
	return TEST_PASS;
}

TAP_MAIN(TEST(test_detect), TEST(test_names), TEST(test_known_answers), TEST(test_none_empty),
	 TEST(test_none_short), TEST(test_none_large), TEST(test_none_single_digest_flag),
	 TEST(test_gzip_roundtrip), TEST(test_gzip_small_roundtrip), TEST(test_gzip_empty_payload),
	 TEST(test_gzip_multi_member), TEST(test_gzip_many_tiny_members),
	 TEST(test_gzip_header_fields), TEST(test_gzip_trailing_garbage),
	 TEST(test_gzip_truncated), TEST(test_gzip_bad_checksums), TEST(test_gzip_corrupt_body),
	 TEST(test_gzip_engine_choice), TEST(test_zstd_roundtrip), TEST(test_zstd_multi_frame),
	 TEST(test_zstd_small_chunks), TEST(test_zstd_trailing_garbage),
	 TEST(test_zstd_truncated), TEST(test_zstd_bad_checksum),
	 TEST(test_bzip2_roundtrip_concatenated), TEST(test_bzip2_errors),
	 TEST(test_xz_roundtrip_concatenated), TEST(test_xz_errors), TEST(test_finish_drains),
	 TEST(test_source_error_is_sticky), TEST(test_source_error_at_start),
	 TEST(test_decompressor_bad_args), TEST(test_fd_callbacks),
	 TEST(test_compress_levels_and_chunks), TEST(test_compress_unsupported),
	 TEST(test_compress_misuse), TEST(test_compress_sink_error))
