/* SPDX-License-Identifier: Apache-2.0 */
#include <sys/mman.h>
#include <unistd.h>

#include "tap.h"

#include "archive/digest.h"
#include "util/error-internal.h"
#include "util/cleanup.h"

#define EMPTY_SHA256 "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ABC_SHA256 "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static int test_vectors(void)
{
	char out[CSTOR_DIGEST_STRING_MAX];
	CHECK_OK(cstor_digest_buffer(out, "", 0, NULL));
	CHECK_STREQ(out, EMPTY_SHA256);
	CHECK_OK(cstor_digest_buffer(out, "abc", 3, NULL));
	CHECK_STREQ(out, ABC_SHA256);
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	CHECK_OK(cstor_digest_buffer(out, two, strlen(two), NULL));
	CHECK_STREQ(out, "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	CHECK(strlen(out) == CSTOR_DIGEST_SHA256_STRLEN);
	return TEST_PASS;
}

static int test_incremental_million_a(void)
{
	_cleanup_digester_ cstor_digester d = CSTOR_DIGESTER_INIT;
	char chunk[1000];
	memset(chunk, 'a', sizeof(chunk));
	CHECK_OK(cstor_digester_init(&d, CSTOR_DIGEST_SHA256, NULL));
	/* Uneven pieces cross the 64-byte block boundaries in every way. */
	size_t left = 1000000, step = 1;
	while (left > 0) {
		size_t n = step < left ? step : left;
		n = n < sizeof(chunk) ? n : sizeof(chunk);
		cstor_digester_update(&d, chunk, n);
		left -= n;
		step = step * 7 % 997 + 1;
	}
	CHECK(d.size == 1000000);
	char out[CSTOR_DIGEST_STRING_MAX];
	CHECK_OK(cstor_digester_final(&d, out, NULL));
	CHECK_STREQ(out, "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	return TEST_PASS;
}

static int test_final_resets(void)
{
	_cleanup_digester_ cstor_digester d = CSTOR_DIGESTER_INIT;
	char out[CSTOR_DIGEST_STRING_MAX];
	CHECK_OK(cstor_digester_init(&d, CSTOR_DIGEST_SHA256, NULL));
	cstor_digester_update(&d, "xyz", 3);
	CHECK_OK(cstor_digester_final(&d, out, NULL));
	CHECK(d.size == 0);
	cstor_digester_update(&d, "abc", 3);
	CHECK_OK(cstor_digester_final(&d, out, NULL));
	CHECK_STREQ(out, ABC_SHA256);
	CHECK_OK(cstor_digester_final(&d, out, NULL));
	CHECK_STREQ(out, EMPTY_SHA256);
	/* done is idempotent */
	cstor_digester_done(&d);
	cstor_digester_done(&d);
	return TEST_PASS;
}

static int test_other_algorithms(void)
{
	_cleanup_digester_ cstor_digester d384 = CSTOR_DIGESTER_INIT;
	_cleanup_digester_ cstor_digester d512 = CSTOR_DIGESTER_INIT;
	char out[CSTOR_DIGEST_STRING_MAX];
	CHECK_OK(cstor_digester_init(&d384, CSTOR_DIGEST_SHA384, NULL));
	cstor_digester_update(&d384, "abc", 3);
	CHECK_OK(cstor_digester_final(&d384, out, NULL));
	CHECK_STREQ(out, "sha384:cb00753f45a35e8bb5a03d699ac65007272c32ab0eded163"
			 "1a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7");
	CHECK_OK(cstor_digest_validate(out, NULL));
	CHECK_OK(cstor_digester_init(&d512, CSTOR_DIGEST_SHA512, NULL));
	cstor_digester_update(&d512, "abc", 3);
	CHECK_OK(cstor_digester_final(&d512, out, NULL));
	CHECK_STREQ(out, "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
			 "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
	CHECK(strlen(out) + 1 == CSTOR_DIGEST_STRING_MAX);
	CHECK_OK(cstor_digest_validate(out, NULL));
	return TEST_PASS;
}

static int test_bad_algorithm_enum(void)
{
	cstor_error err = CSTOR_ERROR_INIT;
	cstor_digester d = CSTOR_DIGESTER_INIT;
	CHECK(cstor_digester_init(&d, (cstor_digest_algorithm)42, &err) == -EINVAL);
	CHECK(d.md_ctx == NULL);
	cstor_error_clear(&err);
	CHECK(cstor_digest_algorithm_name((cstor_digest_algorithm)42) == NULL);
	CHECK_STREQ(cstor_digest_algorithm_name(CSTOR_DIGEST_SHA256), "sha256");
	return TEST_PASS;
}

static int test_fd(void)
{
	_cleanup_close_ int fd = memfd_create("digest", MFD_CLOEXEC);
	CHECK(fd >= 0);
	char out[CSTOR_DIGEST_STRING_MAX];
	uint64_t size = 99;
	CHECK_OK(cstor_digest_fd(out, &size, fd, NULL));
	CHECK_STREQ(out, EMPTY_SHA256);
	CHECK(size == 0);

	/* Larger than the internal buffer, so the loop runs more than once. */
	size_t n = 600 * 1000;
	_cleanup_free_ char *buf = malloc(n);
	CHECK(buf);
	memset(buf, 'a', n);
	CHECK(write(fd, buf, n) == (ssize_t)n);
	CHECK(write(fd, buf, 1000000 - n) == (ssize_t)(1000000 - n));
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	CHECK_OK(cstor_digest_fd(out, &size, fd, NULL));
	CHECK(size == 1000000);
	CHECK_STREQ(out, "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

	/* From the current offset, not from the start. */
	CHECK(lseek(fd, 1000000 - 3, SEEK_SET) >= 0);
	CHECK(pwrite(fd, "abc", 3, 1000000 - 3) == 3);
	CHECK_OK(cstor_digest_fd(out, NULL, fd, NULL));
	CHECK_STREQ(out, ABC_SHA256);
	return TEST_PASS;
}

static int test_fd_error(void)
{
	cstor_error err = CSTOR_ERROR_INIT;
	char out[CSTOR_DIGEST_STRING_MAX];
	CHECK(cstor_digest_fd(out, NULL, -1, &err) == -EBADF);
	CHECK(strstr(cstor_error_message(&err), "reading"));
	cstor_error_clear(&err);
	return TEST_PASS;
}

static int expect_parse(const char *s, int want, const char *msg_part)
{
	cstor_error err = CSTOR_ERROR_INIT;
	int r = cstor_digest_validate(s, &err);
	CHECK_MSG(r == want, "\"%s\": got %d want %d (%s)", s ? s : "(null)", r, want,
		  cstor_error_message(&err));
	if (msg_part)
		CHECK_MSG(strstr(cstor_error_message(&err), msg_part), "\"%s\": message \"%s\"",
			  s ? s : "(null)", cstor_error_message(&err));
	cstor_error_clear(&err);
	return TEST_PASS;
}

#define EXPECT_PARSE(s, want, msg) CHECK(expect_parse(s, want, msg) == TEST_PASS)

static int test_validate(void)
{
	const char *hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	char buf[256];

	EXPECT_PARSE(EMPTY_SHA256, 0, NULL);
	snprintf(buf, sizeof(buf), "sha384:%s%.32s", hex, hex);
	EXPECT_PARSE(buf, 0, NULL);
	snprintf(buf, sizeof(buf), "sha512:%s%s", hex, hex);
	EXPECT_PARSE(buf, 0, NULL);

	/* Format errors */
	EXPECT_PARSE(NULL, -EINVAL, "format");
	EXPECT_PARSE("", -EINVAL, "format");
	EXPECT_PARSE("sha256", -EINVAL, "format");
	EXPECT_PARSE("sha256:", -EINVAL, "format");
	EXPECT_PARSE(":abc", -EINVAL, "format");
	EXPECT_PARSE(hex, -EINVAL, "format");
	snprintf(buf, sizeof(buf), "sha256:%.63sG", hex);
	EXPECT_PARSE(buf, -EINVAL, "format");
	/* Uppercase hex is not canonical. */
	snprintf(buf, sizeof(buf), "sha256:%.63sA", hex);
	EXPECT_PARSE(buf, -EINVAL, "format");
	snprintf(buf, sizeof(buf), "SHA256:%s", hex);
	EXPECT_PARSE(buf, -EINVAL, "format");
	snprintf(buf, sizeof(buf), "sha256 :%s", hex);
	EXPECT_PARSE(buf, -EINVAL, "format");
	EXPECT_PARSE("foo..bar:abc", -EINVAL, "format");
	EXPECT_PARSE("foo-:abc", -EINVAL, "format");
	EXPECT_PARSE("foo:ab/c", -EINVAL, "format");

	/* Length errors */
	snprintf(buf, sizeof(buf), "sha256:%.63s", hex);
	EXPECT_PARSE(buf, -EINVAL, "length");
	snprintf(buf, sizeof(buf), "sha256:%s0", hex);
	EXPECT_PARSE(buf, -EINVAL, "length");
	snprintf(buf, sizeof(buf), "sha512:%s", hex);
	EXPECT_PARSE(buf, -EINVAL, "length");
	snprintf(buf, sizeof(buf), "sha256:%s:", hex);
	EXPECT_PARSE(buf, -EINVAL, "length");

	/* Well-formed but unknown algorithms */
	EXPECT_PARSE("md5:d41d8cd98f00b204e9800998ecf8427e", -ENOTSUP, "unsupported");
	EXPECT_PARSE("sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564", -ENOTSUP,
		     "unsupported");
	EXPECT_PARSE("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8", -ENOTSUP,
		     NULL);
	return TEST_PASS;
}

static int test_parse_outputs(void)
{
	cstor_digest_algorithm alg = CSTOR_DIGEST_SHA512;
	const char *s = ABC_SHA256, *hex = NULL;
	CHECK_OK(cstor_digest_parse(s, &alg, &hex, NULL));
	CHECK(alg == CSTOR_DIGEST_SHA256);
	CHECK(hex == s + 7);
	/* Outputs untouched on failure. */
	alg = CSTOR_DIGEST_SHA384;
	hex = NULL;
	CHECK(cstor_digest_parse("sha256:00", &alg, &hex, NULL) == -EINVAL);
	CHECK(alg == CSTOR_DIGEST_SHA384 && hex == NULL);
	return TEST_PASS;
}

TAP_MAIN(TEST(test_vectors), TEST(test_incremental_million_a), TEST(test_final_resets),
	 TEST(test_other_algorithms), TEST(test_bad_algorithm_enum), TEST(test_fd),
	 TEST(test_fd_error), TEST(test_validate), TEST(test_parse_outputs))
