/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "archive/digest.h"
#include "util/error-internal.h"
#include "util/cleanup.h"

static const struct {
	const char *name;
	const char *ossl_name;
	size_t hex_len;
} algorithms[] = {
	[CSTOR_DIGEST_SHA256] = { "sha256", "SHA256", 64 },
	[CSTOR_DIGEST_SHA384] = { "sha384", "SHA384", 96 },
	[CSTOR_DIGEST_SHA512] = { "sha512", "SHA512", 128 },
};

/* OpenSSL 3 looks the implementation up by name on every EVP_sha256() init
 * (an "implicit fetch" that takes a global lock); fetching once keeps that
 * off the per-file path. The objects live for the whole process. */
static EVP_MD *fetched[ELEMENTSOF(algorithms)];
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

static void fetch_all(void)
{
	for (size_t i = 0; i < ELEMENTSOF(algorithms); i++)
		fetched[i] = EVP_MD_fetch(NULL, algorithms[i].ossl_name, NULL);
}

const char *cstor_digest_algorithm_name(cstor_digest_algorithm algorithm)
{
	if ((size_t)algorithm >= ELEMENTSOF(algorithms))
		return NULL;
	return algorithms[algorithm].name;
}

int cstor_digester_init(cstor_digester *d, cstor_digest_algorithm algorithm, cstor_error *err)
{
	if ((size_t)algorithm >= ELEMENTSOF(algorithms))
		return cstor_error_set(err, EINVAL, "unknown digest algorithm %d", (int)algorithm);
	pthread_once(&fetch_once, fetch_all);
	if (!fetched[algorithm])
		return cstor_error_set(err, EIO, "libcrypto does not provide %s",
				       algorithms[algorithm].name);

	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		return cstor_error_set(err, ENOMEM, "allocating a digest context");
	if (EVP_DigestInit_ex(ctx, fetched[algorithm], NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return cstor_error_set(err, EIO, "initialising %s", algorithms[algorithm].name);
	}
	d->md_ctx = ctx;
	d->algorithm = algorithm;
	d->size = 0;
	return 0;
}

void cstor_digester_done(cstor_digester *d)
{
	if (!d)
		return;
	EVP_MD_CTX_free(d->md_ctx);
	d->md_ctx = NULL;
}

void cstor_digester_update(cstor_digester *d, const void *buf, size_t len)
{
	if (len == 0)
		return;
	EVP_DigestUpdate(d->md_ctx, buf, len);
	d->size += len;
}

int cstor_digester_final(cstor_digester *d, char out[static CSTOR_DIGEST_STRING_MAX],
			 cstor_error *err)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (EVP_DigestFinal_ex(d->md_ctx, md, &n) != 1 ||
	    n * 2 != algorithms[d->algorithm].hex_len)
		return cstor_error_set(err, EIO, "finishing %s", algorithms[d->algorithm].name);

	const char *name = algorithms[d->algorithm].name;
	size_t l = strlen(name);
	memcpy(out, name, l);
	out[l++] = ':';
	for (unsigned int i = 0; i < n; i++) {
		out[l++] = hex[md[i] >> 4];
		out[l++] = hex[md[i] & 15];
	}
	out[l] = 0;

	/* A NULL type re-arms the context with the digest it already has. */
	if (EVP_DigestInit_ex(d->md_ctx, NULL, NULL) != 1)
		return cstor_error_set(err, EIO, "resetting %s", name);
	d->size = 0;
	return 0;
}

int cstor_digest_buffer(char out[static CSTOR_DIGEST_STRING_MAX], const void *buf, size_t len,
			cstor_error *err)
{
	_cleanup_digester_ cstor_digester d = CSTOR_DIGESTER_INIT;
	int r = cstor_digester_init(&d, CSTOR_DIGEST_SHA256, err);
	if (r < 0)
		return r;
	cstor_digester_update(&d, buf, len);
	return cstor_digester_final(&d, out, err);
}

int cstor_digest_fd(char out[static CSTOR_DIGEST_STRING_MAX], uint64_t *ret_size, int fd,
		    cstor_error *err)
{
	/* Big enough that the syscall cost disappears next to hashing. */
	const size_t bufsize = 256 * 1024;
	_cleanup_free_ unsigned char *buf = malloc(bufsize);
	if (!buf)
		return cstor_error_set(err, ENOMEM, "allocating a read buffer");

	_cleanup_digester_ cstor_digester d = CSTOR_DIGESTER_INIT;
	int r = cstor_digester_init(&d, CSTOR_DIGEST_SHA256, err);
	if (r < 0)
		return r;
	for (;;) {
		ssize_t n = read(fd, buf, bufsize);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cstor_error_errno(err, errno, "reading file to digest");
		if (n == 0)
			break;
		cstor_digester_update(&d, buf, (size_t)n);
	}
	uint64_t size = d.size;
	r = cstor_digester_final(&d, out, err);
	if (r >= 0 && ret_size)
		*ret_size = size;
	return r;
}

static bool is_alg_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* go-digest's DigestRegexpAnchored:
 * [a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+ */
static bool matches_digest_regexp(const char *s, size_t alg_len)
{
	bool need_alnum = true;
	for (size_t i = 0; i < alg_len; i++) {
		char c = s[i];
		if (is_alg_char(c))
			need_alnum = false;
		else if (!need_alnum && strchr(".+_-", c))
			need_alnum = true;
		else
			return false;
	}
	if (need_alnum)
		return false;
	const char *enc = s + alg_len + 1;
	if (!*enc)
		return false;
	for (; *enc; enc++) {
		char c = *enc;
		if (!(is_alg_char(c) || (c >= 'A' && c <= 'Z') || c == '=' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

int cstor_digest_parse(const char *s, cstor_digest_algorithm *ret_algorithm, const char **ret_hex,
		       cstor_error *err)
{
	if (!s)
		return cstor_error_set(err, EINVAL, "invalid checksum digest format");
	const char *colon = strchr(s, ':');
	if (!colon || colon == s || colon[1] == 0)
		return cstor_error_set(err, EINVAL, "invalid checksum digest format: \"%s\"", s);

	size_t alg_len = (size_t)(colon - s);
	size_t i;
	for (i = 0; i < ELEMENTSOF(algorithms); i++)
		if (strlen(algorithms[i].name) == alg_len && strncmp(s, algorithms[i].name, alg_len) == 0)
			break;
	if (i == ELEMENTSOF(algorithms)) {
		if (!matches_digest_regexp(s, alg_len))
			return cstor_error_set(err, EINVAL, "invalid checksum digest format: \"%s\"", s);
		return cstor_error_set(err, ENOTSUP, "unsupported digest algorithm: \"%s\"", s);
	}

	const char *hexpart = colon + 1;
	if (strlen(hexpart) != algorithms[i].hex_len)
		return cstor_error_set(err, EINVAL, "invalid checksum digest length: \"%s\"", s);
	/* Uppercase is refused: the hex is compared as a string all over the
	 * store (file names, digest indexes). */
	for (const char *p = hexpart; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return cstor_error_set(err, EINVAL, "invalid checksum digest format: \"%s\"", s);

	if (ret_algorithm)
		*ret_algorithm = (cstor_digest_algorithm)i;
	if (ret_hex)
		*ret_hex = hexpart;
	return 0;
}
