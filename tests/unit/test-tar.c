/* SPDX-License-Identifier: Apache-2.0 */
/* Tar reader: archives from GNU tar in every format, hand-made headers for
 * each corner of the format, and hostile input. */
#include "tap.h"

#include <sys/sysmacros.h>

#include "util/error-internal.h"
#include "util/cleanup.h"

#include "test-tar-helpers.h"

/* ---- reading helpers ---------------------------------------------------- */

struct rd {
	struct msrc src;
	cstor_tar_reader *r;
	cstor_error err;
};

static int rd_open(struct rd *t, const void *data, size_t len, unsigned flags)
{
	*t = (struct rd){ .src = { data, len, 0, 0, 0 }, .err = CSTOR_ERROR_INIT };
	return cstor_tar_reader_new(&t->r, msrc_read, &t->src, flags, NULL);
}

static void rd_close(struct rd *t)
{
	cstor_tar_reader_free(t->r);
	cstor_error_clear(&t->err);
}

/* Next entry, its content into @content (may be NULL). */
static int rd_next(struct rd *t, const cstor_tar_header **h, struct msink *content)
{
	int r = cstor_tar_reader_next(t->r, h, &t->err);
	if (r <= 0 || !content)
		return r;
	content->len = 0;
	char buf[1000];
	ssize_t n;
	while ((n = cstor_tar_reader_read(t->r, buf, sizeof(buf), &t->err)) > 0)
		msink_append(content, buf, (size_t)n);
	return n < 0 ? (int)n : 1;
}

/* The error of reading the archive to its end, 0 if none. */
static int read_all(const void *data, size_t len, cstor_error *err)
{
	struct rd t;
	int r = rd_open(&t, data, len, CSTOR_TAR_READER_RAW);
	if (r < 0)
		return r;
	const cstor_tar_header *h;
	while ((r = cstor_tar_reader_next(t.r, &h, &t.err)) > 0)
		;
	cstor_error_move(err, &t.err);
	rd_close(&t);
	return r;
}

#define CHECK_READ_ERROR(data, len, code, substr)                                           \
	do {                                                                                \
		_cleanup_error_ cstor_error _e = CSTOR_ERROR_INIT;                          \
		int _r = read_all(data, len, &_e);                                          \
		CHECK_MSG(_r == -(code), "got %d (%s)", _r, cstor_error_message(&_e));      \
		CHECK_MSG(strstr(cstor_error_message(&_e), substr), "message: %s",          \
			  cstor_error_message(&_e));                                        \
	} while (0)

/* ---- archives made by GNU tar -------------------------------------------- */

enum tree_level { TREE_V7, TREE_USTAR, TREE_FULL };

static int build_tree(const char *d, enum tree_level level)
{
	bool root = geteuid() == 0;
	if (sh("cd '%s' && printf 'hello world\\n' > hello.txt && : > empty && "
	       "head -c 200000 /dev/urandom > big.bin && head -c 512 /dev/urandom > b512 && "
	       "mkdir sub && printf inner > sub/inner && chmod 0600 sub/inner && "
	       "ln -s ../hello.txt sub/link && ln hello.txt hard && "
	       "printf s > suid && chmod 04755 suid && "
	       "touch -h -d '2020-01-02 03:04:05.123456789' hello.txt sub/link sub",
	       d) < 0)
		return -1;
	if (root && sh("chown -h 1234:5678 '%s/sub/inner' '%s/sub/link'", d, d) < 0)
		return -1;
	if (level >= TREE_USTAR) {
		if (sh("cd '%s' && mkfifo fifo && mkdir -p %0*d/%0*d && printf deep > %0*d/%0*d/%0*d",
		       d, 60, 1, 80, 2, 60, 1, 80, 2, 90, 3) < 0)
			return -1;
		if (root && sh("cd '%s' && mknod null c 1 3 && mknod blk b 8 17", d) < 0)
			return -1;
	}
	if (level >= TREE_FULL) {
		char deep[400];
		memset(deep, 'd', sizeof(deep));
		for (int i = 50; i < 390; i += 51)
			deep[i] = '/';
		deep[390] = 0;
		if (sh("cd '%s' && mkdir -p \"$(dirname %s)\" && printf x > %s && ln -s %0*d longlink",
		       d, deep, deep, 150, 7) < 0)
			return -1;
	}
	return 0;
}

static bool same_content(const char *path, const struct msink *c)
{
	size_t len;
	unsigned char *data = slurp(path, &len);
	bool ok = data && len == c->len && memcmp(data, c->data, len) == 0;
	free(data);
	return ok;
}

/* Read @tarfile and check each member against the file it came from. */
static int verify_against_tree(const char *tarfile, const char *dir, bool nsec, int *count)
{
	size_t len;
	_cleanup_free_ unsigned char *data = slurp(tarfile, &len);
	CHECK(data);
	struct rd t;
	CHECK_OK(rd_open(&t, data, len, 0));
	const cstor_tar_header *h;
	struct msink content = { 0 };
	int r;
	*count = 0;
	while ((r = rd_next(&t, &h, &content)) > 0) {
		char path[1024];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, h->name);
		CHECK_MSG(lstat(path, &st) == 0, "%s", h->name);
		CHECK_MSG((h->mode & 07777) == (st.st_mode & 07777), "%s mode %llo", h->name,
			  (long long)h->mode);
		CHECK_MSG(h->uid == st.st_uid && h->gid == st.st_gid, "%s", h->name);
		CHECK_MSG(h->mtime.tv_sec == st.st_mtim.tv_sec, "%s", h->name);
		if (nsec && !S_ISLNK(st.st_mode))
			CHECK_MSG(h->mtime.tv_nsec == st.st_mtim.tv_nsec, "%s", h->name);
		switch (h->typeflag) {
		case '0':
			CHECK(S_ISREG(st.st_mode) && h->size == st.st_size);
			CHECK_MSG(same_content(path, &content), "%s", h->name);
			break;
		case '1': {
			char target[1024];
			struct stat st2;
			snprintf(target, sizeof(target), "%s/%s", dir, h->linkname);
			CHECK(lstat(target, &st2) == 0 && st2.st_ino == st.st_ino);
			CHECK(content.len == 0);
			break;
		}
		case '2': {
			char target[1024];
			ssize_t n = readlink(path, target, sizeof(target) - 1);
			CHECK(S_ISLNK(st.st_mode) && n >= 0);
			target[n] = 0;
			CHECK_STREQ(h->linkname, target);
			break;
		}
		case '3':
		case '4':
			CHECK(h->typeflag == '3' ? S_ISCHR(st.st_mode) : S_ISBLK(st.st_mode));
			CHECK(h->devmajor == major(st.st_rdev) && h->devminor == minor(st.st_rdev));
			break;
		case '5':
			CHECK(S_ISDIR(st.st_mode));
			break;
		case '6':
			CHECK(S_ISFIFO(st.st_mode));
			break;
		default:
			CHECK_MSG(false, "unexpected type %c", h->typeflag);
		}
		(*count)++;
	}
	CHECK_MSG(r == 0, "%s", cstor_error_message(&t.err));
	/* GNU tar pads to 10 KiB records: the rest is trailing data. */
	const void *p;
	size_t n;
	do
		CHECK_OK(cstor_tar_reader_trailing(t.r, &p, &n, &t.err));
	while (n > 0);
	CHECK(cstor_tar_reader_offset(t.r) == len && len % 10240 == 0);
	msink_free(&content);
	rd_close(&t);
	return TEST_PASS;
}

static int gnu_tar_format(const char *format, enum tree_level level, bool nsec)
{
	if (!have_cmd("tar"))
		return test_skip("no tar");
	char *tmp = make_tmpdir();
	CHECK(tmp);
	char src[512], tarfile[512];
	snprintf(src, sizeof(src), "%s/src", tmp);
	snprintf(tarfile, sizeof(tarfile), "%s/a.tar", tmp);
	int ret = TEST_FAIL, count = 0;
	if (mkdir(src, 0755) == 0 && build_tree(src, level) == 0 &&
	    sh("tar --format=%s -cf '%s' -C '%s' .", format, tarfile, src) == 0 &&
	    verify_against_tree(tarfile, src, nsec, &count) == TEST_PASS)
		ret = count >= 10 ? TEST_PASS : TEST_FAIL;
	remove_tmpdir(tmp);
	return ret;
}

static int test_gnu_tar_v7(void)
{
	return gnu_tar_format("v7", TREE_V7, false);
}

static int test_gnu_tar_ustar(void)
{
	return gnu_tar_format("ustar", TREE_USTAR, false);
}

static int test_gnu_tar_gnu(void)
{
	return gnu_tar_format("gnu", TREE_FULL, false);
}

static int test_gnu_tar_oldgnu(void)
{
	return gnu_tar_format("oldgnu", TREE_FULL, false);
}

static int test_gnu_tar_pax(void)
{
	return gnu_tar_format("posix", TREE_FULL, true);
}

static int test_gnu_tar_xattrs(void)
{
	if (!have_cmd("tar") || !have_cmd("setfattr"))
		return test_skip("no tar or setfattr");
	char *tmp = make_tmpdir();
	CHECK(tmp);
	int ret = TEST_FAIL;
	char tarfile[512];
	snprintf(tarfile, sizeof(tarfile), "%s/x.tar", tmp);
	if (sh("cd '%s' && printf data > f && setfattr -n user.bin -v 0x00ff0a3d f && "
	       "setfattr -n user.text -v hello f && "
	       "tar --xattrs --xattrs-include='user.*' -cf x.tar f 2>/dev/null",
	       tmp) != 0) {
		remove_tmpdir(tmp);
		return test_skip("filesystem without user xattrs");
	}
	size_t len;
	unsigned char *data = slurp(tarfile, &len);
	struct rd t;
	const cstor_tar_header *h;
	if (data && rd_open(&t, data, len, 0) == 0) {
		if (rd_next(&t, &h, NULL) == 1 && h->n_xattrs == 2) {
			const struct cstor_tar_xattr *bin = &h->xattrs[0], *txt = &h->xattrs[1];
			if (strcmp(bin->name, "user.bin") != 0) {
				bin = &h->xattrs[1];
				txt = &h->xattrs[0];
			}
			if (streq(bin->name, "user.bin") && bin->value_len == 4 &&
			    memcmp(bin->value, "\x00\xff\x0a\x3d", 4) == 0 &&
			    streq(txt->name, "user.text") && txt->value_len == 5 &&
			    h->format == CSTOR_TAR_FORMAT_PAX)
				ret = TEST_PASS;
		}
		rd_close(&t);
	}
	free(data);
	remove_tmpdir(tmp);
	return ret;
}

/* ---- hand-made headers ---------------------------------------------------- */

static int test_base256_numbers(void)
{
	struct msink s = { 0 };
	unsigned char b[512];
	blk_init(b, "big", '0', 0, "gnu");
	/* uid 2^40 and a size of 3 in base-256. */
	memset(b + 108, 0, 8);
	b[108] = 0x80;
	b[110] = 0x01;
	memset(b + 124, 0, 12);
	b[124] = 0x80;
	b[135] = 3;
	put_entry(&s, b, NULL, 0);
	msink_append(&s, "abc", 3);
	msink_append(&s, (unsigned char[509]){ 0 }, 509);
	put_end(&s);
	struct rd t;
	const cstor_tar_header *h;
	struct msink c = { 0 };
	CHECK_OK(rd_open(&t, s.data, s.len, 0));
	CHECK(rd_next(&t, &h, &c) == 1);
	CHECK(h->uid == (INT64_C(1) << 40) && h->size == 3 && c.len == 3);
	CHECK(h->format == CSTOR_TAR_FORMAT_GNU);
	CHECK(rd_next(&t, &h, NULL) == 0);
	rd_close(&t);
	msink_free(&c);

	/* A negative base-256 uid is refused. */
	s.len = 0;
	blk_init(b, "neg", '0', 0, "gnu");
	memset(b + 108, 0xff, 8);
	put_entry(&s, b, NULL, 0);
	put_end(&s);
	CHECK_READ_ERROR(s.data, s.len, EBADMSG, "negative uid");
	/* So is base-256 overflow. */
	s.len = 0;
	blk_init(b, "ovf", '0', 0, "gnu");
	memset(b + 124, 0xff, 12);
	b[124] = 0x80;
	put_entry(&s, b, NULL, 0);
	put_end(&s);
	CHECK_READ_ERROR(s.data, s.len, EBADMSG, "invalid numeric field");
	msink_free(&s);
	return TEST_PASS;
}

static int test_checksums(void)
{
	struct msink s = { 0 };
	unsigned char b[512];
	/* Sun tar summed signed bytes: accepted. */
	blk_init(b, "caf\xc3\xa9", '0', 0, "ustar");
	blk_sum(b, true);
	msink_append(&s, b, 512);
	put_end(&s);
	_cleanup_error_ cstor_error e = CSTOR_ERROR_INIT;
	CHECK_OK(read_all(s.data, s.len, &e));

	/* A wrong checksum names the offset of the header. */
	s.len = 0;
	blk_init(b, "a", '0', 0, "ustar");
	put_entry(&s, b, NULL, 0);
	blk_init(b, "b", '0', 0, "ustar");
	blk_sum(b, false);
	b[0] = 'c';
	msink_append(&s, b, 512);
	put_end(&s);
	CHECK_READ_ERROR(s.data, s.len, EBADMSG, "invalid tar header checksum at offset 512");

	/* Garbage is a checksum error, not a crash. */
	unsigned char junk[1536];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 7 + 3);
	CHECK_READ_ERROR(junk, sizeof(junk), EBADMSG, "checksum at offset 0");
	msink_free(&s);
	return TEST_PASS;
}

static int test_end_of_archive(void)
{
	struct msink s = { 0 };
	unsigned char b[512];
	_cleanup_error_ cstor_error e = CSTOR_ERROR_INIT;
	blk_init(b, "a", '0', 3, "ustar");
	put_entry(&s, b, "abc", 3);
	size_t one = s.len;
	/* No end marker at all, one zero block, two: all a clean end. */
	CHECK_OK(read_all(s.data, one, &e));
	msink_append(&s, (unsigned char[512]){ 0 }, 512);
	CHECK_OK(read_all(s.data, s.len, &e));
	msink_append(&s, (unsigned char[512]){ 0 }, 512);
	CHECK_OK(read_all(s.data, s.len, &e));
	/* Empty input is an empty archive. */
	CHECK_OK(read_all("", 0, &e));
	/* Input ending inside the padding after content ends the archive too
	 * (Go reads it as EOF). */
	CHECK_OK(read_all(s.data, 512 + 100, &e));
	/* A zero block followed by a header is an error, as in Go. */
	s.len = one;
	msink_append(&s, (unsigned char[512]){ 0 }, 512);
	blk_init(b, "late", '0', 0, "ustar");
	put_entry(&s, b, NULL, 0);
	CHECK_READ_ERROR(s.data, s.len, EBADMSG, "data after a zero block");
	/* A zero block and then half a block. */
	s.len = one + 512 + 200;
	CHECK_READ_ERROR(s.data, s.len, EBADMSG, "unexpected EOF (end of archive) in header");
	msink_free(&s);
	return TEST_PASS;
}

static int test_truncated(void)
{
	struct msink s = { 0 };
	unsigned char b[512];
	blk_init(b, "dir/file.bin", '0', 5000, "ustar");
	unsigned char content[5000] = { 1 };
	put_entry(&s, b, content, sizeof(content));
	put_end(&s);
	/* Inside the content. */
	CHECK_READ_ERROR(s.data, 512 + 4000, EBADMSG,
			 "unexpected EOF (end of archive) in entry dir/file.bin");
	/* Inside a header. */
	CHECK_READ_ERROR(s.data, 300, EBADMSG, "unexpected EOF (end of archive) in header at offset 0");
	/* An absurd size is only a truncation, never an allocation. */
	s.len = 0;
	blk_init(b, "huge", '0', 077777777777ULL, "ustar");
	put_entry(&s, b, NULL, 0);
	put_end(&s);
	CHECK_READ_ERROR(s.data, s.len, EBADMSG, "unexpected EOF (end of archive) in entry huge");
	/* Inside a pax header body. */
	s.len = 0;
	struct msink body = { 0 };
	pax_rec(&body, "path", "x", 1);
	put_pax(&s, 'x', &body);
	CHECK_READ_ERROR(s.data, 512 + 5, EBADMSG, "in extension header at offset 0");
	msink_free(&body);
	msink_free(&s);
	return TEST_PASS;
}

static int test_callback_error_is_sticky(void)
{
	struct msink s = { 0 };
	unsigned char b[512];
	blk_init(b, "a", '0', 3000, "ustar");
	put_entry(&s, b, (unsigned char[3000]){ 0 }, 3000);
	put_end(&s);
	struct rd t;
	const cstor_tar_header *h;
	CHECK_OK(rd_open(&t, s.data, s.len, 0));
	t.src.fail_at = 1024;
	t.src.chunk = 512;
	CHECK(cstor_tar_reader_next(t.r, &h, &t.err) == 1);
	char buf[4096];
	ssize_t n;
	while ((n = cstor_tar_reader_read(t.r, buf, sizeof(buf), &t.err)) > 0)
		;
	CHECK(n == -EIO);
	CHECK(strstr(cstor_error_message(&t.err), "Input/output error"));
	CHECK(cstor_tar_reader_next(t.r, &h, &t.err) == -EIO);
	rd_close(&t);
	msink_free(&s);
	return TEST_PASS;
}

static int test_nul_in_names(void)
{
	struct msink s = { 0 };
	unsigned char b[512];
	blk_init(b, "abc", '0', 0, "ustar");
	memcpy(b, "abc\0def", 7);
	memcpy(b + 157, "lnk\0zzz", 7);
	put_entry(&s, b, NULL, 0);
	put_end(&s);
	struct rd t;
	const cstor_tar_header *h;
	CHECK_OK(rd_open(&t, s.data, s.len, 0));
	CHECK(rd_next(&t, &h, NULL) == 1);
	CHECK_STREQ(h->name, "abc");
	CHECK_STREQ(h->linkname, "lnk");
	rd_close(&t);

	/* NUL inside a pax path is refused (Go's validPAXRecord). */
	s.len = 0;
	struct msink body = { 0 };
	pax_rec(&body, "path", "a\0b", 3);
	put_pax(&s, 'x', &body);
	blk_init(b, "x", '0', 0, "ustar");
	put_entry(&s, b, NULL, 0);
	put_end(&s);
	CHECK_READ_ERROR(s.data, s.len, EBADMSG, "NUL byte in pax record path");
	/* ...but fine in other values. */
	s.len = body.len = 0;
	pax_rec(&body, "SCHILY.xattr.user.v", "a\0b", 3);
	put_pax(&s, 'x', &body);
	put_entry(&s, b, NULL, 0);
	put_end(&s);
	CHECK_OK(rd_open(&t, s.data, s.len, 0));
	CHECK(rd_next(&t, &h, NULL) == 1);
	CHECK(h->n_xattrs == 1 && h->xattrs[0].value_len == 3 &&
	      memcmp(h->xattrs[0].value, "a\0b", 3) == 0);
	rd_close(&t);
	msink_free(&body);
	msink_free(&s);
	return TEST_PASS;
}

static int test_ustar_prefix_and_star(void)
{
	struct msink s = { 0 };
	unsigned char b[512];
	blk_init(b, "file", '0', 0, "ustar");
	memcpy(b + 345, "some/prefix", 11);
	put_entry(&s, b, NULL, 0);
	blk_init(b, "sfile", '0', 0, "star");
	memcpy(b + 345, "starpre", 7);
	blk_octal(b + 476, 12, 111);
	blk_octal(b + 488, 12, 222);
	put_entry(&s, b, NULL, 0);
	/* Old GNU: the prefix field holds atime/ctime. */
	blk_init(b, "gfile", '0', 0, "gnu");
	blk_octal(b + 345, 12, 333);
	blk_octal(b + 357, 12, 444);
	put_entry(&s, b, NULL, 0);
	/* v7: no ustar fields at all, not even uname. */
	blk_init(b, "v7file", '0', 0, NULL);
	memcpy(b + 265, "ignored", 7);
	put_entry(&s, b, NULL, 0);
	put_end(&s);
	struct rd t;
	const cstor_tar_header *h;
	CHECK_OK(rd_open(&t, s.data, s.len, 0));
	CHECK(rd_next(&t, &h, NULL) == 1);
	CHECK_STREQ(h->name, "some/prefix/file");
	CHECK(h->format == CSTOR_TAR_FORMAT_USTAR && !h->has_atime);
	CHECK(rd_next(&t, &h, NULL) == 1);
	CHECK_STREQ(h->name, "starpre/sfile");
	CHECK(h->format == CSTOR_TAR_FORMAT_STAR && h->atime.tv_sec == 111 &&
	      h->ctime.tv_sec == 222);
	CHECK(rd_next(&t, &h, NULL) == 1);
	CHECK_STREQ(h->name, "gfile");
	CHECK(h->has_atime && h->atime.tv_sec == 333 && h->has_ctime && h->ctime.tv_sec == 444);
	CHECK(rd_next(&t, &h, NULL) == 1);
	CHECK_STREQ(h->name, "v7file");
	CHECK_STREQ(h->uname, "");
	CHECK(h->format == CSTOR_TAR_FORMAT_V7);
	CHECK(rd_next(&t, &h, NULL) == 0);
	rd_close(&t);
	msink_free(&s);
	return TEST_PASS;
}

static int test_typeflags(void)
{
	struct msink s = { 0 };
	unsigned char b[512];
	/* '\0' with a trailing slash is a directory, and then, like in Go, the
	 * recorded size does not announce content: the next block is the next
	 * header. */
	blk_init(b, "olddir/", '\0', 1024, NULL);
	put_entry(&s, b, NULL, 0);
	blk_init(b, "oldfile", '\0', 2, NULL);
	put_entry(&s, b, "hi", 2);
	blk_init(b, "cont", '7', 1, "ustar");
	put_entry(&s, b, "c", 1);
	blk_init(b, "hl", '1', 0, "ustar");
	memcpy(b + 157, "oldfile", 7);
	put_entry(&s, b, NULL, 0);
	blk_init(b, "vendor", 'V', 1, "gnu");
	put_entry(&s, b, "v", 1);
	put_end(&s);
	struct rd t;
	const cstor_tar_header *h;
	struct msink c = { 0 };
	CHECK_OK(rd_open(&t, s.data, s.len, 0));
	CHECK(rd_next(&t, &h, &c) == 1);
	CHECK(h->typeflag == '5' && h->size == 1024 && c.len == 0);
	CHECK(cstor_tar_reader_content_size(t.r) == 0);
	CHECK(rd_next(&t, &h, &c) == 1);
	CHECK(h->typeflag == '0' && c.len == 2 && cstor_tar_header_is_regular(h));
	CHECK(rd_next(&t, &h, &c) == 1);
	CHECK(h->typeflag == '7' && c.len == 1 && cstor_tar_header_is_regular(h));
	CHECK(rd_next(&t, &h, &c) == 1);
	CHECK(h->typeflag == '1' && streq(h->linkname, "oldfile"));
	CHECK(rd_next(&t, &h, &c) == 1);
	CHECK(h->typeflag == 'V' && c.len == 1);
	CHECK(rd_next(&t, &h, &c) == 0);
	rd_close(&t);
	msink_free(&c);
	msink_free(&s);
	return TEST_PASS;
}

static int test_sparse_refused(void)
{
	struct msink s = { 0 };
	unsigned char b[512];
	blk_init(b, "sparse", 'S', 0, "gnu");
	put_entry(&s, b, NULL, 0);
	put_end(&s);
	CHECK_READ_ERROR(s.data, s.len, ENOTSUP, "sparse files are not supported (entry sparse)");
	s.len = 0;
	struct msink body = { 0 };
	pax_rec(&body, "GNU.sparse.major", "1", 1);
	pax_rec(&body, "GNU.sparse.minor", "0", 1);
	put_pax(&s, 'x', &body);
	blk_init(b, "psparse", '0', 0, "ustar");
	put_entry(&s, b, NULL, 0);
	put_end(&s);
	CHECK_READ_ERROR(s.data, s.len, ENOTSUP, "sparse files are not supported");
	msink_free(&body);
	msink_free(&s);
	return TEST_PASS;
}

TAP_MAIN(TEST(test_gnu_tar_v7), TEST(test_gnu_tar_ustar), TEST(test_gnu_tar_gnu),
	 TEST(test_gnu_tar_oldgnu), TEST(test_gnu_tar_pax), TEST(test_gnu_tar_xattrs),
	 TEST(test_base256_numbers), TEST(test_checksums), TEST(test_end_of_archive),
	 TEST(test_truncated), TEST(test_callback_error_is_sticky), TEST(test_nul_in_names),
	 TEST(test_ustar_prefix_and_star), TEST(test_typeflags), TEST(test_sparse_refused))
