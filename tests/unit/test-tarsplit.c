/* SPDX-License-Identifier: Apache-2.0 */
/* CRC-64, the Go-compatible encoding helpers, and the tar-split packer:
 * exact JSON, and pack + assemble round trips over many archive shapes. */
#include "tap.h"

#include "util/error-internal.h"
#include "util/cleanup.h"

#include "archive/crc64.h"
#include "archive/tar-internal.h"
#include "test-tarsplit-helpers.h"

static int test_crc64_vectors(void)
{
	CHECK(cstor_crc64_update(0, "123456789", 9) == UINT64_C(0xb90956c775a41001));
	CHECK(cstor_crc64_update(0, "", 0) == 0);
	/* Go: crc64.Checksum([]byte("a"), crc64.MakeTable(crc64.ISO)). */
	CHECK(cstor_crc64_update(0, "a", 1) == UINT64_C(0x3420000000000000));
	/* Any split gives the same value as one call. */
	unsigned char buf[4099];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 131 + (i >> 5));
	uint64_t whole = cstor_crc64_update(0, buf, sizeof(buf));
	for (size_t a = 0; a < 20; a++) {
		uint64_t c = cstor_crc64_update(0, buf, a);
		c = cstor_crc64_update(c, buf + a, 1000 - a);
		c = cstor_crc64_update(c, buf + 1000, sizeof(buf) - 1000);
		CHECK(c == whole);
	}
	/* Bytewise reference of the reflected polynomial. */
	uint64_t ref = ~UINT64_C(0);
	for (size_t i = 0; i < sizeof(buf); i++) {
		ref ^= buf[i];
		for (int k = 0; k < 8; k++)
			ref = (ref & 1) ? (ref >> 1) ^ UINT64_C(0xD800000000000000) : ref >> 1;
	}
	CHECK(~ref == whole);
	/* Every length and alignment around the 16/64-byte folding steps
	 * of the carry-less path agrees with the reference. */
	for (size_t len = 0; len < 700; len++)
		for (size_t off = 0; off < 9; off++) {
			uint64_t r = ~(uint64_t)len;
			for (size_t i = 0; i < len; i++) {
				r ^= buf[off + i];
				for (int k = 0; k < 8; k++)
					r = (r & 1) ? (r >> 1) ^ UINT64_C(0xD800000000000000) : r >> 1;
			}
			CHECK_MSG(cstor_crc64_update(len, buf + off, len) == ~r, "len %zu off %zu", len,
				  off);
		}
	uint8_t be[8];
	cstor_crc64_to_be(UINT64_C(0x0102030405060708), be);
	CHECK(memcmp(be, "\1\2\3\4\5\6\7\10", 8) == 0);
	return TEST_PASS;
}

static int test_path_clean(void)
{
	/* Go's path_test.go cleantests. */
	static const char *const v[][2] = {
		{ "", "." }, { "abc", "abc" }, { "abc/def", "abc/def" }, { ".", "." },
		{ "..", ".." }, { "../..", "../.." }, { "/abc", "/abc" }, { "/", "/" },
		{ "abc/", "abc" }, { "./", "." }, { "../", ".." }, { "/abc/", "/abc" },
		{ "abc//def//ghi", "abc/def/ghi" }, { "//abc", "/abc" }, { "///abc", "/abc" },
		{ "//abc//", "/abc" }, { "abc/./def", "abc/def" }, { "/./abc/def", "/abc/def" },
		{ "abc/.", "abc" }, { "abc/def/ghi/../jkl", "abc/def/jkl" },
		{ "abc/def/../ghi/../jkl", "abc/jkl" }, { "abc/def/..", "abc" },
		{ "abc/def/../..", "." }, { "/abc/def/../..", "/" }, { "abc/def/../../..", ".." },
		{ "/abc/def/../../..", "/" },
		{ "abc/def/../../../ghi/jkl/../../../mno", "../../mno" },
		{ "abc/./../def", "def" }, { "abc//./../def", "def" },
		{ "abc/../../././../def", "../../def" }, { "./etc/x", "etc/x" }, { "..a/.b", "..a/.b" },
	};
	for (size_t i = 0; i < ELEMENTSOF(v); i++) {
		size_t n;
		_cleanup_free_ char *c = cstor_tar__path_clean(v[i][0], strlen(v[i][0]), &n);
		CHECK_MSG(c && streq(c, v[i][1]) && n == strlen(v[i][1]), "%s -> %s", v[i][0], c);
	}
	return TEST_PASS;
}

static int test_json_and_utf8(void)
{
	struct tbuf b = { 0 };
	const char in[] = "a\"\\<>&\n\r\t\b\f\x01\x7f\xe2\x80\xa8\xe2\x80\xa9\xc3\xa9/";
	CHECK_OK(cstor_tar__json_string_append(&b, in, sizeof(in) - 1));
	CHECK_STREQ((char *)b.data, "\"a\\\"\\\\\\u003c\\u003e\\u0026\\n\\r\\t\\u0008\\u000c\\u0001"
				    "\x7f\\u2028\\u2029\xc3\xa9/\"");
	cstor_tar__buf_free(&b);
	static const struct {
		const char *s;
		bool ok;
	} u[] = {
		{ "plain", true },	     { "\xc3\xa9", true },	    { "\xf0\x9f\x98\x80", true },
		{ "\xc3", false },	     { "\xc0\xaf", false },	    { "\xed\xa0\x80", false },
		{ "\xf4\x90\x80\x80", false }, { "\xe0\x80\x80", false }, { "\xff", false },
		{ "\xef\xbf\xbf", true },
	};
	for (size_t i = 0; i < ELEMENTSOF(u); i++)
		CHECK_MSG(cstor_tar__utf8_valid(u[i].s, strlen(u[i].s)) == u[i].ok, "%zu", i);
	return TEST_PASS;
}

static int test_base64(void)
{
	struct tbuf b = { 0 };
	CHECK_OK(cstor_tar__base64_append(&b, "\x0d\x43\x62\xd1\xbd\x84\x18\x27", 8));
	CHECK_STREQ((char *)b.data, "DUNi0b2EGCc=");
	unsigned char out[64];
	CHECK(cstor_tar__base64_decode(out, "DUNi0b2EGCc=", 12, true) == 8);
	CHECK(memcmp(out, "\x0d\x43\x62\xd1\xbd\x84\x18\x27", 8) == 0);
	CHECK(cstor_tar__base64_decode(out, "YQ==", 4, true) == 1 && out[0] == 'a');
	CHECK(cstor_tar__base64_decode(out, "YWI=\r\n", 6, true) == 2);
	CHECK(cstor_tar__base64_decode(out, "", 0, true) == 0);
	CHECK(cstor_tar__base64_decode(out, "YQ", 2, true) < 0);
	CHECK(cstor_tar__base64_decode(out, "YQ", 2, false) == 1);
	CHECK(cstor_tar__base64_decode(out, "Y", 1, false) < 0);
	CHECK(cstor_tar__base64_decode(out, "YQ==YQ==", 8, true) < 0);
	CHECK(cstor_tar__base64_decode(out, "Y===", 4, true) < 0);
	CHECK(cstor_tar__base64_decode(out, "Y!==", 4, true) < 0);
	cstor_tar__buf_free(&b);
	return TEST_PASS;
}

/* ---- packer ------------------------------------------------------------- */

static int json_of(const struct msink *gz, struct msink *json)
{
	return gunzip_all(gz->data, gz->len, json);
}

/* The docs/formats.md §4.3 example, reproduced entry for entry. */
static int test_packer_json(void)
{
	struct msink tar = { 0 }, gz = { 0 }, json = { 0 };
	unsigned char b[512];
	blk_init(b, "./", '5', 0, "gnu");
	put_entry(&tar, b, NULL, 0);
	blk_init(b, "./etc/new.txt", '0', 8, "gnu");
	put_entry(&tar, b, "new file", 8);
	blk_init(b, "./a<b>&\xe2\x80\xa8", '0', 0, "gnu");
	put_entry(&tar, b, NULL, 0);
	blk_init(b, "./bad\xff", '0', 2, "gnu");
	put_entry(&tar, b, "YZ", 2);
	put_end(&tar);
	msink_append(&tar, (unsigned char[4608]){ 0 }, 4608);
	_cleanup_error_ cstor_error err = CSTOR_ERROR_INIT;
	CHECK_OK(pack_tar(tar.data, tar.len, 0, &gz, NULL, &err));
	CHECK_OK(json_of(&gz, &json));
	/* Check the shape of every line. */
	const char *want[] = {
		"{\"type\":2,\"payload\":\"Li8A",
		"{\"type\":1,\"name\":\"./\",\"payload\":null,\"position\":1}",
		"{\"type\":2,\"payload\":\"",
		"{\"type\":1,\"name\":\"./etc/new.txt\",\"size\":8,\"payload\":\"",
		"{\"type\":2,\"payload\":\"",
		"{\"type\":1,\"name\":\"./a\\u003cb\\u003e\\u0026\\u2028\",\"payload\":null,\"position\":5}",
		"{\"type\":2,\"payload\":\"",
		"{\"type\":1,\"name_raw\":\"Li9iYWT/\",\"size\":2,\"payload\":\"",
		"{\"type\":2,\"payload\":\"",
		"{\"type\":2,\"payload\":\"AAAA",
		"{\"type\":2,\"payload\":\"\",\"position\":10}",
	};
	char *line = (char *)json.data;
	for (size_t i = 0; i < ELEMENTSOF(want); i++) {
		CHECK_MSG(line && strncmp(line, want[i], strlen(want[i])) == 0, "line %zu: %.80s", i,
			  line);
		char pos[32];
		snprintf(pos, sizeof(pos), ",\"position\":%zu}\n", i);
		char *nl = strchr(line, '\n');
		CHECK(nl && strncmp(nl - strlen(pos) + 1, pos, strlen(pos)) == 0);
		line = nl + 1;
	}
	CHECK(*line == 0);
	/* crc64 of "new file", big-endian, base64. */
	uint8_t be[8];
	cstor_crc64_to_be(cstor_crc64_update(0, "new file", 8), be);
	struct tbuf b64 = { 0 };
	CHECK_OK(cstor_tar__base64_append(&b64, be, 8));
	CHECK(strstr((char *)json.data, (char *)b64.data));
	cstor_tar__buf_free(&b64);
	msink_free(&tar);
	msink_free(&gz);
	msink_free(&json);
	return TEST_PASS;
}

static int test_packer_duplicates(void)
{
	static const char *const pairs[][2] = {
		{ "a", "a" }, { "./a", "a" }, { "a/", "a" }, { "a//b", "a/./b/" }, { "x/../y", "y" } };
	for (size_t i = 0; i < ELEMENTSOF(pairs); i++) {
		struct msink tar = { 0 }, gz = { 0 };
		unsigned char b[512];
		blk_init(b, pairs[i][0], '0', 0, "ustar");
		put_entry(&tar, b, NULL, 0);
		blk_init(b, pairs[i][1], '5', 0, "ustar");
		put_entry(&tar, b, NULL, 0);
		put_end(&tar);
		_cleanup_error_ cstor_error err = CSTOR_ERROR_INIT;
		CHECK(pack_tar(tar.data, tar.len, 0, &gz, NULL, &err) == -EBADMSG);
		CHECK(strstr(cstor_error_message(&err), "duplicates of file paths not supported"));
		msink_free(&tar);
		msink_free(&gz);
	}
	return TEST_PASS;
}

/* Pack @tar, assemble it again from the contents, compare. */
static int roundtrip(const struct msink *tar, const char *what)
{
	for (size_t chunk = 0; chunk < 2; chunk++) {
		struct msink gz = { 0 }, out = { 0 };
		struct files files = { 0 };
		_cleanup_error_ cstor_error err = CSTOR_ERROR_INIT;
		int r = pack_tar(tar->data, tar->len, chunk ? 777 : 0, &gz, &files, &err);
		CHECK_MSG(r == 0, "%s: pack: %s", what, cstor_error_message(&err));
		r = assemble(gz.data, gz.len, &files, &out, &err);
		CHECK_MSG(r == 0, "%s: assemble: %s", what, cstor_error_message(&err));
		CHECK_MSG(out.len == tar->len && (!out.len || !memcmp(out.data, tar->data, out.len)),
			  "%s: %zu vs %zu bytes", what, out.len, tar->len);
		/* Through the whole-stream helper too. */
		struct msink gz2 = { 0 };
		struct msrc src = { tar->data, tar->len, 0, 0, 0 };
		uint64_t size = 0;
		CHECK_OK(cstor_tarsplit_disassemble(msrc_read, &src, msink_write, &gz2, &size, &err));
		CHECK(size == tar->len);
		struct msink j1 = { 0 }, j2 = { 0 };
		CHECK_OK(json_of(&gz, &j1));
		CHECK_OK(json_of(&gz2, &j2));
		CHECK(j1.len == j2.len && memcmp(j1.data, j2.data, j1.len) == 0);
		msink_free(&j1);
		msink_free(&j2);
		msink_free(&gz2);
		files_free(&files);
		msink_free(&gz);
		msink_free(&out);
	}
	return TEST_PASS;
}

static int test_roundtrip_shapes(void)
{
	struct msink t = { 0 }, body = { 0 };
	unsigned char b[512];
	static unsigned char big[1 << 20];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)(i ^ (i >> 9));

	/* Empty input, a lone end marker, one zero block. */
	CHECK(roundtrip(&t, "empty") == TEST_PASS);
	put_end(&t);
	CHECK(roundtrip(&t, "end only") == TEST_PASS);
	t.len = 512;
	CHECK(roundtrip(&t, "one zero block") == TEST_PASS);

	/* Extension headers of every kind, odd sizes, a header-only type with
	 * a size, names that are not UTF-8. */
	t.len = 0;
	pax_rec(&body, "comment", "global", 6);
	put_pax(&t, 'g', &body);
	body.len = 0;
	pax_rec(&body, "path", "pax/\xe2\x80\xa8name", 11);
	pax_rec(&body, "SCHILY.xattr.user.x", "\0\1", 2);
	put_pax(&t, 'x', &body);
	blk_init(b, "short", '0', sizeof(big), "ustar");
	put_entry(&t, b, big, sizeof(big));
	blk_init(b, "././@LongLink", 'L', 200, "gnu");
	put_entry(&t, b, big, 200);
	blk_init(b, "gnu", '0', 511, "gnu");
	put_entry(&t, b, big, 511);
	blk_init(b, "dir-with-size/", '5', 5, "gnu");
	put_entry(&t, b, NULL, 0);
	blk_init(b, "not\xffutf8", '0', 512, "ustar");
	put_entry(&t, b, big, 512);
	blk_init(b, "empty", '0', 0, "ustar");
	put_entry(&t, b, NULL, 0);
	size_t body_len = t.len;
	put_end(&t);
	CHECK(roundtrip(&t, "extensions") == TEST_PASS);

	/* No end marker; end inside the last padding. */
	t.len = body_len;
	CHECK(roundtrip(&t, "no end marker") == TEST_PASS);
	struct msink tp = { 0 };
	blk_init(b, "padded", '0', 100, "ustar");
	put_entry(&tp, b, big + 1, 100);
	tp.len -= 200;
	CHECK(roundtrip(&tp, "truncated padding") == TEST_PASS);
	msink_free(&tp);

	/* Record padding, and garbage after the end spanning several 1 MiB
	 * segments. */
	t.len = body_len;
	put_end(&t);
	msink_append(&t, (unsigned char[8192]){ 0 }, 8192);
	CHECK(roundtrip(&t, "record padding") == TEST_PASS);
	msink_append(&t, big, sizeof(big));
	msink_append(&t, big, sizeof(big));
	msink_append(&t, big, 12345);
	CHECK(roundtrip(&t, "trailing data") == TEST_PASS);

	struct msink gz = { 0 }, json = { 0 };
	_cleanup_error_ cstor_error err = CSTOR_ERROR_INIT;
	CHECK_OK(pack_tar(t.data, t.len, 0, &gz, NULL, &err));
	CHECK_OK(json_of(&gz, &json));
	/* 3 trailing segments (1 MiB, 1 MiB, rest) and the empty one. */
	CHECK(strstr((char *)json.data, "\"name\":\"dir-with-size/\",\"size\":5,"
					 "\"payload\":\"AAAAAAAAAAA=\""));
	CHECK(strstr((char *)json.data, "\"name_raw\":\"bm90/3V0Zjg=\""));
	CHECK(strstr((char *)json.data, "\"name\":\"PaxHeaders/x\",\"payload\":null"));
	size_t lines = 0;
	for (size_t i = 0; i < json.len; i++)
		lines += json.data[i] == '\n';
	CHECK_MSG(lines == 6 * 2 + 1 + 3 + 1, "%zu lines", lines);
	msink_free(&gz);
	msink_free(&json);
	msink_free(&body);
	msink_free(&t);
	return TEST_PASS;
}

static int gnu_tar_roundtrip(const char *opts)
{
	if (!have_cmd("tar"))
		return test_skip("no tar");
	char *tmp = make_tmpdir();
	CHECK(tmp);
	int ret = TEST_FAIL;
	size_t len = 0;
	unsigned char *data = NULL;
	if (sh("cd '%s' && mkdir s && cd s && head -c 100000 /dev/urandom > r && "
	       "printf x > small && mkdir -p d/%0120d && ln -s %0200d d/l && ln r hl && mkfifo f && "
	       "cd .. && tar %s -cf a.tar -C s .",
	       tmp, 7, 8, opts) == 0) {
		char p[512];
		snprintf(p, sizeof(p), "%s/a.tar", tmp);
		data = slurp(p, &len);
	}
	remove_tmpdir(tmp);
	CHECK(data);
	struct msink t = { data, len, len };
	ret = roundtrip(&t, opts);
	free(data);
	return ret;
}

static int test_roundtrip_gnu_tar(void)
{
	return gnu_tar_roundtrip("--format=gnu");
}

static int test_roundtrip_gnu_tar_pax(void)
{
	return gnu_tar_roundtrip("--format=posix");
}

static int test_roundtrip_gnu_tar_blocking(void)
{
	return gnu_tar_roundtrip("--format=gnu -b 1");
}

static int test_packer_misuse(void)
{
	struct msink gz = { 0 };
	cstor_tarsplit_packer *p;
	_cleanup_error_ cstor_error err = CSTOR_ERROR_INIT;
	CHECK_OK(cstor_tarsplit_packer_new(&p, msink_write, &gz, &err));
	CHECK_OK(cstor_tarsplit_packer_segment(p, "ab", 2, &err));
	uint64_t crc = 1;
	CHECK_OK(cstor_tarsplit_packer_file(p, "f", 1, 3, &crc, &err));
	CHECK_OK(cstor_tarsplit_packer_close(p, &err));
	CHECK(cstor_tarsplit_packer_segment(p, "", 0, &err) == -EINVAL);
	cstor_tarsplit_packer_free(p);
	struct msink json = { 0 };
	CHECK_OK(json_of(&gz, &json));
	CHECK_STREQ((char *)json.data,
		    "{\"type\":2,\"payload\":\"YWI=\",\"position\":0}\n"
		    "{\"type\":1,\"name\":\"f\",\"size\":3,\"payload\":\"AAAAAAAAAAE=\",\"position\":1}\n");
	msink_free(&json);
	/* Write errors surface and stick. */
	struct msink bad = { .fail = -ENOSPC };
	CHECK_OK(cstor_tarsplit_packer_new(&p, msink_write, &bad, &err));
	CHECK_OK(cstor_tarsplit_packer_segment(p, "ab", 2, &err));
	CHECK(cstor_tarsplit_packer_close(p, &err) == -ENOSPC);
	CHECK(cstor_tarsplit_packer_segment(p, "ab", 2, &err) == -ENOSPC);
	cstor_tarsplit_packer_free(p);
	msink_free(&gz);
	return TEST_PASS;
}

TAP_MAIN(TEST(test_crc64_vectors), TEST(test_path_clean), TEST(test_json_and_utf8),
	 TEST(test_base64), TEST(test_packer_json), TEST(test_packer_duplicates),
	 TEST(test_roundtrip_shapes), TEST(test_roundtrip_gnu_tar), TEST(test_roundtrip_gnu_tar_pax),
	 TEST(test_roundtrip_gnu_tar_blocking), TEST(test_packer_misuse))
