/* SPDX-License-Identifier: Apache-2.0 */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bzlib.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include "cstor-config.h"
#if HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif

#include "archive/compress.h"
#include "util/error-internal.h"
#include "util/cleanup.h"

/* Input is pulled in chunks of this size: large enough that per-call costs
 * (syscalls, decoder entry) vanish, small enough to stay in L2. */
#define IN_BUF_SIZE (256 * 1024)
#define OUT_BUF_SIZE (256 * 1024)

/* isa-l prefetches up to 8 bytes past the end of a gzip member into its bit
 * buffer; on a member boundary we step back over them, so a refill keeps
 * this many already-consumed bytes in front of the new data. */
#define IN_HISTORY 16

/* The decoders' counters are 32-bit. */
#define MAX_CHUNK ((size_t)1 << 30)

ssize_t cstor_fd_read(void *ctx, void *buf, size_t len)
{
	int fd = *(int *)ctx;
	for (;;) {
		ssize_t n = read(fd, buf, len);
		if (n >= 0)
			return n;
		if (errno != EINTR)
			return negative_errno();
	}
}

int cstor_fd_write(void *ctx, const void *buf, size_t len)
{
	int fd = *(int *)ctx;
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

cstor_compression cstor_compression_detect(const void *buf, size_t len)
{
	static const struct {
		cstor_compression c;
		unsigned char magic[CSTOR_COMPRESSION_MAGIC_MAX];
		size_t len;
	} magics[] = {
		{ CSTOR_COMPRESSION_BZIP2, { 0x42, 0x5a, 0x68 }, 3 },
		{ CSTOR_COMPRESSION_GZIP, { 0x1f, 0x8b, 0x08 }, 3 },
		{ CSTOR_COMPRESSION_XZ, { 0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00 }, 6 },
		{ CSTOR_COMPRESSION_ZSTD, { 0x28, 0xb5, 0x2f, 0xfd }, 4 },
	};
	for (size_t i = 0; i < ELEMENTSOF(magics); i++)
		if (len >= magics[i].len && memcmp(buf, magics[i].magic, magics[i].len) == 0)
			return magics[i].c;
	return CSTOR_COMPRESSION_NONE;
}

const char *cstor_compression_name(cstor_compression c)
{
	switch (c) {
	case CSTOR_COMPRESSION_NONE:
		return "none";
	case CSTOR_COMPRESSION_BZIP2:
		return "bzip2";
	case CSTOR_COMPRESSION_GZIP:
		return "gzip";
	case CSTOR_COMPRESSION_XZ:
		return "xz";
	case CSTOR_COMPRESSION_ZSTD:
		return "zstd";
	}
	return NULL;
}

const char *cstor_compression_extension(cstor_compression c)
{
	switch (c) {
	case CSTOR_COMPRESSION_NONE:
		return "tar";
	case CSTOR_COMPRESSION_BZIP2:
		return "tar.bz2";
	case CSTOR_COMPRESSION_GZIP:
		return "tar.gz";
	case CSTOR_COMPRESSION_XZ:
		return "tar.xz";
	case CSTOR_COMPRESSION_ZSTD:
		return "tar.zst";
	}
	return NULL;
}

/* ---- Decompression --------------------------------------------------------- */

enum gzip_engine {
	ENGINE_ZLIB,
	ENGINE_ISAL,
};

struct cstor_decompressor {
	cstor_read_fn read;
	void *ctx;
	cstor_compression compression;
	enum gzip_engine engine;

	uint8_t *in;      /* IN_BUF_SIZE bytes */
	size_t in_pos;    /* next byte for the decoder */
	size_t in_end;    /* end of valid data */
	bool in_eof;      /* the read callback returned 0 */
	uint64_t in_total;

	bool hash_input;  /* digest input bytes as they arrive */
	bool hash_output; /* digest output bytes as they are produced */
	bool want_compressed_digest;
	bool want_uncompressed_digest;
	cstor_digester in_digest;
	cstor_digester out_digest;
	uint64_t out_total;

	bool member_done; /* gzip/bzip2: the current member ended cleanly */
	bool member_start; /* isa-l: the next byte starts a gzip member */
	bool finished;    /* the decoder reported the end of all input */
	size_t zstd_hint; /* last ZSTD_decompressStream() result, 0 at a frame end */
	int failed;       /* sticky negative errno */

	union {
		z_stream z;
		bz_stream bz;
		lzma_stream xz;
		ZSTD_DCtx *zstd;
	};
	bool decoder_live; /* the union member needs its end function */
#if HAVE_ISAL
	struct inflate_state *isal;
#endif
};

bool cstor_decompressor_uses_isal(const cstor_decompressor *d)
{
	return d->compression == CSTOR_COMPRESSION_GZIP && d->engine == ENGINE_ISAL;
}

cstor_compression cstor_decompressor_compression(const cstor_decompressor *d)
{
	return d->compression;
}

static void decoder_end(cstor_decompressor *d)
{
	if (!d->decoder_live)
		return;
	switch (d->compression) {
	case CSTOR_COMPRESSION_GZIP:
		inflateEnd(&d->z);
		break;
	case CSTOR_COMPRESSION_BZIP2:
		BZ2_bzDecompressEnd(&d->bz);
		break;
	case CSTOR_COMPRESSION_XZ:
		lzma_end(&d->xz);
		break;
	case CSTOR_COMPRESSION_ZSTD:
		ZSTD_freeDCtx(d->zstd);
		break;
	case CSTOR_COMPRESSION_NONE:
		break;
	}
	d->decoder_live = false;
}

void cstor_decompressor_free(cstor_decompressor *d)
{
	if (!d)
		return;
	int saved = errno;
	decoder_end(d);
#if HAVE_ISAL
	free(d->isal);
#endif
	cstor_digester_done(&d->in_digest);
	cstor_digester_done(&d->out_digest);
	free(d->in);
	free(d);
	errno = saved;
}

static int fail(cstor_decompressor *d, cstor_error *err, int code, const char *fmt, ...)
	_printf_(4, 5);
static int fail(cstor_decompressor *d, cstor_error *err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = cstor_error_setv(err, code, fmt, ap);
	va_end(ap);
	d->failed = r;
	return r;
}

/* Pull more input after what is buffered. Returns bytes added, 0 at EOF. */
static ssize_t refill(cstor_decompressor *d, cstor_error *err)
{
	if (d->in_eof)
		return 0;
	size_t keep = MIN(d->in_pos, (size_t)IN_HISTORY);
	if (d->in_pos > keep) {
		size_t drop = d->in_pos - keep;
		memmove(d->in, d->in + drop, d->in_end - drop);
		d->in_pos -= drop;
		d->in_end -= drop;
	}
	assert(d->in_end < IN_BUF_SIZE);

	ssize_t n = d->read(d->ctx, d->in + d->in_end, IN_BUF_SIZE - d->in_end);
	if (n < 0)
		return fail(d, err, (int)n, "reading layer data: %s", strerror((int)-n));
	if ((size_t)n > IN_BUF_SIZE - d->in_end)
		return fail(d, err, EIO, "read callback returned more than asked for");
	if (n == 0) {
		d->in_eof = true;
		return 0;
	}
	if (d->hash_input)
		cstor_digester_update(&d->in_digest, d->in + d->in_end, (size_t)n);
	d->in_end += (size_t)n;
	d->in_total += (uint64_t)n;
	return n;
}

static int truncated(cstor_decompressor *d, cstor_error *err)
{
	return fail(d, err, EBADMSG, "%s: unexpected EOF", cstor_compression_name(d->compression));
}

static int init_decoder(cstor_decompressor *d, cstor_error *err)
{
	switch (d->compression) {
	case CSTOR_COMPRESSION_NONE:
		return 0;
	case CSTOR_COMPRESSION_GZIP:
#if HAVE_ISAL
		if (d->engine == ENGINE_ISAL) {
			d->isal = malloc(sizeof(*d->isal));
			if (!d->isal)
				return cstor_error_set(err, ENOMEM, "allocating gzip state");
			isal_inflate_init(d->isal);
			d->isal->crc_flag = ISAL_GZIP;
			d->member_start = true;
			return 0;
		}
#endif
		/* 16 + 15: gzip wrapper only, full window. */
		if (inflateInit2(&d->z, 16 + MAX_WBITS) != Z_OK)
			return cstor_error_set(err, ENOMEM, "initialising zlib");
		break;
	case CSTOR_COMPRESSION_BZIP2:
		if (BZ2_bzDecompressInit(&d->bz, 0, 0) != BZ_OK)
			return cstor_error_set(err, ENOMEM, "initialising bzip2");
		break;
	case CSTOR_COMPRESSION_XZ: {
		/* CONCATENATED: accept several .xz streams and stream padding,
		 * as Go's xz reader does by default. */
		d->xz = (lzma_stream)LZMA_STREAM_INIT;
		lzma_ret r = lzma_stream_decoder(&d->xz, UINT64_MAX, LZMA_CONCATENATED);
		if (r != LZMA_OK)
			return cstor_error_set(err, r == LZMA_MEM_ERROR ? ENOMEM : EIO,
					       "initialising xz decoder (%d)", (int)r);
		break;
	}
	case CSTOR_COMPRESSION_ZSTD:
		d->zstd = ZSTD_createDCtx();
		if (!d->zstd)
			return cstor_error_set(err, ENOMEM, "initialising zstd");
		/* Go's decoder (klauspost) accepts windows up to 512 MiB; libzstd
		 * stops at 128 MiB unless told otherwise. */
		(void)ZSTD_DCtx_setParameter(d->zstd, ZSTD_d_windowLogMax, 29);
		d->zstd_hint = 1;
		break;
	}
	d->decoder_live = true;
	return 0;
}

int cstor_decompressor_new(cstor_decompressor **ret, cstor_read_fn read, void *ctx,
			   unsigned flags, cstor_error *err)
{
	if (!ret || !read || (flags & ~(CSTOR_DECOMPRESS_DIGEST_COMPRESSED |
					CSTOR_DECOMPRESS_DIGEST_UNCOMPRESSED |
					CSTOR_DECOMPRESS_FORCE_ZLIB)))
		return cstor_error_set(err, EINVAL, "invalid decompressor arguments");

	_cleanup_decompressor_ cstor_decompressor *d = calloc(1, sizeof(*d));
	if (!d)
		return cstor_error_set(err, ENOMEM, "allocating decompressor");
	d->read = read;
	d->ctx = ctx;
	d->in = malloc(IN_BUF_SIZE);
	if (!d->in)
		return cstor_error_set(err, ENOMEM, "allocating decompressor buffer");
	d->want_compressed_digest = flags & CSTOR_DECOMPRESS_DIGEST_COMPRESSED;
	d->want_uncompressed_digest = flags & CSTOR_DECOMPRESS_DIGEST_UNCOMPRESSED;
	d->engine = (HAVE_ISAL && !(flags & CSTOR_DECOMPRESS_FORCE_ZLIB)) ? ENGINE_ISAL : ENGINE_ZLIB;

	/* Go sniffs one read of up to 10240 bytes; reading until the longest
	 * magic is complete also copes with a pipe that trickles. */
	while (d->in_end < CSTOR_COMPRESSION_MAGIC_MAX) {
		ssize_t n = refill(d, err);
		if (n < 0)
			return (int)n;
		if (n == 0)
			break;
	}
	d->compression = cstor_compression_detect(d->in, d->in_end);

	if (d->compression == CSTOR_COMPRESSION_NONE) {
		/* Input and output are the same bytes: hash them once. */
		d->hash_output = d->want_compressed_digest || d->want_uncompressed_digest;
	} else {
		d->hash_input = d->want_compressed_digest;
		d->hash_output = d->want_uncompressed_digest;
	}
	int r;
	if (d->hash_input) {
		r = cstor_digester_init(&d->in_digest, CSTOR_DIGEST_SHA256, err);
		if (r < 0)
			return r;
		cstor_digester_update(&d->in_digest, d->in, d->in_end);
	}
	if (d->hash_output) {
		r = cstor_digester_init(&d->out_digest, CSTOR_DIGEST_SHA256, err);
		if (r < 0)
			return r;
	}
	r = init_decoder(d, err);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(d);
	return 0;
}

static ssize_t read_none(cstor_decompressor *d, uint8_t *buf, size_t len, cstor_error *err)
{
	/* Only the sniffed bytes pass through our buffer; the rest is read
	 * straight into the caller's. */
	if (d->in_pos < d->in_end) {
		size_t n = MIN(len, d->in_end - d->in_pos);
		memcpy(buf, d->in + d->in_pos, n);
		d->in_pos += n;
		return (ssize_t)n;
	}
	if (d->in_eof)
		return 0;
	ssize_t n = d->read(d->ctx, buf, len);
	if (n < 0)
		return fail(d, err, (int)n, "reading layer data: %s", strerror((int)-n));
	if ((size_t)n > len)
		return fail(d, err, EIO, "read callback returned more than asked for");
	if (n == 0)
		d->in_eof = true;
	d->in_total += (uint64_t)n;
	return n;
}

/* Go's wording, which users of c/storage know from its error messages. */
static const char *zlib_message(const char *msg)
{
	if (!msg)
		return "corrupt input";
	if (strstr(msg, "header") || strstr(msg, "unknown compression method"))
		return "invalid header";
	if (strstr(msg, "data check") || strstr(msg, "length check"))
		return "invalid checksum";
	return msg;
}

static ssize_t read_zlib(cstor_decompressor *d, uint8_t *buf, size_t len, cstor_error *err)
{
	size_t produced = 0;
	for (;;) {
		if (d->member_done) {
			/* Another member may follow (Go reads multistream by
			 * default); anything else after a member is an error. */
			if (d->in_pos == d->in_end) {
				ssize_t n = refill(d, err);
				if (n < 0)
					return n;
				if (n == 0) {
					d->finished = true;
					return (ssize_t)produced;
				}
			}
			if (inflateReset(&d->z) != Z_OK)
				return fail(d, err, EIO, "gzip: resetting zlib");
			d->member_done = false;
		}
		d->z.next_in = d->in + d->in_pos;
		d->z.avail_in = (uInt)(d->in_end - d->in_pos);
		d->z.next_out = buf + produced;
		d->z.avail_out = (uInt)(len - produced);
		int r = inflate(&d->z, Z_NO_FLUSH);
		d->in_pos = d->in_end - d->z.avail_in;
		produced = len - d->z.avail_out;
		switch (r) {
		case Z_STREAM_END:
			d->member_done = true;
			if (produced == len)
				return (ssize_t)produced;
			continue;
		case Z_OK:
		case Z_BUF_ERROR:
			break;
		case Z_DATA_ERROR:
			return fail(d, err, EBADMSG, "gzip: %s", zlib_message(d->z.msg));
		case Z_MEM_ERROR:
			return fail(d, err, ENOMEM, "gzip: out of memory");
		default:
			return fail(d, err, EBADMSG, "gzip: inflate error %d", r);
		}
		if (produced > 0)
			return (ssize_t)produced;
		if (d->in_pos == d->in_end) {
			ssize_t n = refill(d, err);
			if (n < 0)
				return n;
			if (n == 0)
				return truncated(d, err);
		}
	}
}

#if HAVE_ISAL
/*
 * isa-l 2.30 rejects a valid header CRC (FHCRC) when the header reaches it in
 * more than one piece. Nobody writes FHCRC in practice (gzip(1) and Go do
 * not), so rather than buffer whole headers we hand such a stream to zlib
 * from this member on; member boundaries are clean switch points.
 */
static int isal_check_header(cstor_decompressor *d, cstor_error *err)
{
	while (d->in_end - d->in_pos < 4) {
		ssize_t n = refill(d, err);
		if (n < 0)
			return (int)n;
		if (n == 0)
			break; /* isa-l reports the truncation */
	}
	d->member_start = false;
	if (d->in_end - d->in_pos < 4 || !(d->in[d->in_pos + 3] & 0x02))
		return 0;
	if (inflateInit2(&d->z, 16 + MAX_WBITS) != Z_OK)
		return fail(d, err, ENOMEM, "initialising zlib");
	d->decoder_live = true;
	d->engine = ENGINE_ZLIB;
	return 0;
}

static const char *isal_strerror(int r)
{
	switch (r) {
	case ISAL_INVALID_WRAPPER:
		return "invalid header";
	case ISAL_UNSUPPORTED_METHOD:
		return "unsupported compression method";
	case ISAL_INCORRECT_CHECKSUM:
		return "invalid checksum";
	case ISAL_INVALID_BLOCK:
	case ISAL_INVALID_SYMBOL:
	case ISAL_INVALID_LOOKBACK:
		return "corrupt deflate data";
	default:
		return "inflate error";
	}
}

static ssize_t read_isal(cstor_decompressor *d, uint8_t *buf, size_t len, cstor_error *err)
{
	struct inflate_state *s = d->isal;
	size_t produced = 0;
	for (;;) {
		if (d->member_done) {
			if (d->in_pos == d->in_end) {
				ssize_t n = refill(d, err);
				if (n < 0)
					return n;
				if (n == 0) {
					d->finished = true;
					return (ssize_t)produced;
				}
			}
			isal_inflate_reset(s);
			s->crc_flag = ISAL_GZIP;
			d->member_done = false;
			d->member_start = true;
		}
		if (d->member_start) {
			int r = isal_check_header(d, err);
			if (r < 0)
				return r;
			if (d->engine == ENGINE_ZLIB) {
				ssize_t n = read_zlib(d, buf + produced, len - produced, err);
				return n < 0 ? n : (ssize_t)produced + n;
			}
		}
		s->next_in = d->in + d->in_pos;
		s->avail_in = (uint32_t)(d->in_end - d->in_pos);
		s->next_out = buf + produced;
		s->avail_out = (uint32_t)(len - produced);
		int r = isal_inflate(s);
		d->in_pos = d->in_end - s->avail_in;
		produced = len - s->avail_out;
		if (r < 0)
			return fail(d, err, EBADMSG, "gzip: %s", isal_strerror(r));
		if (s->block_state == ISAL_BLOCK_FINISH) {
			/* The bytes isa-l pulled into its bit buffer beyond the
			 * trailer belong to whatever follows the member. */
			size_t back = (size_t)s->read_in_length / 8;
			if (back > d->in_pos || s->tmp_in_size != 0)
				return fail(d, err, EIO, "gzip: lost track of member boundary");
			d->in_pos -= back;
			d->member_done = true;
			if (produced == len)
				return (ssize_t)produced;
			continue;
		}
		if (produced > 0)
			return (ssize_t)produced;
		if (d->in_pos == d->in_end) {
			ssize_t n = refill(d, err);
			if (n < 0)
				return n;
			if (n == 0)
				return truncated(d, err);
		}
	}
}
#endif

static ssize_t read_bzip2(cstor_decompressor *d, uint8_t *buf, size_t len, cstor_error *err)
{
	size_t produced = 0;
	for (;;) {
		if (d->member_done) {
			/* Concatenated streams (pbzip2 output) are read on, as
			 * Go's compress/bzip2 does. */
			if (d->in_pos == d->in_end) {
				ssize_t n = refill(d, err);
				if (n < 0)
					return n;
				if (n == 0) {
					d->finished = true;
					return (ssize_t)produced;
				}
			}
			BZ2_bzDecompressEnd(&d->bz);
			memset(&d->bz, 0, sizeof(d->bz));
			if (BZ2_bzDecompressInit(&d->bz, 0, 0) != BZ_OK) {
				d->decoder_live = false;
				return fail(d, err, ENOMEM, "initialising bzip2");
			}
			d->member_done = false;
		}
		d->bz.next_in = (char *)d->in + d->in_pos;
		d->bz.avail_in = (unsigned)(d->in_end - d->in_pos);
		d->bz.next_out = (char *)buf + produced;
		d->bz.avail_out = (unsigned)(len - produced);
		int r = BZ2_bzDecompress(&d->bz);
		d->in_pos = d->in_end - d->bz.avail_in;
		produced = len - d->bz.avail_out;
		switch (r) {
		case BZ_STREAM_END:
			d->member_done = true;
			if (produced == len)
				return (ssize_t)produced;
			continue;
		case BZ_OK:
			break;
		case BZ_DATA_ERROR_MAGIC:
			return fail(d, err, EBADMSG, "bzip2: bad magic value");
		case BZ_MEM_ERROR:
			return fail(d, err, ENOMEM, "bzip2: out of memory");
		default:
			return fail(d, err, EBADMSG, "bzip2: corrupt input (%d)", r);
		}
		if (produced > 0)
			return (ssize_t)produced;
		if (d->in_pos == d->in_end) {
			ssize_t n = refill(d, err);
			if (n < 0)
				return n;
			if (n == 0)
				return truncated(d, err);
		}
	}
}

static ssize_t read_xz(cstor_decompressor *d, uint8_t *buf, size_t len, cstor_error *err)
{
	size_t produced = 0;
	for (;;) {
		d->xz.next_in = d->in + d->in_pos;
		d->xz.avail_in = d->in_end - d->in_pos;
		d->xz.next_out = buf + produced;
		d->xz.avail_out = len - produced;
		/* With LZMA_CONCATENATED only FINISH tells the decoder that no
		 * further stream follows. */
		lzma_ret r = lzma_code(&d->xz, d->in_eof ? LZMA_FINISH : LZMA_RUN);
		d->in_pos = d->in_end - d->xz.avail_in;
		produced = len - d->xz.avail_out;
		switch (r) {
		case LZMA_STREAM_END:
			d->finished = true;
			return (ssize_t)produced;
		case LZMA_OK:
			break;
		case LZMA_BUF_ERROR:
			if (d->in_eof)
				return truncated(d, err);
			break;
		case LZMA_MEM_ERROR:
			return fail(d, err, ENOMEM, "xz: out of memory");
		case LZMA_FORMAT_ERROR:
			return fail(d, err, EBADMSG, "xz: invalid header");
		case LZMA_DATA_ERROR:
			return fail(d, err, EBADMSG, "xz: corrupt input");
		default:
			return fail(d, err, EBADMSG, "xz: decoder error %d", (int)r);
		}
		if (produced > 0)
			return (ssize_t)produced;
		if (d->in_pos == d->in_end && !d->in_eof) {
			ssize_t n = refill(d, err);
			if (n < 0)
				return n;
		}
	}
}

static ssize_t read_zstd(cstor_decompressor *d, uint8_t *buf, size_t len, cstor_error *err)
{
	ZSTD_outBuffer out = { buf, len, 0 };
	for (;;) {
		/* Call the decoder before refilling: it may hold output from
		 * input it already consumed. Not at a frame end with nothing
		 * buffered, though: that call would open a new frame and turn
		 * a clean EOF into a truncation. */
		if (d->in_pos < d->in_end || d->zstd_hint != 0) {
			ZSTD_inBuffer in = { d->in, d->in_end, d->in_pos };
			size_t r = ZSTD_decompressStream(d->zstd, &out, &in);
			d->in_pos = in.pos;
			if (ZSTD_isError(r))
				return fail(d, err, EBADMSG, "zstd: %s", ZSTD_getErrorName(r));
			d->zstd_hint = r;
			if (out.pos > 0)
				return (ssize_t)out.pos;
			if (d->in_pos < d->in_end)
				continue;
		}
		ssize_t n = refill(d, err);
		if (n < 0)
			return n;
		if (n == 0) {
			/* A hint of 0 means the last frame ended exactly here;
			 * frames follow each other with no separator. */
			if (d->zstd_hint != 0)
				return truncated(d, err);
			d->finished = true;
			return 0;
		}
	}
}

ssize_t cstor_decompressor_read(cstor_decompressor *d, void *buf, size_t len, cstor_error *err)
{
	if (d->failed)
		return cstor_error_set(err, d->failed, "%s stream failed earlier",
				       cstor_compression_name(d->compression));
	if (len == 0)
		return 0;
	len = MIN(len, MAX_CHUNK);

	ssize_t n;
	if (d->finished) {
		/* Every decoder has verified the end of input already. */
		n = 0;
	} else {
		switch (d->compression) {
		case CSTOR_COMPRESSION_NONE:
			n = read_none(d, buf, len, err);
			break;
		case CSTOR_COMPRESSION_GZIP:
#if HAVE_ISAL
			if (d->engine == ENGINE_ISAL) {
				n = read_isal(d, buf, len, err);
				break;
			}
#endif
			n = read_zlib(d, buf, len, err);
			break;
		case CSTOR_COMPRESSION_BZIP2:
			n = read_bzip2(d, buf, len, err);
			break;
		case CSTOR_COMPRESSION_XZ:
			n = read_xz(d, buf, len, err);
			break;
		case CSTOR_COMPRESSION_ZSTD:
			n = read_zstd(d, buf, len, err);
			break;
		default:
			return fail(d, err, EINVAL, "unknown compression %d", (int)d->compression);
		}
	}
	if (n > 0) {
		if (d->hash_output)
			cstor_digester_update(&d->out_digest, buf, (size_t)n);
		d->out_total += (uint64_t)n;
	}
	return n;
}

int cstor_decompressor_finish(cstor_decompressor *d, cstor_decompress_result *ret,
			      cstor_error *err)
{
	_cleanup_free_ uint8_t *scratch = NULL;
	for (;;) {
		if (!scratch) {
			scratch = malloc(OUT_BUF_SIZE);
			if (!scratch)
				return cstor_error_set(err, ENOMEM, "allocating a buffer");
		}
		ssize_t n = cstor_decompressor_read(d, scratch, OUT_BUF_SIZE, err);
		if (n < 0)
			return (int)n;
		if (n == 0)
			break;
	}

	cstor_decompress_result res = {
		.compressed_size = d->in_total,
		.uncompressed_size = d->out_total,
	};
	int r;
	if (d->hash_output) {
		r = cstor_digester_final(&d->out_digest, res.uncompressed_digest, err);
		if (r < 0)
			return r;
	}
	if (d->hash_input) {
		r = cstor_digester_final(&d->in_digest, res.compressed_digest, err);
		if (r < 0)
			return r;
	} else if (d->compression == CSTOR_COMPRESSION_NONE && d->want_compressed_digest) {
		memcpy(res.compressed_digest, res.uncompressed_digest,
		       sizeof(res.compressed_digest));
	}
	if (!d->want_uncompressed_digest)
		res.uncompressed_digest[0] = 0;
	*ret = res;
	return 0;
}

/* ---- Compression ----------------------------------------------------------- */

struct cstor_compressor {
	cstor_compression compression;
	cstor_write_fn write;
	void *ctx;
	uint8_t *out; /* OUT_BUF_SIZE bytes */
	bool finished;
	int failed;
	bool use_isal;
	union {
		z_stream z;
		ZSTD_CCtx *zstd;
	};
	bool encoder_live;
#if HAVE_ISAL
	struct isal_zstream *isal;
	uint8_t *isal_level_buf;
#endif
};

void cstor_compressor_free(cstor_compressor *c)
{
	if (!c)
		return;
	int saved = errno;
	if (c->encoder_live) {
		if (c->compression == CSTOR_COMPRESSION_GZIP && !c->use_isal)
			deflateEnd(&c->z);
		else if (c->compression == CSTOR_COMPRESSION_ZSTD)
			ZSTD_freeCCtx(c->zstd);
	}
#if HAVE_ISAL
	free(c->isal);
	free(c->isal_level_buf);
#endif
	free(c->out);
	free(c);
	errno = saved;
}

int cstor_compressor_new(cstor_compressor **ret, cstor_compression compression, int level,
			 cstor_write_fn write, void *ctx, cstor_error *err)
{
	if (!ret || !write)
		return cstor_error_set(err, EINVAL, "invalid compressor arguments");
	switch (compression) {
	case CSTOR_COMPRESSION_NONE:
	case CSTOR_COMPRESSION_GZIP:
	case CSTOR_COMPRESSION_ZSTD:
		break;
	case CSTOR_COMPRESSION_BZIP2:
	case CSTOR_COMPRESSION_XZ:
		return cstor_error_set(err, ENOTSUP, "%s compression is not supported",
				       cstor_compression_name(compression));
	default:
		return cstor_error_set(err, EINVAL, "unknown compression %d", (int)compression);
	}

	_cleanup_(cstor_compressor_freep) cstor_compressor *c = calloc(1, sizeof(*c));
	if (!c)
		return cstor_error_set(err, ENOMEM, "allocating compressor");
	c->compression = compression;
	c->write = write;
	c->ctx = ctx;
	if (compression == CSTOR_COMPRESSION_NONE) {
		*ret = TAKE_PTR(c);
		return 0;
	}
	c->out = malloc(OUT_BUF_SIZE);
	if (!c->out)
		return cstor_error_set(err, ENOMEM, "allocating compressor buffer");

	if (compression == CSTOR_COMPRESSION_GZIP) {
		if (level == CSTOR_COMPRESS_LEVEL_DEFAULT)
			level = 6;
		if (level < 1 || level > 9)
			return cstor_error_set(err, EINVAL, "invalid gzip level %d", level);
#if HAVE_ISAL
		/* isa-l's level 1 compresses about as well as zlib's and several
		 * times faster; its higher levels do not map onto zlib's. */
		if (level == 1) {
			c->isal = calloc(1, sizeof(*c->isal));
			c->isal_level_buf = malloc(ISAL_DEF_LVL1_DEFAULT);
			if (!c->isal || !c->isal_level_buf)
				return cstor_error_set(err, ENOMEM, "allocating gzip state");
			isal_deflate_init(c->isal);
			c->isal->level = 1;
			c->isal->level_buf = c->isal_level_buf;
			c->isal->level_buf_size = ISAL_DEF_LVL1_DEFAULT;
			c->isal->gzip_flag = IGZIP_GZIP;
			c->use_isal = true;
			*ret = TAKE_PTR(c);
			return 0;
		}
#endif
		if (deflateInit2(&c->z, level, Z_DEFLATED, 16 + MAX_WBITS, 8,
				 Z_DEFAULT_STRATEGY) != Z_OK)
			return cstor_error_set(err, ENOMEM, "initialising zlib");
		c->encoder_live = true;
	} else {
		if (level == CSTOR_COMPRESS_LEVEL_DEFAULT)
			level = 3;
		if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel())
			return cstor_error_set(err, EINVAL, "invalid zstd level %d", level);
		c->zstd = ZSTD_createCCtx();
		if (!c->zstd)
			return cstor_error_set(err, ENOMEM, "initialising zstd");
		c->encoder_live = true;
		/* Frames say how they were checked; Go's encoder adds the
		 * checksum too, and readers verify it. */
		if (ZSTD_isError(ZSTD_CCtx_setParameter(c->zstd, ZSTD_c_compressionLevel, level)) ||
		    ZSTD_isError(ZSTD_CCtx_setParameter(c->zstd, ZSTD_c_checksumFlag, 1)))
			return cstor_error_set(err, EINVAL, "configuring zstd level %d", level);
	}
	*ret = TAKE_PTR(c);
	return 0;
}

static int cfail(cstor_compressor *c, cstor_error *err, int code, const char *msg)
{
	c->failed = cstor_error_set(err, code, "%s: %s", cstor_compression_name(c->compression), msg);
	return c->failed;
}

static int flush_out(cstor_compressor *c, size_t n, cstor_error *err)
{
	if (n == 0)
		return 0;
	int r = c->write(c->ctx, c->out, n);
	if (r < 0) {
		c->failed = cstor_error_errno(err, r, "writing %s stream",
					      cstor_compression_name(c->compression));
		return c->failed;
	}
	return 0;
}

/* Feed @len bytes (possibly 0) and, when @end, terminate the stream. */
static int compress_chunk(cstor_compressor *c, const uint8_t *buf, size_t len, bool end,
			  cstor_error *err)
{
	int r;
	switch (c->compression) {
	case CSTOR_COMPRESSION_NONE:
		if (len == 0)
			return 0;
		r = c->write(c->ctx, buf, len);
		if (r < 0)
			c->failed = cstor_error_errno(err, r, "writing uncompressed stream");
		return r < 0 ? c->failed : 0;
	case CSTOR_COMPRESSION_GZIP:
#if HAVE_ISAL
		if (c->use_isal) {
			struct isal_zstream *s = c->isal;
			s->next_in = (uint8_t *)buf;
			s->avail_in = (uint32_t)len;
			s->end_of_stream = end;
			s->flush = NO_FLUSH;
			do {
				s->next_out = c->out;
				s->avail_out = OUT_BUF_SIZE;
				int ir = isal_deflate(s);
				if (ir != COMP_OK)
					return cfail(c, err, EIO, "isa-l deflate failed");
				r = flush_out(c, OUT_BUF_SIZE - s->avail_out, err);
				if (r < 0)
					return r;
			} while (s->avail_in > 0 || (end && s->internal_state.state != ZSTATE_END));
			return 0;
		}
#endif
		c->z.next_in = (Bytef *)buf;
		c->z.avail_in = (uInt)len;
		for (;;) {
			c->z.next_out = c->out;
			c->z.avail_out = OUT_BUF_SIZE;
			int zr = deflate(&c->z, end ? Z_FINISH : Z_NO_FLUSH);
			if (zr == Z_STREAM_ERROR)
				return cfail(c, err, EIO, "deflate failed");
			r = flush_out(c, OUT_BUF_SIZE - c->z.avail_out, err);
			if (r < 0)
				return r;
			if (end ? zr == Z_STREAM_END : (c->z.avail_in == 0 && c->z.avail_out != 0))
				return 0;
		}
	case CSTOR_COMPRESSION_ZSTD: {
		ZSTD_inBuffer in = { buf, len, 0 };
		for (;;) {
			ZSTD_outBuffer out = { c->out, OUT_BUF_SIZE, 0 };
			size_t zr = ZSTD_compressStream2(c->zstd, &out, &in,
							 end ? ZSTD_e_end : ZSTD_e_continue);
			if (ZSTD_isError(zr))
				return cfail(c, err, EIO, ZSTD_getErrorName(zr));
			r = flush_out(c, out.pos, err);
			if (r < 0)
				return r;
			if (end ? zr == 0 : in.pos == in.size)
				return 0;
		}
	}
	default:
		return cfail(c, err, EINVAL, "unsupported");
	}
}

int cstor_compressor_write(cstor_compressor *c, const void *buf, size_t len, cstor_error *err)
{
	if (c->failed)
		return cstor_error_set(err, c->failed, "compressor failed earlier");
	if (c->finished)
		return cstor_error_set(err, EINVAL, "write after finish");
	const uint8_t *p = buf;
	while (len > 0) {
		size_t n = MIN(len, MAX_CHUNK);
		int r = compress_chunk(c, p, n, false, err);
		if (r < 0)
			return r;
		p += n;
		len -= n;
	}
	return 0;
}

int cstor_compressor_finish(cstor_compressor *c, cstor_error *err)
{
	if (c->failed)
		return cstor_error_set(err, c->failed, "compressor failed earlier");
	if (c->finished)
		return cstor_error_set(err, EINVAL, "compressor already finished");
	int r = compress_chunk(c, NULL, 0, true, err);
	if (r < 0)
		return r;
	c->finished = true;
	return 0;
}
