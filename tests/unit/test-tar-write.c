/* SPDX-License-Identifier: Apache-2.0 */
/* Tar writer: byte equality with Go's archive/tar, round trips through the
 * reader and GNU tar, the Go CLI's diff output, and misuse. */
#include "tap.h"

#include "util/error-internal.h"
#include "util/cleanup.h"

#include "archive/crc64.h"
#include "test-tar-helpers.h"

static char *rep(char c, size_t n)
{
	static char bufs[32][1100]; /* enough for every use in one test */
	static int k;
	char *b = bufs[k++ % 32];
	memset(b, c, n);
	b[n] = 0;
	return b;
}

static cstor_tar_header reg(const char *name, int64_t size)
{
	return (cstor_tar_header){ .name = (char *)name, .typeflag = '0', .mode = 0100644,
				   .uid = 1000, .gid = 1000, .size = size,
				   .mtime = { .tv_sec = 1600000000, .tv_nsec = 999 },
				   .uname = "user", .gname = "group" };
}

/* Expected length and CRC-64 of Go 1.19's archive/tar output for the same
 * headers (Format unset), computed by the Go program at the end of this
 * file. */
struct vector {
	const char *name;
	size_t len;
	uint64_t crc;
	cstor_tar_header h[4];
	size_t n;
};

static int write_vector(const struct vector *v, struct msink *out)
{
	cstor_tar_writer *w;
	_cleanup_error_ cstor_error err = CSTOR_ERROR_INIT;
	CHECK_OK(cstor_tar_writer_new(&w, msink_write, out, NULL));
	for (size_t i = 0; i < v->n; i++) {
		CHECK_MSG(cstor_tar_writer_header(w, &v->h[i], &err) == 0, "%s: %s", v->name,
			  cstor_error_message(&err));
		char tf = v->h[i].typeflag;
		if (tf == '0' || tf == 0)
			for (int64_t k = 0; k < v->h[i].size; k++)
				CHECK_OK(cstor_tar_writer_data(w, "z", 1, &err));
	}
	CHECK_OK(cstor_tar_writer_close(w, &err));
	CHECK(cstor_tar_writer_offset(w) == out->len);
	cstor_tar_writer_free(w);
	return TEST_PASS;
}

static int test_go_vectors(void)
{
	struct cstor_tar_xattr xa[] = {
		{ "user.b", (unsigned char *)"v\0\1", 3 },
		{ "security.capability", (unsigned char *)"\1\0\0\2", 4 },
		{ "user.a", (unsigned char *)"", 0 },
		{ "trusted.\xc3\xa9", (unsigned char *)"\xc3\xbc", 2 },
	};
	struct cstor_tar_xattr x1 = { "user.x", (unsigned char *)"1", 1 };
	struct cstor_tar_xattr xbig = { "user.big", (unsigned char *)rep('v', 1000), 1000 };
	char v76[80], v77[80];
	memset(v76, 'v', 76);
	memset(v77, 'v', 77);
	struct cstor_tar_xattr x98 = { "user.k", (unsigned char *)v76, 76 };
	struct cstor_tar_xattr x99 = { "user.k", (unsigned char *)v77, 77 };
	struct cstor_tar_pax_record extra[] = {
		{ "GOLANG.pkg", "x", 1 }, { "path", "ignored", 7 }, { "comment", "c\n", 2 } };
	char name300[310], dsplit[200], n101[120], trail[120], dot[130];
	name300[0] = dsplit[0] = 0;
	for (int i = 0; i < 30; i++)
		strcat(name300, "abcdefghi/");
	strcat(name300, "f");
	snprintf(dsplit, sizeof(dsplit), "%s/%s/", rep('x', 60), rep('y', 89));
	snprintf(n101, sizeof(n101), "%s/%s", rep('d', 50), rep('f', 50));
	snprintf(trail, sizeof(trail), "\xc3\xa9%s/cc/", rep('a', 99));
	snprintf(dot, sizeof(dot), "./%s", rep('a', 120));

	struct vector v[] = {
		{ "reg", 2048, UINT64_C(0xd58ab324d5d4ab0b), { reg("a.txt", 5) }, 1 },
		{ "dir", 1536, UINT64_C(0x48744c053b6c5296), { reg("dir/", 0) }, 1 },
		{ "name100", 1536, UINT64_C(0xac39a47db873ded1), { reg(rep('n', 100), 0) }, 1 },
		{ "split101", 1536, UINT64_C(0x31ecdea43e158570), { reg(n101, 0) }, 1 },
		{ "noslash101", 2560, UINT64_C(0xe97bf3daa27210d3), { reg(rep('n', 101), 0) }, 1 },
		{ "name300", 2560, UINT64_C(0x9d1d1795ac936388), { reg(name300, 0) }, 1 },
		{ "dirsplit", 1536, UINT64_C(0x9b25577eb97e4801), { reg(dsplit, 0) }, 1 },
		{ "trailslash", 2560, UINT64_C(0x5b866ad472e2fc9b), { reg(trail, 0) }, 1 },
		{ "biguid", 2560, UINT64_C(0xedd89096742cfb6b), { reg("u", 0) }, 1 },
		{ "negmtime", 2560, UINT64_C(0x45e702a816846a76), { reg("old", 0) }, 1 },
		{ "hugemtime", 2560, UINT64_C(0x6d15d06dd92e3f6e), { reg("future", 0) }, 1 },
		{ "uname33", 2560, UINT64_C(0x76c5a4d9a131683d), { reg("u33", 0) }, 1 },
		{ "unameutf", 2560, UINT64_C(0xbca530c1e6a646e4), { reg("uu", 0) }, 1 },
		{ "xattrs", 3072, UINT64_C(0xadb6d492016afe70), { reg("x", 3) }, 1 },
		{ "symlink100", 1536, UINT64_C(0x246dfc3cfac2c0ab),
		  { { .name = "s", .linkname = rep('t', 100), .typeflag = '2', .mode = 0120777,
		      .mtime = { 1, 0 } } }, 1 },
		{ "symlink101", 2560, UINT64_C(0x8d94817f04ca9f21),
		  { { .name = "s", .linkname = rep('t', 101), .typeflag = '2', .mode = 0120777,
		      .mtime = { 1, 0 } } }, 1 },
		{ "hardlink", 2560, UINT64_C(0x4e016365c0df260e),
		  { reg("a", 2), { .name = "b", .linkname = "a", .typeflag = '1', .mode = 0100644,
				   .mtime = { 1, 0 } } }, 2 },
		{ "devices", 2560, UINT64_C(0xa4f1170f5b8354c9),
		  { { .name = "null", .typeflag = '3', .mode = 020666, .devmajor = 1, .devminor = 3 },
		    { .name = "sda", .typeflag = '4', .mode = 060660, .devmajor = 8,
		      .devminor = 1048575 },
		    { .name = "fifo", .typeflag = '6', .mode = 010644 } }, 3 },
		{ "rega", 1536, UINT64_C(0x7e8a5742310a10f1), { reg("promoted/", 0) }, 1 },
		{ "extrapax", 2560, UINT64_C(0x407882de9580bc34), { reg("p", 0) }, 1 },
		{ "xattrsplit", 2560, UINT64_C(0x8e299c66b527f351), { reg(n101, 0) }, 1 },
		{ "dotname", 3072, UINT64_C(0x13a11c48e9050346), { reg(dot, 1) }, 1 },
		{ "emptyname", 1536, UINT64_C(0x89a0930c9c952be9), { reg("", 0) }, 1 },
		{ "setuid", 1536, UINT64_C(0x7ed3298788f8324a), { reg("suid", 0) }, 1 },
		{ "sizes", 5632, UINT64_C(0xfed7e5e39bec2e85),
		  { reg("one", 1), reg("b511", 511), reg("b512", 512), reg("b513", 513) }, 4 },
		{ "nonasciilink", 2560, UINT64_C(0x9cbd6cfcce728829),
		  { { .name = "l", .linkname = "\xc3\xbc", .typeflag = '2', .mode = 0120777 } }, 1 },
		{ "longpaxrec", 3584, UINT64_C(0x8aaaec062b2f63d8), { reg("lp", 0) }, 1 },
		{ "pax98", 2560, UINT64_C(0x059b5326a4d23f59), { reg("n", 0) }, 1 },
		{ "pax99", 2560, UINT64_C(0x8fa02422348930a2), { reg("n", 0) }, 1 },
	};
	for (size_t i = 0; i < ELEMENTSOF(v); i++) {
		cstor_tar_header *h = &v[i].h[0];
		const char *n = v[i].name;
		if (streq(n, "dir")) {
			h->typeflag = '5';
			h->mode = 040755;
		} else if (streq(n, "dirsplit") || streq(n, "trailslash"))
			h->typeflag = '5';
		else if (streq(n, "biguid")) {
			h->uid = 2097152;
			h->gid = 07777777;
		} else if (streq(n, "negmtime"))
			h->mtime.tv_sec = -315619200;
		else if (streq(n, "hugemtime"))
			h->mtime.tv_sec = INT64_C(1) << 33;
		else if (streq(n, "uname33")) {
			h->uname = rep('u', 33);
			h->gname = rep('g', 32);
		} else if (streq(n, "unameutf"))
			h->uname = "j\xc3\xb6rg";
		else if (streq(n, "xattrs")) {
			h->xattrs = xa;
			h->n_xattrs = ELEMENTSOF(xa);
		} else if (streq(n, "rega"))
			h->typeflag = 0;
		else if (streq(n, "extrapax")) {
			h->pax = extra;
			h->n_pax = ELEMENTSOF(extra);
		} else if (streq(n, "xattrsplit")) {
			h->xattrs = &x1;
			h->n_xattrs = 1;
		} else if (streq(n, "setuid"))
			h->mode = 0104755;
		else if (streq(n, "longpaxrec")) {
			h->xattrs = &xbig;
			h->n_xattrs = 1;
		} else if (streq(n, "pax98")) {
			h->xattrs = &x98;
			h->n_xattrs = 1;
		} else if (streq(n, "pax99")) {
			h->xattrs = &x99;
			h->n_xattrs = 1;
		}
		struct msink out = { 0 };
		if (write_vector(&v[i], &out) != TEST_PASS)
			return TEST_FAIL;
		uint64_t crc = cstor_crc64_update(0, out.data, out.len);
		CHECK_MSG(out.len == v[i].len && crc == v[i].crc, "%s: len %zu crc %016llx", n,
			  out.len, (unsigned long long)crc);
		msink_free(&out);
	}
	return TEST_PASS;
}

/* Everything the writer accepts reads back the same. */
static int test_roundtrip(void)
{
	struct cstor_tar_xattr xa[] = { { "user.a", (unsigned char *)"1\0002", 3 },
					{ "security.capability", (unsigned char *)"\1\2", 2 } };
	cstor_tar_header hs[] = {
		reg("plain", 10),
		reg(rep('p', 250), 700),
		{ .name = "dir/", .typeflag = '5', .mode = 040700, .uid = 5000000, .gid = 6,
		  .mtime = { -5, 0 }, .uname = "u" },
		{ .name = "lnk", .linkname = rep('t', 300), .typeflag = '2', .mode = 0120777 },
		{ .name = "hl", .linkname = "plain", .typeflag = '1', .mode = 0644 },
		{ .name = "dev", .typeflag = '3', .mode = 020600, .devmajor = 4095,
		  .devminor = 1048575 },
		{ .name = "\xe2\x80\xa8weird<&>", .typeflag = '0', .mode = 0644, .xattrs = xa,
		  .n_xattrs = 2 },
	};
	struct msink out = { 0 };
	cstor_tar_writer *w;
	_cleanup_error_ cstor_error err = CSTOR_ERROR_INIT;
	CHECK_OK(cstor_tar_writer_new(&w, msink_write, &out, NULL));
	for (size_t i = 0; i < ELEMENTSOF(hs); i++) {
		CHECK_OK(cstor_tar_writer_header(w, &hs[i], &err));
		if (hs[i].typeflag == '0' && hs[i].size) {
			char *buf = malloc((size_t)hs[i].size);
			memset(buf, (int)i, (size_t)hs[i].size);
			CHECK_OK(cstor_tar_writer_data(w, buf, (size_t)hs[i].size, &err));
			free(buf);
		}
	}
	CHECK_OK(cstor_tar_writer_close(w, &err));
	cstor_tar_writer_free(w);

	struct msrc src = { out.data, out.len, 0, 0, 0 };
	cstor_tar_reader *r;
	CHECK_OK(cstor_tar_reader_new(&r, msrc_read, &src, 0, NULL));
	for (size_t i = 0; i < ELEMENTSOF(hs); i++) {
		const cstor_tar_header *h;
		CHECK(cstor_tar_reader_next(r, &h, &err) == 1);
		CHECK_STREQ(h->name, hs[i].name);
		CHECK_STREQ(h->linkname, hs[i].linkname ? hs[i].linkname : "");
		CHECK_STREQ(h->uname, hs[i].uname ? hs[i].uname : "");
		CHECK(h->typeflag == hs[i].typeflag && h->mode == hs[i].mode);
		CHECK(h->uid == hs[i].uid && h->gid == hs[i].gid && h->size == hs[i].size);
		CHECK(h->mtime.tv_sec == hs[i].mtime.tv_sec && h->mtime.tv_nsec == 0);
		CHECK(h->devmajor == hs[i].devmajor && h->devminor == hs[i].devminor);
		CHECK(h->n_xattrs == hs[i].n_xattrs);
		for (size_t k = 0; k < h->n_xattrs; k++) {
			/* The pax header sorts them by key. */
			const struct cstor_tar_xattr *want = &hs[i].xattrs[1 - k];
			CHECK_STREQ(h->xattrs[k].name, want->name);
			CHECK(h->xattrs[k].value_len == want->value_len &&
			      memcmp(h->xattrs[k].value, want->value, want->value_len) == 0);
		}
		CHECK(cstor_tar_reader_content_size(r) == (hs[i].typeflag == '0' ? hs[i].size : 0));
	}
	const cstor_tar_header *h;
	CHECK(cstor_tar_reader_next(r, &h, &err) == 0);
	CHECK(cstor_tar_reader_offset(r) == out.len);
	cstor_tar_reader_free(r);

	/* GNU tar lists it without complaint. */
	char *tmp = make_tmpdir();
	CHECK(tmp);
	char path[512];
	snprintf(path, sizeof(path), "%s/out.tar", tmp);
	FILE *f = fopen(path, "we");
	CHECK(f && fwrite(out.data, 1, out.len, f) == out.len);
	fclose(f);
	int ok = !have_cmd("tar") || sh("tar -tvf '%s' > /dev/null", path) == 0;
	remove_tmpdir(tmp);
	CHECK(ok);
	msink_free(&out);
	return TEST_PASS;
}

static int test_errors(void)
{
	struct msink out = { 0 };
	cstor_tar_writer *w;
	_cleanup_error_ cstor_error err = CSTOR_ERROR_INIT;
	CHECK_OK(cstor_tar_writer_new(&w, msink_write, &out, NULL));
	cstor_tar_header h = reg("file/", 0);
	CHECK(cstor_tar_writer_header(w, &h, &err) == -EINVAL);
	CHECK(strstr(cstor_error_message(&err), "trailing slash"));
	h = reg("neg", -1);
	CHECK(cstor_tar_writer_header(w, &h, &err) == -EINVAL);
	h = (cstor_tar_header){ .name = "dev", .typeflag = '3', .devmajor = 2097152 };
	CHECK(cstor_tar_writer_header(w, &h, &err) == -EINVAL);
	h = reg("x", 0);
	h.typeflag = 'x';
	CHECK(cstor_tar_writer_header(w, &h, &err) == -EINVAL);
	struct cstor_tar_xattr bad = { "user.a=b", (unsigned char *)"v", 1 };
	h = reg("x", 0);
	h.xattrs = &bad;
	h.n_xattrs = 1;
	CHECK(cstor_tar_writer_header(w, &h, &err) == -EINVAL);
	/* Too much, then too little content. */
	h = reg("five", 5);
	CHECK_OK(cstor_tar_writer_header(w, &h, &err));
	CHECK(cstor_tar_writer_data(w, "123456", 6, &err) == -EINVAL);
	CHECK_OK(cstor_tar_writer_data(w, "123", 3, &err));
	h = reg("next", 0);
	CHECK(cstor_tar_writer_header(w, &h, &err) == -EINVAL);
	CHECK(strstr(cstor_error_message(&err), "missed writing 2 bytes"));
	CHECK(cstor_tar_writer_close(w, &err) == -EINVAL);
	CHECK_OK(cstor_tar_writer_data(w, "45", 2, &err));
	CHECK_OK(cstor_tar_writer_close(w, &err));
	CHECK(out.len == 2048);
	CHECK(cstor_tar_writer_header(w, &h, &err) == -EINVAL);
	cstor_tar_writer_free(w);

	/* Write errors propagate and stick. */
	struct msink bad_sink = { .fail = -ENOSPC };
	CHECK_OK(cstor_tar_writer_new(&w, msink_write, &bad_sink, NULL));
	h = reg("big", 200000);
	CHECK_OK(cstor_tar_writer_header(w, &h, &err));
	char *buf = calloc(1, 200000);
	CHECK(cstor_tar_writer_data(w, buf, 200000, &err) == -ENOSPC);
	free(buf);
	CHECK(cstor_tar_writer_close(w, &err) == -ENOSPC);
	cstor_tar_writer_free(w);
	msink_free(&out);
	return TEST_PASS;
}

static int test_data_fd(void)
{
	char *tmp = make_tmpdir();
	CHECK(tmp);
	char path[512];
	snprintf(path, sizeof(path), "%s/f", tmp);
	FILE *f = fopen(path, "we");
	for (int i = 0; i < 300000; i++)
		fputc(i & 0xff, f);
	fclose(f);
	struct msink out = { 0 };
	cstor_tar_writer *w;
	_cleanup_error_ cstor_error err = CSTOR_ERROR_INIT;
	int ret = TEST_FAIL;
	CHECK_OK(cstor_tar_writer_new(&w, msink_write, &out, NULL));
	cstor_tar_header h = reg("f", 300000);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (cstor_tar_writer_header(w, &h, &err) == 0 && cstor_tar_writer_data_fd(w, fd, &err) == 0 &&
	    out.len + 0 <= 512 + 300000) {
		/* The file grew since the header was written. */
		h = reg("g", 299999);
		lseek(fd, 0, SEEK_SET);
		if (cstor_tar_writer_header(w, &h, &err) == 0 &&
		    cstor_tar_writer_data_fd(w, fd, &err) == -EIO &&
		    strstr(cstor_error_message(&err), "grew"))
			ret = TEST_PASS;
	}
	close(fd);
	cstor_tar_writer_free(w);
	/* It shrank. */
	out.len = 0;
	CHECK_OK(cstor_tar_writer_new(&w, msink_write, &out, NULL));
	h = reg("s", 300001);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (ret == TEST_PASS &&
	    (cstor_tar_writer_header(w, &h, &err) < 0 || cstor_tar_writer_data_fd(w, fd, &err) != -EIO ||
	     !strstr(cstor_error_message(&err), "shrank")))
		ret = TEST_FAIL;
	close(fd);
	cstor_tar_writer_free(w);
	msink_free(&out);
	remove_tmpdir(tmp);
	return ret;
}

/* A diff written by the Go CLI reads and rewrites to the same bytes. */
static int test_go_cli_diff(void)
{
	if (geteuid() != 0 || !have_cmd("containers-storage") || !have_cmd("setfattr"))
		return test_skip("needs root and containers-storage");
	char *tmp = make_tmpdir();
	CHECK(tmp);
	char cs[600], diff[600];
	snprintf(cs, sizeof(cs), "containers-storage -g '%s/g' -R '%s/r' -s vfs", tmp, tmp);
	snprintf(diff, sizeof(diff), "%s/diff.tar", tmp);
	int r = sh("set -e; cd '%s'; L=$(%s create-layer | tail -1); M=$(%s mount $L); "
		   "cd $M; mkdir -p %s/%s; echo x > %s/%s/f; echo u > \"$(printf '\\303\\251')\"; "
		   "echo v > v; setfattr -n user.k -v 0x0001ff v; touch -d 1960-01-01 v; "
		   "chown 3000000:4000000 v; mknod blk b 8 1; ln -s %s longlink; ln v hard; "
		   "mkfifo fifo; cd /; %s unmount $L >/dev/null; %s diff -u -f '%s' $L",
		   tmp, cs, cs, rep('a', 70), rep('b', 70), rep('a', 70), rep('b', 70),
		   rep('L', 150), cs, cs, diff);
	size_t len = 0;
	unsigned char *data = r == 0 ? slurp(diff, &len) : NULL;
	sh("%s wipe >/dev/null 2>&1; umount -R '%s/g' 2>/dev/null; true", cs, tmp);
	remove_tmpdir(tmp);
	CHECK(data && len > 0);

	struct msrc src = { data, len, 0, 0, 0 };
	struct msink out = { 0 };
	cstor_tar_reader *rd;
	cstor_tar_writer *w;
	_cleanup_error_ cstor_error err = CSTOR_ERROR_INIT;
	CHECK_OK(cstor_tar_reader_new(&rd, msrc_read, &src, 0, NULL));
	CHECK_OK(cstor_tar_writer_new(&w, msink_write, &out, NULL));
	const cstor_tar_header *h;
	int n = 0;
	while ((r = cstor_tar_reader_next(rd, &h, &err)) > 0) {
		cstor_tar_header c = *h;
		/* Fresh headers carry no pax records of their own. */
		c.pax = NULL;
		c.n_pax = 0;
		CHECK_OK(cstor_tar_writer_header(w, &c, &err));
		const void *p;
		size_t k;
		do {
			CHECK_OK(cstor_tar_reader_peek(rd, &p, &k, 0, &err));
			CHECK_OK(cstor_tar_writer_data(w, p, k, &err));
		} while (k);
		n++;
	}
	CHECK_MSG(r == 0, "%s", cstor_error_message(&err));
	CHECK_OK(cstor_tar_writer_close(w, &err));
	CHECK(n >= 8);
	CHECK_MSG(out.len == len && memcmp(out.data, data, len) == 0, "%zu vs %zu bytes", out.len,
		  len);
	cstor_tar_writer_free(w);
	cstor_tar_reader_free(rd);
	msink_free(&out);
	free(data);
	return TEST_PASS;
}

TAP_MAIN(TEST(test_go_vectors), TEST(test_roundtrip), TEST(test_errors), TEST(test_data_fd),
	 TEST(test_go_cli_diff))

/*
 * Generator of the vectors in test_go_vectors (go1.19, GO111MODULE=off go run):
 *
 * package main
 *
 * import (
 * 	"archive/tar"
 * 	"bytes"
 * 	"fmt"
 * 	"hash/crc64"
 * 	"strings"
 * 	"time"
 * )
 *
 * type c struct {
 * 	name string
 * 	hdrs []*tar.Header
 * }
 *
 * func reg(name string, size int64) *tar.Header {
 * 	return &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0100644, Uid: 1000, Gid: 1000, Size: size, ModTime: time.Unix(1600000000, 0), Uname: "user", Gname: "group"}
 * }
 *
 * func main() {
 * 	rep := strings.Repeat
 * 	cases := []c{}
 * 	add := func(n string, h ...*tar.Header) { cases = append(cases, c{n, h}) }
 * 	add("reg", reg("a.txt", 5))
 * 	d := reg("dir/", 0); d.Typeflag = tar.TypeDir; d.Mode = 040755
 * 	add("dir", d)
 * 	add("name100", reg(rep("n", 100), 0))
 * 	add("split101", reg(rep("d", 50)+"/"+rep("f", 50), 0))
 * 	add("noslash101", reg(rep("n", 101), 0))
 * 	add("name300", reg(rep("abcdefghi/", 30)+"f", 0))
 * 	d2 := reg(rep("x", 60)+"/"+rep("y", 89)+"/", 0); d2.Typeflag = tar.TypeDir
 * 	add("dirsplit", d2)
 * 	add("trailslash", func() *tar.Header { h := reg("é"+rep("a", 99)+"/cc/", 0); h.Typeflag = tar.TypeDir; return h }())
 * 	add("biguid", func() *tar.Header { h := reg("u", 0); h.Uid = 2097152; h.Gid = 07777777; return h }())
 * 	add("negmtime", func() *tar.Header { h := reg("old", 0); h.ModTime = time.Unix(-315619200, 0); return h }())
 * 	add("hugemtime", func() *tar.Header { h := reg("future", 0); h.ModTime = time.Unix(1<<33, 0); return h }())
 * 	add("uname33", func() *tar.Header { h := reg("u33", 0); h.Uname = rep("u", 33); h.Gname = rep("g", 32); return h }())
 * 	add("unameutf", func() *tar.Header { h := reg("uu", 0); h.Uname = "jörg"; return h }())
 * 	add("xattrs", func() *tar.Header {
 * 		h := reg("x", 3)
 * 		h.Xattrs = map[string]string{"user.b": "v\x00\x01", "security.capability": "\x01\x00\x00\x02", "user.a": "", "trusted.é": "ü"}
 * 		return h
 * 	}())
 * 	add("symlink100", &tar.Header{Typeflag: tar.TypeSymlink, Name: "s", Linkname: rep("t", 100), Mode: 0120777, ModTime: time.Unix(1, 0)})
 * 	add("symlink101", &tar.Header{Typeflag: tar.TypeSymlink, Name: "s", Linkname: rep("t", 101), Mode: 0120777, ModTime: time.Unix(1, 0)})
 * 	add("hardlink", reg("a", 2), &tar.Header{Typeflag: tar.TypeLink, Name: "b", Linkname: "a", Mode: 0100644, ModTime: time.Unix(1, 0)})
 * 	add("devices", &tar.Header{Typeflag: tar.TypeChar, Name: "null", Mode: 020666, Devmajor: 1, Devminor: 3},
 * 		&tar.Header{Typeflag: tar.TypeBlock, Name: "sda", Mode: 060660, Devmajor: 8, Devminor: 1048575},
 * 		&tar.Header{Typeflag: tar.TypeFifo, Name: "fifo", Mode: 010644})
 * 	add("rega", func() *tar.Header { h := reg("promoted/", 0); h.Typeflag = tar.TypeRegA; return h }())
 * 	add("extrapax", func() *tar.Header { h := reg("p", 0); h.PAXRecords = map[string]string{"GOLANG.pkg": "x", "path": "ignored", "comment": "c\n"}; return h }())
 * 	add("xattrsplit", func() *tar.Header { h := reg(rep("d", 50)+"/"+rep("f", 50), 0); h.Xattrs = map[string]string{"user.x": "1"}; return h }())
 * 	add("dotname", reg("./"+rep("a", 120), 1))
 * 	add("emptyname", reg("", 0))
 * 	add("setuid", func() *tar.Header { h := reg("suid", 0); h.Mode = 0104755; return h }())
 * 	add("sizes", reg("one", 1), reg("b511", 511), reg("b512", 512), reg("b513", 513))
 * 	add("nonasciilink", &tar.Header{Typeflag: tar.TypeSymlink, Name: "l", Linkname: "ü", Mode: 0120777})
 * 	add("longpaxrec", func() *tar.Header { h := reg("lp", 0); h.Xattrs = map[string]string{"user.big": rep("v", 1000)}; return h }())
 * 	add("pax98", func() *tar.Header { h := reg("n", 0); h.Xattrs = map[string]string{"user.k": rep("v", 76)}; return h }())
 * 	add("pax99", func() *tar.Header { h := reg("n", 0); h.Xattrs = map[string]string{"user.k": rep("v", 77)}; return h }())
 * 	for _, cs := range cases {
 * 		var buf bytes.Buffer
 * 		tw := tar.NewWriter(&buf)
 * 		for _, h := range cs.hdrs {
 * 			if err := tw.WriteHeader(h); err != nil {
 * 				panic(cs.name + ": " + err.Error())
 * 			}
 * 			if h.Typeflag == tar.TypeReg || h.Typeflag == tar.TypeRegA {
 * 				tw.Write(bytes.Repeat([]byte{'z'}, int(h.Size)))
 * 			}
 * 		}
 * 		tw.Close()
 * 		fmt.Printf("\t{ \"%s\", %d, UINT64_C(0x%016x) },\n", cs.name, buf.Len(), crc64.Checksum(buf.Bytes(), crc64.MakeTable(crc64.ISO)))
 * 	}
 * }
 */
