/* SPDX-License-Identifier: Apache-2.0 */
/* Tar reader: pax and GNU extension headers, their limits, and the content
 * and raw-accounting API. */
#include "tap.h"

#include <sys/mman.h>

#include "util/error-internal.h"
#include "util/cleanup.h"

#include "archive/crc64.h"
#include "test-tar-helpers.h"

static int read_all(const void *data, size_t len, cstor_error *err)
{
	struct msrc src = { data, len, 0, 0, 0 };
	cstor_tar_reader *r;
	int ret = cstor_tar_reader_new(&r, msrc_read, &src, CSTOR_TAR_READER_RAW, NULL);
	if (ret < 0)
		return ret;
	const cstor_tar_header *h;
	while ((ret = cstor_tar_reader_next(r, &h, err)) > 0)
		;
	cstor_tar_reader_free(r);
	return ret;
}

#define CHECK_READ_ERROR(data, len, code, substr)                                           \
	do {                                                                                \
		_cleanup_error_ cstor_error _e = CSTOR_ERROR_INIT;                          \
		int _r = read_all(data, len, &_e);                                          \
		CHECK_MSG(_r == -(code), "got %d (%s)", _r, cstor_error_message(&_e));      \
		CHECK_MSG(strstr(cstor_error_message(&_e), substr), "message: %s",          \
			  cstor_error_message(&_e));                                        \
	} while (0)

/* One entry "ustar" with a pax header of @body before it. */
static void pax_archive(struct msink *s, const struct msink *body, int64_t size)
{
	unsigned char b[512];
	s->len = 0;
	put_pax(s, 'x', body);
	blk_init(b, "ustarname", '0', (uint64_t)size, "ustar");
	memcpy(b + 157, "ustarlink", 9);
	memcpy(b + 265, "ustaruser", 9);
	blk_octal(b + 108, 8, 7);
	put_entry(s, b, (unsigned char[1024]){ 0 }, (size_t)size);
	put_end(s);
}

struct one {
	cstor_tar_reader *r;
	struct msrc src;
	const cstor_tar_header *h;
	cstor_error err;
};

static int one_open(struct one *o, const struct msink *s)
{
	*o = (struct one){ .src = { s->data, s->len, 0, 0, 0 }, .err = CSTOR_ERROR_INIT };
	int r = cstor_tar_reader_new(&o->r, msrc_read, &o->src, CSTOR_TAR_READER_RAW, NULL);
	if (r < 0)
		return r;
	return cstor_tar_reader_next(o->r, &o->h, &o->err);
}

static void one_close(struct one *o)
{
	cstor_tar_reader_free(o->r);
	cstor_error_clear(&o->err);
}

static int test_pax_overrides(void)
{
	struct msink s = { 0 }, body = { 0 };
	struct one o;
	pax_rec(&body, "path", "pax/name", 8);
	pax_rec(&body, "linkpath", "pax/link", 8);
	pax_rec(&body, "uid", "3000000000", 10);
	pax_rec(&body, "gid", "42", 2);
	pax_rec(&body, "uname", "jörg", 5);
	pax_rec(&body, "size", "10", 2);
	pax_rec(&body, "mtime", "1600000000.123456789", 20);
	pax_rec(&body, "atime", "-1.5", 4);
	pax_rec(&body, "ctime", "5.0000000019", 12);
	pax_rec(&body, "comment", "hi", 2);
	pax_archive(&s, &body, 10);
	CHECK(one_open(&o, &s) == 1);
	CHECK_STREQ(o.h->name, "pax/name");
	CHECK_STREQ(o.h->linkname, "pax/link");
	CHECK(o.h->uid == 3000000000LL && o.h->gid == 42 && o.h->size == 10);
	CHECK_STREQ(o.h->uname, "jörg");
	CHECK(o.h->mtime.tv_sec == 1600000000 && o.h->mtime.tv_nsec == 123456789);
	CHECK(o.h->has_atime && o.h->atime.tv_sec == -2 && o.h->atime.tv_nsec == 500000000);
	CHECK(o.h->has_ctime && o.h->ctime.tv_sec == 5 && o.h->ctime.tv_nsec == 1);
	CHECK(o.h->format == CSTOR_TAR_FORMAT_PAX && o.h->n_pax == 10);
	CHECK_STREQ(o.h->pax[9].key, "comment");
	CHECK(cstor_tar_reader_content_size(o.r) == 10);
	one_close(&o);

	/* The last record of a key wins; an empty last value keeps the ustar
	 * field (Go's map + "keep the original USTAR value"). */
	body.len = 0;
	pax_rec(&body, "path", "first", 5);
	pax_rec(&body, "path", "second", 6);
	pax_rec(&body, "uname", "x", 1);
	pax_rec(&body, "uname", "", 0);
	pax_rec(&body, "uid", "bogus", 5);
	pax_rec(&body, "uid", "9", 1);
	pax_archive(&s, &body, 0);
	CHECK(one_open(&o, &s) == 1);
	CHECK_STREQ(o.h->name, "second");
	CHECK_STREQ(o.h->uname, "ustaruser");
	CHECK(o.h->uid == 9 && o.h->n_pax == 6);
	one_close(&o);
	msink_free(&body);
	msink_free(&s);
	return TEST_PASS;
}

static int test_pax_bad_values(void)
{
	static const char *const bad[][2] = {
		{ "uid", "12a" },	  { "gid", "-" },	  { "size", "-5" },
		{ "size", "99999999999999999999" }, { "mtime", ".5" },  { "mtime", "1.5x" },
		{ "atime", "1e3" },
	};
	struct msink s = { 0 }, body = { 0 };
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		body.len = 0;
		pax_rec(&body, bad[i][0], bad[i][1], strlen(bad[i][1]));
		pax_archive(&s, &body, 0);
		_cleanup_error_ cstor_error e = CSTOR_ERROR_INIT;
		int r = read_all(s.data, s.len, &e);
		CHECK_MSG(r == -EBADMSG, "%s=%s: %d", bad[i][0], bad[i][1], r);
		CHECK_MSG(strstr(cstor_error_message(&e), bad[i][0]) ||
				  strstr(cstor_error_message(&e), "negative size"),
			  "%s", cstor_error_message(&e));
	}
	msink_free(&body);
	msink_free(&s);
	return TEST_PASS;
}

/* Pax record framing that lies. */
static int test_pax_record_lengths(void)
{
	static const char *const bodies[] = {
		"30 path=short\n",	   /* longer than the body */
		"3 a=\n",		   /* shorter than 5 */
		"12path=abcd\n",	   /* no space */
		"12 path=abcd!",	   /* no newline at the end */
		"x2 path=abcd\n",	   /* not a number */
		"-12 path=abc\n",	   /* negative */
		"11 pathabcd\n",	   /* no '=' */
		"8 =abcd\n",		   /* empty key */
		"00005 x",		   /* length ends inside the length field */
		"9223372036854775808 a=b\n", /* overflow */
	};
	struct msink s = { 0 }, body = { 0 };
	for (size_t i = 0; i < ELEMENTSOF(bodies); i++) {
		body.len = 0;
		msink_append(&body, bodies[i], strlen(bodies[i]));
		pax_archive(&s, &body, 0);
		CHECK_READ_ERROR(s.data, s.len, EBADMSG, "invalid pax record in header at offset 0");
	}
	/* Leading zeros and a '+' are fine for Go's ParseInt. */
	body.len = 0;
	msink_append(&body, "0014 path=abc\n+13 uid=1234\n", 27);
	pax_archive(&s, &body, 0);
	struct one o;
	CHECK(one_open(&o, &s) == 1);
	CHECK_STREQ(o.h->name, "abc");
	CHECK(o.h->uid == 1234);
	one_close(&o);
	msink_free(&body);
	msink_free(&s);
	return TEST_PASS;
}

static int test_extension_limits(void)
{
	struct msink s = { 0 };
	unsigned char b[512];
	/* Bodies over 1 MiB are refused before anything is read. */
	blk_init(b, "PaxHeaders/big", 'x', CSTOR_TAR_MAX_SPECIAL + 1, "ustar");
	put_entry(&s, b, NULL, 0);
	CHECK_READ_ERROR(s.data, s.len, EBADMSG, "exceeds the 1048576 byte limit");
	s.len = 0;
	blk_init(b, "././@LongLink", 'L', 2 * CSTOR_TAR_MAX_SPECIAL, "gnu");
	put_entry(&s, b, NULL, 0);
	CHECK_READ_ERROR(s.data, s.len, EBADMSG, "extension header of 2097152 bytes at offset 0");

	/* A 1 MiB body is fine, but names stay under 64 KiB. */
	size_t n = CSTOR_TAR_MAX_NAME + 1;
	char *name = malloc(n);
	memset(name, 'a', n);
	struct msink body = { 0 };
	pax_rec(&body, "path", name, n);
	pax_archive(&s, &body, 0);
	CHECK_READ_ERROR(s.data, s.len, EBADMSG, "name longer than 65536 bytes");
	body.len = 0;
	pax_rec(&body, "path", name, n - 1);
	pax_archive(&s, &body, 0);
	_cleanup_error_ cstor_error e = CSTOR_ERROR_INIT;
	CHECK_OK(read_all(s.data, s.len, &e));
	/* Same for a GNU long link. */
	s.len = 0;
	blk_init(b, "././@LongLink", 'K', n, "gnu");
	put_entry(&s, b, name, n);
	blk_init(b, "l", '2', 0, "gnu");
	put_entry(&s, b, NULL, 0);
	put_end(&s);
	CHECK_READ_ERROR(s.data, s.len, EBADMSG, "name longer than 65536 bytes");
	free(name);
	msink_free(&body);
	msink_free(&s);
	return TEST_PASS;
}

static int test_gnu_long_names(void)
{
	struct msink s = { 0 }, body = { 0 };
	unsigned char b[512];
	char longname[300];
	memset(longname, 'n', sizeof(longname));
	longname[299] = 0;
	/* The body is NUL-terminated by GNU tar; anything after a NUL goes. */
	blk_init(b, "././@LongLink", 'L', 300, "gnu");
	put_entry(&s, b, longname, 300);
	blk_init(b, "././@LongLink", 'K', 12, "gnu");
	put_entry(&s, b, "target\0junk!", 12);
	/* A pax path is overridden by the GNU long name (Go's order). */
	pax_rec(&body, "path", "paxpath", 7);
	put_pax(&s, 'x', &body);
	blk_init(b, "short", '2', 0, "gnu");
	put_entry(&s, b, NULL, 0);
	/* An empty long name keeps the header's name. */
	blk_init(b, "././@LongLink", 'L', 1, "gnu");
	put_entry(&s, b, "", 1);
	blk_init(b, "kept", '0', 0, "gnu");
	put_entry(&s, b, NULL, 0);
	put_end(&s);
	struct one o;
	CHECK(one_open(&o, &s) == 1);
	CHECK(strlen(o.h->name) == 299 && o.h->name[0] == 'n');
	CHECK_STREQ(o.h->linkname, "target");
	CHECK(o.h->typeflag == '2');
	CHECK(cstor_tar_reader_next(o.r, &o.h, &o.err) == 1);
	CHECK_STREQ(o.h->name, "kept");
	CHECK(cstor_tar_reader_next(o.r, &o.h, &o.err) == 0);
	one_close(&o);
	msink_free(&body);
	msink_free(&s);
	return TEST_PASS;
}

static int test_global_and_repeated_headers(void)
{
	struct msink s = { 0 }, body = { 0 };
	unsigned char b[512];
	pax_rec(&body, "comment", "global", 6);
	pax_rec(&body, "uid", "77", 2);
	pax_rec(&body, "uid", "not a number", 12);
	put_pax(&s, 'g', &body);
	/* Two 'x' headers: only the last one applies. */
	body.len = 0;
	pax_rec(&body, "path", "lost", 4);
	pax_rec(&body, "gid", "5", 1);
	put_pax(&s, 'x', &body);
	body.len = 0;
	pax_rec(&body, "uid", "6", 1);
	put_pax(&s, 'x', &body);
	blk_init(b, "entry", '0', 0, "ustar");
	put_entry(&s, b, NULL, 0);
	put_end(&s);
	struct one o;
	/* The global header is an entry of its own and its bad uid is ignored. */
	CHECK(one_open(&o, &s) == 1);
	CHECK(o.h->typeflag == 'g' && o.h->size == 0 && o.h->n_pax == 3);
	CHECK_STREQ(o.h->name, "PaxHeaders/x");
	CHECK(o.h->uid == 0);
	CHECK(cstor_tar_reader_next(o.r, &o.h, &o.err) == 1);
	CHECK_STREQ(o.h->name, "entry");
	CHECK(o.h->uid == 6 && o.h->gid == 0 && o.h->n_pax == 1);
	CHECK(cstor_tar_reader_next(o.r, &o.h, &o.err) == 0);
	one_close(&o);
	msink_free(&body);
	msink_free(&s);
	return TEST_PASS;
}

static int test_xattr_records(void)
{
	struct msink s = { 0 }, body = { 0 };
	struct one o;
	pax_rec(&body, "SCHILY.xattr.user.b", "1", 1);
	pax_rec(&body, "SCHILY.xattr.user.a", "first", 5);
	pax_rec(&body, "SCHILY.xattr.user.empty", "", 0);
	pax_rec(&body, "LIBARCHIVE.xattr.user.%41%3d", "YmluAA", 6); /* "bin\0", unpadded */
	pax_rec(&body, "SCHILY.xattr.user.a", "second", 6);
	pax_rec(&body, "SCHILY.xattr.user.gone", "x", 1);
	pax_rec(&body, "SCHILY.xattr.user.gone", "", 0);
	pax_rec(&body, "LIBARCHIVE.xattr.user.bad", "!!!", 3);
	pax_archive(&s, &body, 0);
	CHECK(one_open(&o, &s) == 1);
	CHECK(o.h->n_xattrs == 3);
	CHECK_STREQ(o.h->xattrs[0].name, "user.b");
	CHECK_STREQ(o.h->xattrs[1].name, "user.a");
	CHECK(o.h->xattrs[1].value_len == 6 && memcmp(o.h->xattrs[1].value, "second", 6) == 0);
	CHECK_STREQ(o.h->xattrs[2].name, "user.A=");
	CHECK(o.h->xattrs[2].value_len == 4 && memcmp(o.h->xattrs[2].value, "bin", 4) == 0);
	one_close(&o);

	/* Many xattrs: still linear-ish and correct. */
	body.len = 0;
	for (int i = 0; i < 5000; i++) {
		char k[64], v[16];
		snprintf(k, sizeof(k), "SCHILY.xattr.user.k%d", i % 2500);
		snprintf(v, sizeof(v), "%d", i);
		pax_rec(&body, k, v, strlen(v));
	}
	pax_archive(&s, &body, 0);
	CHECK(one_open(&o, &s) == 1);
	CHECK(o.h->n_xattrs == 2500);
	CHECK_STREQ(o.h->xattrs[7].name, "user.k7");
	CHECK_STREQ((const char *)o.h->xattrs[7].value, "2507");
	one_close(&o);
	msink_free(&body);
	msink_free(&s);
	return TEST_PASS;
}

/* ---- content API ------------------------------------------------------- */

static void sample_archive(struct msink *s)
{
	unsigned char b[512];
	static unsigned char big[300000];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)(i * 31 + i / 7);
	s->len = 0;
	blk_init(b, "big", '0', sizeof(big), "ustar");
	put_entry(s, b, big, sizeof(big));
	blk_init(b, "small", '0', 5, "ustar");
	put_entry(s, b, "12345", 5);
	blk_init(b, "dir/", '5', 0, "ustar");
	put_entry(s, b, NULL, 0);
	put_end(s);
	msink_append(s, "TRAILING", 8);
}

static int test_content_api(void)
{
	struct msink s = { 0 };
	sample_archive(&s);
	for (size_t chunk = 1; chunk <= 1u << 20; chunk *= 16) {
		struct one o;
		CHECK(one_open(&o, &s) == 1);
		o.src.chunk = chunk;
		CHECK(cstor_tar_reader_remaining(o.r) == 300000);
		/* Mix peek with a cap, read, then let next() skip the rest. */
		const void *p;
		size_t n;
		CHECK_OK(cstor_tar_reader_peek(o.r, &p, &n, 100, &o.err));
		CHECK(n >= 1 && n <= 100 && ((const unsigned char *)p)[0] == 0);
		unsigned char buf[200000];
		ssize_t got = cstor_tar_reader_read(o.r, buf, sizeof(buf), &o.err);
		CHECK(got > 0);
		CHECK(cstor_tar_reader_remaining(o.r) == 300000 - (int64_t)n - got);
		CHECK(cstor_tar_reader_next(o.r, &o.h, &o.err) == 1);
		CHECK_STREQ(o.h->name, "small");
		/* Short reads are allowed: loop like read(2). */
		size_t have = 0;
		while (have < 5) {
			ssize_t k = cstor_tar_reader_read(o.r, buf + have, 5 - have, &o.err);
			CHECK(k > 0);
			have += (size_t)k;
		}
		CHECK(memcmp(buf, "12345", 5) == 0);
		CHECK(cstor_tar_reader_read(o.r, buf, 100, &o.err) == 0);
		CHECK_OK(cstor_tar_reader_peek(o.r, &p, &n, 0, &o.err));
		CHECK(n == 0);
		CHECK(cstor_tar_reader_next(o.r, &o.h, &o.err) == 1);
		CHECK(cstor_tar_reader_next(o.r, &o.h, &o.err) == 0);
		CHECK(cstor_tar_reader_next(o.r, &o.h, &o.err) == 0);
		struct msink tail = { 0 };
		do {
			CHECK_OK(cstor_tar_reader_trailing(o.r, &p, &n, &o.err));
			msink_append(&tail, p, n);
		} while (n);
		CHECK(tail.len == 8 && memcmp(tail.data, "TRAILING", 8) == 0);
		CHECK(cstor_tar_reader_offset(o.r) == s.len);
		msink_free(&tail);
		one_close(&o);
	}
	msink_free(&s);
	return TEST_PASS;
}

/* In RAW mode the raw bytes plus the content are exactly the input, and
 * the content checksum covers skipped content too. */
static int test_raw_accounting(void)
{
	struct msink s = { 0 }, rebuilt = { 0 }, body = { 0 };
	sample_archive(&s);
	/* Put extension headers in the middle too. */
	s.len -= 1024 + 8;
	pax_rec(&body, "path", "with-pax", 8);
	put_pax(&s, 'x', &body);
	unsigned char b[512];
	blk_init(b, "x", '0', 700, "ustar");
	put_entry(&s, b, (unsigned char[700]){ 9 }, 700);
	put_end(&s);
	msink_append(&s, (unsigned char[9000]){ 0 }, 9000);

	struct one o;
	int r = one_open(&o, &s);
	int i = 0;
	for (; r == 1; r = cstor_tar_reader_next(o.r, &o.h, &o.err), i++) {
		const void *p;
		size_t n;
		cstor_tar_reader_raw(o.r, &p, &n);
		msink_append(&rebuilt, p, n);
		cstor_tar_reader_raw_clear(o.r);
		uint64_t crc = 0;
		/* Read the content of every other entry, skip the rest. */
		if (i % 2 == 0)
			do {
				CHECK_OK(cstor_tar_reader_peek(o.r, &p, &n, 1000, &o.err));
				msink_append(&rebuilt, p, n);
				crc = cstor_crc64_update(crc, p, n);
			} while (n);
		else {
			size_t at = rebuilt.len;
			msink_append(&rebuilt, s.data + cstor_tar_reader_offset(o.r),
				     (size_t)cstor_tar_reader_content_size(o.r));
			crc = cstor_crc64_update(0, rebuilt.data + at, rebuilt.len - at);
			CHECK_OK(cstor_tar_reader_skip(o.r, &o.err));
		}
		CHECK(cstor_tar_reader_content_crc64(o.r) == crc);
	}
	CHECK(r == 0 && i == 4);
	const void *p;
	size_t n;
	cstor_tar_reader_raw(o.r, &p, &n);
	msink_append(&rebuilt, p, n);
	do {
		CHECK_OK(cstor_tar_reader_trailing(o.r, &p, &n, &o.err));
		msink_append(&rebuilt, p, n);
	} while (n);
	CHECK(rebuilt.len == s.len && memcmp(rebuilt.data, s.data, s.len) == 0);
	one_close(&o);
	msink_free(&rebuilt);
	msink_free(&body);
	msink_free(&s);
	return TEST_PASS;
}

static int test_copy_to_fd(void)
{
	struct msink s = { 0 };
	sample_archive(&s);
	struct one o;
	CHECK(one_open(&o, &s) == 1);
	int fd = memfd_create("content", MFD_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_OK(cstor_tar_reader_copy_to_fd(o.r, fd, &o.err));
	CHECK(lseek(fd, 0, SEEK_CUR) == 300000);
	unsigned char b[512];
	CHECK(pread(fd, b, sizeof(b), 0) == (ssize_t)sizeof(b));
	CHECK(memcmp(b, s.data + 512, sizeof(b)) == 0);
	close(fd);
	/* A bad fd is an error naming the entry. */
	CHECK(cstor_tar_reader_next(o.r, &o.h, &o.err) == 1);
	CHECK(cstor_tar_reader_copy_to_fd(o.r, -1, &o.err) == -EBADF);
	CHECK(strstr(cstor_error_message(&o.err), "write content of small"));
	one_close(&o);
	msink_free(&s);
	return TEST_PASS;
}

static int test_api_misuse(void)
{
	struct msink s = { 0 };
	sample_archive(&s);
	struct one o;
	CHECK(one_open(&o, &s) == 1);
	const void *p;
	size_t n;
	CHECK(cstor_tar_reader_trailing(o.r, &p, &n, &o.err) == -EINVAL);
	one_close(&o);
	cstor_tar_reader *r;
	CHECK(cstor_tar_reader_new(&r, NULL, NULL, 0, NULL) == -EINVAL);
	CHECK(cstor_tar_reader_new(&r, msrc_read, NULL, 0x80, NULL) == -EINVAL);
	cstor_tar_reader_free(NULL);
	msink_free(&s);
	return TEST_PASS;
}

TAP_MAIN(TEST(test_pax_overrides), TEST(test_pax_bad_values), TEST(test_pax_record_lengths),
	 TEST(test_extension_limits), TEST(test_gnu_long_names),
	 TEST(test_global_and_repeated_headers), TEST(test_xattr_records), TEST(test_content_api),
	 TEST(test_raw_accounting), TEST(test_copy_to_fd), TEST(test_api_misuse))
