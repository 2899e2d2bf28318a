/* SPDX-License-Identifier: Apache-2.0 */
/* Diff tar streams (archive/export.h): member order, header fields,
 * hard links, xattrs, overlay whiteouts and opaque markers, compression. */
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "tap.h"

#include "archive/compress.h"
#include "archive/export.h"
#include "archive/tar.h"
#include "util/error-internal.h"
#include "util/cleanup.h"

/* ---- scratch trees ---------------------------------------------------------- */

static char *scratch;

static void rm_scratch(void)
{
	if (!scratch)
		return;
	char *cmd = NULL;
	if (asprintf(&cmd, "rm -rf --one-file-system '%s'", scratch) >= 0 && system(cmd) != 0)
		printf("# could not remove %s\n", scratch);
	free(cmd);
	free(scratch);
	scratch = NULL;
}

static int new_scratch(void)
{
	rm_scratch();
	scratch = strdup("/var/tmp/cstor-test-export.XXXXXX");
	if (!scratch || !mkdtemp(scratch))
		return -1;
	return open(scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static int sub(int root, const char *name)
{
	if (mkdirat(root, name, 0755) < 0 && errno != EEXIST)
		return -errno;
	return openat(root, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static _printf_(3, 4) int put(int root, const char *content, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *p = NULL;
	int r = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	for (char *s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
		*s = 0;
		if (mkdirat(root, p, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	_cleanup_close_ int fd = openat(root, p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, content, strlen(content)) != (ssize_t)strlen(content))
		return -errno;
	struct timespec ts[2] = { { 1600000000, 999999999 }, { 1600000000, 999999999 } };
	return futimens(fd, ts) < 0 ? -errno : 0;
}

static bool is_root(void)
{
	return geteuid() == 0;
}

/* ---- reading the result back ------------------------------------------------ */

struct buf {
	unsigned char *p;
	size_t len, cap, pos;
	int fail_after; /* >0: the write callback fails after this many calls */
};

static int buf_write(void *ctx, const void *data, size_t len)
{
	struct buf *b = ctx;
	if (b->fail_after > 0 && --b->fail_after == 0)
		return -ENOSPC;
	if (b->len + len > b->cap) {
		size_t cap = b->cap * 2 + len + 4096;
		unsigned char *p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	return 0;
}

static ssize_t buf_read(void *ctx, void *data, size_t len)
{
	struct buf *b = ctx;
	size_t n = MIN(len, b->len - b->pos);
	memcpy(data, b->p + b->pos, n);
	b->pos += n;
	return (ssize_t)n;
}

static void buf_done(struct buf *b)
{
	free(b->p);
}

struct member {
	char *name, *linkname, *uname, *gname, *xattrs, *content;
	char type;
	int64_t mode, uid, gid, size, mtime, major, minor;
};

struct members {
	struct member v[64];
	size_t n;
};

static void members_done(struct members *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].name);
		free(m->v[i].linkname);
		free(m->v[i].uname);
		free(m->v[i].gname);
		free(m->v[i].xattrs);
		free(m->v[i].content);
	}
	m->n = 0;
}

static int parse(struct buf *b, struct members *out)
{
	b->pos = 0;
	cstor_tar_reader *r = NULL;
	cstor_error err = CSTOR_ERROR_INIT;
	int ret = cstor_tar_reader_new(&r, buf_read, b, 0, &err);
	const cstor_tar_header *h;
	while (ret >= 0 && (ret = cstor_tar_reader_next(r, &h, &err)) > 0) {
		if (out->n == ELEMENTSOF(out->v)) {
			ret = -E2BIG;
			break;
		}
		struct member *m = &out->v[out->n++];
		*m = (struct member){ .name = strdup(h->name),
				      .linkname = strdup(h->linkname ? h->linkname : ""),
				      .uname = strdup(h->uname),
				      .gname = strdup(h->gname),
				      .type = h->typeflag,
				      .mode = h->mode,
				      .uid = h->uid,
				      .gid = h->gid,
				      .size = h->size,
				      .mtime = h->mtime.tv_sec,
				      .major = h->devmajor,
				      .minor = h->devminor };
		size_t xl = 1;
		for (size_t i = 0; i < h->n_xattrs; i++)
			xl += strlen(h->xattrs[i].name) + h->xattrs[i].value_len + 2;
		m->xattrs = calloc(1, xl);
		for (size_t i = 0; m->xattrs && i < h->n_xattrs; i++) {
			strcat(m->xattrs, h->xattrs[i].name);
			strcat(m->xattrs, "=");
			strncat(m->xattrs, (const char *)h->xattrs[i].value, h->xattrs[i].value_len);
			strcat(m->xattrs, ";");
		}
		int64_t cs = cstor_tar_reader_content_size(r);
		m->content = calloc(1, (size_t)cs + 1);
		if (cs > 0 && cstor_tar_reader_read(r, m->content, (size_t)cs, &err) != cs)
			ret = -EIO;
	}
	cstor_tar_reader_free(r);
	if (ret < 0)
		printf("# tar parse: %s\n", cstor_error_message(&err));
	cstor_error_clear(&err);
	return ret;
}

static const struct member *find(const struct members *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (streq(m->v[i].name, name))
			return &m->v[i];
	return NULL;
}

static char *names_of(const struct members *m)
{
	size_t l = 1;
	for (size_t i = 0; i < m->n; i++)
		l += strlen(m->v[i].name) + 1;
	char *s = calloc(1, l);
	for (size_t i = 0; s && i < m->n; i++) {
		strcat(s, m->v[i].name);
		strcat(s, " ");
	}
	return s;
}

#define CHECK_NAMES(m, expected)                                               \
	do {                                                                   \
		_cleanup_free_ char *_n = names_of(m);                         \
		CHECK_STREQ(_n, expected);                                     \
	} while (0)

/* ---- whole trees ------------------------------------------------------------ */

static int test_tree_order_and_fields(void)
{
	_cleanup_close_ int root = new_scratch();
	CHECK(root >= 0);
	_cleanup_close_ int l = sub(root, "layer");
	CHECK_OK(put(l, "hello", "a/b"));
	CHECK_OK(put(l, "", "a.txt"));
	CHECK_OK(put(l, "12345", "z/five"));
	CHECK(linkat(l, "z/five", l, "a/hard", 0) == 0);
	CHECK(symlinkat("../target", l, "z/sym") == 0);
	CHECK(mkfifoat(l, "fifo", 0640) == 0);
	CHECK(fchmodat(l, "a.txt", 04755, 0) == 0);
	/* A socket is left out. */
	int sfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/layer/sock", scratch);
	CHECK(sfd >= 0 && bind(sfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	close(sfd);
	bool devs = is_root() && mknodat(l, "cdev", S_IFCHR | 0600, makedev(4095, 1048575)) == 0 &&
		    mknodat(l, "bdev", S_IFBLK | 0600, makedev(7, 3)) == 0;
	_cleanup_close_ int b = openat(l, "a/b", O_RDONLY | O_CLOEXEC);
	bool xattrs = fsetxattr(b, "user.one", "1", 1, 0) == 0;
	if (xattrs && is_root()) {
		CHECK(fsetxattr(b, "trusted.no", "x", 1, 0) == 0);
		CHECK(fsetxattr(b, "security.capability",
				"\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
				"\x00\x00\x00\x00",
				20, 0) == 0);
	}

	struct buf out = { 0 };
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK_OK(cstor_export_tree(l, buf_write, &out, NULL, &err));
	struct members m = { 0 };
	CHECK(parse(&out, &m) == 0);
	/* Depth first, siblings sorted: "a/" and its content before "a.txt". */
	CHECK_NAMES(&m, devs ? "a/ a/b a/hard a.txt bdev cdev fifo z/ z/five z/sym "
			     : "a/ a/b a/hard a.txt fifo z/ z/five z/sym ");
	const struct member *e = find(&m, "a/b");
	CHECK(e->type == '0' && e->mode == (S_IFREG | 0644) && e->size == 5);
	CHECK_STREQ(e->content, "hello");
	CHECK(e->mtime == 1600000000); /* truncated, not rounded */
	struct passwd *pw = getpwuid(geteuid());
	CHECK_STREQ(e->uname, pw ? pw->pw_name : "");
	if (xattrs)
		CHECK_STREQ(e->xattrs, is_root() ? "security.capability=\x01;user.one=1;" : "user.one=1;");
	e = find(&m, "a/");
	CHECK(e->type == '5' && e->mode == (S_IFDIR | 0755) && e->size == 0);
	e = find(&m, "a/hard"); /* first of the pair in walk order */
	CHECK(e->type == '0' && e->size == 5);
	e = find(&m, "z/five");
	CHECK(e->type == '1' && e->size == 0);
	CHECK_STREQ(e->linkname, "a/hard");
	e = find(&m, "a.txt");
	CHECK(e->mode == (S_IFREG | 04755));
	e = find(&m, "z/sym");
	CHECK(e->type == '2' && e->mode == (S_IFLNK | 0777));
	CHECK_STREQ(e->linkname, "../target");
	e = find(&m, "fifo");
	CHECK(e->type == '6' && e->mode == (S_IFIFO | 0640));
	if (devs) {
		e = find(&m, "cdev");
		CHECK(e->type == '3' && e->major == 4095 && e->minor == 1048575);
		e = find(&m, "bdev");
		CHECK(e->type == '4' && e->major == 7 && e->minor == 3);
	}
	members_done(&m);
	buf_done(&out);
	return TEST_PASS;
}

static int test_tree_unknown_owner(void)
{
	if (!is_root())
		return test_skip("needs root for chown");
	_cleanup_close_ int root = new_scratch();
	CHECK(root >= 0);
	_cleanup_close_ int l = sub(root, "layer");
	CHECK_OK(put(l, "x", "f"));
	/* An ID without a passwd/group entry: numeric only, no name. */
	CHECK(fchownat(l, "f", 3999999, 3999998, 0) == 0);
	struct buf out = { 0 };
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK_OK(cstor_export_tree(l, buf_write, &out, NULL, &err));
	struct members m = { 0 };
	CHECK(parse(&out, &m) == 0);
	CHECK(m.n == 1 && m.v[0].uid == 3999999 && m.v[0].gid == 3999998);
	CHECK_STREQ(m.v[0].uname, "");
	CHECK_STREQ(m.v[0].gname, "");
	members_done(&m);
	buf_done(&out);
	return TEST_PASS;
}

static int test_tree_deep(void)
{
	_cleanup_close_ int root = new_scratch();
	CHECK(root >= 0);
	_cleanup_close_ int l = sub(root, "layer");
	const int depth = 2500; /* past KEEP_FDS_DEPTH and PATH_MAX */
	_cleanup_close_ int cur = fcntl(l, F_DUPFD_CLOEXEC, 3);
	for (int i = 0; i < depth; i++) {
		CHECK_OK(put(cur, "s", "file"));
		int n = sub(cur, "d");
		CHECK(n >= 0);
		close(cur);
		cur = n;
	}
	struct rlimit saved, low;
	CHECK(getrlimit(RLIMIT_NOFILE, &saved) == 0);
	low = (struct rlimit){ 128, saved.rlim_max };
	CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
	struct buf out = { 0 };
	cstor_error err = CSTOR_ERROR_INIT;
	int r = cstor_export_tree(l, buf_write, &out, NULL, &err);
	setrlimit(RLIMIT_NOFILE, &saved);
	CHECK_MSG(r == 0, "%s", cstor_error_message(&err));
	/* Every level: "d/" then, after all of d's content, "file"
	 * ("d" < "file"). */
	out.pos = 0;
	cstor_tar_reader *rd = NULL;
	CHECK_OK(cstor_tar_reader_new(&rd, buf_read, &out, 0, &err));
	const cstor_tar_header *h;
	size_t n = 0, longest = 0;
	while ((r = cstor_tar_reader_next(rd, &h, &err)) > 0) {
		n++;
		longest = MAX(longest, strlen(h->name));
	}
	cstor_tar_reader_free(rd);
	CHECK(r == 0);
	CHECK(n == 2 * (size_t)depth);
	CHECK(longest == 2 * (size_t)depth + 2); /* "d/…/d/file" at the deepest level */
	buf_done(&out);
	return TEST_PASS;
}

/* ---- overlay ---------------------------------------------------------------- */

static int test_overlay_whiteouts_and_opaque(void)
{
	if (!is_root())
		return test_skip("needs root for whiteouts and trusted.* xattrs");
	_cleanup_close_ int root = new_scratch();
	CHECK(root >= 0);
	_cleanup_close_ int low1 = sub(root, "low1");
	_cleanup_close_ int low2 = sub(root, "low2");
	_cleanup_close_ int up = sub(root, "upper");
	CHECK_OK(put(low2, "y", "usr/bin/y"));
	CHECK_OK(put(low2, "g", "gone/sub/g"));
	CHECK_OK(put(low2, "w", "wo/w"));
	CHECK_OK(put(low2, "f", "notdir"));
	CHECK(mknodat(low1, "gone", S_IFCHR, makedev(0, 0)) == 0); /* hides gone/ */
	CHECK(mknodat(low1, "wo", S_IFCHR, makedev(0, 0)) == 0);   /* whiteout at the path */

	CHECK(mkdirat(up, "etc", 0755) == 0);
	CHECK(mknodat(up, "etc/a", S_IFCHR, makedev(0, 0)) == 0);
	CHECK(linkat(up, "etc/a", up, "etc/b", 0) == 0); /* as the kernel does */
	CHECK(fchownat(up, "etc/a", 7, 8, AT_SYMLINK_NOFOLLOW) == 0);
	CHECK(mknodat(up, "etc/c", S_IFCHR, makedev(1, 3)) == 0); /* not a whiteout */
	const char *opaque[] = { "usr/bin", "gone/sub", "wo", "fresh", "notdir" };
	for (size_t i = 0; i < ELEMENTSOF(opaque); i++) {
		if (streq(opaque[i], "usr/bin") || streq(opaque[i], "gone/sub"))
			CHECK(mkdirat(up, streq(opaque[i], "usr/bin") ? "usr" : "gone", 0755) == 0);
		CHECK(mkdirat(up, opaque[i], 02750) == 0);
		CHECK(fchmodat(up, opaque[i], 02750, 0) == 0);
		_cleanup_close_ int d = openat(up, opaque[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		CHECK(fsetxattr(d, "trusted.overlay.opaque", "y", 1, 0) == 0);
		CHECK(fsetxattr(d, "user.keep", "k", 1, 0) == 0);
		CHECK(fchown(d, 5, 6) == 0);
	}
	CHECK_OK(put(up, "n", "usr/bin/n"));

	int lowers[] = { low1, low2 };
	struct buf out = { 0 };
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK_OK(cstor_export_overlay_diff(up, lowers, 2, buf_write, &out, NULL, &err));
	struct members m = { 0 };
	CHECK(parse(&out, &m) == 0);
	/* Markers only where a lower has the directory: usr/bin (low2),
	 * notdir (low2 has a file there: still "there"); not gone/sub (low1
	 * whites out gone), not wo (whiteout at the path), not fresh. */
	CHECK_NAMES(&m, "etc/ etc/.wh.a etc/.wh.b etc/c fresh/ gone/ gone/sub/ notdir/ "
			"notdir/.wh..wh..opq usr/ usr/bin/ usr/bin/.wh..wh..opq usr/bin/n wo/ ");
	const struct member *e = find(&m, "etc/.wh.a");
	CHECK(e->type == '0' && e->mode == 0 && e->size == 0 && e->uid == 7 && e->gid == 8);
	CHECK_STREQ(e->linkname, "");
	e = find(&m, "etc/.wh.b");
	CHECK(e->type == '0' && e->mode == 0 && e->uid == 7);
	CHECK_STREQ(e->linkname, "etc/a"); /* Go's quirk, kept */
	e = find(&m, "etc/c");
	CHECK(e->type == '3' && e->major == 1 && e->minor == 3);
	e = find(&m, "usr/bin/");
	CHECK_STREQ(e->xattrs, "user.keep=k;"); /* trusted.* never exported */
	CHECK(e->mode == (S_IFDIR | 02750));
	e = find(&m, "usr/bin/.wh..wh..opq");
	CHECK(e->type == '0' && e->mode == 0750 && e->uid == 5 && e->gid == 6 && e->mtime == 0 &&
	      e->size == 0);
	CHECK_STREQ(e->xattrs, "");
	members_done(&m);
	buf_done(&out);

	/* Without lowers, no marker at all. */
	struct buf out2 = { 0 };
	CHECK_OK(cstor_export_overlay_diff(up, NULL, 0, buf_write, &out2, NULL, &err));
	CHECK(parse(&out2, &m) == 0);
	CHECK(find(&m, "usr/bin/.wh..wh..opq") == NULL && find(&m, "etc/.wh.a") != NULL);
	members_done(&m);
	buf_done(&out2);
	return TEST_PASS;
}

/* ---- change lists ----------------------------------------------------------- */

static int test_changes_export(void)
{
	_cleanup_close_ int root = new_scratch();
	CHECK(root >= 0);
	_cleanup_close_ int l = sub(root, "layer");
	CHECK_OK(put(l, "b", "a/b"));
	CHECK_OK(put(l, "t", "a.txt"));
	CHECK_OK(put(l, "x", "x"));
	CHECK(linkat(l, "x", l, "a/x2", 0) == 0);
	struct cstor_change v[] = {
		{ (char *)"/x", CSTOR_CHANGE_ADD },	    { (char *)"/a/b", CSTOR_CHANGE_MODIFY },
		{ (char *)"/a", CSTOR_CHANGE_MODIFY },	    { (char *)"/a.txt", CSTOR_CHANGE_ADD },
		{ (char *)"/gone/f", CSTOR_CHANGE_DELETE }, { (char *)"/vanished", CSTOR_CHANGE_ADD },
		{ (char *)"/a/x2", CSTOR_CHANGE_ADD },	    { (char *)"/old", CSTOR_CHANGE_DELETE },
	};
	struct cstor_change_list cl = { v, ELEMENTSOF(v), ELEMENTSOF(v) };
	struct timespec wt = { 1700000000, 600000000 };
	struct cstor_export_options o = { .whiteout_time = &wt };
	struct buf out = { 0 };
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK_OK(cstor_export_changes(l, &cl, buf_write, &out, &o, &err));
	struct members m = { 0 };
	CHECK(parse(&out, &m) == 0);
	/* Sorted by path: "/a" < "/a.txt" < "/a/b" ('.' < '/'); vanished
	 * entries left out; the hard link's first member is the first path. */
	CHECK_NAMES(&m, "a/ a.txt a/b a/x2 gone/.wh.f .wh.old x ");
	const struct member *e = find(&m, "gone/.wh.f");
	CHECK(e->type == '0' && e->mode == 0 && e->uid == 0 && e->gid == 0 && e->size == 0);
	CHECK(e->mtime == 1700000001); /* rounded, as Go's writer rounds time.Now() */
	CHECK_STREQ(e->uname, "");
	CHECK_STREQ(e->gname, "");
	e = find(&m, "x");
	CHECK(e->type == '1');
	CHECK_STREQ(e->linkname, "a/x2");
	members_done(&m);
	buf_done(&out);
	return TEST_PASS;
}

static int test_compression(void)
{
	_cleanup_close_ int root = new_scratch();
	CHECK(root >= 0);
	_cleanup_close_ int l = sub(root, "layer");
	for (int i = 0; i < 50; i++)
		CHECK_OK(put(l, "some content that compresses well well well", "d%d/f%d", i % 7, i));
	struct buf plain = { 0 };
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK_OK(cstor_export_tree(l, buf_write, &plain, NULL, &err));
	const cstor_compression kinds[] = { CSTOR_COMPRESSION_GZIP, CSTOR_COMPRESSION_ZSTD };
	for (size_t k = 0; k < ELEMENTSOF(kinds); k++) {
		struct buf z = { 0 };
		struct cstor_export_options o = { .compression = kinds[k] };
		CHECK_OK(cstor_export_tree(l, buf_write, &z, &o, &err));
		CHECK(z.len < plain.len);
		cstor_decompressor *d = NULL;
		CHECK_OK(cstor_decompressor_new(&d, buf_read, &z, 0, &err));
		CHECK(cstor_decompressor_compression(d) == kinds[k]);
		struct buf back = { 0 };
		unsigned char tmp[65536];
		ssize_t n;
		while ((n = cstor_decompressor_read(d, tmp, sizeof(tmp), &err)) > 0)
			CHECK_OK(buf_write(&back, tmp, (size_t)n));
		cstor_decompressor_free(d);
		CHECK(n == 0);
		CHECK(back.len == plain.len && memcmp(back.p, plain.p, plain.len) == 0);
		buf_done(&back);
		buf_done(&z);
	}
	struct cstor_export_options bad = { .compression = CSTOR_COMPRESSION_XZ };
	struct buf x = { 0 };
	CHECK(cstor_export_tree(l, buf_write, &x, &bad, &err) == -ENOTSUP);
	cstor_error_clear(&err);
	buf_done(&x);
	buf_done(&plain);
	return TEST_PASS;
}

static int test_write_errors(void)
{
	_cleanup_close_ int root = new_scratch();
	CHECK(root >= 0);
	_cleanup_close_ int l = sub(root, "layer");
	char big[200000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	CHECK_OK(put(l, big, "big"));
	struct buf out = { .fail_after = 1 };
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK(cstor_export_tree(l, buf_write, &out, NULL, &err) == -ENOSPC);
	CHECK(strstr(cstor_error_message(&err), "write") != NULL);
	cstor_error_clear(&err);
	buf_done(&out);
	/* Through the compressor: its error comes back too. */
	struct buf out2 = { .fail_after = 1 };
	struct cstor_export_options o = { .compression = CSTOR_COMPRESSION_GZIP };
	CHECK(cstor_export_tree(l, buf_write, &out2, &o, &err) == -ENOSPC);
	cstor_error_clear(&err);
	buf_done(&out2);
	/* No callback, or not a directory. */
	CHECK(cstor_export_tree(l, NULL, NULL, NULL, &err) == -EINVAL);
	cstor_error_clear(&err);
	_cleanup_close_ int f = openat(l, "big", O_RDONLY | O_CLOEXEC);
	struct buf out3 = { 0 };
	CHECK(cstor_export_tree(f, buf_write, &out3, NULL, &err) == -ENOTDIR);
	cstor_error_clear(&err);
	buf_done(&out3);
	return TEST_PASS;
}

static int run_all(int argc, char **argv)
{
	static const struct tap_test tests[] = {
		TEST(test_tree_order_and_fields), TEST(test_tree_unknown_owner),
		TEST(test_tree_deep),		  TEST(test_overlay_whiteouts_and_opaque),
		TEST(test_changes_export),	  TEST(test_compression),
		TEST(test_write_errors),
	};
	int r = tap_run(tests, ELEMENTSOF(tests), argc, argv);
	rm_scratch();
	return r;
}

int main(int argc, char **argv)
{
	return run_all(argc, argv);
}
