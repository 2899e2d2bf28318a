/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cutfs: a FUSE filesystem that can lose power, for tests/cli/test-power-cut.sh.
 *
 * The whole tree lives in memory. Every inode has a current state (what
 * programs see) and a durable state (what a disk would hold after a power
 * cut), in the spirit of CrashMonkey and ALICE:
 *
 *   - fsync/fdatasync of a file makes its data, attributes and xattrs
 *     durable, not its name: a new file needs an fsync of its directory;
 *   - fsync of a directory makes its entries durable (creates, unlinks,
 *     renames into or out of it), not the contents of the files named;
 *   - syncfs (see below) makes everything durable.
 *
 * A new inode starts durable as empty (a file whose name survives a cut but
 * whose data was never synced comes back empty, a directory comes back
 * without entries).
 *
 * The file /.cutfs-ctl at the root takes commands (one per write):
 *
 *   cut        power cut: every inode goes back to its durable state
 *   sync       make everything durable, as sync(2)
 *   arm N      cut by itself when the N-th mutating call from now arrives
 *              (that call and all after it, reads too, then fail with EIO,
 *              as a dead disk, until "revive")
 *   revive     after an armed cut: work again (on the durable state)
 *
 * and reading it gives counters: "ops=N fsyncs=N syncfs=N cuts=N dead=0|1".
 *
 * syncfs(2) and sync(2) do not reach a FUSE server (the kernel sends
 * FUSE_SYNCFS to virtiofs only), so the test runs the programs with
 * cutfs-sync.so preloaded: after the real syncfs(fd) it asks the
 * filesystem of fd for the xattr "user.cutfs.syncfs", which cutfs takes as
 * syncfs and answers with ENODATA.
 *
 * The kernel must not cache what a cut can change: the test mounts with
 * entry, attribute and negative timeouts of 0, and files are opened with
 * direct I/O (no page cache). Single-threaded (-s): no locks needed.
 *
 *   cutfs MOUNTPOINT [fuse options]     (run with -f to stay in front)
 */
#define FUSE_USE_VERSION 35
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define CTL_NAME ".cutfs-ctl"
#define SYNCFS_XATTR "user.cutfs.syncfs"
#define CTL_INO 1

/* File data and symlink targets, shared copy-on-write between the
 * current and the durable state. */
struct blob {
	unsigned refs;
	size_t size, cap;
	char bytes[];
};

struct xattr {
	char *name;
	char *value;
	size_t len;
};

struct node;
struct dent {
	char *name;
	struct node *node;
};

struct state {
	mode_t mode;
	uid_t uid;
	gid_t gid;
	dev_t rdev;
	struct timespec atime, mtime, ctime;
	struct blob *data;
	struct xattr *xattrs;
	size_t n_xattrs;
	struct dent *ents; /* directories */
	size_t n_ents;
};

struct node {
	uint64_t ino;
	struct state cur, dur;
	nlink_t nlink; /* of the current state */
	struct node *all_next;
};

static struct node *root;
static struct node *all_nodes;
static uint64_t next_ino = CTL_INO + 1;
static unsigned long n_ops, n_fsyncs, n_syncfs, n_cuts;
static long armed = -1; /* mutating calls left before the cut, -1: none */
static bool dead;

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fprintf(stderr, "cutfs: out of memory\n");
		abort();
	}
	return p;
}

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	return memcpy(xmalloc(n), s, n);
}

static struct blob *blob_ref(struct blob *b)
{
	if (b)
		b->refs++;
	return b;
}

static void blob_unref(struct blob *b)
{
	if (b && --b->refs == 0)
		free(b);
}

/* The current data of @n, writable and with room for @size bytes. */
static struct blob *blob_own(struct node *n, size_t size)
{
	struct blob *b = n->cur.data;
	if (b && b->refs == 1 && b->cap >= size)
		return b;
	size_t cap = b && b->cap > size ? b->cap : size;
	if (cap < 64)
		cap = 64;
	if (b && b->refs == 1) {
		cap = cap < b->cap * 2 ? b->cap * 2 : cap;
		struct blob *nb = realloc(b, sizeof(*b) + cap);
		if (!nb)
			abort();
		nb->cap = cap;
		return n->cur.data = nb;
	}
	struct blob *nb = xmalloc(sizeof(*nb) + cap);
	nb->refs = 1;
	nb->cap = cap;
	nb->size = b ? b->size : 0;
	if (b)
		memcpy(nb->bytes, b->bytes, b->size);
	blob_unref(b);
	return n->cur.data = nb;
}

static void state_clear(struct state *s)
{
	blob_unref(s->data);
	for (size_t i = 0; i < s->n_xattrs; i++) {
		free(s->xattrs[i].name);
		free(s->xattrs[i].value);
	}
	free(s->xattrs);
	for (size_t i = 0; i < s->n_ents; i++)
		free(s->ents[i].name);
	free(s->ents);
	memset(s, 0, sizeof(*s));
}

static void state_copy(struct state *dst, const struct state *src)
{
	state_clear(dst);
	*dst = *src;
	dst->data = blob_ref(src->data);
	dst->xattrs = xmalloc(src->n_xattrs * sizeof(*dst->xattrs));
	for (size_t i = 0; i < src->n_xattrs; i++) {
		dst->xattrs[i].name = xstrdup(src->xattrs[i].name);
		dst->xattrs[i].len = src->xattrs[i].len;
		dst->xattrs[i].value = memcpy(xmalloc(src->xattrs[i].len), src->xattrs[i].value,
					      src->xattrs[i].len);
	}
	dst->ents = xmalloc(src->n_ents * sizeof(*dst->ents));
	for (size_t i = 0; i < src->n_ents; i++) {
		dst->ents[i].name = xstrdup(src->ents[i].name);
		dst->ents[i].node = src->ents[i].node;
	}
}

static void now(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

static struct node *node_new(mode_t mode)
{
	struct node *n = calloc(1, sizeof(*n));
	if (!n)
		abort();
	n->ino = next_ino++;
	n->cur.mode = mode;
	/* The root is made before fuse_main(): no context yet. */
	struct fuse_context *c = root ? fuse_get_context() : NULL;
	n->cur.uid = c ? c->uid : getuid();
	n->cur.gid = c ? c->gid : getgid();
	now(&n->cur.atime);
	n->cur.mtime = n->cur.ctime = n->cur.atime;
	n->nlink = S_ISDIR(mode) ? 2 : 1;
	/* Durable as an empty inode of its type: what a cut leaves of a file
	 * whose name reached the disk and whose data did not. */
	n->dur = n->cur;
	n->all_next = all_nodes;
	all_nodes = n;
	return n;
}

static void node_sync(struct node *n)
{
	state_copy(&n->dur, &n->cur);
}

static void sync_all(void)
{
	for (struct node *n = all_nodes; n; n = n->all_next)
		node_sync(n);
	n_syncfs++;
}

static void count_links(struct node *d)
{
	for (size_t i = 0; i < d->cur.n_ents; i++) {
		struct node *c = d->cur.ents[i].node;
		if (S_ISDIR(c->cur.mode)) {
			d->nlink++;
			count_links(c);
		} else {
			c->nlink++;
		}
	}
}

/* Back to the durable state. Inodes no durable entry names are simply
 * not reachable any more (a test mount lives for one run: they are not
 * freed). */
static void cut(void)
{
	for (struct node *n = all_nodes; n; n = n->all_next) {
		state_copy(&n->cur, &n->dur);
		n->nlink = S_ISDIR(n->cur.mode) ? 2 : 0;
	}
	count_links(root);
	n_cuts++;
}

/* A call that changes something: counted, and the armed cut fires. */
static int mutate(void)
{
	if (dead)
		return -EIO;
	n_ops++;
	if (armed > 0 && --armed == 0) {
		armed = -1;
		cut();
		dead = true;
		return -EIO;
	}
	return 0;
}

static struct dent *dir_find(struct node *d, const char *name, size_t len)
{
	for (size_t i = 0; i < d->cur.n_ents; i++)
		if (strlen(d->cur.ents[i].name) == len && !memcmp(d->cur.ents[i].name, name, len))
			return &d->cur.ents[i];
	return NULL;
}

static void dir_add(struct node *d, const char *name, struct node *n)
{
	d->cur.ents = realloc(d->cur.ents, (d->cur.n_ents + 1) * sizeof(*d->cur.ents));
	if (!d->cur.ents)
		abort();
	d->cur.ents[d->cur.n_ents].name = xstrdup(name);
	d->cur.ents[d->cur.n_ents].node = n;
	d->cur.n_ents++;
	now(&d->cur.mtime);
	d->cur.ctime = d->cur.mtime;
}

static void dir_del(struct node *d, struct dent *e)
{
	free(e->name);
	size_t i = (size_t)(e - d->cur.ents);
	memmove(e, e + 1, (d->cur.n_ents - i - 1) * sizeof(*e));
	d->cur.n_ents--;
	now(&d->cur.mtime);
	d->cur.ctime = d->cur.mtime;
}

static bool is_ctl(const char *path)
{
	return !strcmp(path, "/" CTL_NAME);
}

/* The node at @path; with @parent, the node of its directory and *base its
 * last component instead (the node itself may then be NULL). */
static int lookup(const char *path, struct node **out, struct node **parent, const char **base)
{
	struct node *n = root, *p = NULL;
	const char *s = path, *last = NULL;
	while (*s == '/')
		s++;
	while (*s) {
		const char *e = strchrnul(s, '/');
		if (!n || !S_ISDIR(n->cur.mode))
			return -ENOTDIR;
		p = n;
		last = s;
		struct dent *d = dir_find(n, s, (size_t)(e - s));
		n = d ? d->node : NULL;
		s = e;
		while (*s == '/')
			s++;
		if (!n && *s)
			return -ENOENT;
	}
	if (parent) {
		if (!p)
			return -EBUSY; /* the root */
		*parent = p;
		*base = last;
	} else if (!n) {
		return -ENOENT;
	}
	*out = n;
	return 0;
}

static void fill_stat(struct node *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = n->ino;
	st->st_mode = n->cur.mode;
	st->st_nlink = n->nlink;
	st->st_uid = n->cur.uid;
	st->st_gid = n->cur.gid;
	st->st_rdev = n->cur.rdev;
	st->st_size = n->cur.data ? (off_t)n->cur.data->size : 0;
	if (S_ISDIR(n->cur.mode))
		st->st_size = 4096;
	st->st_blksize = 4096;
	st->st_blocks = (st->st_size + 511) / 512;
	st->st_atim = n->cur.atime;
	st->st_mtim = n->cur.mtime;
	st->st_ctim = n->cur.ctime;
}

static int cf_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	if (is_ctl(path)) {
		memset(st, 0, sizeof(*st));
		st->st_ino = CTL_INO;
		st->st_mode = S_IFREG | 0600;
		st->st_nlink = 1;
		return 0;
	}
	if (dead)
		return -EIO;
	struct node *n;
	int r = lookup(path, &n, NULL, NULL);
	if (r < 0)
		return r;
	fill_stat(n, st);
	return 0;
}

/* The parent of a new entry @path, which must not exist yet. */
static int new_entry(const char *path, struct node **dir, const char **base)
{
	struct node *n;
	if (is_ctl(path))
		return -EEXIST;
	int r = mutate();
	if (r < 0)
		return r;
	r = lookup(path, &n, dir, base);
	if (r < 0)
		return r;
	if (n)
		return -EEXIST;
	if (!S_ISDIR((*dir)->cur.mode))
		return -ENOTDIR;
	return 0;
}

static int make(const char *path, mode_t mode, dev_t rdev, struct node **out)
{
	struct node *d;
	const char *base;
	int r = new_entry(path, &d, &base);
	if (r < 0)
		return r;
	struct node *n = node_new(mode);
	n->cur.rdev = rdev;
	n->dur.rdev = rdev;
	/* setgid directories hand their group on, as on a disk filesystem. */
	if (d->cur.mode & S_ISGID) {
		n->cur.gid = n->dur.gid = d->cur.gid;
		if (S_ISDIR(mode))
			n->cur.mode = n->dur.mode = mode | S_ISGID;
	}
	dir_add(d, base, n);
	if (S_ISDIR(mode))
		d->nlink++;
	if (out)
		*out = n;
	return 0;
}

static int cf_mknod(const char *path, mode_t mode, dev_t rdev)
{
	return make(path, mode, rdev, NULL);
}

static int cf_mkdir(const char *path, mode_t mode)
{
	return make(path, S_IFDIR | (mode & 07777), 0, NULL);
}

static int cf_symlink(const char *target, const char *path)
{
	struct node *n;
	int r = make(path, S_IFLNK | 0777, 0, &n);
	if (r < 0)
		return r;
	size_t len = strlen(target);
	struct blob *b = blob_own(n, len);
	memcpy(b->bytes, target, len);
	b->size = len;
	/* A symlink is made with its target in one step on a disk too. */
	node_sync(n);
	return 0;
}

static int cf_readlink(const char *path, char *buf, size_t size)
{
	if (dead)
		return -EIO;
	struct node *n;
	int r = lookup(path, &n, NULL, NULL);
	if (r < 0)
		return r;
	if (!S_ISLNK(n->cur.mode))
		return -EINVAL;
	size_t len = n->cur.data ? n->cur.data->size : 0;
	if (len >= size)
		len = size - 1;
	memcpy(buf, n->cur.data ? n->cur.data->bytes : "", len);
	buf[len] = 0;
	return 0;
}

static int remove_entry(const char *path, bool dir)
{
	if (is_ctl(path))
		return -EPERM;
	int r = mutate();
	if (r < 0)
		return r;
	struct node *d, *n;
	const char *base;
	if ((r = lookup(path, &n, &d, &base)) < 0)
		return r;
	if (!n)
		return -ENOENT;
	if (dir && !S_ISDIR(n->cur.mode))
		return -ENOTDIR;
	if (!dir && S_ISDIR(n->cur.mode))
		return -EISDIR;
	if (dir && n->cur.n_ents)
		return -ENOTEMPTY;
	dir_del(d, dir_find(d, base, strlen(base)));
	if (dir)
		d->nlink--;
	else
		n->nlink--;
	now(&n->cur.ctime);
	return 0;
}

static int cf_unlink(const char *path)
{
	return remove_entry(path, false);
}

static int cf_rmdir(const char *path)
{
	return remove_entry(path, true);
}

static bool is_under(struct node *a, struct node *b)
{
	/* Whether directory @b is @a or below it. */
	if (a == b)
		return true;
	for (size_t i = 0; i < a->cur.n_ents; i++)
		if (S_ISDIR(a->cur.ents[i].node->cur.mode) && is_under(a->cur.ents[i].node, b))
			return true;
	return false;
}

static int cf_rename(const char *from, const char *to, unsigned int flags)
{
	if (is_ctl(from) || is_ctl(to))
		return -EPERM;
	if (flags & ~RENAME_NOREPLACE)
		return -EINVAL; /* RENAME_EXCHANGE, RENAME_WHITEOUT: not needed yet */
	int r = mutate();
	if (r < 0)
		return r;
	struct node *fd, *td, *fn, *tn;
	const char *fb, *tb;
	if ((r = lookup(from, &fn, &fd, &fb)) < 0 || (r = lookup(to, &tn, &td, &tb)) < 0)
		return r;
	if (!fn)
		return -ENOENT;
	if (fn == tn)
		return 0;
	if (tn && (flags & RENAME_NOREPLACE))
		return -EEXIST;
	if (S_ISDIR(fn->cur.mode) && is_under(fn, td))
		return -EINVAL;
	if (tn) {
		if (S_ISDIR(fn->cur.mode) != S_ISDIR(tn->cur.mode))
			return S_ISDIR(tn->cur.mode) ? -EISDIR : -ENOTDIR;
		if (S_ISDIR(tn->cur.mode) && tn->cur.n_ents)
			return -ENOTEMPTY;
	}
	char *tbase = xstrdup(tb);
	if (tn) {
		dir_del(td, dir_find(td, tb, strlen(tb)));
		if (S_ISDIR(tn->cur.mode))
			td->nlink--;
		else
			tn->nlink--;
	}
	dir_del(fd, dir_find(fd, fb, strlen(fb)));
	dir_add(td, tbase, fn);
	free(tbase);
	if (S_ISDIR(fn->cur.mode)) {
		fd->nlink--;
		td->nlink++;
	}
	now(&fn->cur.ctime);
	return 0;
}

static int cf_link(const char *from, const char *to)
{
	struct node *n, *d;
	const char *base;
	int r;
	if (is_ctl(from))
		return -EPERM;
	if (dead)
		return -EIO;
	if ((r = lookup(from, &n, NULL, NULL)) < 0)
		return r;
	if (S_ISDIR(n->cur.mode))
		return -EPERM;
	if ((r = new_entry(to, &d, &base)) < 0)
		return r;
	dir_add(d, base, n);
	n->nlink++;
	now(&n->cur.ctime);
	return 0;
}

static int with_node(const char *path, struct node **n)
{
	if (is_ctl(path))
		return -EPERM;
	int r = mutate();
	if (r < 0)
		return r;
	return lookup(path, n, NULL, NULL);
}

static int cf_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct node *n;
	int r = with_node(path, &n);
	if (r < 0)
		return r;
	n->cur.mode = (n->cur.mode & S_IFMT) | (mode & 07777);
	now(&n->cur.ctime);
	return 0;
}

static int cf_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	struct node *n;
	int r = with_node(path, &n);
	if (r < 0)
		return r;
	if (uid != (uid_t)-1)
		n->cur.uid = uid;
	if (gid != (gid_t)-1)
		n->cur.gid = gid;
	now(&n->cur.ctime);
	return 0;
}

static int cf_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct node *n;
	int r = with_node(path, &n);
	if (r < 0)
		return r;
	if (!S_ISREG(n->cur.mode))
		return -EINVAL;
	struct blob *b = blob_own(n, (size_t)size);
	if ((size_t)size > b->size)
		memset(b->bytes + b->size, 0, (size_t)size - b->size);
	b->size = (size_t)size;
	now(&n->cur.mtime);
	n->cur.ctime = n->cur.mtime;
	return 0;
}

static int cf_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	struct node *n;
	int r = with_node(path, &n);
	if (r < 0)
		return r;
	struct timespec t;
	now(&t);
	if (tv[0].tv_nsec != UTIME_OMIT)
		n->cur.atime = tv[0].tv_nsec == UTIME_NOW ? t : tv[0];
	if (tv[1].tv_nsec != UTIME_OMIT)
		n->cur.mtime = tv[1].tv_nsec == UTIME_NOW ? t : tv[1];
	n->cur.ctime = t;
	return 0;
}

static int cf_open(const char *path, struct fuse_file_info *fi)
{
	/* No page cache: after a cut, reads must see the durable state. */
	fi->direct_io = 1;
	if (is_ctl(path))
		return 0;
	if (dead)
		return -EIO;
	struct node *n;
	int r = lookup(path, &n, NULL, NULL);
	if (r < 0)
		return r;
	if ((fi->flags & O_TRUNC) && (r = cf_truncate(path, 0, fi)) < 0)
		return r;
	return 0;
}

static int cf_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	fi->direct_io = 1;
	return make(path, S_IFREG | (mode & 07777), 0, NULL);
}

static int cf_read(const char *path, char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	if (is_ctl(path)) {
		char s[256];
		int len = snprintf(s, sizeof(s), "ops=%lu fsyncs=%lu syncfs=%lu cuts=%lu dead=%d\n",
				   n_ops, n_fsyncs, n_syncfs, n_cuts, dead);
		if (off >= len)
			return 0;
		size_t n = (size_t)(len - off) < size ? (size_t)(len - off) : size;
		memcpy(buf, s + off, n);
		return (int)n;
	}
	if (dead)
		return -EIO;
	struct node *n;
	int r = lookup(path, &n, NULL, NULL);
	if (r < 0)
		return r;
	size_t have = n->cur.data ? n->cur.data->size : 0;
	if ((size_t)off >= have)
		return 0;
	size_t len = have - (size_t)off < size ? have - (size_t)off : size;
	memcpy(buf, n->cur.data->bytes + off, len);
	return (int)len;
}

static int control(const char *buf, size_t size)
{
	char cmd[64];
	size_t len = size < sizeof(cmd) - 1 ? size : sizeof(cmd) - 1;
	memcpy(cmd, buf, len);
	cmd[len] = 0;
	cmd[strcspn(cmd, "\n")] = 0;
	if (!strcmp(cmd, "cut")) {
		cut();
	} else if (!strcmp(cmd, "sync")) {
		sync_all();
	} else if (!strncmp(cmd, "arm ", 4) && atol(cmd + 4) > 0) {
		armed = atol(cmd + 4);
	} else if (!strcmp(cmd, "disarm")) {
		armed = -1;
	} else if (!strcmp(cmd, "revive")) {
		dead = false;
		armed = -1;
	} else {
		return -EINVAL;
	}
	return (int)size;
}

static int cf_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	if (is_ctl(path))
		return control(buf, size);
	struct node *n;
	int r = with_node(path, &n);
	if (r < 0)
		return r;
	if (fi->flags & O_APPEND)
		off = n->cur.data ? (off_t)n->cur.data->size : 0;
	size_t end = (size_t)off + size;
	size_t old = n->cur.data ? n->cur.data->size : 0;
	struct blob *b = blob_own(n, end > old ? end : old);
	if ((size_t)off > b->size)
		memset(b->bytes + b->size, 0, (size_t)off - b->size);
	memcpy(b->bytes + off, buf, size);
	if (end > b->size)
		b->size = end;
	now(&n->cur.mtime);
	n->cur.ctime = n->cur.mtime;
	return (int)size;
}

static int cf_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	if (is_ctl(path))
		return 0;
	if (dead)
		return -EIO;
	struct node *n;
	int r = lookup(path, &n, NULL, NULL);
	if (r < 0)
		return r;
	n_fsyncs++;
	/* fdatasync too: cutfs does not tell which attributes a data sync
	 * may leave behind (size is one it must write). */
	node_sync(n);
	return 0;
}

static int cf_statfs(const char *path, struct statvfs *st)
{
	memset(st, 0, sizeof(*st));
	st->f_bsize = st->f_frsize = 4096;
	st->f_blocks = st->f_bfree = st->f_bavail = 1u << 22;
	st->f_files = st->f_ffree = st->f_favail = 1u << 22;
	st->f_namemax = 255;
	return 0;
}

static int cf_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	if (dead)
		return -EIO;
	struct node *n;
	int r = lookup(path, &n, NULL, NULL);
	if (r < 0)
		return r;
	if (!S_ISDIR(n->cur.mode))
		return -ENOTDIR;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	if (n == root)
		fill(buf, CTL_NAME, NULL, 0, 0);
	for (size_t i = 0; i < n->cur.n_ents; i++) {
		struct stat st;
		fill_stat(n->cur.ents[i].node, &st);
		if (fill(buf, n->cur.ents[i].name, &st, 0, 0))
			break;
	}
	return 0;
}

static int cf_setxattr(const char *path, const char *name, const char *value, size_t size,
		       int flags)
{
	struct node *n;
	int r = with_node(path, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n->cur.n_xattrs; i++) {
		struct xattr *x = &n->cur.xattrs[i];
		if (strcmp(x->name, name))
			continue;
		if (flags & XATTR_CREATE)
			return -EEXIST;
		free(x->value);
		x->value = memcpy(xmalloc(size), value, size);
		x->len = size;
		return 0;
	}
	if (flags & XATTR_REPLACE)
		return -ENODATA;
	n->cur.xattrs = realloc(n->cur.xattrs, (n->cur.n_xattrs + 1) * sizeof(*n->cur.xattrs));
	if (!n->cur.xattrs)
		abort();
	struct xattr *x = &n->cur.xattrs[n->cur.n_xattrs++];
	x->name = xstrdup(name);
	x->value = memcpy(xmalloc(size), value, size);
	x->len = size;
	now(&n->cur.ctime);
	return 0;
}

static int cf_getxattr(const char *path, const char *name, char *value, size_t size)
{
	if (!strcmp(name, SYNCFS_XATTR)) {
		/* cutfs-sync.so after a syncfs() on this filesystem. */
		sync_all();
		return -ENODATA;
	}
	if (is_ctl(path))
		return -ENODATA;
	if (dead)
		return -EIO;
	struct node *n;
	int r = lookup(path, &n, NULL, NULL);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n->cur.n_xattrs; i++) {
		struct xattr *x = &n->cur.xattrs[i];
		if (strcmp(x->name, name))
			continue;
		if (!size)
			return (int)x->len;
		if (size < x->len)
			return -ERANGE;
		memcpy(value, x->value, x->len);
		return (int)x->len;
	}
	return -ENODATA;
}

static int cf_listxattr(const char *path, char *list, size_t size)
{
	if (is_ctl(path))
		return 0;
	if (dead)
		return -EIO;
	struct node *n;
	int r = lookup(path, &n, NULL, NULL);
	if (r < 0)
		return r;
	size_t need = 0;
	for (size_t i = 0; i < n->cur.n_xattrs; i++)
		need += strlen(n->cur.xattrs[i].name) + 1;
	if (!size)
		return (int)need;
	if (size < need)
		return -ERANGE;
	for (size_t i = 0; i < n->cur.n_xattrs; i++) {
		size_t l = strlen(n->cur.xattrs[i].name) + 1;
		memcpy(list, n->cur.xattrs[i].name, l);
		list += l;
	}
	return (int)need;
}

static int cf_removexattr(const char *path, const char *name)
{
	struct node *n;
	int r = with_node(path, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n->cur.n_xattrs; i++) {
		struct xattr *x = &n->cur.xattrs[i];
		if (strcmp(x->name, name))
			continue;
		free(x->name);
		free(x->value);
		memmove(x, x + 1, (n->cur.n_xattrs - i - 1) * sizeof(*x));
		n->cur.n_xattrs--;
		return 0;
	}
	return -ENODATA;
}

static void *cf_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	cfg->use_ino = 1;
	cfg->hard_remove = 1; /* no .fuse_hidden files in directories */
	cfg->entry_timeout = cfg->attr_timeout = cfg->negative_timeout = 0;
	cfg->direct_io = 1;
	cfg->kernel_cache = 0;
	return NULL;
}

static const struct fuse_operations ops = {
	.init = cf_init,
	.getattr = cf_getattr,
	.readlink = cf_readlink,
	.mknod = cf_mknod,
	.mkdir = cf_mkdir,
	.unlink = cf_unlink,
	.rmdir = cf_rmdir,
	.symlink = cf_symlink,
	.rename = cf_rename,
	.link = cf_link,
	.chmod = cf_chmod,
	.chown = cf_chown,
	.truncate = cf_truncate,
	.open = cf_open,
	.read = cf_read,
	.write = cf_write,
	.statfs = cf_statfs,
	.fsync = cf_fsync,
	.fsyncdir = cf_fsync,
	.setxattr = cf_setxattr,
	.getxattr = cf_getxattr,
	.listxattr = cf_listxattr,
	.removexattr = cf_removexattr,
	.readdir = cf_readdir,
	.create = cf_create,
	.utimens = cf_utimens,
};

int main(int argc, char **argv)
{
	root = node_new(S_IFDIR | 0755);
	return fuse_main(argc, argv, &ops, NULL);
}
