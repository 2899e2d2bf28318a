/* SPDX-License-Identifier: Apache-2.0 */
/*
 * All walks process one directory at a time (cstor_tree__walk): open it by
 * path below the tree's root (no symlinks followed), list and sort its
 * entries, classify each, note the subdirectories to visit, close it. No fd
 * outlives its directory and nothing recurses, so depth costs neither fds
 * nor stack.
 *
 * Go decides whether a directory with changes below it is reported from the
 * order of its walk; the same set falls out of a pass over the finished
 * list (finish()), so the walk order does not matter here.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error-internal.h"
#include "util/cleanup.h"

#include "changes.h"
#include "tree-util.h"

void cstor_change_list_done(struct cstor_change_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].path);
	free(l->v);
	*l = (struct cstor_change_list){ 0 };
}

const char *cstor_change_kind_name(enum cstor_change_kind k)
{
	switch (k) {
	case CSTOR_CHANGE_MODIFY:
		return "Modify";
	case CSTOR_CHANGE_ADD:
		return "Add";
	case CSTOR_CHANGE_DELETE:
		return "Delete";
	}
	return "?";
}

static int list_add(struct cstor_change_list *l, char *path, enum cstor_change_kind kind)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct cstor_change *v = realloc(l->v, cap * sizeof(*v));
		if (!v) {
			free(path);
			return -ENOMEM;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = (struct cstor_change){ path, kind };
	return 0;
}

/* "/" + rel + "/" + name, or "/" + name at the root. */
static char *make_path(const char *rel, const char *name)
{
	char *p;
	if (asprintf(&p, "/%s%s%s", rel, rel[0] ? "/" : "", name) < 0)
		return NULL;
	return p;
}

static char *make_rel(const char *rel, const char *name)
{
	char *p;
	if (asprintf(&p, "%s%s%s", rel, rel[0] ? "/" : "", name) < 0)
		return NULL;
	return p;
}

static int change_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cstor_change *)a)->path, ((const struct cstor_change *)b)->path);
}

/* ---- Directories reported because something below them changed ---------- */

struct pset_slot {
	const char *key;
	size_t len;
	bool implicit; /* added by finish() */
	bool climbed;  /* a climb went on from here: all above is listed */
};

struct pset {
	struct pset_slot *v;
	size_t cap;
};

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
	return h;
}

static struct pset_slot *pset_find(struct pset *s, const char *key, size_t len)
{
	size_t mask = s->cap - 1, i = (size_t)hash_bytes(key, len) & mask;
	while (s->v[i].key && !(s->v[i].len == len && memcmp(s->v[i].key, key, len) == 0))
		i = (i + 1) & mask;
	return &s->v[i];
}

/*
 * Sort, and add a Modify for every directory that has a change below it and
 * is not in the list. Naive (Go's addChanges): any change counts, so the
 * climb stops at the first listed ancestor, whose own ancestors are handled
 * when its turn comes. Overlay (Go's changedDirs): only Add and Delete
 * count, and a listed Modify does not make its parents count, so the climb
 * passes listed entries and stops only where an earlier climb went through.
 * Either way each path is climbed past at most once.
 */
static int finish(struct cstor_change_list *l, bool overlay)
{
	size_t n0 = l->n;
	size_t cap = 64;
	while (cap < (n0 + 1) * 4)
		cap *= 2;
	struct pset set = { calloc(cap, sizeof(struct pset_slot)), cap };
	if (!set.v)
		return -ENOMEM;
	size_t used = 0;
	for (size_t i = 0; i < n0; i++) {
		struct pset_slot *s = pset_find(&set, l->v[i].path, strlen(l->v[i].path));
		if (!s->key) {
			*s = (struct pset_slot){ l->v[i].path, strlen(l->v[i].path), false, false };
			used++;
		}
	}
	int r = 0;
	for (size_t i = 0; i < n0 && r == 0; i++) {
		if (overlay && l->v[i].kind == CSTOR_CHANGE_MODIFY)
			continue;
		const char *p = l->v[i].path;
		size_t len = strlen(p);
		for (;;) {
			while (len > 0 && p[len - 1] != '/')
				len--;
			if (len <= 1)
				break; /* reached the root, never reported */
			len--;     /* drop the slash */
			if ((used + 1) * 2 > set.cap) {
				/* Grow: rehash into a table twice the size. */
				struct pset bigger = { calloc(set.cap * 2, sizeof(struct pset_slot)),
						       set.cap * 2 };
				if (!bigger.v) {
					r = -ENOMEM;
					break;
				}
				for (size_t k = 0; k < set.cap; k++)
					if (set.v[k].key)
						*pset_find(&bigger, set.v[k].key, set.v[k].len) = set.v[k];
				free(set.v);
				set = bigger;
			}
			struct pset_slot *s = pset_find(&set, p, len);
			if (s->key) {
				if (!overlay || s->implicit || s->climbed)
					break;
				s->climbed = true;
				continue;
			}
			char *dir = strndup(p, len);
			if (!dir || list_add(l, dir, CSTOR_CHANGE_MODIFY) < 0) {
				r = -ENOMEM; /* list_add freed dir */
				break;
			}
			*s = (struct pset_slot){ dir, len, true, false };
			used++;
		}
	}
	free(set.v);
	if (r < 0)
		return r;
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), change_cmp);
	return 0;
}

/* ---- Naive comparison ----------------------------------------------------- */

struct naive {
	int layer, parent;
	struct cstor_change_list out;
	struct cstor_tree__names nn, on, tmp;
	struct cstor_tree__xbuf xb;
};

static void naive_done(struct naive *s)
{
	cstor_change_list_done(&s->out);
	cstor_tree__names_done(&s->nn);
	cstor_tree__names_done(&s->on);
	cstor_tree__names_done(&s->tmp);
	cstor_tree__xbuf_done(&s->xb);
}

static bool same_fs_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec &&
	       (a->tv_nsec == b->tv_nsec || a->tv_nsec == 0 || b->tv_nsec == 0);
}

/* Go's statDifferent, without ID mappings. S_IFDIR is tested as a bit, so
 * block devices and sockets escape the size and mtime comparison too. */
static bool stat_different(const struct stat *o, const struct stat *n)
{
	if (o->st_mode != n->st_mode || o->st_uid != n->st_uid || o->st_gid != n->st_gid ||
	    o->st_rdev != n->st_rdev)
		return true;
	if ((o->st_mode & S_IFDIR) != S_IFDIR &&
	    (!same_fs_time(&o->st_mtim, &n->st_mtim) || o->st_size != n->st_size))
		return true;
	return false;
}

/* The xattrs Go compares (security.capability and user.*), sorted by name
 * so that two sets compare element by element. */
struct xattr_rec {
	char *name;
	char *value;
	size_t len;
};

struct xattr_set {
	struct xattr_rec *v;
	size_t n;
};

static void xattr_set_done(struct xattr_set *x)
{
	for (size_t i = 0; i < x->n; i++) {
		free(x->v[i].name);
		free(x->v[i].value);
	}
	free(x->v);
	*x = (struct xattr_set){ 0 };
}

static int xattr_rec_cmp(const void *a, const void *b)
{
	return strcmp(((const struct xattr_rec *)a)->name, ((const struct xattr_rec *)b)->name);
}

static int read_compared_xattrs(struct cstor_tree__xbuf *xb, const char *path,
				struct xattr_set *out)
{
	ssize_t n = cstor_tree__listxattr(xb, -1, path);
	if (n < 0)
		return (int)n;
	size_t count = 0;
	for (const char *k = xb->list; k < xb->list + n; k += strlen(k) + 1)
		if (streq(k, "security.capability") || startswith(k, "user."))
			count++;
	if (count == 0)
		return 0;
	/* The name list is needed while values go through xb->value. */
	_cleanup_free_ char *names = malloc((size_t)n);
	if (!names)
		return -ENOMEM;
	memcpy(names, xb->list, (size_t)n);
	out->v = calloc(count, sizeof(*out->v));
	if (!out->v)
		return -ENOMEM;
	for (const char *k = names; k < names + n; k += strlen(k) + 1) {
		bool cap = streq(k, "security.capability");
		if (!cap && !startswith(k, "user."))
			continue;
		ssize_t v = cstor_tree__getxattr(xb, -1, path, k);
		/* Gone since listing, or (user.*) too big to read: Go skips. */
		if (v == -ENODATA || (v == -E2BIG && !cap))
			continue;
		if (v < 0)
			return (int)v;
		/* An empty capability equals an absent one (bytes.Equal(nil, {})). */
		if (cap && v == 0)
			continue;
		struct xattr_rec *r = &out->v[out->n];
		r->name = strdup(k);
		r->value = malloc((size_t)v + 1);
		if (!r->name || !r->value) {
			free(r->name);
			free(r->value);
			return -ENOMEM;
		}
		memcpy(r->value, xb->value, (size_t)v);
		r->len = (size_t)v;
		out->n++;
	}
	qsort(out->v, out->n, sizeof(*out->v), xattr_rec_cmp);
	return 0;
}

static int xattrs_different(struct naive *s, int nfd, int ofd, const char *name, bool *diff)
{
	char np[CSTOR_TREE_PROC_PATH_MAX], op[CSTOR_TREE_PROC_PATH_MAX];
	cstor_tree__proc_path(np, nfd, name);
	cstor_tree__proc_path(op, ofd, name);
	_cleanup_(xattr_set_done) struct xattr_set a = { 0 }, b = { 0 };
	int r = read_compared_xattrs(&s->xb, np, &a);
	if (r < 0)
		return r;
	r = read_compared_xattrs(&s->xb, op, &b);
	if (r < 0)
		return r;
	*diff = a.n != b.n;
	for (size_t i = 0; i < a.n && !*diff; i++)
		*diff = !streq(a.v[i].name, b.v[i].name) || a.v[i].len != b.v[i].len ||
			memcmp(a.v[i].value, b.v[i].value, a.v[i].len) != 0;
	return 0;
}

static int naive_emit(struct naive *s, const char *rel, const char *name,
		      enum cstor_change_kind kind)
{
	char *p = make_path(rel, name);
	if (!p)
		return -ENOMEM;
	return list_add(&s->out, p, kind);
}

static int naive_entry(struct naive *s, const char *rel, int nfd, int ofd, const char *name,
		       bool in_new, bool in_old, struct cstor_tree__subs *subs, cstor_error *err)
{
	struct stat ns, os;
	bool hn = false, ho = false;
	if (in_new) {
		if (fstatat(nfd, name, &ns, AT_SYMLINK_NOFOLLOW) == 0)
			hn = true;
		else if (errno != ENOENT)
			return cstor_error_errno(err, errno, "changes: stat /%s%s%s in the layer",
						 rel, rel[0] ? "/" : "", name);
	}
	if (in_old) {
		if (fstatat(ofd, name, &os, AT_SYMLINK_NOFOLLOW) == 0)
			ho = true;
		else if (errno != ENOENT)
			return cstor_error_errno(err, errno, "changes: stat /%s%s%s in the parent",
						 rel, rel[0] ? "/" : "", name);
	}
	int r = 0;
	if (hn && !ho) {
		r = naive_emit(s, rel, name, CSTOR_CHANGE_ADD);
		if (r == 0 && S_ISDIR(ns.st_mode))
			r = cstor_tree__sub_add(subs, name, &(unsigned char){ 0 }, 1);
	} else if (ho && !hn) {
		r = naive_emit(s, rel, name, CSTOR_CHANGE_DELETE);
	} else if (hn && ho) {
		bool diff = stat_different(&os, &ns);
		if (!diff) {
			r = xattrs_different(s, nfd, ofd, name, &diff);
			if (r < 0)
				return cstor_error_errno(err, r, "changes: xattrs of /%s%s%s",
							 rel, rel[0] ? "/" : "", name);
		}
		if (diff)
			r = naive_emit(s, rel, name, CSTOR_CHANGE_MODIFY);
		if (r == 0 && S_ISDIR(ns.st_mode)) {
			unsigned char has_old = S_ISDIR(os.st_mode);
			r = cstor_tree__sub_add(subs, name, &has_old, 1);
		} else if (r == 0 && (ns.st_mode & S_IFDIR) && S_ISDIR(os.st_mode)) {
			/* A block device or socket replacing a directory: Go takes
			 * it for a directory (mode & S_IFDIR) and reports every
			 * entry of the old directory as deleted. */
			_cleanup_close_ int d =
				openat(ofd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (d < 0)
				return cstor_error_errno(err, errno, "changes: open /%s%s%s",
							 rel, rel[0] ? "/" : "", name);
			r = cstor_tree__read_names(&s->tmp, d);
			_cleanup_free_ char *sub = make_rel(rel, name);
			if (!sub)
				r = -ENOMEM;
			for (size_t i = 0; r == 0 && i < s->tmp.n; i++)
				r = naive_emit(s, sub, cstor_tree__name(&s->tmp, i),
					       CSTOR_CHANGE_DELETE);
		}
	}
	if (r < 0)
		return cstor_error_errno(err, r, "changes: /%s%s%s", rel, rel[0] ? "/" : "",
					 name);
	return 0;
}

static int naive_dir(void *ctx, const char *rel, const unsigned char *extra,
		     struct cstor_tree__subs *subs, cstor_error *err)
{
	struct naive *s = ctx;
	bool has_old = extra[0];
	_cleanup_close_ int nfd = cstor_tree__open_dir(s->layer, rel);
	if (nfd < 0)
		return cstor_error_errno(err, nfd, "changes: open /%s in the layer", rel);
	_cleanup_close_ int ofd = -1;
	if (has_old) {
		ofd = cstor_tree__open_dir(s->parent, rel);
		if (ofd < 0)
			return cstor_error_errno(err, ofd, "changes: open /%s in the parent", rel);
	}
	struct stat nst, ost;
	if (fstat(nfd, &nst) < 0 || (ofd >= 0 && fstat(ofd, &ost) < 0))
		return cstor_error_errno(err, errno, "changes: stat /%s", rel);
	bool same_dev = ofd >= 0 && nst.st_dev == ost.st_dev;

	int r = cstor_tree__read_names(&s->nn, nfd);
	if (r < 0)
		return cstor_error_errno(err, r, "changes: read /%s in the layer", rel);
	s->on.n = 0;
	if (ofd >= 0 && (r = cstor_tree__read_names(&s->on, ofd)) < 0)
		return cstor_error_errno(err, r, "changes: read /%s in the parent", rel);

	size_t i = 0, j = 0;
	while (i < s->nn.n || j < s->on.n) {
		int c;
		if (i == s->nn.n)
			c = 1;
		else if (j == s->on.n)
			c = -1;
		else
			c = strcmp(cstor_tree__name(&s->nn, i), cstor_tree__name(&s->on, j));
		if (c < 0) {
			r = naive_entry(s, rel, nfd, ofd, cstor_tree__name(&s->nn, i), true, false, subs,
					err);
			i++;
		} else if (c > 0) {
			r = naive_entry(s, rel, nfd, ofd, cstor_tree__name(&s->on, j), false, true, subs,
					err);
			j++;
		} else {
			/* The same inode on the same device is the same file:
			 * Go prunes it (and what is below) unseen. */
			if (!(same_dev && s->nn.v[i].ino == s->on.v[j].ino))
				r = naive_entry(s, rel, nfd, ofd, cstor_tree__name(&s->nn, i),
						true, true, subs, err);
			i++;
			j++;
		}
		if (r < 0)
			return r;
	}
	return 0;
}

int cstor_changes_naive(struct cstor_change_list *out, int layer_fd, int parent_fd,
			cstor_error *err)
{
	if (!out || layer_fd < 0)
		return cstor_error_set(err, EINVAL, "changes: invalid arguments");
	_cleanup_(naive_done) struct naive s = { .layer = layer_fd, .parent = parent_fd };
	unsigned char has_old = parent_fd >= 0;
	int r = cstor_tree__walk(1, &has_old, naive_dir, &s, err);
	if (r < 0)
		return r;
	if (finish(&s.out, false) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	*out = s.out;
	s.out = (struct cstor_change_list){ 0 };
	return 0;
}

/* ---- Overlay native ------------------------------------------------------- */

/* What a lower layer has at a directory of the upper one. */
enum lower_state {
	LOWER_ABSENT = 0, /* nothing there, or not reachable as a directory */
	LOWER_DIR,	  /* a directory: look its entries up */
	LOWER_WHITEOUT,	  /* the path or a parent is a whiteout there */
};

/* The lazily taken lstat of one name in one lower. */
enum { PROBE_UNKNOWN = 0, PROBE_ABSENT, PROBE_PRESENT };

struct overlay {
	int diff;
	const int *lowers;
	size_t n_lowers;
	const char *opaque_xattr;
	struct cstor_change_list out;
	struct cstor_tree__names un;
	struct cstor_tree__xbuf xb;
	int *lfd;	      /* per lower, for the directory being processed */
	unsigned char *states;	     /* per lower, of the directory being processed */
	unsigned char *child_states; /* per lower, of the entry being processed */
	unsigned char *probe; /* per lower, for the entry being processed */
	struct stat *pst;     /* per lower */
};

static void overlay_done(struct overlay *s)
{
	cstor_change_list_done(&s->out);
	cstor_tree__names_done(&s->un);
	cstor_tree__xbuf_done(&s->xb);
	if (s->lfd)
		for (size_t i = 0; i < s->n_lowers; i++)
			closep(&s->lfd[i]);
	free(s->lfd);
	free(s->probe);
	free(s->pst);
	free(s->states);
	free(s->child_states);
}

/* lstat @name in lower @i, once per entry. */
static int probe(struct overlay *s, size_t i, const char *name)
{
	if (s->probe[i] != PROBE_UNKNOWN)
		return 0;
	s->probe[i] = PROBE_ABSENT;
	if (s->lfd[i] < 0)
		return 0;
	if (fstatat(s->lfd[i], name, &s->pst[i], AT_SYMLINK_NOFOLLOW) == 0)
		s->probe[i] = PROBE_PRESENT;
	else if (errno != ENOENT && errno != ENOTDIR)
		return -errno;
	return 0;
}

static int is_opaque(struct overlay *s, int dirfd, const char *name, bool *opaque)
{
	char p[CSTOR_TREE_PROC_PATH_MAX];
	cstor_tree__proc_path(p, dirfd, name);
	ssize_t n = cstor_tree__getxattr(&s->xb, -1, p, s->opaque_xattr);
	*opaque = n == 1 && s->xb.value[0] == 'y';
	return n >= 0 || n == -ENODATA ? 0 : (int)n;
}

static int overlay_entry(struct overlay *s, const char *rel, int ufd, const char *name,
			 const unsigned char *states, struct cstor_tree__subs *subs)
{
	struct stat st;
	if (fstatat(ufd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno; /* vanished: Go's Walk skips it */
	if (s->n_lowers)
		memset(s->probe, PROBE_UNKNOWN, s->n_lowers);

	int kind = -1, r;
	if (cstor_tree__is_whiteout(&st)) {
		kind = CSTOR_CHANGE_DELETE;
	} else if (S_ISDIR(st.st_mode) && s->n_lowers > 0) {
		bool opaque;
		if ((r = is_opaque(s, ufd, name, &opaque)) < 0)
			return r;
		/* Deleted and recreated here if a lower has it (not as a
		 * whiteout) before anything whites it out. */
		for (size_t i = 0; opaque && i < s->n_lowers; i++) {
			if (states[i] == LOWER_WHITEOUT)
				break;
			if ((r = probe(s, i, name)) < 0)
				return r;
			if (s->probe[i] == PROBE_PRESENT) {
				if (!cstor_tree__is_whiteout(&s->pst[i]))
					kind = CSTOR_CHANGE_DELETE;
				break;
			}
		}
	}
	bool skip = false;
	if (kind < 0) {
		kind = CSTOR_CHANGE_ADD;
		for (size_t i = 0; i < s->n_lowers; i++) {
			if (states[i] == LOWER_WHITEOUT)
				break;
			if ((r = probe(s, i, name)) < 0)
				return r;
			if (s->probe[i] != PROBE_PRESENT)
				continue;
			if (cstor_tree__is_whiteout(&s->pst[i]))
				break;
			const struct stat *l = &s->pst[i];
			if (S_ISDIR(l->st_mode) && S_ISDIR(st.st_mode) && l->st_size == st.st_size &&
			    l->st_mode == st.st_mode && same_fs_time(&l->st_mtim, &st.st_mtim))
				skip = true; /* only a parent of changes: see finish() */
			else
				kind = CSTOR_CHANGE_MODIFY;
			break;
		}
	}
	if (!skip) {
		char *p = make_path(rel, name);
		if (!p || list_add(&s->out, p, kind) < 0)
			return -ENOMEM;
	}
	if (!S_ISDIR(st.st_mode))
		return 0;

	unsigned char *cs = s->child_states;
	for (size_t i = 0; i < s->n_lowers; i++) {
		if (states[i] != LOWER_DIR) {
			cs[i] = states[i];
			continue;
		}
		if ((r = probe(s, i, name)) < 0)
			return r;
		if (s->probe[i] != PROBE_PRESENT)
			cs[i] = LOWER_ABSENT;
		else if (cstor_tree__is_whiteout(&s->pst[i]))
			cs[i] = LOWER_WHITEOUT;
		else
			cs[i] = S_ISDIR(s->pst[i].st_mode) ? LOWER_DIR : LOWER_ABSENT;
	}
	return cstor_tree__sub_add(subs, name, cs, s->n_lowers);
}

static int overlay_dir(void *ctx, const char *rel, const unsigned char *extra,
		       struct cstor_tree__subs *subs, cstor_error *err)
{
	struct overlay *s = ctx;
	unsigned char *states = s->states;
	if (s->n_lowers)
		memcpy(states, extra, s->n_lowers);
	_cleanup_close_ int ufd = cstor_tree__open_dir(s->diff, rel);
	if (ufd < 0)
		return cstor_error_errno(err, ufd, "changes: open /%s in the layer", rel);
	for (size_t i = 0; i < s->n_lowers; i++) {
		closep(&s->lfd[i]);
		if (states[i] != LOWER_DIR)
			continue;
		int fd = cstor_tree__open_dir(s->lowers[i], rel);
		if (fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP) {
			states[i] = LOWER_ABSENT; /* changed since its parent was read */
			continue;
		}
		if (fd < 0)
			return cstor_error_errno(err, fd, "changes: open /%s in lower layer %zu",
						 rel, i);
		s->lfd[i] = fd;
	}
	int r = cstor_tree__read_names(&s->un, ufd);
	if (r < 0)
		return cstor_error_errno(err, r, "changes: read /%s", rel);
	for (size_t k = 0; k < s->un.n; k++) {
		const char *name = cstor_tree__name(&s->un, k);
		r = overlay_entry(s, rel, ufd, name, states, subs);
		if (r < 0)
			return cstor_error_errno(err, r, "changes: /%s%s%s", rel,
						 rel[0] ? "/" : "", name);
	}
	for (size_t i = 0; i < s->n_lowers; i++)
		closep(&s->lfd[i]);
	return 0;
}

int cstor_changes_overlay(struct cstor_change_list *out, int diff_fd, const int *lower_fds,
			  size_t n_lowers, unsigned flags, cstor_error *err)
{
	if (!out || diff_fd < 0 || (n_lowers && !lower_fds) ||
	    (flags & ~(unsigned)CSTOR_CHANGES_USERXATTR))
		return cstor_error_set(err, EINVAL, "changes: invalid arguments");
	_cleanup_(overlay_done) struct overlay s = {
		.diff = diff_fd,
		.lowers = lower_fds,
		.n_lowers = n_lowers,
		.opaque_xattr = (flags & CSTOR_CHANGES_USERXATTR) ? "user.overlay.opaque"
								   : "trusted.overlay.opaque",
	};
	if (n_lowers) {
		s.lfd = malloc(n_lowers * sizeof(*s.lfd));
		s.probe = malloc(n_lowers);
		s.pst = malloc(n_lowers * sizeof(*s.pst));
		s.states = malloc(n_lowers);
		s.child_states = malloc(n_lowers);
		if (!s.lfd || !s.probe || !s.pst || !s.states || !s.child_states)
			return cstor_error_set(err, ENOMEM, "out of memory");
		for (size_t i = 0; i < n_lowers; i++)
			s.lfd[i] = -1;
		memset(s.child_states, LOWER_DIR, n_lowers);
	}
	int r = cstor_tree__walk(n_lowers, s.child_states, overlay_dir, &s, err);
	if (r < 0)
		return r;
	if (finish(&s.out, true) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	*out = s.out;
	s.out = (struct cstor_change_list){ 0 };
	return 0;
}

/* ---- Sizes ---------------------------------------------------------------- */

int cstor_changes_size(int64_t *out, const struct cstor_change_list *l, int layer_fd,
		       cstor_error *err)
{
	_cleanup_(cstor_tree__map_done) struct cstor_tree__map seen = { 0 };
	_cleanup_free_ char *cur_dir = NULL;
	_cleanup_close_ int dfd = -1;
	int64_t size = 0;
	for (size_t i = 0; i < l->n; i++) {
		const struct cstor_change *c = &l->v[i];
		if (c->kind == CSTOR_CHANGE_DELETE)
			continue;
		const char *p = c->path[0] == '/' ? c->path + 1 : c->path;
		const char *slash = strrchr(p, '/');
		size_t dlen = slash ? (size_t)(slash - p) : 0;
		const char *base = slash ? slash + 1 : p;
		if (!*base)
			continue;
		if (!cur_dir || strlen(cur_dir) != dlen || strncmp(cur_dir, p, dlen) != 0) {
			free(cur_dir);
			closep(&dfd);
			cur_dir = strndup(p, dlen);
			if (!cur_dir)
				return cstor_error_set(err, ENOMEM, "out of memory");
			dfd = cstor_tree__open_dir(layer_fd, cur_dir);
			if (dfd < 0 && dfd != -ENOENT && dfd != -ENOTDIR && dfd != -ELOOP)
				return cstor_error_errno(err, dfd, "diff size: open /%s", cur_dir);
		}
		struct stat st;
		if (dfd < 0)
			continue; /* like Go, which logs and goes on */
		if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			return cstor_error_errno(err, errno, "diff size: stat %s", c->path);
		}
		if (S_ISDIR(st.st_mode))
			continue;
		if (st.st_nlink > 1) {
			if (cstor_tree__map_get(&seen, st.st_dev, st.st_ino))
				continue;
			if (cstor_tree__map_put(&seen, st.st_dev, st.st_ino, NULL) < 0)
				return cstor_error_set(err, ENOMEM, "out of memory");
		}
		size += st.st_size;
	}
	*out = size;
	return 0;
}

struct dir_size {
	struct cstor_tree__map seen;
	struct cstor_tree__names names;
	int root;
	int64_t size;
};

static int dir_size_dir(void *ctx, const char *rel, const unsigned char *extra,
			struct cstor_tree__subs *subs, cstor_error *err)
{
	struct dir_size *s = ctx;
	_cleanup_close_ int fd = cstor_tree__open_dir(s->root, rel);
	if (fd < 0) {
		/* Vanished below the root: ignored, like Go. */
		if (rel[0] && (fd == -ENOENT || fd == -ENOTDIR))
			return 0;
		return cstor_error_errno(err, fd, "diff size: open /%s", rel);
	}
	int r = cstor_tree__read_names(&s->names, fd);
	if (r < 0)
		return cstor_error_errno(err, r, "diff size: read /%s", rel);
	for (size_t i = 0; i < s->names.n; i++) {
		const char *name = cstor_tree__name(&s->names, i);
		struct stat st;
		if (s->names.v[i].type != DT_DIR) {
			if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
				if (errno == ENOENT)
					continue;
				return cstor_error_errno(err, errno, "diff size: stat /%s%s%s", rel,
							 rel[0] ? "/" : "", name);
			}
			if (!S_ISDIR(st.st_mode)) {
				if (st.st_nlink > 1) {
					if (cstor_tree__map_get(&s->seen, st.st_dev, st.st_ino))
						continue;
					if (cstor_tree__map_put(&s->seen, st.st_dev, st.st_ino, NULL) < 0)
						return cstor_error_set(err, ENOMEM, "out of memory");
				}
				s->size += st.st_size;
				continue;
			}
		}
		if (cstor_tree__sub_add(subs, name, NULL, 0) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
	}
	return 0;
}

static void dir_size_done(struct dir_size *s)
{
	cstor_tree__map_done(&s->seen);
	cstor_tree__names_done(&s->names);
}

int cstor_dir_size(int64_t *out, int dir_fd, cstor_error *err)
{
	_cleanup_(dir_size_done) struct dir_size s = { .root = dir_fd };
	int r = cstor_tree__walk(0, NULL, dir_size_dir, &s, err);
	if (r < 0)
		return r;
	*out = s.size;
	return 0;
}
