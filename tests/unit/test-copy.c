/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "tap.h"

#include "util/error-internal.h"
#include "util/cleanup.h"
#include "util/copy.h"

/* ---- temporary directories ------------------------------------------------- */

/* Remove a tree of any depth with a bounded number of fds: descend by name,
 * climb back through "..". Never crosses into another filesystem, so a
 * mount left behind by a failed test is not emptied. */
static int rm_tree(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	struct stat root;
	if (fstat(fd, &root) < 0)
		return -errno;
	char **names = NULL;
	size_t depth = 0;
	int r = 0;
	for (;;) {
		/* Find one entry to deal with; restart the listing each time,
		 * since the directory changes under us. */
		if (lseek(fd, 0, SEEK_SET) < 0) {
			r = -errno;
			break;
		}
		char buf[8192] __attribute__((aligned(8)));
		ssize_t n;
		bool progressed = false, descended = false;
		while (!descended && (n = getdents64(fd, buf, sizeof(buf))) > 0) {
			for (ssize_t off = 0; off < n && !descended;) {
				struct dirent64 *de = (struct dirent64 *)(buf + off);
				off += de->d_reclen;
				if (streq(de->d_name, ".") || streq(de->d_name, ".."))
					continue;
				struct stat st;
				if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
					continue;
				if (S_ISDIR(st.st_mode)) {
					if (st.st_dev != root.st_dev)
						continue; /* a mount: leave it */
					int c = openat(fd, de->d_name,
						       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
					if (c < 0)
						continue;
					char **nn = realloc(names, (depth + 1) * sizeof(*nn));
					if (!nn) {
						close(c);
						r = -ENOMEM;
						goto out;
					}
					names = nn;
					names[depth++] = strdup(de->d_name);
					close(fd);
					fd = c;
					descended = true;
				} else if (unlinkat(fd, de->d_name, 0) == 0) {
					progressed = true;
				}
			}
		}
		if (descended || progressed)
			continue;
		/* Empty (or only mounts left): climb. */
		if (depth == 0)
			break;
		int p = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (p < 0) {
			r = -errno;
			break;
		}
		close(fd);
		fd = p;
		char *name = names[--depth];
		if (unlinkat(fd, name, AT_REMOVEDIR) < 0 && r == 0)
			r = -errno;
		free(name);
		if (r < 0)
			break;
	}
out:
	for (size_t i = 0; i < depth; i++)
		free(names[i]);
	free(names);
	closep(&fd);
	if (r == 0 && rmdir(path) < 0)
		r = -errno;
	return r;
}

static void tmpdir_freep(char **p)
{
	if (*p) {
		int saved = errno;
		rm_tree(*p);
		free(*p);
		*p = NULL;
		errno = saved;
	}
}
#define _cleanup_tmpdir_ _cleanup_(tmpdir_freep)

static char *make_tmpdir_in(const char *parent)
{
	char *t = NULL;
	if (asprintf(&t, "%s/cstor-test-copy.XXXXXX", parent) < 0)
		return NULL;
	if (!mkdtemp(t)) {
		free(t);
		return NULL;
	}
	return t;
}

/* On disk, not tmpfs: sparse files, xattr namespaces and copy_file_range
 * behave as on a real graph root. */
static char *make_tmpdir(void)
{
	return make_tmpdir_in("/var/tmp");
}

static char *join(const char *a, const char *b)
{
	char *s = NULL;
	if (asprintf(&s, "%s/%s", a, b) < 0)
		return NULL;
	return s;
}

static int copy_paths(const char *src, const char *dst, unsigned flags, cstor_error *err)
{
	_cleanup_close_ int s = open(src, O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int d = open(dst, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s < 0 || d < 0)
		return -errno;
	return cstor_copy_tree(s, d, flags, err);
}

/* ---- building trees -------------------------------------------------------- */

static int write_file(const char *root, const char *name, const void *data, size_t len,
		      mode_t mode)
{
	_cleanup_free_ char *p = join(root, name);
	if (!p)
		return -ENOMEM;
	_cleanup_close_ int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (len && write(fd, data, len) != (ssize_t)len)
		return -EIO;
	if (fchmod(fd, mode) < 0)
		return -errno;
	return 0;
}

static int at(const char *root, const char *name, char **ret)
{
	*ret = join(root, name);
	return *ret ? 0 : -ENOMEM;
}

#define P(name) ({ _cleanup_free_ char *_p = NULL; CHECK_OK(at(root, name, &_p)); strdupa(_p); })

static uint32_t rng_state = 1;
static uint32_t rnd(void)
{
	uint32_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return rng_state = x;
}

static void fill_random(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

static int time_counter;

static int set_times_cb(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	/* Distinct sub-second times per entry; atime before mtime. */
	time_counter++;
	struct timespec ts[2] = {
		{ 1000000000 + time_counter, 111111111 + time_counter },
		{ 1100000000 + time_counter, 987654321 - time_counter },
	};
	return utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) < 0 ? -1 : 0;
}

/* Post-order, so setting a child's times does not disturb its directory's. */
static int set_all_times(const char *root)
{
	return nftw(root, set_times_cb, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -errno;
}

/* A v2 file capability (cap_net_bind_service=ep); chown drops it, so its
 * survival shows the copy set xattrs after the owner. */
static const uint8_t file_cap[20] = { 0x01, 0x00, 0x00, 0x02, 0x00, 0x04 };

static int build_full_tree(const char *root, bool big_sparse)
{
	uint8_t small[5000];
	fill_random(small, sizeof(small));

	CHECK_OK(write_file(root, "file.txt", "hello world\n", 12, 0644));
	CHECK(lsetxattr(P("file.txt"), "user.comment", "some value", 10, 0) == 0);
	CHECK(lsetxattr(P("file.txt"), "trusted.overlay.origin", "\x00\xfb\x01", 3, 0) == 0);
	CHECK(lsetxattr(P("file.txt"), "user.empty", "", 0, 0) == 0);
	CHECK(chown(P("file.txt"), 1000, 1001) == 0);

	CHECK_OK(write_file(root, "setuid", small, 100, 0755));
	CHECK(chown(P("setuid"), 0, 100) == 0);
	CHECK(chmod(P("setuid"), 04755) == 0);
	CHECK(lsetxattr(P("setuid"), "security.capability", file_cap, sizeof(file_cap), 0) == 0);

	CHECK_OK(write_file(root, "setgid-file", "g", 1, 0755));
	CHECK(chown(P("setgid-file"), 5, 6) == 0);
	CHECK(chmod(P("setgid-file"), 02711) == 0);
	CHECK_OK(write_file(root, "zero-mode", "secret", 6, 0000));
	CHECK_OK(write_file(root, "empty", "", 0, 0600));

	/* Large enough for several copy_file_range calls' worth of pages, not
	 * sparse. */
	size_t big = 3 * 1024 * 1024 + 123;
	_cleanup_free_ uint8_t *bigbuf = malloc(big);
	CHECK(bigbuf);
	fill_random(bigbuf, big);
	CHECK_OK(write_file(root, "big.bin", bigbuf, big, 0640));

	/* Hard links: within a directory, across directories (the second name
	 * is met deeper in the walk), a triple, a symlink and a fifo. */
	CHECK(mkdir(P("sub"), 0755) == 0);
	CHECK(mkdir(P("sub/deeper"), 0700) == 0);
	CHECK_OK(write_file(root, "hl-a", small, sizeof(small), 0600));
	CHECK(chown(P("hl-a"), 42, 43) == 0);
	CHECK(lsetxattr(P("hl-a"), "user.linked", "1", 1, 0) == 0);
	CHECK(link(P("hl-a"), P("sub/deeper/hl-a2")) == 0);
	CHECK_OK(write_file(root, "sub/triple", "3", 1, 0444));
	CHECK(link(P("sub/triple"), P("triple-1")) == 0);
	CHECK(link(P("sub/triple"), P("sub/deeper/triple-2")) == 0);

	/* Symlinks: relative, escaping the tree, absolute, dangling, to a
	 * directory inside and to one outside; a copy that followed them
	 * would show up as a difference (or write outside the tree). */
	CHECK(symlink("file.txt", P("rel")) == 0);
	CHECK(symlink("../../etc/passwd", P("escape")) == 0);
	CHECK(symlink("/etc/passwd", P("abs")) == 0);
	CHECK(symlink("does/not/exist", P("dangling")) == 0);
	CHECK(symlink("sub", P("dirlink")) == 0);
	CHECK(symlink("/etc", P("sub/etclink")) == 0);
	CHECK(lchown(P("abs"), 7, 8) == 0);
	CHECK(lsetxattr(P("rel"), "trusted.on-symlink", "yes", 3, 0) == 0);
	CHECK(link(P("rel"), P("rel-hardlink")) == 0);

	/* Special files */
	CHECK(mkfifo(P("fifo"), 0620) == 0);
	CHECK(link(P("fifo"), P("sub/fifo-link")) == 0);
	CHECK(mknod(P("sock"), S_IFSOCK | 0755, 0) == 0);
	CHECK(mknod(P("null"), S_IFCHR | 0666, makedev(1, 3)) == 0);
	CHECK(mknod(P("loopdev"), S_IFBLK | 0660, makedev(7, 200)) == 0);
	CHECK(chown(P("loopdev"), 0, 6) == 0);
	CHECK(mknod(P("sub/whiteout"), S_IFCHR | 0000, makedev(0, 0)) == 0);
	CHECK(lsetxattr(P("null"), "trusted.dev", "d", 1, 0) == 0);

	/* Directories with odd modes and xattrs */
	CHECK(mkdir(P("sticky"), 0755) == 0);
	CHECK(chmod(P("sticky"), 01777) == 0);
	CHECK(mkdir(P("setgid-dir"), 0755) == 0);
	CHECK(chown(P("setgid-dir"), 0, 50) == 0);
	CHECK(chmod(P("setgid-dir"), 02775) == 0);
	CHECK_OK(write_file(root, "setgid-dir/inside", "x", 1, 0644));
	CHECK(mkdir(P("opaque"), 0755) == 0);
	CHECK(lsetxattr(P("opaque"), "trusted.overlay.opaque", "y", 1, 0) == 0);
	CHECK(lsetxattr(P("opaque"), "user.dir", "dirval", 6, 0) == 0);
	CHECK(mkdir(P("locked"), 0000) == 0);
	CHECK_OK(write_file(root, "locked/file", "locked", 6, 0644));
	CHECK(mkdir(P("empty-dir"), 0511) == 0);
	CHECK(chown(P("sub"), 3, 4) == 0);

	/* Big xattr value: grows the copy's buffer. */
	_cleanup_free_ char *bigval = malloc(3000);
	CHECK(bigval);
	memset(bigval, 'v', 3000);
	CHECK(lsetxattr(P("sub"), "user.big", bigval, 3000, 0) == 0);

	if (big_sparse) {
		/* 1 GiB with data at the start, in the middle and in the last
		 * block; and one whose tail is a hole. */
		_cleanup_free_ char *sp = join(root, "sparse");
		CHECK(sp);
		_cleanup_close_ int fd = open(sp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		CHECK(fd >= 0);
		CHECK(ftruncate(fd, (off_t)1 << 30) == 0);
		CHECK(pwrite(fd, small, 4096, 0) == 4096);
		CHECK(pwrite(fd, bigbuf, 1 << 20, 300 << 20) == 1 << 20);
		CHECK(pwrite(fd, small, 4096, ((off_t)1 << 30) - 4096) == 4096);
		_cleanup_free_ char *sp2 = join(root, "sparse-tail");
		CHECK(sp2);
		_cleanup_close_ int fd2 = open(sp2, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		CHECK(fd2 >= 0);
		CHECK(pwrite(fd2, small, 100, 65536) == 100);
		CHECK(ftruncate(fd2, (off_t)1 << 30) == 0);
	}

	CHECK_OK(set_all_times(root));
	return TEST_PASS;
}

/* ---- comparing trees ------------------------------------------------------- */

struct inode_pair {
	dev_t sdev;
	ino_t sino;
	ino_t dino;
};

struct checker {
	struct inode_pair *pairs;
	size_t n, cap;
	int errors;
};

static void checker_freep(struct checker *c)
{
	free(c->pairs);
}

#define MISMATCH(c, ...)                                                       \
	do {                                                                   \
		printf("# mismatch: ");                                        \
		printf(__VA_ARGS__);                                           \
		printf("\n");                                                  \
		(c)->errors++;                                                 \
	} while (0)

static bool ts_eq(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

static int cmp_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted "name=value" strings of every xattr; xattr paths go through /proc
 * so that symlinks and devices are inspected themselves. */
static char **xattr_list(int dirfd, const char *name)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dirfd, name);
	char names[65536];
	ssize_t n = llistxattr(path, names, sizeof(names));
	if (n < 0)
		n = 0;
	size_t count = 0;
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(names + i) + 1)
		count++;
	char **v = calloc(count + 1, sizeof(char *));
	if (!v)
		return NULL;
	size_t k = 0;
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(names + i) + 1) {
		char val[65536];
		ssize_t l = lgetxattr(path, names + i, val, sizeof(val));
		if (l < 0)
			l = 0;
		/* Hex, since values are binary (capabilities, overlay origins). */
		size_t nl = strlen(names + i);
		char *s = malloc(nl + 2 + 2 * (size_t)l);
		if (!s)
			break;
		memcpy(s, names + i, nl);
		s[nl] = '=';
		for (ssize_t j = 0; j < l; j++)
			sprintf(s + nl + 1 + 2 * j, "%02x", (unsigned char)val[j]);
		s[nl + 1 + 2 * l] = 0;
		v[k++] = s;
	}
	if (k > 0)
		qsort(v, k, sizeof(char *), cmp_strings);
	return v;
}

static void compare_content(struct checker *c, const char *rel, int sfd, int dfd)
{
	_cleanup_free_ uint8_t *a = malloc(1 << 20), *b = malloc(1 << 20);
	if (!a || !b) {
		c->errors++;
		return;
	}
	for (off_t off = 0;;) {
		/* Skip what is a hole in both (zeros on both sides), so that
		 * gigabyte sparse files compare quickly. */
		off_t ns = lseek(sfd, off, SEEK_DATA), nd = lseek(dfd, off, SEEK_DATA);
		if (ns < 0 && nd < 0)
			return;
		off = ns < 0 ? nd : nd < 0 ? ns : MIN(ns, nd);
		ssize_t x = pread(sfd, a, 1 << 20, off), y = pread(dfd, b, 1 << 20, off);
		if (x != y || x < 0 || memcmp(a, b, (size_t)x) != 0) {
			MISMATCH(c, "%s: content differs near offset %lld", rel, (long long)off);
			return;
		}
		if (x == 0)
			return;
		off += x;
	}
}

static void compare_entry(struct checker *c, int sdir, int ddir, const char *name,
			  const char *rel);

static void compare_dir(struct checker *c, int sfd, int dfd, const char *rel)
{
	/* Every source entry must be in the copy, and the copy must have
	 * nothing else. */
	_cleanup_closedir_ DIR *sd = fdopendir(openat(sfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	_cleanup_closedir_ DIR *dd = fdopendir(openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	if (!sd || !dd) {
		MISMATCH(c, "%s: cannot list", rel);
		return;
	}
	size_t ns = 0, nd = 0;
	struct dirent *de;
	char **snames = NULL;
	while ((de = readdir(sd))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		snames = realloc(snames, (ns + 1) * sizeof(char *));
		snames[ns++] = strdup(de->d_name);
	}
	while ((de = readdir(dd)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			nd++;
	if (ns != nd)
		MISMATCH(c, "%s: %zu entries in source, %zu in copy", rel, ns, nd);
	if (ns > 0)
		qsort(snames, ns, sizeof(char *), cmp_strings);
	for (size_t i = 0; i < ns; i++) {
		char sub[PATH_MAX];
		snprintf(sub, sizeof(sub), "%s/%s", rel, snames[i]);
		compare_entry(c, sfd, dfd, snames[i], sub);
		free(snames[i]);
	}
	free(snames);
}

static void compare_stat(struct checker *c, const char *rel, const struct stat *a,
			 const struct stat *b, bool check_atime)
{
	if (a->st_mode != b->st_mode)
		MISMATCH(c, "%s: mode 0%o vs 0%o", rel, a->st_mode, b->st_mode);
	if (a->st_uid != b->st_uid || a->st_gid != b->st_gid)
		MISMATCH(c, "%s: owner %u:%u vs %u:%u", rel, a->st_uid, a->st_gid, b->st_uid,
			 b->st_gid);
	if (!ts_eq(a->st_mtim, b->st_mtim))
		MISMATCH(c, "%s: mtime %lld.%09ld vs %lld.%09ld", rel, (long long)a->st_mtim.tv_sec,
			 a->st_mtim.tv_nsec, (long long)b->st_mtim.tv_sec, b->st_mtim.tv_nsec);
	if (check_atime && !ts_eq(a->st_atim, b->st_atim))
		MISMATCH(c, "%s: atime %lld.%09ld vs %lld.%09ld", rel, (long long)a->st_atim.tv_sec,
			 a->st_atim.tv_nsec, (long long)b->st_atim.tv_sec, b->st_atim.tv_nsec);
	if (a->st_nlink != b->st_nlink)
		MISMATCH(c, "%s: nlink %lu vs %lu", rel, (unsigned long)a->st_nlink,
			 (unsigned long)b->st_nlink);
	if (!S_ISDIR(a->st_mode) && a->st_size != b->st_size)
		MISMATCH(c, "%s: size %lld vs %lld", rel, (long long)a->st_size,
			 (long long)b->st_size);
	if ((S_ISCHR(a->st_mode) || S_ISBLK(a->st_mode)) && a->st_rdev != b->st_rdev)
		MISMATCH(c, "%s: rdev differs", rel);
	/* Holes stay holes (allow a little for filesystem rounding). */
	if (S_ISREG(a->st_mode) && b->st_blocks > a->st_blocks + 2048)
		MISMATCH(c, "%s: %lld blocks vs %lld in source", rel, (long long)b->st_blocks,
			 (long long)a->st_blocks);
}

/* Returns whether the inode was met before under another name. */
static bool compare_links(struct checker *c, const char *rel, const struct stat *a,
			  const struct stat *b)
{
	/* The source→copy inode mapping must be one-to-one. */
	for (size_t i = 0; i < c->n; i++) {
		bool same_src = c->pairs[i].sdev == a->st_dev && c->pairs[i].sino == a->st_ino;
		bool same_dst = c->pairs[i].dino == b->st_ino;
		if (same_src != same_dst) {
			MISMATCH(c, "%s: hard-link structure differs", rel);
			return true;
		}
		if (same_src)
			return true;
	}
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->pairs = realloc(c->pairs, c->cap * sizeof(*c->pairs));
	}
	c->pairs[c->n++] = (struct inode_pair){ a->st_dev, a->st_ino, b->st_ino };
	return false;
}

static void compare_entry(struct checker *c, int sdir, int ddir, const char *name,
			  const char *rel)
{
	struct stat a, b;
	if (fstatat(sdir, name, &a, AT_SYMLINK_NOFOLLOW) < 0) {
		MISMATCH(c, "%s: missing in source", rel);
		return;
	}
	if (fstatat(ddir, name, &b, AT_SYMLINK_NOFOLLOW) < 0) {
		MISMATCH(c, "%s: missing in copy", rel);
		return;
	}
	/* Metadata before content: reading would move atimes. A second name
	 * of an inode already read (a symlink's readlink) is past that. */
	bool seen = !S_ISDIR(a.st_mode) && compare_links(c, rel, &a, &b);
	compare_stat(c, rel, &a, &b, !seen);
	char **xa = xattr_list(sdir, name), **xb = xattr_list(ddir, name);
	for (size_t i = 0; xa && xb && (xa[i] || xb[i]); i++)
		if (!xa[i] || !xb[i] || !streq(xa[i], xb[i])) {
			MISMATCH(c, "%s: xattr %s vs %s", rel, xa[i] ? xa[i] : "-",
				 xb[i] ? xb[i] : "-");
			break;
		}
	strv_free(xa);
	strv_free(xb);

	if (S_ISLNK(a.st_mode)) {
		char ta[PATH_MAX] = "", tb[PATH_MAX] = "";
		ssize_t la = readlinkat(sdir, name, ta, sizeof(ta) - 1);
		ssize_t lb = readlinkat(ddir, name, tb, sizeof(tb) - 1);
		if (la < 0 || lb < 0 || la != lb || memcmp(ta, tb, (size_t)la) != 0)
			MISMATCH(c, "%s: link target differs", rel);
	} else if (S_ISREG(a.st_mode)) {
		_cleanup_close_ int sf = openat(sdir, name, O_RDONLY | O_NOATIME | O_CLOEXEC);
		_cleanup_close_ int df = openat(ddir, name, O_RDONLY | O_NOATIME | O_CLOEXEC);
		if (sf < 0 || df < 0)
			MISMATCH(c, "%s: cannot open", rel);
		else
			compare_content(c, rel, sf, df);
	} else if (S_ISDIR(a.st_mode)) {
		_cleanup_close_ int sf =
			openat(sdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		_cleanup_close_ int df =
			openat(ddir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sf < 0 || df < 0)
			MISMATCH(c, "%s: cannot open directory", rel);
		else
			compare_dir(c, sf, df, rel);
	}
}

/* Compare the two roots (metadata) and everything below them. */
static int compare_trees(const char *src, const char *dst)
{
	_cleanup_(checker_freep) struct checker c = { 0 };
	_cleanup_close_ int s = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int d = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(s >= 0 && d >= 0);
	struct stat a, b;
	CHECK(fstat(s, &a) == 0 && fstat(d, &b) == 0);
	compare_stat(&c, ".", &a, &b, true);
	char **xa = xattr_list(s, "."), **xb = xattr_list(d, ".");
	for (size_t i = 0; xa && xb && (xa[i] || xb[i]); i++)
		if (!xa[i] || !xb[i] || !streq(xa[i], xb[i])) {
			MISMATCH(&c, ".: xattr %s vs %s", xa[i] ? xa[i] : "-", xb[i] ? xb[i] : "-");
			break;
		}
	strv_free(xa);
	strv_free(xb);
	compare_dir(&c, s, d, ".");
	CHECK_MSG(c.errors == 0, "%d differences between %s and %s", c.errors, src, dst);
	return TEST_PASS;
}

/* ---- tests ----------------------------------------------------------------- */

static bool is_root(void)
{
	return geteuid() == 0;
}

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static int test_full_tree(void)
{
	if (!is_root())
		return test_skip("needs root (chown, mknod, trusted.* xattrs)");
	_cleanup_tmpdir_ char *tmp = make_tmpdir();
	CHECK(tmp);
	_cleanup_free_ char *src = join(tmp, "src"), *dst = join(tmp, "dst");
	CHECK(src && dst);
	CHECK(mkdir(src, 0755) == 0);
	CHECK(mkdir(dst, 0700) == 0);
	CHECK(build_full_tree(src, true) == TEST_PASS);
	/* The root's own metadata travels too. */
	CHECK(chown(src, 11, 12) == 0);
	CHECK(chmod(src, 0751) == 0);
	CHECK(lsetxattr(src, "user.root", "r", 1, 0) == 0);
	struct timespec ts[2] = { { 5, 6 }, { 7, 8 } };
	CHECK(utimensat(AT_FDCWD, src, ts, 0) == 0);

	struct stat passwd_before, passwd_after;
	CHECK(stat("/etc/passwd", &passwd_before) == 0);
	int fds = count_fds();
	cstor_error err = CSTOR_ERROR_INIT;
	int r = copy_paths(src, dst, 0, &err);
	CHECK_MSG(r == 0, "%s", cstor_error_message(&err));
	CHECK(count_fds() == fds);
	CHECK(compare_trees(src, dst) == TEST_PASS);
	CHECK(stat("/etc/passwd", &passwd_after) == 0);
	CHECK(ts_eq(passwd_before.st_mtim, passwd_after.st_mtim));
	return TEST_PASS;
}

static int test_sparse_stays_sparse(void)
{
	_cleanup_tmpdir_ char *tmp = make_tmpdir();
	CHECK(tmp);
	_cleanup_free_ char *src = join(tmp, "src"), *dst = join(tmp, "dst");
	CHECK(src && dst);
	CHECK(mkdir(src, 0755) == 0 && mkdir(dst, 0755) == 0);
	_cleanup_free_ char *sp = join(src, "hole");
	_cleanup_close_ int fd = open(sp, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	CHECK(pwrite(fd, "data", 4, 1 << 20) == 4);
	CHECK(ftruncate(fd, (off_t)1 << 30) == 0);
	CHECK_OK(copy_paths(src, dst, 0, NULL));
	_cleanup_free_ char *dp = join(dst, "hole");
	struct stat st;
	CHECK(stat(dp, &st) == 0);
	CHECK(st.st_size == (off_t)1 << 30);
	CHECK_MSG(st.st_blocks * 512 < 1 << 20, "%lld blocks", (long long)st.st_blocks);
	_cleanup_close_ int dfd = open(dp, O_RDONLY | O_CLOEXEC);
	char b[8] = "";
	CHECK(pread(dfd, b, 4, 1 << 20) == 4 && memcmp(b, "data", 4) == 0);
	CHECK(pread(dfd, b, 4, 1 << 19) == 4 && memcmp(b, "\0\0\0\0", 4) == 0);
	return TEST_PASS;
}

static int test_no_xattrs_and_skip_devices(void)
{
	if (!is_root())
		return test_skip("needs root (mknod)");
	_cleanup_tmpdir_ char *tmp = make_tmpdir();
	CHECK(tmp);
	_cleanup_free_ char *root = join(tmp, "src"), *dst = join(tmp, "dst");
	CHECK(root && dst);
	CHECK(mkdir(root, 0755) == 0 && mkdir(dst, 0755) == 0);
	CHECK_OK(write_file(root, "f", "x", 1, 0644));
	CHECK(lsetxattr(P("f"), "user.x", "1", 1, 0) == 0);
	CHECK(mknod(P("null"), S_IFCHR | 0666, makedev(1, 3)) == 0);
	CHECK(mknod(P("blk"), S_IFBLK | 0666, makedev(7, 1)) == 0);
	CHECK(mkfifo(P("fifo"), 0644) == 0);
	CHECK_OK(copy_paths(root, dst, CSTOR_COPY_NO_XATTRS | CSTOR_COPY_SKIP_DEVICES, NULL));
	_cleanup_free_ char *f = join(dst, "f"), *nul = join(dst, "null"), *blk = join(dst, "blk"),
			    *fifo = join(dst, "fifo");
	char v[4];
	CHECK(lgetxattr(f, "user.x", v, sizeof(v)) < 0 && errno == ENODATA);
	struct stat st;
	CHECK(lstat(nul, &st) < 0 && errno == ENOENT);
	CHECK(lstat(blk, &st) < 0 && errno == ENOENT);
	CHECK(lstat(fifo, &st) == 0 && S_ISFIFO(st.st_mode));
	return TEST_PASS;
}

static int test_unprivileged_shapes(void)
{
	/* What any user can create; runs as root too. */
	_cleanup_tmpdir_ char *tmp = make_tmpdir();
	CHECK(tmp);
	_cleanup_free_ char *root = join(tmp, "src"), *dst = join(tmp, "dst");
	CHECK(root && dst);
	CHECK(mkdir(root, 0755) == 0 && mkdir(dst, 0755) == 0);
	CHECK_OK(write_file(root, "a", "aaa", 3, 0640));
	CHECK(lsetxattr(P("a"), "user.k", "v", 1, 0) == 0 || errno == ENOTSUP);
	CHECK(mkdir(P("d"), 0750) == 0);
	CHECK_OK(write_file(root, "d/b", "bbb", 3, 0600));
	CHECK(link(P("d/b"), P("b-link")) == 0);
	CHECK(symlink("../../../../../../etc/shadow", P("d/evil")) == 0);
	CHECK(mkfifo(P("d/fifo"), 0600) == 0);
	CHECK_OK(set_all_times(root));
	CHECK_OK(copy_paths(root, dst, 0, NULL));
	CHECK(compare_trees(root, dst) == TEST_PASS);
	return TEST_PASS;
}

static int test_empty_tree(void)
{
	_cleanup_tmpdir_ char *tmp = make_tmpdir();
	CHECK(tmp);
	_cleanup_free_ char *src = join(tmp, "src"), *dst = join(tmp, "dst");
	CHECK(src && dst);
	CHECK(mkdir(src, 0555) == 0 && mkdir(dst, 0700) == 0);
	CHECK_OK(copy_paths(src, dst, 0, NULL));
	struct stat st;
	CHECK(stat(dst, &st) == 0 && (st.st_mode & 07777) == 0555);
	CHECK(compare_trees(src, dst) == TEST_PASS);
	return TEST_PASS;
}

/* Deeper than PATH_MAX allows as a path, under a low fd limit: the copy
 * must work with *at() calls and O(1) fds. */
static int test_deep_tree(void)
{
	const int depth = 1500; /* 3 bytes per level: 4500-byte paths, over PATH_MAX */
	/* tmpfs when there is one: thousands of rmdir on a disk mounted with
	 * "discard" take seconds, and the filesystem is not what is tested. */
	_cleanup_tmpdir_ char *tmp = make_tmpdir_in("/dev/shm");
	if (!tmp)
		tmp = make_tmpdir();
	CHECK(tmp);
	_cleanup_free_ char *src = join(tmp, "src"), *dst = join(tmp, "dst");
	CHECK(src && dst);
	CHECK(mkdir(src, 0755) == 0 && mkdir(dst, 0755) == 0);
	_cleanup_close_ int fd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(fd >= 0);
	for (int i = 0; i < depth; i++) {
		CHECK(mkdirat(fd, "dd", 0700 + (i % 8) * 0010) == 0);
		int c = openat(fd, "dd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		CHECK(c >= 0);
		close(fd);
		fd = c;
	}
	int ffd = openat(fd, "bottom", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	CHECK(ffd >= 0);
	CHECK(write(ffd, "deep", 4) == 4);
	close(ffd);
	closep(&fd);

	struct rlimit old, low;
	CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0);
	low = old;
	low.rlim_cur = 32;
	CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
	cstor_error err = CSTOR_ERROR_INIT;
	int r = copy_paths(src, dst, 0, &err);
	CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
	CHECK_MSG(r == 0, "%s", cstor_error_message(&err));

	/* Walk both chains side by side. */
	_cleanup_close_ int s = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int d = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (int i = 0; i < depth; i++) {
		struct stat a, b;
		CHECK(fstatat(s, "dd", &a, AT_SYMLINK_NOFOLLOW) == 0);
		CHECK(fstatat(d, "dd", &b, AT_SYMLINK_NOFOLLOW) == 0);
		CHECK(a.st_mode == b.st_mode && ts_eq(a.st_mtim, b.st_mtim));
		int s2 = openat(s, "dd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int d2 = openat(d, "dd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		CHECK(s2 >= 0 && d2 >= 0);
		close(s);
		close(d);
		s = s2;
		d = d2;
	}
	char b[8] = "";
	int bf = openat(d, "bottom", O_RDONLY | O_CLOEXEC);
	CHECK(bf >= 0);
	CHECK(read(bf, b, sizeof(b)) == 4 && memcmp(b, "deep", 4) == 0);
	close(bf);
	return TEST_PASS;
}

static int test_errors_name_the_path(void)
{
	_cleanup_tmpdir_ char *tmp = make_tmpdir();
	CHECK(tmp);
	_cleanup_free_ char *root = join(tmp, "src"), *dst = join(tmp, "dst");
	CHECK(root && dst);
	CHECK(mkdir(root, 0755) == 0 && mkdir(dst, 0755) == 0);
	CHECK(mkdir(P("sub"), 0755) == 0);
	CHECK_OK(write_file(root, "sub/clash", "x", 1, 0644));
	/* The destination already has that name. */
	_cleanup_free_ char *dsub = join(dst, "sub");
	CHECK(mkdir(dsub, 0755) == 0);
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK(copy_paths(root, dst, 0, &err) == -EEXIST);
	CHECK_STREQ(cstor_error_message(&err), "copy sub: creating directory: File exists");
	cstor_error_clear(&err);
	/* A file deeper down. */
	CHECK(rmdir(dsub) == 0);
	CHECK(rm_tree(dst) == 0 && mkdir(dst, 0755) == 0);
	CHECK(mkdir(dsub, 0755) == 0);
	CHECK_OK(write_file(dsub, "clash", "y", 1, 0644));
	_cleanup_close_ int s = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int d = open(dsub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ char *ssub = join(root, "sub");
	_cleanup_close_ int ss = open(ssub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(s >= 0 && d >= 0 && ss >= 0);
	CHECK(cstor_copy_tree(ss, d, 0, &err) == -EEXIST);
	CHECK_STREQ(cstor_error_message(&err), "copy clash: creating file: File exists");
	cstor_error_clear(&err);
	return TEST_PASS;
}

static int test_bad_arguments(void)
{
	_cleanup_tmpdir_ char *tmp = make_tmpdir();
	CHECK(tmp);
	_cleanup_free_ char *root = join(tmp, "src");
	CHECK(root);
	CHECK(mkdir(root, 0755) == 0);
	CHECK(mkdir(P("inner"), 0755) == 0);
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK(copy_paths(root, root, 0, &err) == -EINVAL);
	CHECK(strstr(cstor_error_message(&err), "same"));
	/* Into a subdirectory of itself: refused, not an endless copy. */
	CHECK(copy_paths(root, P("inner"), 0, &err) == -EINVAL);
	CHECK(strstr(cstor_error_message(&err), "into itself"));
	CHECK(copy_paths(root, P("inner"), 1u << 30, &err) == -EINVAL);
	CHECK(cstor_copy_tree(-1, -1, 0, &err) == -EBADF);
	cstor_error_clear(&err);
	return TEST_PASS;
}

/* ---- reflink on a loop-mounted XFS ----------------------------------------- */

struct loop_mount {
	char *mnt;
	int loop_fd;
	bool mounted;
};

static void loop_mount_freep(struct loop_mount *m)
{
	if (m->mounted && umount2(m->mnt, 0) < 0)
		umount2(m->mnt, MNT_DETACH);
	m->mounted = false;
	if (m->loop_fd >= 0) {
		ioctl(m->loop_fd, LOOP_CLR_FD, 0);
		close(m->loop_fd);
		m->loop_fd = -1;
	}
}

static bool extents_shared(int fd)
{
	const unsigned max = 64;
	_cleanup_free_ struct fiemap *fm =
		calloc(1, sizeof(struct fiemap) + max * sizeof(struct fiemap_extent));
	if (!fm)
		return false;
	fm->fm_length = FIEMAP_MAX_OFFSET;
	fm->fm_extent_count = max;
	fm->fm_flags = FIEMAP_FLAG_SYNC;
	if (ioctl(fd, FS_IOC_FIEMAP, fm) < 0 || fm->fm_mapped_extents == 0)
		return false;
	for (unsigned i = 0; i < fm->fm_mapped_extents; i++)
		if (!(fm->fm_extents[i].fe_flags & FIEMAP_EXTENT_SHARED))
			return false;
	return true;
}

static int test_reflink_xfs(void)
{
	if (!is_root())
		return test_skip("needs root (loop device, mount)");
	if (system("command -v mkfs.xfs >/dev/null 2>&1") != 0)
		return test_skip("mkfs.xfs not installed (Debian package xfsprogs)");
	if (access("/dev/loop-control", W_OK) < 0)
		return test_skip("no /dev/loop-control");

	_cleanup_tmpdir_ char *tmp = make_tmpdir();
	CHECK(tmp);
	_cleanup_free_ char *img = join(tmp, "xfs.img");
	_cleanup_free_ char *mnt = join(tmp, "mnt");
	/* Declared after the paths and the temporary directory, so it is torn
	 * down before them: unmount and detach, then remove. */
	_cleanup_(loop_mount_freep) struct loop_mount m = { mnt, -1, false };
	CHECK(img && m.mnt);
	CHECK(mkdir(m.mnt, 0755) == 0);
	{
		_cleanup_close_ int fd = open(img, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		CHECK(fd >= 0);
		CHECK(ftruncate(fd, 512 << 20) == 0);
	}
	char cmd[PATH_MAX + 64];
	snprintf(cmd, sizeof(cmd), "mkfs.xfs -q -m reflink=1 '%s' >/dev/null 2>&1", img);
	CHECK(system(cmd) == 0);

	_cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	CHECK(ctl >= 0);
	int n = ioctl(ctl, LOOP_CTL_GET_FREE);
	CHECK(n >= 0);
	char dev[64];
	snprintf(dev, sizeof(dev), "/dev/loop%d", n);
	m.loop_fd = open(dev, O_RDWR | O_CLOEXEC);
	CHECK(m.loop_fd >= 0);
	{
		_cleanup_close_ int ifd = open(img, O_RDWR | O_CLOEXEC);
		CHECK(ifd >= 0);
		CHECK(ioctl(m.loop_fd, LOOP_SET_FD, ifd) == 0);
	}
	if (mount(dev, m.mnt, "xfs", 0, NULL) < 0) {
		if (errno == ENODEV)
			return test_skip("kernel without xfs");
		CHECK_MSG(false, "mount: %s", strerror(errno));
	}
	m.mounted = true;

	_cleanup_free_ char *root = join(m.mnt, "src"), *dst = join(m.mnt, "dst"),
			    *dst2 = join(m.mnt, "dst2");
	CHECK(root && dst && dst2);
	CHECK(mkdir(root, 0755) == 0 && mkdir(dst, 0755) == 0 && mkdir(dst2, 0755) == 0);
	size_t len = 4 << 20;
	_cleanup_free_ uint8_t *data = malloc(len);
	CHECK(data);
	fill_random(data, len);
	CHECK_OK(write_file(root, "big", data, len, 0644));
	CHECK_OK(write_file(root, "small", "tiny", 4, 0600));
	CHECK(mkdir(P("d"), 0755) == 0);
	CHECK_OK(write_file(root, "d/more", data, 100000, 0644));
	CHECK_OK(set_all_times(root));
	sync();

	CHECK_OK(copy_paths(root, dst, 0, NULL));
	CHECK(compare_trees(root, dst) == TEST_PASS);
	_cleanup_free_ char *copy = join(dst, "big");
	_cleanup_close_ int cfd = open(copy, O_RDONLY | O_CLOEXEC);
	CHECK(cfd >= 0);
	CHECK_MSG(extents_shared(cfd), "copy of big does not share extents");

	/* And with reflinks off, real copies. */
	CHECK_OK(copy_paths(root, dst2, CSTOR_COPY_NO_REFLINK, NULL));
	CHECK(compare_trees(root, dst2) == TEST_PASS);
	_cleanup_free_ char *copy2 = join(dst2, "big");
	_cleanup_close_ int cfd2 = open(copy2, O_RDONLY | O_CLOEXEC);
	CHECK(cfd2 >= 0);
	/* copy_file_range on XFS may itself reflink; only the flag's path
	 * through the code is checked here, via the comparison above. */
	return TEST_PASS;
}

TAP_MAIN(TEST(test_full_tree), TEST(test_sparse_stays_sparse),
	 TEST(test_no_xattrs_and_skip_devices), TEST(test_unprivileged_shapes),
	 TEST(test_empty_tree), TEST(test_deep_tree), TEST(test_errors_name_the_path),
	 TEST(test_bad_arguments), TEST(test_reflink_xfs))
