/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers shared by the tar reader, writer and tar-split code. Not for use
 * outside src/libcstor/archive/.
 */
#ifndef CSTOR_ARCHIVE_TAR_INTERNAL_H
#define CSTOR_ARCHIVE_TAR_INTERNAL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>

/* A growable byte buffer; data is NUL-terminated whenever len < cap. */
struct tbuf {
	unsigned char *data;
	size_t len, cap;
};

/* Inline with putc, which calls it: the buffer is self-contained here. */
static inline int cstor_tar__buf_reserve(struct tbuf *b, size_t extra)
{
	/* Keep one spare byte so the data can always be NUL-terminated. */
	if (extra > SIZE_MAX / 2 - b->len)
		return -ENOMEM;
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	unsigned char *p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}
int cstor_tar__buf_append(struct tbuf *b, const void *p, size_t n);
static inline int cstor_tar__buf_putc(struct tbuf *b, char c)
{
	if (b->len + 1 >= b->cap) {
		int r = cstor_tar__buf_reserve(b, 1);
		if (r < 0)
			return r;
	}
	b->data[b->len++] = (unsigned char)c;
	b->data[b->len] = 0;
	return 0;
}
void cstor_tar__buf_free(struct tbuf *b);

/* Go's path.Clean on a byte string (no NUL inside required): a new
 * NUL-terminated string, its length in *out_len, NULL on OOM. */
char *cstor_tar__path_clean(const char *p, size_t len, size_t *out_len);

/* Standard base64 with padding, as Go's encoding/json writes []byte. */
int cstor_tar__base64_append(struct tbuf *b, const void *data, size_t len);
/* Decode standard base64; @strict requires '=' padding (Go's StdEncoding,
 * which also skips '\r' and '\n'), otherwise padding is optional (as
 * libarchive writes it). Returns the decoded length or -1 when invalid.
 * @out needs room for len / 4 * 3 + 3 bytes. */
ssize_t cstor_tar__base64_decode(unsigned char *out, const char *in, size_t len, bool strict);

/* utf8.Valid as Go defines it: no surrogates, no overlong forms, nothing
 * above U+10FFFF. */
bool cstor_tar__utf8_valid(const void *s, size_t len);

/* Append @s as a JSON string exactly as Go's encoding/json (1.19) does for a
 * valid UTF-8 string, quotes included. */
int cstor_tar__json_string_append(struct tbuf *b, const char *s, size_t len);

/* A set of byte strings (exact match). */
struct tar_strset {
	struct tar_strset_slot {
		char *s;
		size_t len;
		uint64_t hash;
	} *slots;
	size_t n, cap;
};
/* 1 when added, 0 when already present, -ENOMEM. Takes a copy. */
int cstor_tar__strset_add(struct tar_strset *set, const char *s, size_t len);
void cstor_tar__strset_free(struct tar_strset *set);

#endif
