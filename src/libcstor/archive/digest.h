/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Content digests in the OCI form "<algorithm>:<lowercase hex>". We create
 * sha256 (go-digest's Canonical); sha384 and sha512 are recognised when
 * validating strings that come from images and layer records.
 */
#ifndef CSTOR_ARCHIVE_DIGEST_H
#define CSTOR_ARCHIVE_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include <cstor/error.h>

typedef enum cstor_digest_algorithm {
	CSTOR_DIGEST_SHA256,
	CSTOR_DIGEST_SHA384,
	CSTOR_DIGEST_SHA512,
} cstor_digest_algorithm;

/* "sha256:" + 64 hex digits. */
#define CSTOR_DIGEST_SHA256_STRLEN (7 + 64)
/* Room for the longest digest string we produce, "sha512:" + 128, plus NUL. */
#define CSTOR_DIGEST_STRING_MAX (7 + 128 + 1)

/*
 * An incremental digest. Plain struct so it can be embedded; zero it (or use
 * CSTOR_DIGESTER_INIT) before cstor_digester_init(), release with
 * cstor_digester_done(), which is idempotent.
 */
typedef struct cstor_digester {
	void *md_ctx; /* EVP_MD_CTX *, kept opaque so callers need no OpenSSL headers */
	cstor_digest_algorithm algorithm;
	uint64_t size; /* bytes fed so far */
} cstor_digester;

#define CSTOR_DIGESTER_INIT { NULL, CSTOR_DIGEST_SHA256, 0 }

/* Returns 0, -ENOMEM, or -EIO when libcrypto refuses the algorithm. */
int cstor_digester_init(cstor_digester *d, cstor_digest_algorithm algorithm, cstor_error *err);
void cstor_digester_done(cstor_digester *d);
#define _cleanup_digester_ __attribute__((cleanup(cstor_digester_done)))

/* Cannot fail once initialised (libcrypto's update has no failure mode for
 * software digests), hence no error out-parameter on the hot path. */
void cstor_digester_update(cstor_digester *d, const void *buf, size_t len);

/* Write "<alg>:<hex>" (NUL-terminated) into @out, which has room for
 * CSTOR_DIGEST_STRING_MAX bytes, and reset @d for a new computation. */
int cstor_digester_final(cstor_digester *d, char out[static CSTOR_DIGEST_STRING_MAX],
			 cstor_error *err);

/* One-shot sha256 of a buffer. */
int cstor_digest_buffer(char out[static CSTOR_DIGEST_STRING_MAX], const void *buf, size_t len,
			cstor_error *err);

/* sha256 of everything from @fd's current offset to EOF; @ret_size (may be
 * NULL) receives the number of bytes read. */
int cstor_digest_fd(char out[static CSTOR_DIGEST_STRING_MAX], uint64_t *ret_size, int fd,
		    cstor_error *err);

/*
 * Validate @s as go-digest's Digest.Validate() does. Returns 0, -EINVAL
 * ("invalid checksum digest format" / "... length"), or -ENOTSUP
 * ("unsupported digest algorithm") for a well-formed digest of another
 * algorithm. On success @ret_algorithm and @ret_hex (pointer into @s) are set
 * when not NULL.
 */
int cstor_digest_parse(const char *s, cstor_digest_algorithm *ret_algorithm, const char **ret_hex,
		       cstor_error *err);

static inline int cstor_digest_validate(const char *s, cstor_error *err)
{
	return cstor_digest_parse(s, NULL, NULL, err);
}

/* "sha256", "sha384", "sha512". */
const char *cstor_digest_algorithm_name(cstor_digest_algorithm algorithm);

#endif
