/* SPDX-License-Identifier: Apache-2.0 */
/* tar-split unpacker and assembler: JSON and gzip variants Go accepts,
 * corrupt input, checksum failures, and files written by the Go CLI. */
#include "tap.h"

#include "util/error-internal.h"
#include "util/cleanup.h"

#include "archive/crc64.h"
#include "archive/tar-internal.h"
#include "test-tarsplit-helpers.h"

/* Assemble the gzip of @json with files "f" = "hello" and "g" = "". */
static int asm_json(const char *json, size_t len, struct msink *out, cstor_error *err)
{
	struct msink gz = { 0 };
	struct files files = { 0 };
	gzip_buf(json, len, &gz);
	files_add(&files, "f", 1, "hello", 5);
	files_add(&files, "g", 1, "", 0);
	int r = assemble(gz.data, gz.len, &files, out, err);
	files_free(&files);
	msink_free(&gz);
	return r;
}

/* "hello": crc64 big-endian, base64. */
static const char *hello_crc(void)
{
	static char b64[16];
	if (!b64[0]) {
		uint8_t be[8];
		struct tbuf t = { 0 };
		cstor_crc64_to_be(cstor_crc64_update(0, "hello", 5), be);
		cstor_tar__base64_append(&t, be, 8);
		strcpy(b64, (char *)t.data);
		cstor_tar__buf_free(&t);
	}
	return b64;
}

#define CHECK_ASM(json, expect)                                                              \
	do {                                                                                 \
		struct msink _o = { 0 };                                                     \
		_cleanup_error_ cstor_error _e = CSTOR_ERROR_INIT;                           \
		int _r = asm_json(json, strlen(json), &_o, &_e);                             \
		CHECK_MSG(_r == 0, "%s", cstor_error_message(&_e));                          \
		CHECK_MSG(_o.len == strlen(expect) && (!_o.len || !memcmp(_o.data, expect, _o.len)), \
			  "got %.*s", (int)_o.len, _o.data);                                 \
		msink_free(&_o);                                                             \
	} while (0)

#define CHECK_ASM_FAILS(json, code, substr)                                                  \
	do {                                                                                 \
		struct msink _o = { 0 };                                                     \
		_cleanup_error_ cstor_error _e = CSTOR_ERROR_INIT;                           \
		int _r = asm_json(json, strlen(json), &_o, &_e);                             \
		CHECK_MSG(_r == -(code), "%d: %s", _r, cstor_error_message(&_e));            \
		CHECK_MSG(strstr(cstor_error_message(&_e), substr), "%s",                    \
			  cstor_error_message(&_e));                                         \
		msink_free(&_o);                                                             \
	} while (0)

static int test_json_variants(void)
{
	char buf[1024];
	/* tar-split 0.12 style: no final empty segment; positions absent,
	 * repeated or out of order. */
	snprintf(buf, sizeof(buf),
		 "{\"type\":2,\"payload\":\"SA==\",\"position\":5}\n"
		 "{\"type\":1,\"name\":\"f\",\"size\":5,\"payload\":\"%s\"}\n"
		 "{\"type\":2,\"payload\":\"VA==\",\"position\":5}\n",
		 hello_crc());
	CHECK_ASM(buf, "HhelloT");
	/* Whitespace anywhere, CRLF, unknown keys of every JSON type, keys in
	 * any case, several values per line, a top-level null. */
	snprintf(buf, sizeof(buf),
		 " { \"TYPE\" : 2 ,\r\n \"x\": {\"a\":[1,-2.5e3,true,false,null,\"s\\\"\"]},"
		 " \"Payload\":\"SA==\" }{\"type\":3,\"payload\":\"Wg==\"} null\n"
		 "\t{\"type\":1,\"NAME\":\"f\",\"size\":5,\"payload\":\"%s\",\"extra\":[]}\r\n\n",
		 hello_crc());
	CHECK_ASM(buf, "Hhello");
	/* name_raw wins over name; escapes in names decode like Go. */
	snprintf(buf, sizeof(buf),
		 "{\"type\":1,\"name\":\"zzz\",\"name_raw\":\"Zg==\",\"size\":5,\"payload\":\"%s\"}\n"
		 "{\"type\":1,\"name\":\"\\u0067\",\"payload\":null}\n"
		 "{\"type\":1,\"name\":\"\\ud83d\\ude00\\ud800\\/\",\"size\":0}\n"
		 "{\"type\":2,\"payload\":\"\"}{\"type\":2,\"payload\":null}",
		 hello_crc());
	CHECK_ASM(buf, "hello");
	/* Zero-size files are never opened. */
	CHECK_ASM("{\"type\":1,\"name\":\"missing\",\"payload\":null}", "");
	return TEST_PASS;
}

static int test_multi_member_gzip(void)
{
	struct msink gz = { 0 }, out = { 0 };
	const char *a = "{\"type\":2,\"payload\":\"SGVs", *b = "bG8=\"}\n{\"type\":2,\"payload\":\"IQ==\"}\n";
	gzip_buf(a, strlen(a), &gz);
	gzip_buf(b, strlen(b), &gz);
	struct files files = { 0 };
	_cleanup_error_ cstor_error err = CSTOR_ERROR_INIT;
	CHECK_OK(assemble(gz.data, gz.len, &files, &out, &err));
	CHECK(out.len == 6 && memcmp(out.data, "Hello!", 6) == 0);
	/* Garbage after a member is not another member. */
	msink_append(&gz, "\0\0\0\0", 4);
	out.len = 0;
	CHECK(assemble(gz.data, gz.len, &files, &out, &err) == -EBADMSG);
	CHECK(strstr(cstor_error_message(&err), "corrupt tar-split data: gzip"));
	msink_free(&gz);
	msink_free(&out);
	return TEST_PASS;
}

static int test_huge_lines(void)
{
	/* A 3 MiB segment on one line. */
	size_t raw = 3 * 1024 * 1024;
	unsigned char *data = malloc(raw);
	for (size_t i = 0; i < raw; i++)
		data[i] = (unsigned char)(i * 7);
	struct tbuf json = { 0 };
	cstor_tar__buf_append(&json, "{\"type\":2,\"payload\":\"", 21);
	cstor_tar__base64_append(&json, data, raw);
	cstor_tar__buf_append(&json, "\",\"position\":0}\n", 16);
	struct msink out = { 0 };
	_cleanup_error_ cstor_error err = CSTOR_ERROR_INIT;
	CHECK_OK(asm_json((char *)json.data, json.len, &out, &err));
	CHECK(out.len == raw && memcmp(out.data, data, raw) == 0);
	cstor_tar__buf_free(&json);

	/* Over the limit: refused without parsing it all. */
	size_t n = CSTOR_TARSPLIT_MAX_ENTRY + 10;
	char *big = malloc(n + 1);
	memset(big, 'A', n);
	memcpy(big, "{\"type\":2,\"payload\":\"", 21);
	big[n] = 0;
	out.len = 0;
	CHECK(asm_json(big, n, &out, &err) == -EBADMSG);
	CHECK(strstr(cstor_error_message(&err), "larger than"));
	free(big);
	free(data);
	msink_free(&out);
	return TEST_PASS;
}

static int test_corrupt_json(void)
{
	static const char *const bad[] = {
		"{\"type\":2,\"payload\":\"SA==\"",	 /* truncated */
		"{\"type\":2 \"payload\":\"SA==\"}",	 /* missing comma */
		"{\"type\":2,}",			 /* trailing comma */
		"{\"type\":\"2\"}",			 /* wrong type */
		"{\"type\":2.0}",			 /* not an integer */
		"{\"type\":1e1}",			 /* not an integer */
		"{\"type\":02}",			 /* leading zero */
		"{\"type\":99999999999999999999}",	 /* overflow */
		"{\"type\":2,\"payload\":\"SA\"}",	 /* unpadded base64 */
		"{\"type\":2,\"payload\":\"S!==\"}",	 /* invalid base64 */
		"{\"type\":2,\"payload\":5}",		 /* wrong type */
		"{\"type\":1,\"name\":\"a\nb\"}",	 /* raw control character */
		"{\"type\":1,\"name\":\"\\x\"}",	 /* bad escape */
		"{\"type\":1,\"name\":\"\\u12g4\"}",	 /* bad \\u */
		"[{\"type\":2}]",			 /* not an object */
		"{\"type\":2} x",			 /* garbage after a value */
		"nul",					 /* truncated literal */
		"{\"a\":tru}",				 /* bad literal */
		"{\"a\":-}",				 /* bad number */
		"{\"a\":1.}",				 /* bad number */
		"{\"a\":{\"b\" 1}}",			 /* bad nested object */
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		struct msink o = { 0 };
		_cleanup_error_ cstor_error e = CSTOR_ERROR_INIT;
		int r = asm_json(bad[i], strlen(bad[i]), &o, &e);
		CHECK_MSG(r == -EBADMSG, "%s: %d", bad[i], r);
		CHECK_MSG(strstr(cstor_error_message(&e), "corrupt tar-split data"), "%s: %s", bad[i],
			  cstor_error_message(&e));
		msink_free(&o);
	}
	/* Nesting bombs are refused, not recursed into. */
	char bomb[20000];
	strcpy(bomb, "{\"a\":");
	memset(bomb + 5, '[', 15000);
	bomb[15005] = 0;
	CHECK_ASM_FAILS(bomb, EBADMSG, "nested too deeply");
	return TEST_PASS;
}

static int test_corrupt_gzip(void)
{
	struct msink out = { 0 }, gz = { 0 };
	struct files files = { 0 };
	_cleanup_error_ cstor_error err = CSTOR_ERROR_INIT;
	CHECK(assemble("", 0, &files, &out, &err) == -EBADMSG);
	CHECK(strstr(cstor_error_message(&err), "empty file"));
	CHECK(assemble("{\"type\":2}", 10, &files, &out, &err) == -EBADMSG);
	CHECK(strstr(cstor_error_message(&err), "gzip"));
	const char *json = "{\"type\":2,\"payload\":\"SA==\"}\n";
	gzip_buf(json, strlen(json), &gz);
	CHECK(assemble(gz.data, gz.len - 5, &files, &out, &err) == -EBADMSG);
	CHECK(strstr(cstor_error_message(&err), "truncated gzip stream"));
	/* A flipped bit in the data fails the gzip CRC at the latest. */
	gz.data[gz.len - 6] ^= 0x40;
	out.len = 0;
	CHECK(assemble(gz.data, gz.len, &files, &out, &err) == -EBADMSG);
	msink_free(&gz);
	msink_free(&out);
	return TEST_PASS;
}

static int test_assembler_failures(void)
{
	char buf[512];
	/* Content that does not match its checksum. */
	CHECK_ASM_FAILS("{\"type\":1,\"name\":\"f\",\"size\":5,\"payload\":\"AAAAAAAAAAA=\"}", EBADMSG,
			"file integrity checksum failed for \"f\"");
	/* A null checksum with a size. */
	CHECK_ASM_FAILS("{\"type\":1,\"name\":\"f\",\"size\":5,\"payload\":null}", EBADMSG,
			"file integrity checksum failed");
	/* Missing file: the callback's error. */
	CHECK_ASM_FAILS("{\"type\":1,\"name\":\"nope\",\"size\":5,\"payload\":null}", ENOENT,
			"no such file in the test: nope");
	/* Duplicates after cleaning, including zero-size entries. */
	snprintf(buf, sizeof(buf),
		 "{\"type\":1,\"name\":\"./g/\",\"payload\":null}\n"
		 "{\"type\":1,\"name\":\"g\",\"payload\":null}\n");
	CHECK_ASM_FAILS(buf, EBADMSG, "duplicates of file paths not supported");
	/* A size that is not the file's, with the file's own checksum: the
	 * bytes after it would be read as the next header. Refused before
	 * any of the file is written. */
	snprintf(buf, sizeof(buf),
		 "{\"type\":2,\"payload\":\"SA==\"}\n"
		 "{\"type\":1,\"name\":\"f\",\"size\":3,\"payload\":\"%s\"}",
		 hello_crc());
	CHECK_ASM_FAILS(buf, EBADMSG, "file \"f\" has 5 bytes, its tar-split entry says 3");
	snprintf(buf, sizeof(buf), "{\"type\":1,\"name\":\"f\",\"size\":9,\"payload\":\"%s\"}",
		 hello_crc());
	CHECK_ASM_FAILS(buf, EBADMSG, "file \"f\" has 5 bytes, its tar-split entry says 9");
	{
		struct msink o = { 0 };
		_cleanup_error_ cstor_error e = CSTOR_ERROR_INIT;
		snprintf(buf, sizeof(buf),
			 "{\"type\":2,\"payload\":\"SA==\"}\n"
			 "{\"type\":1,\"name\":\"f\",\"size\":3,\"payload\":\"%s\"}",
			 hello_crc());
		CHECK(asm_json(buf, strlen(buf), &o, &e) == -EBADMSG);
		CHECK_MSG(!memmem(o.data ? o.data : (void *)"", o.len, "hel", 3),
			  "file content written: %.*s", (int)o.len, o.data);
		msink_free(&o);
	}
	/* A header-only member with a size (a directory): its content is
	 * empty, as its checksum says; not a mismatch. */
	CHECK_ASM("{\"type\":1,\"name\":\"g\",\"size\":7,\"payload\":\"AAAAAAAAAAA=\"}", "");
	/* A negative size is not zero: the file is read, as in tar-split. */
	snprintf(buf, sizeof(buf), "{\"type\":1,\"name\":\"f\",\"size\":-1,\"payload\":\"%s\"}",
		 hello_crc());
	CHECK_ASM(buf, "hello");
	/* Write errors come back. */
	struct msink gz = { 0 }, out = { .fail = -EPIPE };
	struct files files = { 0 };
	const char *json = "{\"type\":2,\"payload\":\"SA==\"}";
	gzip_buf(json, strlen(json), &gz);
	_cleanup_error_ cstor_error err = CSTOR_ERROR_INIT;
	CHECK(assemble(gz.data, gz.len, &files, &out, &err) == -EPIPE);
	msink_free(&gz);
	return TEST_PASS;
}

static int test_unpacker_entries(void)
{
	const char *json = "{\"type\":1,\"name\":\"a\\u0000b\",\"size\":3,\"payload\":\"AQI=\","
			   "\"position\":-7}\n";
	struct msink gz = { 0 };
	gzip_buf(json, strlen(json), &gz);
	struct msrc src = { gz.data, gz.len, 0, 3, 0 };
	cstor_tarsplit_unpacker *u;
	_cleanup_error_ cstor_error err = CSTOR_ERROR_INIT;
	CHECK_OK(cstor_tarsplit_unpacker_new(&u, msrc_read, &src, &err));
	const struct cstor_tarsplit_entry *e;
	CHECK(cstor_tarsplit_unpacker_next(u, &e, &err) == 1);
	CHECK(e->type == 1 && e->size == 3 && e->position == -7);
	CHECK(e->name_len == 3 && memcmp(e->name, "a\0b", 4) == 0);
	CHECK(e->payload_len == 2 && memcmp(e->payload, "\1\2", 2) == 0);
	CHECK(cstor_tarsplit_unpacker_next(u, &e, &err) == 0);
	CHECK(cstor_tarsplit_unpacker_next(u, &e, &err) == 0);
	cstor_tarsplit_unpacker_free(u);
	msink_free(&gz);
	return TEST_PASS;
}

/* ---- against the Go CLI ----------------------------------------------- */

static int open_dir(void *ctx, const char *name, size_t len, int *fd, cstor_error *e)
{
	char p[8192];
	snprintf(p, sizeof(p), "%s/%s", (const char *)ctx, name);
	*fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	return *fd < 0 ? cstor_error_errno(e, errno, "open %s", p) : 0;
}

/* Import @tar with the Go CLI (vfs), then: our packer's JSON equals the
 * tar-split Go wrote, and both reassemble to @tar from the layer. */
static int against_go(const char *tmp, const char *tarfile, const char *what)
{
	char cs[600];
	snprintf(cs, sizeof(cs), "containers-storage -g '%s/g' -R '%s/r' -s vfs", tmp, tmp);
	int r = sh("%s import-layer -f '%s' > '%s/id' 2>'%s/err'", cs, tarfile, tmp, tmp);
	CHECK_MSG(r == 0, "%s: import-layer failed", what);
	char p[700], id[128] = "";
	snprintf(p, sizeof(p), "%s/id", tmp);
	FILE *f = fopen(p, "re");
	CHECK(f && fgets(id, sizeof(id), f));
	fclose(f);
	id[strcspn(id, "\n")] = 0;
	size_t tlen, glen;
	snprintf(p, sizeof(p), "%s/g/vfs-layers/%s.tar-split.gz", tmp, id);
	_cleanup_free_ unsigned char *gogz = slurp(p, &glen);
	_cleanup_free_ unsigned char *tar = slurp(tarfile, &tlen);
	CHECK(gogz && tar);

	struct msink ours = { 0 }, j1 = { 0 }, j2 = { 0 };
	_cleanup_error_ cstor_error err = CSTOR_ERROR_INIT;
	struct msrc src = { tar, tlen, 0, 0, 0 };
	CHECK_OK(cstor_tarsplit_disassemble(msrc_read, &src, msink_write, &ours, NULL, &err));
	CHECK_OK(gunzip_all(ours.data, ours.len, &j1));
	CHECK_OK(gunzip_all(gogz, glen, &j2));
	CHECK_MSG(j1.len == j2.len && memcmp(j1.data, j2.data, j1.len) == 0,
		  "%s: JSON differs (%zu vs %zu bytes)", what, j1.len, j2.len);

	/* Reassemble from the layer directory. */
	char dir[700];
	snprintf(dir, sizeof(dir), "%s/g/vfs/dir/%s", tmp, id);
	for (int k = 0; k < 2; k++) {
		struct msink out = { 0 };
		struct msrc gs = { k ? gogz : ours.data, k ? glen : ours.len, 0, 0, 0 };
		CHECK_OK(cstor_tarsplit_assemble(msrc_read, &gs, open_dir, dir, msink_write, &out,
						 NULL, &err));
		CHECK_MSG(out.len == tlen && memcmp(out.data, tar, tlen) == 0, "%s: reassembly %d",
			  what, k);
		msink_free(&out);
	}
	msink_free(&ours);
	msink_free(&j1);
	msink_free(&j2);
	return TEST_PASS;
}

static int test_go_cli(void)
{
	if (geteuid() != 0 || !have_cmd("containers-storage") || !have_cmd("tar"))
		return test_skip("needs root, tar and containers-storage");
	char *tmp = make_tmpdir();
	CHECK(tmp);
	int ret = TEST_PASS;
	/* A tree with every member type, archived several ways. */
	static const struct {
		const char *opts;
		bool garbage;
	} how[] = {
		{ "--format=gnu", false },
		{ "--format=posix --xattrs", false },
		{ "--format=gnu -b 1", false },
		{ "--format=gnu", true },
	};
	if (sh("cd '%s' && mkdir s && cd s && head -c 70000 /dev/urandom > r && : > e && "
	       "mkdir -p d/%0110d && printf x > d/%0110d/f && ln -s ../r d/l && ln r hl && "
	       "mkfifo fifo && printf w > '<&>' && (setfattr -n user.a -v b r 2>/dev/null; true)",
	       tmp, 1, 1) != 0)
		ret = TEST_FAIL;
	for (size_t i = 0; ret == TEST_PASS && i < ELEMENTSOF(how); i++) {
		char tarfile[600];
		snprintf(tarfile, sizeof(tarfile), "%s/t.tar", tmp);
		if (sh("tar %s -cf '%s' -C '%s/s' .", how[i].opts, tarfile, tmp) != 0 ||
		    (how[i].garbage && sh("head -c 3000 /dev/urandom >> '%s'", tarfile) != 0))
			ret = TEST_FAIL;
		if (ret == TEST_PASS)
			ret = against_go(tmp, tarfile, how[i].opts);
		sh("rm -rf '%s/g' '%s/r'", tmp, tmp);
	}
	remove_tmpdir(tmp);
	return ret;
}

TAP_MAIN(TEST(test_json_variants), TEST(test_multi_member_gzip), TEST(test_huge_lines),
	 TEST(test_corrupt_json), TEST(test_corrupt_gzip), TEST(test_assembler_failures),
	 TEST(test_unpacker_entries), TEST(test_go_cli))
