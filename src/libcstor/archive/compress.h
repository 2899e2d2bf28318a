/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Streaming (de)compression of layer blobs, as c/storage's
 * archive.DecompressStream / CompressStream do it, with the digests and sizes
 * that ApplyDiff records (docs/formats.md §4.5) computed on the way.
 *
 * Streams are plain callbacks so that the same code serves fds, pipes, and
 * in-memory buffers:
 *
 *     ssize_t read(void *ctx, void *buf, size_t len)   bytes read, 0 at EOF, -errno
 *     int     write(void *ctx, const void *buf, size_t len)   0 after writing all, -errno
 */
#ifndef CSTOR_ARCHIVE_COMPRESS_H
#define CSTOR_ARCHIVE_COMPRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <cstor/error.h>

#include "archive/digest.h"

typedef ssize_t (*cstor_read_fn)(void *ctx, void *buf, size_t len);
typedef int (*cstor_write_fn)(void *ctx, const void *buf, size_t len);

/* Callbacks over a file descriptor; @ctx points to the int fd. They retry
 * EINTR and short writes. */
ssize_t cstor_fd_read(void *ctx, void *buf, size_t len);
int cstor_fd_write(void *ctx, const void *buf, size_t len);

/* Values are those of Go's archive.Compression, which layer records store. */
typedef enum cstor_compression {
	CSTOR_COMPRESSION_NONE = 0,
	CSTOR_COMPRESSION_BZIP2 = 1,
	CSTOR_COMPRESSION_GZIP = 2,
	CSTOR_COMPRESSION_XZ = 3,
	CSTOR_COMPRESSION_ZSTD = 4,
} cstor_compression;

/* Bytes that detection looks at; fewer are fine at end of stream. */
#define CSTOR_COMPRESSION_MAGIC_MAX 6

/* Detect by magic: gzip 1f 8b 08, bzip2 "BZh", xz fd "7zXZ" 00, zstd 28 b5 2f fd. */
cstor_compression cstor_compression_detect(const void *buf, size_t len);

/* "none", "bzip2", "gzip", "xz", "zstd"; NULL for unknown values. */
const char *cstor_compression_name(cstor_compression c);
/* Go's Compression.Extension(): "tar", "tar.bz2", "tar.gz", "tar.xz", "tar.zst". */
const char *cstor_compression_extension(cstor_compression c);

/* ---- Decompression --------------------------------------------------------- */

typedef struct cstor_decompressor cstor_decompressor;

enum {
	/* sha256 of every input byte consumed (compressed-diff-digest). */
	CSTOR_DECOMPRESS_DIGEST_COMPRESSED = 1u << 0,
	/* sha256 of the output (diff-digest). For uncompressed input both
	 * digests come from a single pass, so callers that need the output
	 * digest ask for it here instead of hashing what they read. */
	CSTOR_DECOMPRESS_DIGEST_UNCOMPRESSED = 1u << 1,
	/* Use zlib for gzip even when built with isa-l (tests, benchmarks). */
	CSTOR_DECOMPRESS_FORCE_ZLIB = 1u << 2,
};

/*
 * Read the first bytes of @read/@ctx, detect the compression and set up the
 * decoder. Every format decodes concatenated streams/members/frames like Go's
 * readers do; anything after the last one that is not another valid
 * stream is an error (EBADMSG), as is a truncated stream.
 */
int cstor_decompressor_new(cstor_decompressor **ret, cstor_read_fn read, void *ctx,
			   unsigned flags, cstor_error *err);
void cstor_decompressor_free(cstor_decompressor *d);

static inline void cstor_decompressor_freep(cstor_decompressor **d)
{
	cstor_decompressor_free(*d);
	*d = NULL;
}
#define _cleanup_decompressor_ __attribute__((cleanup(cstor_decompressor_freep)))

cstor_compression cstor_decompressor_compression(const cstor_decompressor *d);

/*
 * Decompress into @buf. Returns the number of bytes (> 0; possibly fewer than
 * @len), 0 at the well-formed end of the input, or -errno: EBADMSG for
 * corrupt, truncated or trailing data, or what the read callback returned.
 * Output goes straight into @buf without an intermediate copy, so pass big
 * buffers (128 KiB or more). An error is sticky.
 */
ssize_t cstor_decompressor_read(cstor_decompressor *d, void *buf, size_t len, cstor_error *err);

typedef struct cstor_decompress_result {
	uint64_t compressed_size;   /* input bytes consumed */
	uint64_t uncompressed_size; /* output bytes produced */
	/* "sha256:…", or "" when the matching flag was not given. */
	char compressed_digest[CSTOR_DIGEST_STRING_MAX];
	char uncompressed_digest[CSTOR_DIGEST_STRING_MAX];
} cstor_decompress_result;

/*
 * Read (and digest) whatever output the caller did not read, up to the end
 * of the input (Go's tar-split consumes the stream to EOF too, so the padding
 * after the tar end marker is part of diff-digest), then report sizes and
 * digests.
 */
int cstor_decompressor_finish(cstor_decompressor *d, cstor_decompress_result *ret,
			      cstor_error *err);

/* True when gzip decoding uses isa-l (built with it and not forced off). */
bool cstor_decompressor_uses_isal(const cstor_decompressor *d);

/* ---- Compression ----------------------------------------------------------- */

typedef struct cstor_compressor cstor_compressor;

/* Level 0 picks the format's default as Go uses it: gzip 6 (compress/gzip
 * DefaultCompression), zstd 3 (klauspost SpeedDefault). */
#define CSTOR_COMPRESS_LEVEL_DEFAULT 0

/*
 * Compress what is written to @write/@ctx. Gzip and zstd are supported (plus
 * NONE, a pass-through); bzip2 and xz give -ENOTSUP, like Go's
 * CompressStream. Gzip at level 1 uses isa-l when built with it.
 */
int cstor_compressor_new(cstor_compressor **ret, cstor_compression c, int level,
			 cstor_write_fn write, void *ctx, cstor_error *err);
int cstor_compressor_write(cstor_compressor *c, const void *buf, size_t len, cstor_error *err);
/* Write the end of the stream. Must be called once; the compressor accepts
 * no more data afterwards. */
int cstor_compressor_finish(cstor_compressor *c, cstor_error *err);
void cstor_compressor_free(cstor_compressor *c);

static inline void cstor_compressor_freep(cstor_compressor **c)
{
	cstor_compressor_free(*c);
	*c = NULL;
}
#define _cleanup_compressor_ __attribute__((cleanup(cstor_compressor_freep)))

#endif
