/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tar-split: the <id>.tar-split.gz that lets a layer's original tar stream
 * be rebuilt byte for byte from the extracted files (see docs/formats.md §4).
 * The file is gzip-compressed JSON Lines, one entry per line:
 *
 *   {"type":2,"payload":"<base64 raw bytes>","position":0}
 *   {"type":1,"name":"./etc/x","size":8,"payload":"<base64 crc64>","position":1}
 *
 * Segment entries (type 2) carry every byte of the stream that is not file
 * content; File entries (type 1) stand for the content of one member, named
 * as in its header, with the CRC-64/ISO of the content (big-endian) or null
 * when the size is 0.
 *
 * The packer writes what tar-split 0.11.2 (used by the containers/storage
 * 1.43 CLI) writes, including its final empty Segment; the JSON matches Go's
 * encoding/json byte for byte. The gzip framing differs (zlib instead of
 * pgzip), which no reader cares about. The unpacker reads files written by
 * cstor or by tar-split 0.11.x/0.12.x.
 *
 * Errors: -EBADMSG for a corrupt tar-split, a duplicate path or a content
 * checksum mismatch; otherwise what the callbacks return.
 */
#ifndef CSTOR_ARCHIVE_TARSPLIT_H
#define CSTOR_ARCHIVE_TARSPLIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cstor/error.h>

#include "tar.h"

enum {
	CSTOR_TARSPLIT_FILE = 1,
	CSTOR_TARSPLIT_SEGMENT = 2,
};

/* Largest single JSON entry the unpacker accepts. tar-split itself emits
 * at most ~1.4 MiB (a 1 MiB segment or a header with 1 MiB of pax
 * records); anything near this limit is an attack. */
#define CSTOR_TARSPLIT_MAX_ENTRY (64 * 1024 * 1024)

/* ---- Packer ------------------------------------------------------------ */

/*
 * Typical use while applying a layer (the read callback hashes what it
 * hands out, so the digest covers the whole stream):
 *
 *     cstor_tar_reader_new(&r, read, ctx, CSTOR_TAR_READER_RAW, err);
 *     cstor_tarsplit_packer_new(&p, write_gz, gzctx, err);
 *     while ((ret = cstor_tar_reader_next(r, &h, err)) > 0) {
 *             ... extract h, reading its content with _read()/_peek() ...
 *             ret = cstor_tarsplit_packer_add_entry(p, r, h, err);
 *     }
 *     if (ret == 0)
 *             ret = cstor_tarsplit_packer_finish(p, r, err);
 */

typedef struct cstor_tarsplit_packer cstor_tarsplit_packer;

/* Compressed output goes to @write (gzip, level 1). */
int cstor_tarsplit_packer_new(cstor_tarsplit_packer **out, cstor_tar_write_fn write, void *ctx,
			      cstor_error *err);
void cstor_tarsplit_packer_free(cstor_tarsplit_packer *p);

/*
 * Record the member @h just returned by cstor_tar_reader_next() on @r (a
 * reader in CSTOR_TAR_READER_RAW mode): its header bytes as a Segment and
 * its content as a File. Call it when done with the content, before the
 * next _next(); whatever content is left is consumed (and checksummed).
 * Duplicate paths (after Go's filepath.Clean) fail with -EBADMSG
 * "duplicates of file paths not supported", as in tar-split.
 */
int cstor_tarsplit_packer_add_entry(cstor_tarsplit_packer *p, cstor_tar_reader *r,
				    const cstor_tar_header *h, cstor_error *err);

/*
 * After cstor_tar_reader_next() returned 0: record the end-of-archive bytes,
 * drain the input to its end (record padding and anything else, in Segments
 * of at most 1 MiB), add tar-split 0.11.2's final empty Segment and flush
 * the gzip stream. Nothing may be added afterwards.
 */
int cstor_tarsplit_packer_finish(cstor_tarsplit_packer *p, cstor_tar_reader *r,
				 cstor_error *err);

/* Lower level, for callers that are not driven by a reader. @crc is NULL
 * for a null payload. _close() flushes without adding anything. */
int cstor_tarsplit_packer_segment(cstor_tarsplit_packer *p, const void *data, size_t len,
				  cstor_error *err);
int cstor_tarsplit_packer_file(cstor_tarsplit_packer *p, const char *name, size_t name_len,
			       int64_t size, const uint64_t *crc, cstor_error *err);
int cstor_tarsplit_packer_close(cstor_tarsplit_packer *p, cstor_error *err);

/*
 * Whole-stream convenience, like tar-split's NewInputTarStream with a
 * discarding file putter: read the tar from @read to its end and write the
 * tar-split.gz to @write. *tar_size (optional) gets the stream length.
 */
int cstor_tarsplit_disassemble(cstor_tar_read_fn read, void *rctx, cstor_tar_write_fn write,
			       void *wctx, uint64_t *tar_size, cstor_error *err);

/* ---- Unpacker ---------------------------------------------------------- */

struct cstor_tarsplit_entry {
	int64_t type; /* CSTOR_TARSPLIT_FILE, _SEGMENT, or anything found */
	/* name_raw if present, else name (JSON-unescaped). May contain NUL
	 * (then name_len > strlen(name)); always NUL-terminated. */
	const char *name;
	size_t name_len;
	int64_t size;
	const unsigned char *payload; /* NULL when null or absent */
	size_t payload_len;
	int64_t position; /* as stored; nobody checks it */
};

typedef struct cstor_tarsplit_unpacker cstor_tarsplit_unpacker;

/* @read yields the tar-split.gz bytes (gzip, multi-member allowed). */
int cstor_tarsplit_unpacker_new(cstor_tarsplit_unpacker **out, cstor_tar_read_fn read,
				void *ctx, cstor_error *err);
void cstor_tarsplit_unpacker_free(cstor_tarsplit_unpacker *u);

/* 1 with *out set (valid until the next call), 0 at the end, or -errno.
 * File entries whose cleaned name was seen before fail with -EBADMSG. */
int cstor_tarsplit_unpacker_next(cstor_tarsplit_unpacker *u,
				 const struct cstor_tarsplit_entry **out, cstor_error *err);

/* ---- Assembler --------------------------------------------------------- */

/*
 * Open the content of the member called @name (@name_len bytes, may
 * contain NUL, NUL-terminated) for reading: 0 with *fd_out set (the
 * assembler closes it), or -errno with @err set.
 */
typedef int (*cstor_tarsplit_open_fn)(void *ctx, const char *name, size_t name_len,
				      int *fd_out, cstor_error *err);

/*
 * Rebuild the original tar stream from the tar-split.gz in @read, writing
 * it to @write: Segment payloads verbatim; for each File with a non-zero
 * size, the whole file from @open_file, checked against the stored
 * CRC-64 (error `file integrity checksum failed for "<name>"`). The size is
 * not compared: like tar-split, a member whose header announces a size but
 * whose type carries no content is checked by the CRC of what the file
 * holds. Positions are ignored; unknown entry types are skipped (as
 * tar-split does). *tar_size (optional) gets the number of bytes written.
 */
int cstor_tarsplit_assemble(cstor_tar_read_fn read, void *rctx, cstor_tarsplit_open_fn open_file,
			    void *octx, cstor_tar_write_fn write, void *wctx, uint64_t *tar_size,
			    cstor_error *err);

#endif
