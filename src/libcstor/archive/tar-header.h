/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Header parsing for the tar reader: one 512-byte block at a time into a
 * state that accumulates extension headers ('x', 'L', 'K') until the real
 * member header completes it. Internal to src/libcstor/archive/.
 */
#ifndef CSTOR_ARCHIVE_TAR_HEADER_H
#define CSTOR_ARCHIVE_TAR_HEADER_H

#include "tar-internal.h"
#include "tar.h"

struct tar_hdr_state {
	cstor_tar_header hdr; /* what the reader hands out */

	/* Strings of the last block (ustar name with prefix, and so on). */
	char blk_name[257], blk_link[101], blk_uname[33], blk_gname[33];
	enum cstor_tar_format blk_format;

	/* Extension bodies, kept until the member they describe is done. */
	struct tbuf pax_buf, long_name, long_link;
	bool have_pax, have_long_name, have_long_link;

	struct cstor_tar_pax_record *pax;
	size_t n_pax, cap_pax;
	struct cstor_tar_xattr *xattrs;
	size_t cap_xattrs;
	/* Decoded LIBARCHIVE.xattr names and values. */
	void **allocs;
	size_t n_allocs, cap_allocs;
};

struct tar_block_info {
	char typeflag;
	int64_t size;
};

void cstor_tar__hdr_state_reset(struct tar_hdr_state *hs);
void cstor_tar__hdr_state_free(struct tar_hdr_state *hs);

bool cstor_tar__block_is_zero(const unsigned char blk[CSTOR_TAR_BLOCK]);

/* Verify the checksum and decode the fields of @blk (read at offset @at)
 * into hs->hdr. */
int cstor_tar__parse_block(struct tar_hdr_state *hs, const unsigned char blk[CSTOR_TAR_BLOCK],
			   uint64_t at, struct tar_block_info *bi, cstor_error *err);

/* hs->pax_buf holds an 'x' or 'g' body: split it into records. */
int cstor_tar__hdr_parse_pax(struct tar_hdr_state *hs, uint64_t at, cstor_error *err);
/* hs->long_name or long_link ('L' / 'K') was just read. */
void cstor_tar__hdr_set_long(struct tar_hdr_state *hs, char typeflag);

/* Merge the pending extensions into the member header read last and
 * return the number of content bytes that follow it. */
int cstor_tar__hdr_finish(struct tar_hdr_state *hs, uint64_t at, int64_t *content,
			  cstor_error *err);
/* Build the entry Go returns for a 'g' header. */
int cstor_tar__hdr_finish_global(struct tar_hdr_state *hs, cstor_error *err);

/* Go's strconv.ParseInt(s, 10, 64). */
bool cstor_tar__parse_dec(const char *s, size_t len, int64_t *out);

#endif
