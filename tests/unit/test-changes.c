/* SPDX-License-Identifier: Apache-2.0 */
/* Change lists and diff sizes (archive/changes.h), against the rules of
 * containers/storage 1.43 spelled out in changes.h. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "tap.h"

#include "archive/changes.h"
#include "archive/tree-util.h"
#include "util/error-internal.h"
#include "util/cleanup.h"

/* ---- scratch trees ---------------------------------------------------------- */

static char *scratch;

static void rm_scratch(void)
{
	if (!scratch)
		return;
	/* rm(1) copes with trees deeper than PATH_MAX. */
	char *cmd = NULL;
	if (asprintf(&cmd, "rm -rf --one-file-system '%s'", scratch) >= 0 && system(cmd) != 0)
		printf("# could not remove %s\n", scratch);
	free(cmd);
	free(scratch);
	scratch = NULL;
}

/* A fresh directory on disk (xattrs and device nodes as on a graph root). */
static int new_scratch(void)
{
	rm_scratch();
	scratch = strdup("/var/tmp/cstor-test-changes.XXXXXX");
	if (!scratch || !mkdtemp(scratch))
		return -1;
	return open(scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static _printf_(2, 0) int vmk(int root, const char *fmt, va_list ap, char **path)
{
	if (vasprintf(path, fmt, ap) < 0)
		return -ENOMEM;
	/* mkdir -p of the parent */
	for (char *s = strchr(*path, '/'); s; s = strchr(s + 1, '/')) {
		*s = 0;
		if (mkdirat(root, *path, 0755) < 0 && errno != EEXIST) {
			*s = '/';
			return -errno;
		}
		*s = '/';
	}
	return 0;
}

static _printf_(3, 4) int put(int root, const char *content, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *p = NULL;
	int r = vmk(root, fmt, ap, &p);
	va_end(ap);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = openat(root, p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, content, strlen(content)) != (ssize_t)strlen(content))
		return -errno;
	return 0;
}

static _printf_(2, 3) int dir(int root, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *p = NULL;
	int r = vmk(root, fmt, ap, &p);
	va_end(ap);
	if (r < 0)
		return r;
	return mkdirat(root, p, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

static int set_mtime(int root, const char *p, time_t sec, long nsec)
{
	struct timespec ts[2] = { { sec, nsec }, { sec, nsec } };
	return utimensat(root, p, ts, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

/* Copy mtime (and atime) from @src/@p to @dst/@p. */
static int same_mtime(int dst, int src, const char *p)
{
	struct stat st;
	if (fstatat(src, p, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	struct timespec ts[2] = { st.st_atim, st.st_mtim };
	return utimensat(dst, p, ts, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

static int sub(int root, const char *name)
{
	if (mkdirat(root, name, 0755) < 0 && errno != EEXIST)
		return -errno;
	return openat(root, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static int whiteout(int root, const char *p)
{
	return mknodat(root, p, S_IFCHR, makedev(0, 0)) < 0 ? -errno : 0;
}

static bool is_root(void)
{
	return geteuid() == 0;
}

/* The list as "K path" lines, K one of M A D, for CHECK_STREQ. */
static char *render(const struct cstor_change_list *l)
{
	size_t cap = 1;
	for (size_t i = 0; i < l->n; i++)
		cap += strlen(l->v[i].path) + 3;
	char *s = calloc(1, cap), *o = s;
	for (size_t i = 0; s && i < l->n; i++)
		o += sprintf(o, "%c %s\n", "MAD"[l->v[i].kind], l->v[i].path);
	return s;
}

#define CHECK_CHANGES(list, expected)                                          \
	do {                                                                   \
		_cleanup_free_ char *_got = render(list);                      \
		CHECK_STREQ(_got, expected);                                   \
	} while (0)

/* ---- naive ------------------------------------------------------------------ */

static int test_naive_no_parent(void)
{
	_cleanup_close_ int root = new_scratch();
	CHECK(root >= 0);
	_cleanup_close_ int l = sub(root, "layer");
	CHECK_OK(put(l, "x", "a/b/c"));
	CHECK_OK(put(l, "x", "a.txt"));
	CHECK_OK(dir(l, "empty"));
	CHECK(symlinkat("/etc/passwd", l, "lnk") == 0);
	struct cstor_change_list cl = { 0 };
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK_OK(cstor_changes_naive(&cl, l, -1, &err));
	/* Sorted bytewise: "a.txt" before "a/…" ('.' < '/'). */
	CHECK_CHANGES(&cl, "A /a\nA /a.txt\nA /a/b\nA /a/b/c\nA /empty\nA /lnk\n");
	cstor_change_list_done(&cl);
	return TEST_PASS;
}

static int test_naive_rules(void)
{
	_cleanup_close_ int root = new_scratch();
	CHECK(root >= 0);
	_cleanup_close_ int p = sub(root, "parent");
	_cleanup_close_ int l = sub(root, "layer");
	/* Build both sides the same, then change the layer. */
	for (int side = 0; side < 2; side++) {
		int t = side ? l : p;
		CHECK_OK(put(t, "a", "d1/a"));
		CHECK_OK(put(t, "b", "d2/sub/b"));
		CHECK_OK(dir(t, "d3"));
		CHECK_OK(dir(t, "dmode"));
		CHECK_OK(put(t, "same", "samesize"));
		CHECK_OK(put(t, "n", "nano"));
		CHECK_OK(put(t, "k", "keep"));
		CHECK_OK(put(t, "c", "content"));
		CHECK_OK(put(t, "f", "file2dir"));
		CHECK_OK(put(t, "x", "dir2file/x"));
		CHECK(symlinkat("tgt1", t, "samelen") == 0);
		CHECK(symlinkat("tgt1", t, "retarget") == 0);
	}
	const char *synced[] = { "d1/a", "d1", "d2/sub/b", "d2/sub", "d2", "d3", "dmode", "samesize",
				 "keep", "content", "samelen", "retarget", "file2dir", "dir2file/x",
				 "dir2file" };
	for (size_t i = 0; i < ELEMENTSOF(synced); i++)
		CHECK_OK(same_mtime(l, p, synced[i]));
	CHECK_OK(set_mtime(p, "nano", 1600000000, 500));
	CHECK_OK(set_mtime(l, "nano", 1600000000, 0)); /* equal for Go */

	CHECK_OK(put(l, "c", "d1/c"));		    /* Add, and d1 Modify */
	CHECK_OK(same_mtime(l, p, "d1"));
	CHECK(unlinkat(l, "d2/sub/b", 0) == 0);
	CHECK(unlinkat(l, "d2/sub", AT_REMOVEDIR) == 0);
	CHECK(unlinkat(l, "d2", AT_REMOVEDIR) == 0); /* one Delete */
	CHECK_OK(set_mtime(l, "d3", 1700000000, 0)); /* mtime only: nothing */
	CHECK(fchmodat(l, "dmode", 0700, 0) == 0);   /* Modify */
	CHECK_OK(put(l, "SAME", "samesize"));	     /* same size and mtime: nothing */
	CHECK_OK(same_mtime(l, p, "samesize"));
	CHECK_OK(put(l, "C", "content"));
	CHECK_OK(set_mtime(l, "content", 1, 0)); /* Modify */
	CHECK(unlinkat(l, "samelen", 0) == 0);
	CHECK(symlinkat("tgt2", l, "samelen") == 0); /* same length: nothing */
	CHECK_OK(same_mtime(l, p, "samelen"));
	CHECK(unlinkat(l, "retarget", 0) == 0);
	CHECK(symlinkat("target-two", l, "retarget") == 0); /* Modify */
	CHECK(unlinkat(l, "file2dir", 0) == 0);
	CHECK_OK(put(l, "i", "file2dir/in")); /* Modify + Add */
	CHECK(unlinkat(l, "dir2file/x", 0) == 0);
	CHECK(unlinkat(l, "dir2file", AT_REMOVEDIR) == 0);
	CHECK_OK(put(l, "f", "dir2file")); /* Modify only */
	_cleanup_close_ int k = openat(l, "keep", O_RDONLY | O_CLOEXEC);
	bool xattrs = fsetxattr(k, "user.x", "v", 1, 0) == 0; /* Modify */
	struct cstor_change_list cl = { 0 };
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK_OK(cstor_changes_naive(&cl, l, p, &err));
	CHECK_CHANGES(&cl, xattrs ? "M /content\nM /d1\nA /d1/c\nD /d2\nM /dir2file\nM /dmode\n"
				    "M /file2dir\nA /file2dir/in\nM /keep\nM /retarget\n"
				  : "M /content\nM /d1\nA /d1/c\nD /d2\nM /dir2file\nM /dmode\n"
				    "M /file2dir\nA /file2dir/in\nM /retarget\n");
	cstor_change_list_done(&cl);
	return TEST_PASS;
}

static int test_naive_owner_and_devices(void)
{
	if (!is_root())
		return test_skip("needs root for chown and mknod");
	_cleanup_close_ int root = new_scratch();
	CHECK(root >= 0);
	_cleanup_close_ int p = sub(root, "parent");
	_cleanup_close_ int l = sub(root, "layer");
	for (int side = 0; side < 2; side++) {
		int t = side ? l : p;
		CHECK_OK(put(t, "o", "owner"));
		CHECK(mknodat(t, "cdev", S_IFCHR | 0644, makedev(1, side ? 5 : 3)) == 0);
		CHECK_OK(put(t, "x", "wasdir/x"));
		CHECK_OK(put(t, "y", "wasdir/y"));
		CHECK(mknodat(t, "fifo", S_IFIFO | 0644, 0) == 0);
	}
	CHECK_OK(same_mtime(l, p, "owner"));
	CHECK_OK(same_mtime(l, p, "cdev"));
	CHECK_OK(same_mtime(l, p, "fifo"));
	CHECK(fchownat(l, "owner", 1, 2, AT_SYMLINK_NOFOLLOW) == 0);
	CHECK(unlinkat(l, "wasdir/x", 0) == 0 && unlinkat(l, "wasdir/y", 0) == 0);
	CHECK(unlinkat(l, "wasdir", AT_REMOVEDIR) == 0);
	/* A block device has the S_IFDIR bit: Go then reports every entry of
	 * the directory it replaced as deleted. */
	CHECK(mknodat(l, "wasdir", S_IFBLK | 0600, makedev(7, 1)) == 0);
	/* A block device whose mtime alone changed: not compared (same bit). */
	struct cstor_change_list cl = { 0 };
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK_OK(cstor_changes_naive(&cl, l, p, &err));
	CHECK_CHANGES(&cl, "M /cdev\nM /owner\nM /wasdir\nD /wasdir/x\nD /wasdir/y\n");
	cstor_change_list_done(&cl);
	return TEST_PASS;
}

static int test_naive_same_inode_pruned(void)
{
	_cleanup_close_ int root = new_scratch();
	CHECK(root >= 0);
	_cleanup_close_ int p = sub(root, "parent");
	_cleanup_close_ int l = sub(root, "layer");
	CHECK_OK(put(p, "x", "shared"));
	CHECK(linkat(p, "shared", l, "shared", 0) == 0);
	CHECK_OK(put(l, "y", "new"));
	struct cstor_change_list cl = { 0 };
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK_OK(cstor_changes_naive(&cl, l, p, &err));
	CHECK_CHANGES(&cl, "A /new\n");
	int64_t size = -1;
	CHECK_OK(cstor_changes_size(&size, &cl, l, &err));
	CHECK(size == 1);
	cstor_change_list_done(&cl);
	return TEST_PASS;
}

static int test_naive_symlinks_not_followed(void)
{
	_cleanup_close_ int root = new_scratch();
	CHECK(root >= 0);
	_cleanup_close_ int p = sub(root, "parent");
	_cleanup_close_ int l = sub(root, "layer");
	/* The parent has a real directory, the layer a symlink to the host's
	 * /etc with the same name: one Modify, nothing from /etc. */
	CHECK_OK(put(p, "x", "etc/passwd"));
	CHECK(symlinkat("/etc", l, "etc") == 0);
	CHECK(symlinkat("/", l, "rootlink") == 0);
	struct cstor_change_list cl = { 0 };
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK_OK(cstor_changes_naive(&cl, l, p, &err));
	CHECK_CHANGES(&cl, "M /etc\nA /rootlink\n");
	cstor_change_list_done(&cl);
	return TEST_PASS;
}

/* Make a chain of @depth directories "d/d/…" below @root (with fds, since
 * the path is longer than PATH_MAX), and a file in the deepest one. */
static int deep_chain(int root, int depth, const char *file)
{
	_cleanup_close_ int cur = fcntl(root, F_DUPFD_CLOEXEC, 3);
	for (int i = 0; i < depth; i++) {
		int n = sub(cur, "d");
		if (n < 0)
			return n;
		close(cur);
		cur = n;
	}
	_cleanup_close_ int fd = openat(cur, file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	return fd < 0 ? -errno : 0;
}

static int test_deep_trees(void)
{
	_cleanup_close_ int root = new_scratch();
	CHECK(root >= 0);
	_cleanup_close_ int p = sub(root, "parent");
	_cleanup_close_ int l = sub(root, "layer");
	const int depth = 3000; /* 6000-byte paths, far past PATH_MAX */
	CHECK_OK(deep_chain(p, depth, "old"));
	CHECK_OK(deep_chain(l, depth, "new"));
	/* Few fds: depth must not cost any. */
	struct rlimit saved, low = { 64, 64 };
	CHECK(getrlimit(RLIMIT_NOFILE, &saved) == 0);
	low.rlim_max = saved.rlim_max;
	CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
	struct cstor_change_list cl = { 0 }, ov = { 0 };
	cstor_error err = CSTOR_ERROR_INIT;
	int r1 = cstor_changes_naive(&cl, l, p, &err);
	int r2 = r1 < 0 ? r1 : cstor_changes_overlay(&ov, l, &p, 1, 0, &err);
	int64_t sz = -1;
	int r3 = r2 < 0 ? r2 : cstor_dir_size(&sz, l, &err);
	setrlimit(RLIMIT_NOFILE, &saved);
	CHECK_MSG(r1 == 0 && r2 == 0 && r3 == 0, "%s", cstor_error_message(&err));
	/* Every level is a Modify (a change below it), plus the two files. */
	CHECK(cl.n == (size_t)depth + 2);
	for (int i = 0; i < depth; i++)
		CHECK(cl.v[i].kind == CSTOR_CHANGE_MODIFY && strlen(cl.v[i].path) == 2 * (size_t)i + 2);
	CHECK(cl.v[depth].kind == CSTOR_CHANGE_ADD && strstr(cl.v[depth].path, "/d/new"));
	CHECK(cl.v[depth + 1].kind == CSTOR_CHANGE_DELETE && strstr(cl.v[depth + 1].path, "/d/old"));
	/* Overlay: every level is there (changed mtime, or as the parent of
	 * the Add); the lower's file is not visible from the upper. */
	CHECK(ov.n == (size_t)depth + 1);
	CHECK(ov.v[ov.n - 1].kind == CSTOR_CHANGE_ADD);
	CHECK(sz == 0);
	cstor_change_list_done(&cl);
	cstor_change_list_done(&ov);
	return TEST_PASS;
}

/* The same without openat2: one component at a time, still never through
 * a symlink. Runs last among the naive tests: the switch is for good. */
static int test_without_openat2(void)
{
	_cleanup_close_ int root = new_scratch();
	CHECK(root >= 0);
	_cleanup_close_ int p = sub(root, "parent");
	_cleanup_close_ int l = sub(root, "layer");
	CHECK_OK(deep_chain(p, 2100, "old")); /* past PATH_MAX */
	CHECK_OK(deep_chain(l, 2100, "new"));
	CHECK_OK(put(p, "x", "a/b/c"));
	CHECK_OK(put(l, "x", "real/b/c"));
	CHECK(symlinkat("real", l, "a") == 0);
	cstor_tree__disable_openat2();
	int fd = cstor_tree__open_dir(l, "a/b");
	CHECK(fd == -ELOOP || fd == -ENOTDIR);
	fd = cstor_tree__open_dir(l, "real/b");
	CHECK(fd >= 0);
	close(fd);
	struct cstor_change_list cl = { 0 };
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK_OK(cstor_changes_naive(&cl, l, p, &err));
	CHECK(cl.n == 2100 + 2 + 4);
	CHECK_STREQ(cl.v[0].path, "/a");
	CHECK(cl.v[0].kind == CSTOR_CHANGE_MODIFY);
	CHECK_STREQ(cl.v[cl.n - 1].path, "/real/b/c");
	cstor_change_list_done(&cl);
	return TEST_PASS;
}

/* ---- overlay native --------------------------------------------------------- */

static int test_overlay_rules(void)
{
	if (!is_root())
		return test_skip("needs root for whiteouts and trusted.* xattrs");
	_cleanup_close_ int root = new_scratch();
	CHECK(root >= 0);
	_cleanup_close_ int base = sub(root, "base");
	_cleanup_close_ int mid = sub(root, "mid");
	_cleanup_close_ int up = sub(root, "upper");
	CHECK_OK(put(base, "h", "etc/hello"));
	CHECK_OK(put(base, "a", "etc/a"));
	CHECK_OK(put(base, "x", "data/x"));
	CHECK_OK(put(base, "y", "usr/lib/y"));
	CHECK_OK(put(base, "g", "gone/sub/g"));
	CHECK_OK(put(base, "f", "notadir"));
	CHECK(symlinkat("data", base, "linkdir") == 0);
	CHECK_OK(dir(mid, "etc"));
	CHECK_OK(whiteout(mid, "etc/a"));
	CHECK_OK(whiteout(mid, "gone"));

	/* upper */
	CHECK_OK(dir(up, "etc"));
	CHECK_OK(whiteout(up, "etc/hello"));	  /* Delete */
	CHECK_OK(put(up, "again", "etc/a"));	  /* whited out in mid: Add */
	CHECK_OK(dir(up, "data"));
	CHECK_OK(same_mtime(up, base, "data"));	  /* same as lower: skipped... */
	CHECK_OK(put(up, "xx", "data/x"));	  /* ...and only a Modify below */
	CHECK_OK(same_mtime(up, base, "data"));
	CHECK_OK(dir(up, "usr"));
	CHECK_OK(same_mtime(up, base, "usr"));	  /* skipped, but parent of an Add */
	CHECK_OK(dir(up, "usr/lib"));
	CHECK(lsetxattr(scratch, "trusted.overlay.opaque", "y", 1, 0) == 0 || true);
	{
		_cleanup_close_ int o = openat(up, "usr/lib", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		CHECK(fsetxattr(o, "trusted.overlay.opaque", "y", 1, 0) == 0);
	}
	CHECK_OK(put(up, "n", "usr/lib/n"));	  /* Add below an opaque Delete */
	CHECK_OK(put(up, "yy", "usr/lib/y"));	  /* in base: Modify (as Go) */
	CHECK_OK(same_mtime(up, base, "usr"));
	CHECK_OK(put(up, "g2", "gone/sub/g2"));	  /* below a mid whiteout: all Add */
	CHECK_OK(dir(up, "fresh"));
	{
		_cleanup_close_ int o = openat(up, "fresh", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		CHECK(fsetxattr(o, "trusted.overlay.opaque", "y", 1, 0) == 0); /* not in lowers: Add */
	}
	CHECK_OK(put(up, "c", "notadir/child")); /* lower is a file: Modify + Add */
	CHECK_OK(put(up, "c", "linkdir/x"));	 /* lower symlink not followed */

	int lowers[] = { mid, base };
	struct cstor_change_list cl = { 0 };
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK_OK(cstor_changes_overlay(&cl, up, lowers, 2, 0, &err));
	CHECK_CHANGES(&cl, "M /data/x\n"
			   "M /etc\nA /etc/a\nD /etc/hello\n"
			   "A /fresh\n"
			   "A /gone\nA /gone/sub\nA /gone/sub/g2\n"
			   "M /linkdir\nA /linkdir/x\n"
			   "M /notadir\nA /notadir/child\n"
			   "M /usr\nD /usr/lib\nA /usr/lib/n\nM /usr/lib/y\n");
	int64_t size = -1;
	CHECK_OK(cstor_dir_size(&size, up, &err));
	CHECK(size == (int64_t)strlen("againxxnyyg2cc"));
	cstor_change_list_done(&cl);

	/* Without lowers everything is Add, opaque or not; whiteouts Delete. */
	CHECK_OK(cstor_changes_overlay(&cl, mid, NULL, 0, 0, &err));
	CHECK_CHANGES(&cl, "A /etc\nD /etc/a\nD /gone\n");
	cstor_change_list_done(&cl);
	return TEST_PASS;
}

static int test_overlay_userxattr(void)
{
	_cleanup_close_ int root = new_scratch();
	CHECK(root >= 0);
	_cleanup_close_ int base = sub(root, "base");
	_cleanup_close_ int up = sub(root, "upper");
	CHECK_OK(put(base, "y", "lib/y"));
	CHECK_OK(put(up, "n", "lib/n"));
	_cleanup_close_ int o = openat(up, "lib", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fsetxattr(o, "user.overlay.opaque", "y", 1, 0) < 0)
		return test_skip("no user xattrs here");
	struct cstor_change_list cl = { 0 };
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK_OK(cstor_changes_overlay(&cl, up, &base, 1, CSTOR_CHANGES_USERXATTR, &err));
	CHECK_CHANGES(&cl, "D /lib\nA /lib/n\n");
	cstor_change_list_done(&cl);
	/* Without the flag the user xattr means nothing. */
	CHECK_OK(cstor_changes_overlay(&cl, up, &base, 1, 0, &err));
	CHECK(cl.n == 2 && cl.v[0].kind == CSTOR_CHANGE_MODIFY);
	cstor_change_list_done(&cl);
	return TEST_PASS;
}

/* ---- sizes ------------------------------------------------------------------ */

static int test_sizes(void)
{
	_cleanup_close_ int root = new_scratch();
	CHECK(root >= 0);
	_cleanup_close_ int l = sub(root, "layer");
	CHECK_OK(put(l, "12345", "a/five"));
	CHECK(linkat(l, "a/five", l, "a/five-again", 0) == 0);
	CHECK(symlinkat("0123456789", l, "ten") == 0);
	CHECK_OK(put(l, "xyz", "three"));
	struct cstor_change_list cl = { 0 };
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK_OK(cstor_changes_naive(&cl, l, -1, &err));
	int64_t size = -1;
	CHECK_OK(cstor_changes_size(&size, &cl, l, &err));
	CHECK(size == 5 + 10 + 3);
	/* A listed entry that vanished is skipped; Deletes count nothing. */
	CHECK(unlinkat(l, "three", 0) == 0);
	CHECK_OK(cstor_changes_size(&size, &cl, l, &err));
	CHECK(size == 5 + 10);
	CHECK_OK(cstor_dir_size(&size, l, &err));
	CHECK(size == 5 + 10);
	cstor_change_list_done(&cl);
	struct cstor_change del[] = { { (char *)"/ten", CSTOR_CHANGE_DELETE } };
	struct cstor_change_list dl = { del, 1, 1 };
	CHECK_OK(cstor_changes_size(&size, &dl, l, &err));
	CHECK(size == 0);
	return TEST_PASS;
}

static int test_errors(void)
{
	struct cstor_change_list cl = { 0 };
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK(cstor_changes_naive(&cl, -1, -1, &err) == -EINVAL);
	cstor_error_clear(&err);
	CHECK(cstor_changes_overlay(&cl, 0, NULL, 2, 0, &err) == -EINVAL);
	cstor_error_clear(&err);
	CHECK(cstor_changes_overlay(&cl, 0, NULL, 0, 0x80, &err) == -EINVAL);
	cstor_error_clear(&err);
	/* A file is not a tree. */
	_cleanup_close_ int root = new_scratch();
	CHECK(root >= 0);
	CHECK_OK(put(root, "x", "file"));
	_cleanup_close_ int f = openat(root, "file", O_RDONLY | O_CLOEXEC);
	CHECK(cstor_changes_naive(&cl, f, -1, &err) == -ENOTDIR);
	CHECK(strstr(cstor_error_message(&err), "changes: open /") != NULL);
	cstor_error_clear(&err);
	int64_t sz;
	CHECK(cstor_dir_size(&sz, f, &err) == -ENOTDIR);
	cstor_error_clear(&err);
	CHECK(cl.n == 0 && cl.v == NULL);
	CHECK_STREQ(cstor_change_kind_name(CSTOR_CHANGE_ADD), "Add");
	CHECK_STREQ(cstor_change_kind_name(CSTOR_CHANGE_MODIFY), "Modify");
	CHECK_STREQ(cstor_change_kind_name(CSTOR_CHANGE_DELETE), "Delete");
	return TEST_PASS;
}

static int run_all(int argc, char **argv)
{
	static const struct tap_test tests[] = {
		TEST(test_naive_no_parent),	  TEST(test_naive_rules),
		TEST(test_naive_owner_and_devices), TEST(test_naive_same_inode_pruned),
		TEST(test_naive_symlinks_not_followed), TEST(test_deep_trees),
		TEST(test_overlay_rules),	  TEST(test_overlay_userxattr),
		TEST(test_sizes),		  TEST(test_errors),
		TEST(test_without_openat2),
	};
	int r = tap_run(tests, ELEMENTSOF(tests), argc, argv);
	rm_scratch();
	return r;
}

int main(int argc, char **argv)
{
	return run_all(argc, argv);
}
