/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Streaming tar reader and writer. Pure byte-stream code: no store, no
 * filesystem; the bytes come from and go to callbacks.
 *
 * The reader follows Go's archive/tar (as used by containers/storage 1.43,
 * including tar-split's fork of it) wherever the two could disagree on what
 * an archive means, because a layer must unpack and re-pack identically in
 * both implementations: v7, ustar, star, old GNU and POSIX pax headers, GNU
 * long names/links, base-256 numbers, signed or unsigned header checksums.
 * Sparse files are refused.
 *
 * Deliberate differences from Go's reader, all on input no tool writes:
 * negative sizes, uids and gids are errors (Go lets them through to the
 * consumer); names and link names over 64 KiB are errors (Go's limit is the
 * 1 MiB of the extension body); LIBARCHIVE.xattr.* records are decoded
 * (Go ignores them); input that ends inside the padding after the last
 * member ends the archive as in Go, but the partial padding is still
 * accounted as raw bytes so a tar-split of it reassembles exactly.
 *
 * Callbacks may return -EINTR, which is retried. Errors: -EBADMSG for
 * anything wrong with the archive (the message names the entry or the byte
 * offset), -ENOTSUP for sparse entries, otherwise what the callbacks return.
 */
#ifndef CSTOR_ARCHIVE_TAR_H
#define CSTOR_ARCHIVE_TAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <cstor/error.h>

/* Fill @buf with up to @len bytes: the number read, 0 at end of input, or
 * -errno. Short reads are fine. */
typedef ssize_t (*cstor_tar_read_fn)(void *ctx, void *buf, size_t len);
/* Consume all @len bytes, or return -errno. */
typedef int (*cstor_tar_write_fn)(void *ctx, const void *buf, size_t len);

#define CSTOR_TAR_BLOCK 512

/* Limits against hostile archives. Go refuses PAX and GNU long-name bodies
 * over 1 MiB; names are capped lower since no filesystem takes a path of
 * 64 KiB anyway. */
#define CSTOR_TAR_MAX_SPECIAL (1024 * 1024)
#define CSTOR_TAR_MAX_NAME (64 * 1024)

enum cstor_tar_format {
	CSTOR_TAR_FORMAT_V7 = 1,
	CSTOR_TAR_FORMAT_USTAR, /* "ustar\0" "00", no pax header */
	CSTOR_TAR_FORMAT_PAX,   /* ustar main header after an 'x' header */
	CSTOR_TAR_FORMAT_GNU,   /* "ustar " " \0" */
	CSTOR_TAR_FORMAT_STAR,  /* ustar with the "tar\0" trailer */
};

struct cstor_tar_xattr {
	char *name;           /* NUL-terminated, never contains NUL */
	unsigned char *value; /* binary, also NUL-terminated for convenience */
	size_t value_len;
};

struct cstor_tar_pax_record {
	char *key;   /* NUL-terminated, never contains NUL */
	char *value; /* may contain NUL (except for path/linkpath/uname/gname);
		      * NUL-terminated after value_len */
	size_t value_len;
};

/*
 * One archive member. The reader owns all pointers; they stay valid until
 * the next cstor_tar_reader_next() or _free(). The writer reads only the
 * fields documented as used by it.
 */
typedef struct cstor_tar_header {
	/* Exactly as stored (ustar prefix joined with '/', then pax path, then
	 * GNU long name, like Go): not cleaned, may be absolute or contain
	 * "..". Never contains NUL. */
	char *name;
	char *linkname;
	/* '0' regular ('\0' becomes '0', or '5' when the name ends in '/'),
	 * '1' hard link, '2' symlink, '3' char, '4' block, '5' dir, '6' fifo,
	 * '7' contiguous (a regular file for our purposes), 'g' pax global
	 * header (returned as an entry like Go does, never merged into later
	 * entries; its records are in @pax), anything else as found. */
	char typeflag;
	enum cstor_tar_format format;
	/* The raw mode field. The low 12 bits are the permissions with
	 * setuid/setgid/sticky; Go's archiver also stores the S_IFMT bits,
	 * which readers ignore. */
	int64_t mode;
	int64_t uid, gid; /* never negative */
	/* Size as recorded (pax "size" wins). Never negative. Links,
	 * symlinks, devices, fifos and directories carry no content whatever
	 * this says (Go semantics); cstor_tar_reader_content_size() is the
	 * number of content bytes. 0 for 'g'. */
	int64_t size;
	/* Whole seconds from ustar fields, nanoseconds from pax records. atime
	 * and ctime are set only when the archive has them (pax, old GNU, star);
	 * the has_ flags say so. */
	struct timespec mtime, atime, ctime;
	bool has_atime, has_ctime;
	int64_t devmajor, devminor;
	char *uname, *gname; /* "" when absent */
	/* SCHILY.xattr.<name> (binary value) and LIBARCHIVE.xattr.<urlenc>
	 * (base64 value), in archive order; a repeated name keeps its first
	 * position and takes the last value. Empty values are dropped, as Go
	 * does (it cannot tell them from absent ones). */
	struct cstor_tar_xattr *xattrs;
	size_t n_xattrs;
	/* Every record of the pax header that applied to this entry ('x', or
	 * the 'g' header itself), in archive order, duplicates included. */
	struct cstor_tar_pax_record *pax;
	size_t n_pax;
} cstor_tar_header;

static inline bool cstor_tar_header_is_regular(const cstor_tar_header *h)
{
	return h->typeflag == '0' || h->typeflag == '7';
}

/* ---- Reader ------------------------------------------------------------ */

typedef struct cstor_tar_reader cstor_tar_reader;

enum {
	/*
	 * Raw accounting for tar-split: every input byte that is not entry
	 * content (headers, extension headers and their bodies, padding, the
	 * end-of-archive blocks) is appended to a buffer, see
	 * cstor_tar_reader_raw(); content is checksummed with CRC-64/ISO
	 * whether the consumer reads it or lets next() skip it.
	 */
	CSTOR_TAR_READER_RAW = 1 << 0,
};

int cstor_tar_reader_new(cstor_tar_reader **out, cstor_tar_read_fn read, void *ctx,
			 unsigned flags, cstor_error *err);
void cstor_tar_reader_free(cstor_tar_reader *r);

/*
 * Advance to the next member, skipping what is left of the current one's
 * content and padding. Returns 1 with *out set, 0 at the end of the archive
 * (two zero blocks, one zero block then end of input, or end of input at a
 * header boundary, all like Go), or -errno. Errors are sticky.
 */
int cstor_tar_reader_next(cstor_tar_reader *r, const cstor_tar_header **out, cstor_error *err);

/* Bytes of content of the current member not yet consumed. */
int64_t cstor_tar_reader_remaining(const cstor_tar_reader *r);
/* Content bytes of the current member (0 for header-only types). */
int64_t cstor_tar_reader_content_size(const cstor_tar_reader *r);

/* Copy up to @len content bytes: the count (short counts happen, as with
 * read(2)), 0 at the end of the content, or -errno. Large reads into an
 * empty buffer go straight from the callback into @buf. */
ssize_t cstor_tar_reader_read(cstor_tar_reader *r, void *buf, size_t len, cstor_error *err);

/* Zero-copy variant: point *data at up to @max (0 = no limit) content bytes
 * inside the reader's buffer and consume them. *len is 0 at the end of the
 * content. The pointer is valid until the next call on @r. */
int cstor_tar_reader_peek(cstor_tar_reader *r, const void **data, size_t *len, size_t max,
			  cstor_error *err);

/* Write the rest of the current content to @fd (short writes and EINTR
 * handled), straight from the reader's buffer. */
int cstor_tar_reader_copy_to_fd(cstor_tar_reader *r, int fd, cstor_error *err);

/* Consume the rest of the current content (checksummed in RAW mode). */
int cstor_tar_reader_skip(cstor_tar_reader *r, cstor_error *err);

/* Total bytes consumed from the input so far. */
uint64_t cstor_tar_reader_offset(const cstor_tar_reader *r);

/* RAW mode: the bytes accounted since the last _raw_clear(). Go's
 * RawBytes() is _raw() followed by _raw_clear(). */
void cstor_tar_reader_raw(const cstor_tar_reader *r, const void **data, size_t *len);
void cstor_tar_reader_raw_clear(cstor_tar_reader *r);

/* RAW mode: CRC-64/ISO of the current member's content consumed so far
 * (the whole content once _skip() or _remaining() == 0). */
uint64_t cstor_tar_reader_content_crc64(const cstor_tar_reader *r);

/*
 * After next() returned 0: hand out the bytes that follow the end-of-archive
 * marker (record padding, garbage), zero-copy as with _peek(), *len == 0 at
 * end of input. Needed because the layer digest covers the whole stream and
 * tar-split stores those bytes too.
 */
int cstor_tar_reader_trailing(cstor_tar_reader *r, const void **data, size_t *len,
			      cstor_error *err);

/* ---- Writer ------------------------------------------------------------ */

/*
 * Writes what Go's archive/tar writes for a header with an unspecified
 * format, as containers/storage's archiver does: USTAR (long names split
 * into prefix/name) when everything fits, otherwise a PAX 'x' header named
 * "<dir>/PaxHeaders.0/<base>" with the records sorted by key, followed by a
 * ustar main header holding ASCII-only, truncated fields. mtime is written
 * in whole seconds (tv_nsec ignored, as c/storage truncates); atime/ctime
 * are never written. Fields used: name, linkname, typeflag, mode, uid, gid,
 * size, mtime.tv_sec, devmajor, devminor, uname, gname (NULL = ""), xattrs
 * (as SCHILY.xattr.* records), pax (extra records; keys Go manages itself,
 * like path or size, are ignored). Values that neither USTAR nor PAX can
 * hold (Go would fall back to GNU) fail with -EINVAL.
 *
 * The mode is written as given. containers/storage's archiver stores
 * st_mode & (S_IFMT | 07777) there (Go's FileInfoHeader plus the S_IFMT
 * bits it adds back), so pass that to produce the same bytes.
 */
typedef struct cstor_tar_writer cstor_tar_writer;

int cstor_tar_writer_new(cstor_tar_writer **out, cstor_tar_write_fn write, void *ctx,
			 cstor_error *err);
void cstor_tar_writer_free(cstor_tar_writer *w);

/* Start a member. The previous one must have been given all its content
 * (size bytes, none for header-only types). */
int cstor_tar_writer_header(cstor_tar_writer *w, const cstor_tar_header *h, cstor_error *err);
/* Append content to the current member; more than its size is -EINVAL. */
int cstor_tar_writer_data(cstor_tar_writer *w, const void *buf, size_t len, cstor_error *err);
/* Append exactly the remaining content of the current member from @fd
 * (read to EOF); a file that is shorter or longer than announced is -EIO,
 * since the header already went out. */
int cstor_tar_writer_data_fd(cstor_tar_writer *w, int fd, cstor_error *err);
/* Pad the last member, write the two zero blocks and flush. No record
 * padding, like Go. */
int cstor_tar_writer_close(cstor_tar_writer *w, cstor_error *err);
/* Bytes produced so far (including what is still buffered). */
uint64_t cstor_tar_writer_offset(const cstor_tar_writer *w);

#endif
