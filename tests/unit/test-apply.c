/* SPDX-License-Identifier: Apache-2.0 */
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include "tap.h"

#include "archive/apply-internal.h"
#include "archive/apply.h"
#include "archive/tarsplit.h"
#include "util/error-internal.h"
#include "util/cleanup.h"

#include "test-tar-helpers.h"

/* ---- building archives ------------------------------------------------------ */

struct ent {
	const char *name;
	char type;        /* default '0' */
	int mode;         /* default 0644 (0755 for directories) */
	bool mode0;       /* really mode 0 */
	int64_t uid, gid;
	int64_t mtime;    /* default 1600000000 */
	const char *link;
	const char *data; /* content of regular files (NUL-terminated) */
	size_t len;       /* content length when data has NULs */
	int64_t major, minor;
	const char *pax[8][2]; /* extra pax records, values are strings */
};

static void octal(unsigned char *f, size_t n, int64_t v)
{
	blk_octal(f, n, (uint64_t)v);
}

static void tb_add(struct msink *s, const struct ent *e)
{
	char type = e->type ? e->type : '0';
	size_t len = type == '0' && e->data ? (e->len ? e->len : strlen(e->data)) : 0;
	const char *link = e->link ? e->link : "";
	struct msink pax = { 0 };
	if (strlen(e->name) > 99)
		pax_rec(&pax, "path", e->name, strlen(e->name));
	if (strlen(link) > 99)
		pax_rec(&pax, "linkpath", link, strlen(link));
	for (size_t i = 0; i < ELEMENTSOF(e->pax) && e->pax[i][0]; i++)
		pax_rec(&pax, e->pax[i][0], e->pax[i][1], strlen(e->pax[i][1]));
	if (pax.len)
		put_pax(s, 'x', &pax);
	msink_free(&pax);

	unsigned char b[512];
	blk_init(b, e->name, type, len, "ustar");
	int mode = e->mode ? e->mode : e->mode0 ? 0 : type == '5' ? 0755 : 0644;
	octal(b + 100, 8, mode);
	octal(b + 108, 8, e->uid);
	octal(b + 116, 8, e->gid);
	octal(b + 136, 12, e->mtime ? e->mtime : 1600000000);
	memcpy(b + 157, link, MIN(strlen(link), (size_t)100));
	octal(b + 329, 8, e->major);
	octal(b + 337, 8, e->minor);
	put_entry(s, b, e->data, len);
}

#define ADD(s, ...) tb_add((s), &(struct ent){ __VA_ARGS__ })

/* ---- applying ------------------------------------------------------------------ */

struct fx {
	char *dir;  /* scratch directory */
	char *root; /* <dir>/root, the layer */
	int fd;     /* O_PATH fd of the root */
};

static void fx_done(struct fx *f)
{
	if (f->fd >= 0)
		close(f->fd);
	free(f->root);
	remove_tmpdir(f->dir);
	*f = (struct fx){ .fd = -1 };
}

static int fx_init(struct fx *f)
{
	*f = (struct fx){ .fd = -1 };
	setenv("TMPDIR", "/var/tmp", 0); /* on disk: xattrs, O_TMPFILE */
	f->dir = make_tmpdir();
	if (!f->dir || asprintf(&f->root, "%s/root", f->dir) < 0 || mkdir(f->root, 0755) < 0)
		return -1;
	f->fd = open(f->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return f->fd < 0 ? -1 : 0;
}

#define FIXTURE(f)                                                             \
	_cleanup_(fx_done) struct fx f = { .fd = -1 };                         \
	CHECK(fx_init(&f) == 0)

static int apply_opts(struct fx *f, const struct msink *tar, const struct cstor_apply_options *o,
		      struct cstor_apply_stats *st, cstor_error *err)
{
	struct msrc src = { .data = tar->data, .len = tar->len };
	cstor_tar_reader *r = NULL;
	int ret = cstor_tar_reader_new(&r, msrc_read, &src, 0, err);
	if (ret < 0)
		return ret;
	ret = cstor_apply_tar(f->fd, r, o, NULL, st, err);
	if (ret < 0)
		printf("# apply: %s\n", cstor_error_message(err));
	cstor_tar_reader_free(r);
	return ret;
}

static int apply_mode(struct fx *f, const struct msink *tar, enum cstor_whiteout_mode m)
{
	struct cstor_apply_options o = { .whiteouts = m,
					 .skip_existing_root = m != CSTOR_WHITEOUT_EXECUTE };
	_cleanup_error_ cstor_error err = CSTOR_ERROR_INIT;
	return apply_opts(f, tar, &o, NULL, &err);
}

static int apply(struct fx *f, const struct msink *tar)
{
	return apply_mode(f, tar, CSTOR_WHITEOUT_EXECUTE);
}

/* Apply and expect failure with @code and a message containing @needle. */
static bool apply_fails(struct fx *f, const struct msink *tar, enum cstor_whiteout_mode m,
			int code, const char *needle)
{
	struct cstor_apply_options o = { .whiteouts = m };
	_cleanup_error_ cstor_error err = CSTOR_ERROR_INIT;
	struct msrc src = { .data = tar->data, .len = tar->len };
	cstor_tar_reader *r = NULL;
	if (cstor_tar_reader_new(&r, msrc_read, &src, 0, &err) < 0)
		return false;
	int ret = cstor_apply_tar(f->fd, r, &o, NULL, NULL, &err);
	cstor_tar_reader_free(r);
	const char *msg = cstor_error_message(&err);
	if (ret != -code || !strstr(msg, needle)) {
		printf("# expected %s with \"%s\", got %d: %s\n", strerror(code), needle, ret, msg);
		return false;
	}
	return true;
}

/* ---- looking at the result ------------------------------------------------------ */

static struct stat st_of(struct fx *f, const char *p)
{
	struct stat st = { 0 };
	if (fstatat(f->fd, p, &st, AT_SYMLINK_NOFOLLOW) < 0)
		st.st_mode = 0;
	return st;
}

static bool exists(struct fx *f, const char *p)
{
	struct stat st;
	return fstatat(f->fd, p, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static mode_t type_of(struct fx *f, const char *p)
{
	return st_of(f, p).st_mode & S_IFMT;
}

static unsigned perm_of(struct fx *f, const char *p)
{
	return st_of(f, p).st_mode & 07777;
}

static bool content_is(struct fx *f, const char *p, const char *want)
{
	_cleanup_close_ int fd = openat(f->fd, p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n < 0 || (size_t)n != strlen(want) || memcmp(buf, want, (size_t)n) != 0) {
		printf("# %s: content \"%.*s\", want \"%s\"\n", p, (int)MAX(n, 0), buf, want);
		return false;
	}
	return true;
}

static char *xattr_of(struct fx *f, const char *p, const char *key)
{
	char *path = NULL;
	static char val[256];
	if (asprintf(&path, "%s/%s", f->root, p) < 0)
		return NULL;
	ssize_t n = lgetxattr(path, key, val, sizeof(val) - 1);
	free(path);
	if (n < 0)
		return NULL;
	val[n] = 0;
	return val;
}

static int mkfile(struct fx *f, const char *p, const char *content)
{
	_cleanup_close_ int fd = openat(f->fd, p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	return write(fd, content, strlen(content)) < 0 ? -errno : 0;
}

static int mkd(struct fx *f, const char *p)
{
	return RET_NERRNO(mkdirat(f->fd, p, 0755));
}

/* ---- file types and metadata ------------------------------------------------------ */

static int test_regular_file(void)
{
	FIXTURE(f);
	struct msink t = { 0 };
	ADD(&t, .name = "hello.txt", .data = "hello\n", .mode = 0640, .uid = 12, .gid = 34,
	    .mtime = 1500000000);
	ADD(&t, .name = "./empty", .data = "");
	put_end(&t);
	CHECK_OK(apply(&f, &t));
	struct stat st = st_of(&f, "hello.txt");
	CHECK(S_ISREG(st.st_mode));
	CHECK(perm_of(&f, "hello.txt") == 0640);
	CHECK(st.st_uid == 12 && st.st_gid == 34);
	CHECK(st.st_mtim.tv_sec == 1500000000 && st.st_mtim.tv_nsec == 0);
	CHECK(st.st_atim.tv_sec == 1500000000); /* atime = max(atime, mtime) */
	CHECK(content_is(&f, "hello.txt", "hello\n"));
	CHECK(type_of(&f, "empty") == S_IFREG && st_of(&f, "empty").st_size == 0);
	msink_free(&t);
	return TEST_PASS;
}

static int test_large_file(void)
{
	FIXTURE(f);
	size_t n = 5 * 1024 * 1024 + 123;
	char *data = malloc(n);
	CHECK(data);
	for (size_t i = 0; i < n; i++)
		data[i] = (char)(i * 2654435761u >> 13);
	struct msink t = { 0 };
	ADD(&t, .name = "big", .data = data, .len = n);
	ADD(&t, .name = "after", .data = "x");
	put_end(&t);
	/* Odd read sizes from the source, so content spans refills. */
	struct msrc src = { .data = t.data, .len = t.len, .chunk = 70001 };
	_cleanup_error_ cstor_error err = CSTOR_ERROR_INIT;
	cstor_tar_reader *r = NULL;
	CHECK_OK(cstor_tar_reader_new(&r, msrc_read, &src, 0, &err));
	CHECK_OK(cstor_apply_tar(f.fd, r, NULL, NULL, NULL, &err));
	cstor_tar_reader_free(r);
	_cleanup_close_ int fd = openat(f.fd, "big", O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	char *back = malloc(n + 1);
	CHECK(back);
	size_t got = 0;
	ssize_t k;
	while ((k = read(fd, back + got, n + 1 - got)) > 0)
		got += (size_t)k;
	CHECK(got == n && memcmp(back, data, n) == 0);
	CHECK(content_is(&f, "after", "x"));
	free(back);
	free(data);
	msink_free(&t);
	return TEST_PASS;
}

static int test_special_mode_bits(void)
{
	FIXTURE(f);
	struct msink t = { 0 };
	/* chown clears setuid/setgid: the mode must be set after it. */
	ADD(&t, .name = "suid", .data = "x", .mode = 04755, .uid = 7, .gid = 8);
	ADD(&t, .name = "sgid", .data = "x", .mode = 02711, .uid = 7, .gid = 8);
	ADD(&t, .name = "tmp/", .type = '5', .mode = 01777);
	ADD(&t, .name = "sgiddir/", .type = '5', .mode = 02775, .gid = 9);
	ADD(&t, .name = "none", .data = "x", .mode0 = true);
	ADD(&t, .name = "devsuid", .type = '6', .mode = 04600, .uid = 3);
	put_end(&t);
	CHECK_OK(apply(&f, &t));
	CHECK(perm_of(&f, "suid") == 04755);
	CHECK(perm_of(&f, "sgid") == 02711);
	CHECK(perm_of(&f, "tmp") == 01777);
	CHECK(perm_of(&f, "sgiddir") == 02775);
	CHECK(perm_of(&f, "none") == 0);
	CHECK(perm_of(&f, "devsuid") == 04600 && st_of(&f, "devsuid").st_uid == 3);
	msink_free(&t);
	return TEST_PASS;
}

static int test_umask_does_not_matter(void)
{
	FIXTURE(f);
	struct msink t = { 0 };
	ADD(&t, .name = "d/", .type = '5', .mode = 0775);
	ADD(&t, .name = "d/f", .data = "x", .mode = 0666);
	ADD(&t, .name = "fifo", .type = '6', .mode = 0666);
	ADD(&t, .name = "implicit/parent/f", .data = "x", .mode = 0644);
	put_end(&t);
	mode_t old = umask(077);
	int r = apply(&f, &t);
	umask(old);
	CHECK_OK(r);
	CHECK(perm_of(&f, "d") == 0775);
	CHECK(perm_of(&f, "d/f") == 0666);
	CHECK(perm_of(&f, "fifo") == 0666);
	/* UnpackLayer makes missing parents 0755 with umask 0. */
	CHECK(perm_of(&f, "implicit") == 0755);
	CHECK(perm_of(&f, "implicit/parent") == 0755);
	msink_free(&t);
	return TEST_PASS;
}

static int test_directories_and_times(void)
{
	FIXTURE(f);
	struct msink t = { 0 };
	ADD(&t, .name = "d/", .type = '5', .mode = 0750, .uid = 5, .mtime = 1400000000);
	ADD(&t, .name = "d/sub/", .type = '5', .mtime = 1400000001,
	    .pax = { { "atime", "1450000000.25" } });
	ADD(&t, .name = "d/sub/f", .data = "x", .pax = { { "mtime", "1600000000.123456789" } });
	ADD(&t, .name = "d/g", .data = "y", .mtime = 1700000000,
	    .pax = { { "atime", "1800000000.5" } });
	put_end(&t);
	CHECK_OK(apply(&f, &t));
	struct stat d = st_of(&f, "d"), sub = st_of(&f, "d/sub"), sf = st_of(&f, "d/sub/f"),
		    g = st_of(&f, "d/g");
	CHECK(S_ISDIR(d.st_mode) && (d.st_mode & 07777) == 0750 && d.st_uid == 5);
	/* Directory times are restored after their content was written. */
	CHECK(d.st_mtim.tv_sec == 1400000000);
	CHECK(sub.st_mtim.tv_sec == 1400000001);
	/* ... with the header's atime as is, 1970 when absent (Go's final
	 * Chtimes). */
	CHECK(d.st_atim.tv_sec == 0 && d.st_atim.tv_nsec == 0);
	CHECK(sub.st_atim.tv_sec == 1450000000 && sub.st_atim.tv_nsec == 250000000);
	CHECK(sf.st_mtim.tv_sec == 1600000000 && sf.st_mtim.tv_nsec == 123456789);
	/* Files: atime = max(atime, mtime). */
	CHECK(sf.st_atim.tv_sec == 1600000000 && sf.st_atim.tv_nsec == 123456789);
	CHECK(g.st_atim.tv_sec == 1800000000 && g.st_atim.tv_nsec == 500000000);
	msink_free(&t);
	return TEST_PASS;
}

static int test_times_out_of_range(void)
{
	FIXTURE(f);
	struct msink t = { 0 };
	ADD(&t, .name = "old", .data = "x", .pax = { { "mtime", "-100.5" } });
	ADD(&t, .name = "future", .data = "x", .pax = { { "mtime", "9300000000" } });
	ADD(&t, .name = "oldlink", .type = '2', .link = "old", .pax = { { "mtime", "-100" } });
	put_end(&t);
	CHECK_OK(apply(&f, &t));
	/* Go's Chtimes: outside 1970..2262 becomes the epoch... */
	CHECK(st_of(&f, "old").st_mtim.tv_sec == 0 && st_of(&f, "old").st_mtim.tv_nsec == 0);
	CHECK(st_of(&f, "future").st_mtim.tv_sec == 0);
	/* ... but symlinks get the time unclamped. */
	CHECK(st_of(&f, "oldlink").st_mtim.tv_sec == -100);
	msink_free(&t);
	return TEST_PASS;
}

static int test_symlinks(void)
{
	FIXTURE(f);
	struct msink t = { 0 };
	ADD(&t, .name = "rel", .type = '2', .link = "target", .uid = 4, .gid = 5,
	    .mtime = 1300000000);
	ADD(&t, .name = "abs", .type = '2', .link = "/etc/passwd");
	ADD(&t, .name = "dangling", .type = '2', .link = "../../nowhere");
	put_end(&t);
	CHECK_OK(apply(&f, &t));
	char buf[64];
	ssize_t n = readlinkat(f.fd, "rel", buf, sizeof(buf));
	CHECK(n == 6 && memcmp(buf, "target", 6) == 0);
	struct stat st = st_of(&f, "rel");
	CHECK(S_ISLNK(st.st_mode) && st.st_uid == 4 && st.st_gid == 5);
	CHECK(st.st_mtim.tv_sec == 1300000000);
	n = readlinkat(f.fd, "abs", buf, sizeof(buf));
	CHECK(n == 11 && memcmp(buf, "/etc/passwd", 11) == 0);
	CHECK(type_of(&f, "dangling") == S_IFLNK);
	msink_free(&t);
	return TEST_PASS;
}

static int test_hardlinks(void)
{
	FIXTURE(f);
	struct msink t = { 0 };
	ADD(&t, .name = "a", .data = "shared", .mode = 0644, .mtime = 1600000000);
	/* The link's own header wins for the shared inode, as in Go. */
	ADD(&t, .name = "b", .type = '1', .link = "a", .mode = 0600, .uid = 9,
	    .mtime = 1200000000);
	ADD(&t, .name = "sub/c", .type = '1', .link = "./a");
	ADD(&t, .name = "s", .type = '2', .link = "a");
	ADD(&t, .name = "hs", .type = '1', .link = "s", .mode = 0600, .mtime = 1000000000);
	put_end(&t);
	CHECK_OK(apply(&f, &t));
	struct stat a = st_of(&f, "a"), b = st_of(&f, "b");
	CHECK(a.st_ino == b.st_ino && a.st_nlink == 3);
	CHECK(st_of(&f, "sub/c").st_ino == a.st_ino);
	/* sub/c (mode 0644, uid 0, 1600000000) came last. */
	CHECK((a.st_mode & 07777) == 0644 && a.st_uid == 0 && a.st_mtim.tv_sec == 1600000000);
	CHECK(content_is(&f, "b", "shared"));
	/* A link to a symlink links the symlink; no chmod or times then. */
	struct stat s = st_of(&f, "s"), hs = st_of(&f, "hs");
	CHECK(S_ISLNK(hs.st_mode) && hs.st_ino == s.st_ino && s.st_nlink == 2);
	CHECK(hs.st_mtim.tv_sec == 1600000000);
	msink_free(&t);
	return TEST_PASS;
}

static int test_hardlink_metadata_order(void)
{
	FIXTURE(f);
	struct msink t = { 0 };
	ADD(&t, .name = "a", .data = "x", .mode = 0755, .uid = 1, .mtime = 1600000000);
	ADD(&t, .name = "b", .type = '1', .link = "a", .mode = 0700, .uid = 2,
	    .mtime = 1200000000);
	put_end(&t);
	CHECK_OK(apply(&f, &t));
	struct stat a = st_of(&f, "a");
	CHECK((a.st_mode & 07777) == 0700 && a.st_uid == 2 && a.st_mtim.tv_sec == 1200000000);
	msink_free(&t);
	return TEST_PASS;
}

static int test_devices_and_fifos(void)
{
	FIXTURE(f);
	struct msink t = { 0 };
	ADD(&t, .name = "null", .type = '3', .major = 1, .minor = 3, .mode = 0666);
	ADD(&t, .name = "sda", .type = '4', .major = 8, .minor = 0, .mode = 0660, .gid = 6);
	ADD(&t, .name = "big", .type = '3', .major = 300, .minor = 70000, .mode = 0600);
	ADD(&t, .name = "fifo", .type = '6', .mode = 0620, .mtime = 1234567890);
	put_end(&t);
	CHECK_OK(apply(&f, &t));
	struct stat n = st_of(&f, "null"), s = st_of(&f, "sda"), b = st_of(&f, "big"),
		    p = st_of(&f, "fifo");
	CHECK(S_ISCHR(n.st_mode) && n.st_rdev == makedev(1, 3) && (n.st_mode & 07777) == 0666);
	CHECK(S_ISBLK(s.st_mode) && s.st_rdev == makedev(8, 0) && s.st_gid == 6);
	CHECK(S_ISCHR(b.st_mode) && major(b.st_rdev) == 300 && minor(b.st_rdev) == 70000);
	CHECK(S_ISFIFO(p.st_mode) && (p.st_mode & 07777) == 0620);
	CHECK(p.st_mtim.tv_sec == 1234567890);
	msink_free(&t);
	return TEST_PASS;
}

static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "# timed out: a fifo was opened\n";
	(void)!write(1, msg, sizeof(msg) - 1);
	_exit(1);
}

static int test_nodes_never_opened(void)
{
	FIXTURE(f);
	struct msink t = { 0 };
	/* Opening a fifo for writing blocks until a reader comes: a hang here
	 * means the extraction wrote through the node instead of replacing
	 * it. */
	ADD(&t, .name = "passwd", .type = '6');
	ADD(&t, .name = "passwd", .data = "a file");
	ADD(&t, .name = "h", .type = '1', .link = "passwd");
	ADD(&t, .name = "f2", .type = '6', .mode = 0600);
	ADD(&t, .name = "f2", .type = '1', .link = "passwd");
	ADD(&t, .name = "f3", .type = '6', .pax = { { "SCHILY.xattr.trusted.x", "1" } });
	ADD(&t, .name = "f3", .type = '5');
	put_end(&t);
	signal(SIGALRM, on_alarm);
	alarm(20);
	int r = apply(&f, &t);
	alarm(0);
	CHECK_OK(r);
	CHECK(content_is(&f, "passwd", "a file"));
	CHECK(content_is(&f, "f2", "a file"));
	CHECK(type_of(&f, "f3") == S_IFDIR);
	msink_free(&t);
	return TEST_PASS;
}

static int test_xattrs(void)
{
	FIXTURE(f);
	struct msink t = { 0 };
	ADD(&t, .name = "f", .data = "x",
	    .pax = { { "SCHILY.xattr.user.a", "1" },
		     { "SCHILY.xattr.trusted.b", "2" },
		     { "SCHILY.xattr.security.selinux", "system_u:object_r:x_t:s0" } });
	ADD(&t, .name = "d/", .type = '5', .pax = { { "SCHILY.xattr.trusted.overlay.opaque", "y" } });
	ADD(&t, .name = "l", .type = '2', .link = "f", .pax = { { "SCHILY.xattr.trusted.l", "3" } });
	/* user.* is for files and directories only */
	ADD(&t, .name = "p", .type = '6', .pax = { { "SCHILY.xattr.trusted.p", "4" } });
	ADD(&t, .name = "h", .type = '1', .link = "f", .pax = { { "SCHILY.xattr.user.h", "5" } });
	/* Go reads SCHILY.xattr.* only; the reader also decodes these. */
	ADD(&t, .name = "la", .data = "x",
	    .pax = { { "LIBARCHIVE.xattr.user.lib", "MQ==" }, { "SCHILY.xattr.user.s", "6" } });
	/* A name without a namespace: the kernel says EOPNOTSUPP, which Go
	 * ignores. */
	ADD(&t, .name = "nons", .data = "x", .pax = { { "SCHILY.xattr.nonamespace", "7" } });
	put_end(&t);
	CHECK_OK(apply(&f, &t));
	CHECK_STREQ(xattr_of(&f, "f", "user.a"), "1");
	CHECK_STREQ(xattr_of(&f, "f", "trusted.b"), "2");
	CHECK_STREQ(xattr_of(&f, "f", "user.h"), "5");
	CHECK(!xattr_of(&f, "f", "security.selinux") || !strstr(xattr_of(&f, "f", "security.selinux"), "x_t"));
	/* The xattrs overlayfs interprets are never taken from a tarball. */
	CHECK(!xattr_of(&f, "d", "trusted.overlay.opaque"));
	CHECK_STREQ(xattr_of(&f, "l", "trusted.l"), "3");
	CHECK(!xattr_of(&f, "f", "trusted.l"));
	CHECK_STREQ(xattr_of(&f, "p", "trusted.p"), "4");
	CHECK(!xattr_of(&f, "la", "user.lib"));
	CHECK_STREQ(xattr_of(&f, "la", "user.s"), "6");
	msink_free(&t);
	return TEST_PASS;
}

static int test_global_header_and_unknown_types(void)
{
	FIXTURE(f);
	CHECK_OK(mkfile(&f, "pax_global_header", "old"));
	struct msink t = { 0 };
	struct msink g = { 0 };
	pax_rec(&g, "comment", "hello", 5);
	unsigned char b[512];
	blk_init(b, "pax_global_header", 'g', g.len, "ustar");
	put_entry(&t, b, g.data, g.len);
	ADD(&t, .name = "f", .data = "x");
	put_end(&t);
	CHECK_OK(apply(&f, &t));
	/* Go removes what has the name of the header, then ignores it. */
	CHECK(!exists(&f, "pax_global_header"));
	CHECK(content_is(&f, "f", "x"));
	msink_free(&t);
	msink_free(&g);

	struct msink u = { 0 };
	ADD(&u, .name = "v", .type = 'V');
	put_end(&u);
	CHECK(apply_fails(&f, &u, CSTOR_WHITEOUT_EXECUTE, ENOTSUP, "entry \"v\": unhandled tar header type 86"));
	msink_free(&u);
	struct msink c = { 0 };
	ADD(&c, .name = "c", .type = '7');
	put_end(&c);
	CHECK(apply_fails(&f, &c, CSTOR_WHITEOUT_EXECUTE, ENOTSUP, "type 55"));
	msink_free(&c);
	return TEST_PASS;
}

/* ---- replacement rules ------------------------------------------------------ */

static int test_replacement_rules(void)
{
	FIXTURE(f);
	CHECK_OK(mkd(&f, "dir2file"));
	CHECK_OK(mkfile(&f, "dir2file/inner", "x"));
	CHECK_OK(mkfile(&f, "file2dir", "x"));
	CHECK_OK(mkd(&f, "merge"));
	CHECK_OK(mkfile(&f, "merge/kept", "kept"));
	CHECK_OK(RET_NERRNO(symlinkat("/etc", f.fd, "link2dir")));
	CHECK_OK(RET_NERRNO(symlinkat("/etc/passwd", f.fd, "link2file")));
	CHECK_OK(RET_NERRNO(mknodat(f.fd, "node2link", S_IFIFO | 0600, 0)));
	CHECK_OK(mkfile(&f, "hardsrc", "src"));
	CHECK_OK(RET_NERRNO(linkat(f.fd, "hardsrc", f.fd, "hard2file", 0)));
	struct msink t = { 0 };
	ADD(&t, .name = "dir2file", .data = "now a file");
	ADD(&t, .name = "file2dir/", .type = '5');
	ADD(&t, .name = "merge/", .type = '5', .mode = 0700, .uid = 3);
	ADD(&t, .name = "link2dir/", .type = '5');
	ADD(&t, .name = "link2file", .data = "replaced");
	ADD(&t, .name = "node2link", .type = '2', .link = "x");
	ADD(&t, .name = "hard2file", .data = "own");
	put_end(&t);
	CHECK_OK(apply(&f, &t));
	CHECK(content_is(&f, "dir2file", "now a file"));
	CHECK(type_of(&f, "file2dir") == S_IFDIR);
	CHECK(content_is(&f, "merge/kept", "kept"));
	CHECK(perm_of(&f, "merge") == 0700 && st_of(&f, "merge").st_uid == 3);
	CHECK(type_of(&f, "link2dir") == S_IFDIR);
	CHECK(content_is(&f, "link2file", "replaced"));
	CHECK(type_of(&f, "node2link") == S_IFLNK);
	/* A new inode: the other name of the old one keeps its content. */
	CHECK(content_is(&f, "hard2file", "own"));
	CHECK(content_is(&f, "hardsrc", "src"));
	msink_free(&t);
	return TEST_PASS;
}

static int test_duplicates_last_wins(void)
{
	FIXTURE(f);
	struct msink t = { 0 };
	ADD(&t, .name = "f", .data = "one");
	ADD(&t, .name = "./f", .data = "two");
	ADD(&t, .name = "d/", .type = '5', .mode = 0700);
	ADD(&t, .name = "d/x", .data = "x");
	ADD(&t, .name = "d", .type = '5', .mode = 0750);
	ADD(&t, .name = "f", .type = '2', .link = "d");
	put_end(&t);
	CHECK_OK(apply(&f, &t));
	CHECK(type_of(&f, "f") == S_IFLNK);
	CHECK(perm_of(&f, "d") == 0750 && content_is(&f, "d/x", "x"));
	msink_free(&t);
	return TEST_PASS;
}

static int test_cache_follows_replacements(void)
{
	FIXTURE(f);
	struct msink t = { 0 };
	/* "d" is used as a parent, then replaced by a symlink: later members
	 * under "d/" must go where the symlink points, not into the old,
	 * removed directory. */
	ADD(&t, .name = "e/", .type = '5');
	ADD(&t, .name = "d/", .type = '5');
	ADD(&t, .name = "d/x", .data = "x");
	ADD(&t, .name = "d", .type = '2', .link = "e");
	ADD(&t, .name = "d/y", .data = "y");
	/* and a directory removed by a whiteout, then made again */
	ADD(&t, .name = "g/", .type = '5');
	ADD(&t, .name = "g/a", .data = "a");
	ADD(&t, .name = ".wh.g");
	ADD(&t, .name = "g/b", .data = "b");
	put_end(&t);
	CHECK_OK(apply(&f, &t));
	CHECK(content_is(&f, "e/y", "y"));
	CHECK(!exists(&f, "e/x"));
	CHECK(content_is(&f, "g/b", "b"));
	CHECK(!exists(&f, "g/a"));
	msink_free(&t);
	return TEST_PASS;
}

/* ---- the root and names ------------------------------------------------------ */

static int test_root_entry(void)
{
	FIXTURE(f);
	CHECK(chmod(f.root, 0555) == 0);
	struct msink t = { 0 };
	ADD(&t, .name = "./", .type = '5', .mode = 0750, .uid = 4, .mtime = 1400000000);
	ADD(&t, .name = "x", .data = "x");
	put_end(&t);
	/* overlay (Unpack): an existing root stays as it is */
	CHECK_OK(apply_mode(&f, &t, CSTOR_WHITEOUT_OVERLAY));
	CHECK(perm_of(&f, ".") == 0555 && st_of(&f, ".").st_uid == 0);
	/* vfs (UnpackLayer): the member applies to the root */
	CHECK_OK(apply_mode(&f, &t, CSTOR_WHITEOUT_EXECUTE));
	struct stat st = st_of(&f, ".");
	CHECK((st.st_mode & 07777) == 0750 && st.st_uid == 4);
	CHECK(st.st_mtim.tv_sec == 1400000000);
	msink_free(&t);
	return TEST_PASS;
}

static int test_root_cannot_be_replaced(void)
{
	FIXTURE(f);
	CHECK_OK(mkfile(&f, "keep", "k"));
	const char *names[] = { ".", "./", "..", "/", "../.." };
	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		struct msink t = { 0 };
		ADD(&t, .name = names[i], .type = '2', .link = "/etc");
		put_end(&t);
		CHECK(apply_fails(&f, &t, CSTOR_WHITEOUT_EXECUTE, EBADMSG, "replace the root"));
		msink_free(&t);
	}
	CHECK(content_is(&f, "keep", "k"));
	return TEST_PASS;
}

static int test_names_are_confined(void)
{
	FIXTURE(f);
	struct msink t = { 0 };
	ADD(&t, .name = "../../escape", .data = "1");
	ADD(&t, .name = "/abs/file", .data = "2");
	ADD(&t, .name = "a/../../../b", .data = "3");
	ADD(&t, .name = "./c/./d//e", .data = "4");
	ADD(&t, .name = "h", .type = '1', .link = "../../../escape");
	ADD(&t, .name = "h2", .type = '1', .link = "/abs/file");
	put_end(&t);
	CHECK_OK(apply(&f, &t));
	CHECK(content_is(&f, "escape", "1"));
	CHECK(content_is(&f, "abs/file", "2"));
	CHECK(content_is(&f, "b", "3"));
	CHECK(content_is(&f, "c/d/e", "4"));
	CHECK(st_of(&f, "h").st_ino == st_of(&f, "escape").st_ino);
	CHECK(st_of(&f, "h2").st_ino == st_of(&f, "abs/file").st_ino);
	msink_free(&t);
	return TEST_PASS;
}

static int test_symlinks_resolve_in_root(void)
{
	FIXTURE(f);
	char *outside = NULL;
	CHECK(asprintf(&outside, "%s/outside", f.dir) > 0);
	CHECK(mkdir(outside, 0755) == 0);
	struct msink t = { 0 };
	ADD(&t, .name = "etc/", .type = '5');
	ADD(&t, .name = "a", .type = '2', .link = "/etc");
	ADD(&t, .name = "a/passwd", .data = "inside");
	ADD(&t, .name = "up", .type = '2', .link = "../../../../..");
	ADD(&t, .name = "up/etc/group", .data = "inside too");
	ADD(&t, .name = "out", .type = '2', .link = outside);
	ADD(&t, .name = "hl", .type = '1', .link = "a/passwd");
	put_end(&t);
	CHECK_OK(apply(&f, &t));
	CHECK(content_is(&f, "etc/passwd", "inside"));
	CHECK(content_is(&f, "etc/group", "inside too"));
	CHECK(st_of(&f, "hl").st_ino == st_of(&f, "etc/passwd").st_ino);
	msink_free(&t);

	/* Through a symlink to a directory outside: the path is looked up in
	 * the root, where it does not exist. */
	struct msink u = { 0 };
	ADD(&u, .name = "out/file", .data = "x");
	put_end(&u);
	CHECK(apply_fails(&f, &u, CSTOR_WHITEOUT_EXECUTE, ENOENT, "entry \"out/file\""));
	msink_free(&u);
	struct msink v = { 0 };
	ADD(&v, .name = "out/sub/file", .data = "x");
	put_end(&v);
	CHECK(apply_fails(&f, &v, CSTOR_WHITEOUT_EXECUTE, EEXIST, "entry \"out/sub/file\""));
	msink_free(&v);
	struct msink w = { 0 };
	ADD(&w, .name = "h", .type = '1', .link = "out/x");
	put_end(&w);
	CHECK(apply_fails(&f, &w, CSTOR_WHITEOUT_EXECUTE, ENOENT, "hard link target"));
	msink_free(&w);
	_cleanup_closedir_ DIR *d = opendir(outside);
	CHECK(d);
	struct dirent *de;
	int n = 0;
	while ((de = readdir(d)))
		n++;
	CHECK(n == 2); /* nothing appeared outside */
	free(outside);
	return TEST_PASS;
}

static int test_symlink_loops(void)
{
	FIXTURE(f);
	struct msink t = { 0 };
	ADD(&t, .name = "a", .type = '2', .link = "b");
	ADD(&t, .name = "b", .type = '2', .link = "a");
	ADD(&t, .name = "a/x", .data = "x");
	put_end(&t);
	CHECK(apply_fails(&f, &t, CSTOR_WHITEOUT_EXECUTE, ELOOP, "entry \"a/x\""));
	msink_free(&t);
	return TEST_PASS;
}

static int test_long_names(void)
{
	FIXTURE(f);
	char comp[300], path[5000];
	memset(comp, 'c', sizeof(comp) - 1);
	comp[sizeof(comp) - 1] = 0;
	struct msink t = { 0 };
	ADD(&t, .name = comp, .data = "x");
	put_end(&t);
	CHECK(apply_fails(&f, &t, CSTOR_WHITEOUT_EXECUTE, ENAMETOOLONG, "component of 299 bytes"));
	msink_free(&t);
	for (size_t i = 0; i < sizeof(path) - 1; i++)
		path[i] = i % 100 == 99 ? '/' : 'p';
	path[sizeof(path) - 1] = 0;
	struct msink u = { 0 };
	ADD(&u, .name = path, .data = "x");
	put_end(&u);
	CHECK(apply_fails(&f, &u, CSTOR_WHITEOUT_EXECUTE, ENAMETOOLONG, "name too long"));
	msink_free(&u);
	/* Deep but within limits is fine. */
	char deep[4000];
	size_t k = 0;
	while (k + 3 < 3000) {
		deep[k++] = 'a';
		deep[k++] = '/';
	}
	deep[k++] = 'f';
	deep[k] = 0;
	struct msink v = { 0 };
	ADD(&v, .name = deep, .data = "deep");
	put_end(&v);
	CHECK_OK(apply(&f, &v));
	CHECK(content_is(&f, deep, "deep"));
	msink_free(&v);
	return TEST_PASS;
}

static int test_broken_archives(void)
{
	FIXTURE(f);
	struct msink t = { 0 };
	ADD(&t, .name = "d/", .type = '5');
	ADD(&t, .name = "d/file", .data = "0123456789abcdef");
	put_end(&t);
	struct msink cut = { 0 };
	msink_append(&cut, t.data, 1024 + 10);
	CHECK(apply_fails(&f, &cut, CSTOR_WHITEOUT_EXECUTE, EBADMSG,
			  "apply layer: entry \"d/file\": unexpected EOF (end of archive)"));
	struct msink garbage = { 0 };
	for (int i = 0; i < 2048; i++) {
		unsigned char c = (unsigned char)(i * 7 + 3);
		msink_append(&garbage, &c, 1);
	}
	CHECK(apply_fails(&f, &garbage, CSTOR_WHITEOUT_EXECUTE, EBADMSG, "apply layer: "));
	msink_free(&t);
	msink_free(&cut);
	msink_free(&garbage);
	return TEST_PASS;
}

/* ---- whiteouts ------------------------------------------------------------------ */

static int make_lower(struct fx *f)
{
	int r = 0;
	r |= mkd(f, "etc");
	r |= mkfile(f, "etc/passwd", "p");
	r |= mkfile(f, "etc/shadow", "s");
	r |= mkd(f, "usr");
	r |= mkd(f, "usr/lib");
	r |= mkfile(f, "usr/lib/old", "o");
	r |= mkd(f, "usr/lib/olddir");
	r |= mkfile(f, "usr/lib/olddir/f", "f");
	r |= mkd(f, "usr/lib/keepdir");
	r |= mkfile(f, "usr/lib/keepdir/oldfile", "f");
	r |= mkd(f, "gone");
	r |= mkfile(f, "gone/f", "f");
	return r;
}

static void whiteout_layer(struct msink *t)
{
	ADD(t, .name = "etc/", .type = '5');
	ADD(t, .name = "etc/.wh.shadow", .uid = 3, .gid = 4);
	ADD(t, .name = "usr/lib/", .type = '5');
	/* Created before the marker, still this archive's. */
	ADD(t, .name = "usr/lib/early", .data = "e");
	ADD(t, .name = "usr/lib/keepdir/", .type = '5');
	ADD(t, .name = "usr/lib/keepdir/new", .data = "n");
	ADD(t, .name = "usr/lib/.wh..wh..opq", .mode = 0755);
	ADD(t, .name = "usr/lib/late", .data = "l");
	ADD(t, .name = ".wh.gone");
	ADD(t, .name = ".wh.never-existed");
	ADD(t, .name = "a/b/.wh.c");
	put_end(t);
}

static int test_whiteouts_execute(void)
{
	FIXTURE(f);
	CHECK_OK(make_lower(&f));
	struct msink t = { 0 };
	whiteout_layer(&t);
	struct cstor_apply_stats st;
	_cleanup_error_ cstor_error err = CSTOR_ERROR_INIT;
	struct cstor_apply_options o = { .whiteouts = CSTOR_WHITEOUT_EXECUTE };
	CHECK_OK(apply_opts(&f, &t, &o, &st, &err));
	CHECK(!exists(&f, "etc/shadow") && exists(&f, "etc/passwd"));
	CHECK(!exists(&f, "etc/.wh.shadow"));
	CHECK(!exists(&f, "usr/lib/old") && !exists(&f, "usr/lib/olddir"));
	CHECK(content_is(&f, "usr/lib/early", "e"));
	CHECK(content_is(&f, "usr/lib/late", "l"));
	CHECK(content_is(&f, "usr/lib/keepdir/new", "n"));
	CHECK(!exists(&f, "usr/lib/keepdir/oldfile"));
	CHECK(!exists(&f, "usr/lib/.wh..wh..opq"));
	CHECK(!exists(&f, "gone"));
	/* Go makes the parents of a whiteout too. */
	CHECK(type_of(&f, "a/b") == S_IFDIR && !exists(&f, "a/b/.wh.c"));
	/* whiteouts are neither counted nor in the uid/gid sets */
	CHECK(st.n_uids == 1 && st.uids[0] == 0 && st.n_gids == 1 && st.gids[0] == 0);
	CHECK(st.files == 6);
	cstor_apply_stats_done(&st);
	msink_free(&t);
	return TEST_PASS;
}

static int test_whiteouts_overlay(void)
{
	FIXTURE(f);
	struct msink t = { 0 };
	whiteout_layer(&t);
	CHECK_OK(apply_mode(&f, &t, CSTOR_WHITEOUT_OVERLAY));
	struct stat w = st_of(&f, "etc/shadow");
	CHECK(S_ISCHR(w.st_mode) && w.st_rdev == 0 && (w.st_mode & 07777) == 0);
	CHECK(w.st_uid == 3 && w.st_gid == 4);
	CHECK(!exists(&f, "etc/.wh.shadow"));
	CHECK_STREQ(xattr_of(&f, "usr/lib", "trusted.overlay.opaque"), "y");
	CHECK(!exists(&f, "usr/lib/.wh..wh..opq"));
	CHECK(type_of(&f, "gone") == S_IFCHR);
	CHECK(type_of(&f, "a/b/c") == S_IFCHR);
	CHECK(content_is(&f, "usr/lib/early", "e"));
	msink_free(&t);

	/* rm -rf /foo/bar in an image: .wh.foo, then foo/.wh.bar under the
	 * whiteout device, which Go ignores. */
	struct msink u = { 0 };
	ADD(&u, .name = ".wh.foo");
	ADD(&u, .name = "foo/.wh.bar");
	put_end(&u);
	CHECK_OK(apply_mode(&f, &u, CSTOR_WHITEOUT_OVERLAY));
	CHECK(type_of(&f, "foo") == S_IFCHR);
	msink_free(&u);
	return TEST_PASS;
}

static int test_whiteouts_keep(void)
{
	FIXTURE(f);
	CHECK_OK(make_lower(&f));
	struct msink t = { 0 };
	whiteout_layer(&t);
	CHECK_OK(apply_mode(&f, &t, CSTOR_WHITEOUT_KEEP));
	CHECK(type_of(&f, "etc/.wh.shadow") == S_IFREG && exists(&f, "etc/shadow"));
	CHECK(type_of(&f, "usr/lib/.wh..wh..opq") == S_IFREG);
	CHECK(perm_of(&f, "usr/lib/.wh..wh..opq") == 0755);
	CHECK(exists(&f, "usr/lib/old") && exists(&f, "gone/f"));
	CHECK(type_of(&f, ".wh.gone") == S_IFREG);
	msink_free(&t);
	return TEST_PASS;
}

static int test_whiteout_targets_checked(void)
{
	const char *bad[] = { ".wh.", ".wh..", ".wh...", "a/.wh..", "a/b/.wh..." };
	for (int m = CSTOR_WHITEOUT_EXECUTE; m <= CSTOR_WHITEOUT_OVERLAY; m++)
		for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
			FIXTURE(f);
			CHECK_OK(mkd(&f, "a"));
			CHECK_OK(mkfile(&f, "a/x", "x"));
			struct msink t = { 0 };
			ADD(&t, .name = bad[i]);
			put_end(&t);
			CHECK(apply_fails(&f, &t, m, EBADMSG, "invalid whiteout"));
			CHECK(content_is(&f, "a/x", "x"));
			msink_free(&t);
		}
	return TEST_PASS;
}

static int test_whiteouts_through_symlinks(void)
{
	FIXTURE(f);
	char *outside = NULL;
	CHECK(asprintf(&outside, "%s/outside", f.dir) > 0);
	CHECK(mkdir(outside, 0755) == 0);
	char *canary = NULL;
	CHECK(asprintf(&canary, "%s/canary", outside) > 0);
	CHECK(close(open(canary, O_CREAT | O_WRONLY | O_CLOEXEC, 0644)) == 0);
	CHECK_OK(mkd(&f, "sub"));
	CHECK_OK(mkfile(&f, "sub/old", "o"));
	struct msink t = { 0 };
	ADD(&t, .name = "out", .type = '2', .link = outside);
	ADD(&t, .name = "out/.wh.canary");
	ADD(&t, .name = "out/.wh..wh..opq");
	ADD(&t, .name = "in", .type = '2', .link = "sub");
	/* Go walks an opaque directory without following it: nothing goes. */
	ADD(&t, .name = "in/.wh..wh..opq");
	put_end(&t);
	CHECK_OK(apply(&f, &t));
	CHECK(access(canary, F_OK) == 0);
	CHECK(content_is(&f, "sub/old", "o"));
	msink_free(&t);
	/* But a plain whiteout through an in-root symlink removes the target. */
	struct msink u = { 0 };
	ADD(&u, .name = "in/.wh.old");
	ADD(&u, .name = ".wh.out");
	put_end(&u);
	CHECK_OK(apply(&f, &u));
	CHECK(!exists(&f, "sub/old") && !exists(&f, "out"));
	CHECK(access(canary, F_OK) == 0);
	msink_free(&u);
	free(canary);
	free(outside);
	return TEST_PASS;
}

static int test_aufs_hardlinks(void)
{
	FIXTURE(f);
	struct msink t = { 0 };
	ADD(&t, .name = ".wh..wh.plnk/", .type = '5', .mode = 0700);
	ADD(&t, .name = ".wh..wh.plnk/1234", .data = "linked", .mode = 0751, .uid = 6,
	    .mtime = 1100000000);
	ADD(&t, .name = ".wh..wh.plnk/99", .data = "first");
	ADD(&t, .name = "a", .type = '1', .link = ".wh..wh.plnk/1234");
	ADD(&t, .name = "b", .type = '1', .link = "./.wh..wh.plnk/1234");
	ADD(&t, .name = "c", .type = '1', .link = ".wh..wh.plnk/99");
	/* The last member of a name wins, as in Go's map. */
	ADD(&t, .name = ".wh..wh.plnk/99", .data = "second, longer");
	ADD(&t, .name = "d", .type = '1', .link = ".wh..wh.plnk/99");
	ADD(&t, .name = "e", .type = '1', .link = ".wh..wh.plnk/1234");
	ADD(&t, .name = ".wh..wh.aufs", .data = "ignored");
	put_end(&t);
	CHECK_OK(apply(&f, &t));
	/* Copies of the kept member, with its metadata. */
	CHECK(content_is(&f, "a", "linked") && content_is(&f, "b", "linked"));
	CHECK(content_is(&f, "c", "first") && content_is(&f, "d", "second, longer"));
	CHECK(content_is(&f, "e", "linked"));
	struct stat a = st_of(&f, "a");
	CHECK((a.st_mode & 07777) == 0751 && a.st_uid == 6 && a.st_mtim.tv_sec == 1100000000);
	CHECK(a.st_ino != st_of(&f, "b").st_ino);
	CHECK(!exists(&f, ".wh..wh.plnk/1234") && !exists(&f, ".wh..wh.aufs"));
	/* Go leaves the (empty) directory made as the members' parent. */
	CHECK(type_of(&f, ".wh..wh.plnk") == S_IFDIR);
	msink_free(&t);

	struct msink u = { 0 };
	ADD(&u, .name = "c", .type = '1', .link = ".wh..wh.plnk/none");
	put_end(&u);
	CHECK(apply_fails(&f, &u, CSTOR_WHITEOUT_EXECUTE, EBADMSG, "invalid aufs hardlink"));
	msink_free(&u);
	return TEST_PASS;
}

/* ---- stats and tar-split ------------------------------------------------------------ */

static int test_stats(void)
{
	FIXTURE(f);
	struct msink t = { 0 };
	ADD(&t, .name = "a", .data = "12345", .uid = 1000, .gid = 50);
	ADD(&t, .name = "b/", .type = '5', .uid = 7, .gid = 50);
	ADD(&t, .name = "b/.wh.x", .uid = 99, .gid = 99);
	ADD(&t, .name = "b/.wh..wh..opq", .uid = 98, .gid = 98);
	ADD(&t, .name = "c", .type = '2', .link = "a", .uid = 0, .gid = 0);
	ADD(&t, .name = "d", .type = '1', .link = "a", .uid = 1000, .pax = { { "gid", "4294967295" } });
	put_end(&t);
	struct cstor_apply_stats st;
	_cleanup_error_ cstor_error err = CSTOR_ERROR_INIT;
	CHECK_OK(apply_opts(&f, &t, NULL, &st, &err));
	CHECK(st.n_uids == 3 && st.uids[0] == 0 && st.uids[1] == 7 && st.uids[2] == 1000);
	CHECK(st.n_gids == 3 && st.gids[0] == 0 && st.gids[1] == 50 &&
	      st.gids[2] == 4294967295u);
	CHECK(st.files == 4);
	CHECK(st.bytes == 5);
	cstor_apply_stats_done(&st);
	CHECK(st.uids == NULL && st.n_uids == 0);
	msink_free(&t);
	return TEST_PASS;
}

struct tree_open {
	int root;
};

static int open_member(void *ctx, const char *name, size_t name_len, int *fd_out,
		       cstor_error *err)
{
	struct tree_open *o = ctx;
	while (*name == '/' || (name[0] == '.' && name[1] == '/'))
		name += *name == '/' ? 1 : 2;
	int fd = openat(o->root, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cstor_error_errno(err, errno, "open %s", name);
	*fd_out = fd;
	(void)name_len;
	return 0;
}

static int test_tarsplit_round_trip(void)
{
	FIXTURE(f);
	struct msink t = { 0 };
	ADD(&t, .name = "./", .type = '5');
	ADD(&t, .name = "./etc/", .type = '5');
	ADD(&t, .name = "./etc/hosts", .data = "127.0.0.1 localhost\n");
	ADD(&t, .name = "./etc/.wh.gone");
	ADD(&t, .name = "./bin/", .type = '5');
	ADD(&t, .name = "./bin/sh", .data = "#!ELF", .mode = 0755);
	ADD(&t, .name = "./bin/link", .type = '1', .link = "./bin/sh", .mode = 0755);
	put_end(&t);
	static const unsigned char pad[4096];
	msink_append(&t, pad, sizeof(pad)); /* record padding, kept by tar-split */

	struct msrc src = { .data = t.data, .len = t.len };
	struct msink gz = { 0 };
	_cleanup_error_ cstor_error err = CSTOR_ERROR_INIT;
	cstor_tar_reader *r = NULL;
	cstor_tarsplit_packer *p = NULL;
	CHECK_OK(cstor_tar_reader_new(&r, msrc_read, &src, CSTOR_TAR_READER_RAW, &err));
	CHECK_OK(cstor_tarsplit_packer_new(&p, msink_write, &gz, &err));
	CHECK_OK(cstor_apply_tar(f.fd, r, NULL, p, NULL, &err));
	cstor_tarsplit_packer_free(p);
	cstor_tar_reader_free(r);

	/* Rebuild the stream from the tar-split and the extracted files. */
	struct msrc gsrc = { .data = gz.data, .len = gz.len };
	struct tree_open o = { .root = f.fd };
	struct msink out = { 0 };
	uint64_t size = 0;
	CHECK_OK(cstor_tarsplit_assemble(msrc_read, &gsrc, open_member, &o, msink_write, &out,
					 &size, &err));
	CHECK(size == t.len && out.len == t.len && memcmp(out.data, t.data, t.len) == 0);
	msink_free(&t);
	msink_free(&gz);
	msink_free(&out);
	return TEST_PASS;
}

static int test_tarsplit_duplicates_refused(void)
{
	FIXTURE(f);
	struct msink t = { 0 };
	ADD(&t, .name = "f", .data = "1");
	ADD(&t, .name = "./f", .data = "2");
	put_end(&t);
	struct msrc src = { .data = t.data, .len = t.len };
	struct msink gz = { 0 };
	_cleanup_error_ cstor_error err = CSTOR_ERROR_INIT;
	cstor_tar_reader *r = NULL;
	cstor_tarsplit_packer *p = NULL;
	CHECK_OK(cstor_tar_reader_new(&r, msrc_read, &src, CSTOR_TAR_READER_RAW, &err));
	CHECK_OK(cstor_tarsplit_packer_new(&p, msink_write, &gz, &err));
	int ret = cstor_apply_tar(f.fd, r, NULL, p, NULL, &err);
	CHECK(ret == -EBADMSG);
	CHECK(strstr(cstor_error_message(&err), "entry \"./f\": "));
	CHECK(strstr(cstor_error_message(&err), "duplicates of file paths not supported"));
	cstor_tarsplit_packer_free(p);
	cstor_tar_reader_free(r);
	msink_free(&t);
	msink_free(&gz);
	return TEST_PASS;
}

/* ---- arguments, fds, user namespaces ---------------------------------------------------- */

static int test_bad_arguments(void)
{
	FIXTURE(f);
	struct msink t = { 0 };
	put_end(&t);
	struct msrc src = { .data = t.data, .len = t.len };
	_cleanup_error_ cstor_error err = CSTOR_ERROR_INIT;
	cstor_tar_reader *r = NULL;
	CHECK_OK(cstor_tar_reader_new(&r, msrc_read, &src, 0, &err));
	struct cstor_apply_stats st = { .files = 99 };
	CHECK(cstor_apply_tar(-1, r, NULL, NULL, &st, &err) == -EINVAL);
	CHECK(st.files == 0);
	cstor_error_clear(&err);
	CHECK(cstor_apply_tar(f.fd, NULL, NULL, NULL, NULL, &err) == -EINVAL);
	cstor_error_clear(&err);
	struct cstor_apply_options o = { .whiteouts = 17 };
	CHECK(cstor_apply_tar(f.fd, r, &o, NULL, NULL, &err) == -EINVAL);
	cstor_error_clear(&err);
	/* An empty archive is fine, NULL error too. */
	CHECK_OK(cstor_apply_tar(f.fd, r, NULL, NULL, NULL, NULL));
	cstor_tar_reader_free(r);
	msink_free(&t);
	return TEST_PASS;
}

static int test_root_fd_kinds(void)
{
	FIXTURE(f);
	struct msink t = { 0 };
	ADD(&t, .name = "./", .type = '5', .mode = 0711);
	ADD(&t, .name = "f", .data = "x");
	put_end(&t);
	int saved = f.fd;
	f.fd = open(f.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(f.fd >= 0);
	int r = apply(&f, &t);
	close(f.fd);
	f.fd = saved;
	CHECK_OK(r);
	CHECK(perm_of(&f, ".") == 0711 && content_is(&f, "f", "x"));
	msink_free(&t);
	return TEST_PASS;
}

/* Run @fn in a child in a new user namespace where only root is mapped. */
static int in_userns(int (*fn)(struct fx *), struct fx *f)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (unshare(CLONE_NEWUSER) < 0)
			_exit(77);
		int fd = open("/proc/self/uid_map", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0 0 1", 5) != 5)
			_exit(77);
		close(fd);
		fd = open("/proc/self/setgroups", O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			(void)!write(fd, "deny", 4);
			close(fd);
		}
		fd = open("/proc/self/gid_map", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0 0 1", 5) != 5)
			_exit(77);
		close(fd);
		int r = fn(f);
		fflush(stdout);
		_exit(r == TEST_PASS ? 0 : 1);
	}
	int status;
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static int userns_body(struct fx *f)
{
	struct msink t = { 0 };
	ADD(&t, .name = "f", .data = "x", .uid = 1000, .gid = 1000);
	put_end(&t);
	/* uid 1000 is not mapped: chown fails with EINVAL */
	CHECK(apply_fails(f, &t, CSTOR_WHITEOUT_EXECUTE, EINVAL, "entry \"f\": chown to 1000:1000"));
	struct cstor_apply_options o = { .ignore_chown_errors = true };
	_cleanup_error_ cstor_error err = CSTOR_ERROR_INIT;
	CHECK_OK(apply_opts(f, &t, &o, NULL, &err));
	CHECK(content_is(f, "f", "x"));
	msink_free(&t);
	/* Devices cannot be made here; Go skips them. Fifos still work. */
	struct msink u = { 0 };
	ADD(&u, .name = "null", .type = '3', .major = 1, .minor = 3);
	ADD(&u, .name = "fifo", .type = '6');
	put_end(&u);
	CHECK_OK(apply(f, &u));
	CHECK(!exists(f, "null") && type_of(f, "fifo") == S_IFIFO);
	msink_free(&u);
	return TEST_PASS;
}

static int test_user_namespace(void)
{
	FIXTURE(f);
	int r = in_userns(userns_body, &f);
	if (r == 77)
		return test_skip("cannot create a user namespace");
	CHECK(r == 0);
	return TEST_PASS;
}

/* ---- the resolver ------------------------------------------------------------------ */

static int test_resolver_mount_point(void)
{
	FIXTURE(f);
	CHECK_OK(mkd(&f, "mnt"));
	char *mnt = NULL;
	CHECK(asprintf(&mnt, "%s/mnt", f.root) > 0);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=1m") < 0) {
		free(mnt);
		return test_skip("cannot mount tmpfs");
	}
	struct msink t = { 0 };
	ADD(&t, .name = "mnt/x", .data = "x");
	put_end(&t);
	bool ok = true;
	for (int fb = 0; fb < 2 && ok; fb++) {
		cstor_apply__no_openat2 = fb;
		ok = apply_fails(&f, &t, CSTOR_WHITEOUT_EXECUTE, EXDEV, "entry \"mnt/x\"");
	}
	cstor_apply__no_openat2 = false;
	umount2(mnt, MNT_DETACH);
	free(mnt);
	msink_free(&t);
	CHECK(ok);
	return TEST_PASS;
}

/* Both resolvers agree on a set of paths built to stress them. */
static int test_resolvers_agree(void)
{
	FIXTURE(f);
	CHECK_OK(mkd(&f, "a"));
	CHECK_OK(mkd(&f, "a/b"));
	CHECK_OK(mkfile(&f, "file", "x"));
	static const char *links[][2] = {
		{ "abs", "/a/b" },        { "rel", "a/b" },           { "up", "../../../a" },
		{ "a/b/back", "../.." },   { "chain1", "chain2" },     { "chain2", "abs" },
		{ "loop1", "loop2" },     { "loop2", "loop1" },       { "dang", "nowhere" },
		{ "tofile", "file" },     { "dotdot", ".." },         { "a/b/root", "/" },
		{ "slashes", "//a//./b//" },
	};
	for (size_t i = 0; i < ELEMENTSOF(links); i++)
		CHECK_OK(RET_NERRNO(symlinkat(links[i][1], f.fd, links[i][0])));
	static const char *paths[] = {
		"a",          "a/b",        "abs",        "rel",         "up",
		"up/b",       "a/b/back",   "a/b/back/a", "chain1",      "loop1",
		"dang",       "tofile",     "file",       "dotdot",      "dotdot/a/b",
		"a/b/root/a", "slashes",    "../../a",    "a/../a/./b",  "missing/x",
		"a/b/back/up/b/back/rel",   "tofile/x",   "a/b/back/abs/root/up",
	};
	for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
		int fd1 = -1, fd2 = -1;
		cstor_apply__no_openat2 = false;
		int r1 = apply_resolve_dir(f.fd, paths[i], &fd1);
		cstor_apply__no_openat2 = true;
		int r2 = apply_resolve_dir(f.fd, paths[i], &fd2);
		cstor_apply__no_openat2 = false;
		struct stat s1 = { 0 }, s2 = { 0 };
		if (r1 == 0)
			fstat(fd1, &s1);
		if (r2 == 0)
			fstat(fd2, &s2);
		if (fd1 >= 0)
			close(fd1);
		if (fd2 >= 0)
			close(fd2);
		CHECK_MSG(r1 == r2 && s1.st_ino == s2.st_ino, "%s: openat2 %d ino %lu, walk %d ino %lu",
			  paths[i], r1, (unsigned long)s1.st_ino, r2, (unsigned long)s2.st_ino);
	}
	return TEST_PASS;
}


/* Every extraction test again with the O_PATH walk instead of openat2. */
static int (*const fallback_tests[])(void) = {
	test_regular_file,	test_special_mode_bits,	     test_directories_and_times,
	test_symlinks,		test_hardlinks,		     test_devices_and_fifos,
	test_nodes_never_opened, test_xattrs,		     test_replacement_rules,
	test_duplicates_last_wins, test_cache_follows_replacements, test_root_entry,
	test_root_cannot_be_replaced, test_names_are_confined, test_symlinks_resolve_in_root,
	test_symlink_loops,	test_long_names,	     test_whiteouts_execute,
	test_whiteouts_overlay,	test_whiteouts_keep,	     test_whiteouts_through_symlinks,
	test_aufs_hardlinks,	test_umask_does_not_matter,
	NULL,
};

static int test_everything_with_fallback_walk(void)
{
	int failed = 0;
	cstor_apply__no_openat2 = true;
	for (size_t i = 0; fallback_tests[i]; i++)
		if (fallback_tests[i]() == TEST_FAIL)
			failed++;
	cstor_apply__no_openat2 = false;
	CHECK(failed == 0);
	return TEST_PASS;
}


TAP_MAIN(TEST(test_regular_file), TEST(test_large_file), TEST(test_special_mode_bits),
	 TEST(test_umask_does_not_matter), TEST(test_directories_and_times),
	 TEST(test_times_out_of_range), TEST(test_symlinks), TEST(test_hardlinks),
	 TEST(test_hardlink_metadata_order), TEST(test_devices_and_fifos),
	 TEST(test_nodes_never_opened), TEST(test_xattrs),
	 TEST(test_global_header_and_unknown_types), TEST(test_replacement_rules),
	 TEST(test_duplicates_last_wins), TEST(test_cache_follows_replacements),
	 TEST(test_root_entry), TEST(test_root_cannot_be_replaced),
	 TEST(test_names_are_confined), TEST(test_symlinks_resolve_in_root),
	 TEST(test_symlink_loops), TEST(test_long_names), TEST(test_broken_archives),
	 TEST(test_whiteouts_execute), TEST(test_whiteouts_overlay), TEST(test_whiteouts_keep),
	 TEST(test_whiteout_targets_checked), TEST(test_whiteouts_through_symlinks),
	 TEST(test_aufs_hardlinks), TEST(test_stats), TEST(test_tarsplit_round_trip),
	 TEST(test_tarsplit_duplicates_refused), TEST(test_bad_arguments),
	 TEST(test_root_fd_kinds), TEST(test_user_namespace), TEST(test_resolver_mount_point),
	 TEST(test_resolvers_agree), TEST(test_everything_with_fallback_walk))
