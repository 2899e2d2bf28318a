/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The content check of `check` (docs/check.md): the tree a layer must show
 * when mounted, built from the tar headers of its diff and of its parents',
 * compared with what the mount shows. A diff rebuilt from the tar-split
 * only reads the files the tar-split names, so a file added to a layer, or
 * one whose owner or mode changed, is only seen this way.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/check-internal.h"
#include "util/cleanup.h"
#include "util/macro.h"
#include "util/strv.h"

struct tree_entry {
	char *path; /* "a/b", no leading or trailing slash; NULL: free slot */
	struct check_hdr h;
	bool implicit; /* a parent directory no header named */
	bool seen;
	bool dead; /* removed (tombstone) */
};

struct check_tree {
	struct tree_entry *e;
	size_t cap, used;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

void check_tree_free(struct check_tree *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->cap; i++)
		free(t->e[i].path);
	free(t->e);
	free(t);
}

int check_tree_new(struct check_tree **out)
{
	struct check_tree *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->cap = 1024;
	if (!(t->e = calloc(t->cap, sizeof(*t->e)))) {
		free(t);
		return -ENOMEM;
	}
	*out = t;
	return 0;
}

static struct tree_entry *slot(struct check_tree *t, const char *path)
{
	size_t i = hash_str(path) & (t->cap - 1);
	while (t->e[i].path && strcmp(t->e[i].path, path) != 0)
		i = (i + 1) & (t->cap - 1);
	return &t->e[i];
}

static int grow(struct check_tree *t)
{
	if ((t->used + 1) * 2 < t->cap)
		return 0;
	struct check_tree n = { calloc(t->cap * 2, sizeof(*t->e)), t->cap * 2, 0 };
	if (!n.e)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		if (!t->e[i].path)
			continue;
		if (t->e[i].dead) {
			free(t->e[i].path);
			continue;
		}
		*slot(&n, t->e[i].path) = t->e[i];
		n.used++;
	}
	free(t->e);
	*t = n;
	return 0;
}

static struct tree_entry *lookup(struct check_tree *t, const char *path)
{
	struct tree_entry *e = slot(t, path);
	return e->path && !e->dead ? e : NULL;
}

static int put(struct check_tree *t, const char *path, const struct check_hdr *h, bool implicit)
{
	if (grow(t) < 0)
		return -ENOMEM;
	struct tree_entry *e = slot(t, path);
	if (!e->path) {
		if (!(e->path = strdup(path)))
			return -ENOMEM;
		t->used++;
	}
	/* A directory over an existing directory merges (tar semantics);
	 * anything else replaces. */
	e->dead = false;
	e->implicit = implicit;
	e->h = *h;
	return 0;
}

/* Remove @path and, when @self, everything under it; without @self only
 * what is under it (an opaque directory). */
static void remove_tree(struct check_tree *t, const char *path, bool self)
{
	size_t len = strlen(path);
	for (size_t i = 0; i < t->cap; i++) {
		struct tree_entry *e = &t->e[i];
		if (!e->path || e->dead)
			continue;
		bool under = len == 0 || (strncmp(e->path, path, len) == 0 && e->path[len] == '/');
		if (under || (self && streq(e->path, path)))
			e->dead = true;
	}
}

/* Clean a tar name: no "./" or "/" in front, no "/" at the end. */
static void clean_name(char *out, size_t size, const char *name)
{
	while (name[0] == '.' && name[1] == '/')
		name += 2;
	while (*name == '/')
		name++;
	snprintf(out, size, "%s", name);
	size_t l = strlen(out);
	while (l > 0 && out[l - 1] == '/')
		out[--l] = 0;
	if (streq(out, "."))
		out[0] = 0;
}

static int add_parents(struct check_tree *t, const char *path)
{
	char buf[CHECK_PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = strchr(buf, '/'); p; p = strchr(p + 1, '/')) {
		*p = 0;
		if (!lookup(t, buf)) {
			struct check_hdr d = { .type = '5' };
			if (put(t, buf, &d, true) < 0)
				return -ENOMEM;
		}
		*p = '/';
	}
	return 0;
}

int check_tree_add_layer(struct check_tree *t, const struct check_hdr *hs, size_t n)
{
	char name[CHECK_PATH_MAX];
	/* A layer's whiteouts hide its parents' files, never its own: apply
	 * them first, then its entries, then hard links (which take their
	 * target's attributes). */
	for (size_t i = 0; i < n; i++) {
		clean_name(name, sizeof(name), hs[i].name);
		char *base = strrchr(name, '/');
		base = base ? base + 1 : name;
		if (strncmp(base, ".wh.", 4) != 0)
			continue;
		if (streq(base, ".wh..wh..opq")) {
			base[base == name ? 0 : -1] = 0;
			remove_tree(t, name, false);
		} else {
			memmove(base, base + 4, strlen(base + 4) + 1);
			remove_tree(t, name, true);
		}
	}
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			const struct check_hdr *h = &hs[i];
			if ((h->type == '1') != (pass == 1))
				continue;
			clean_name(name, sizeof(name), h->name);
			const char *base = strrchr(name, '/');
			base = base ? base + 1 : name;
			if (!name[0] || strncmp(base, ".wh.", 4) == 0 || h->type == 'g')
				continue;
			struct check_hdr e = *h;
			if (h->type == '1') {
				char target[CHECK_PATH_MAX];
				clean_name(target, sizeof(target), h->link ? h->link : "");
				struct tree_entry *te = lookup(t, target);
				if (!te)
					continue;
				/* The link's own owner, mode and time are
				 * applied to the inode both names share. */
				te->h.mode = h->mode;
				te->h.uid = h->uid;
				te->h.gid = h->gid;
				te->h.mtime = h->mtime;
				e = te->h;
			}
			e.name = NULL;
			e.link = NULL;
			/* Anything but a directory replaces what was under
			 * the path, too. */
			struct tree_entry *was = lookup(t, name);
			if (e.type != '5' && was && was->h.type == '5')
				remove_tree(t, name, false);
			if (add_parents(t, name) < 0 || put(t, name, &e, false) < 0)
				return -ENOMEM;
		}
	}
	return 0;
}

static char tar_type(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFDIR:
		return '5';
	case S_IFLNK:
		return '2';
	case S_IFCHR:
		return '3';
	case S_IFBLK:
		return '4';
	case S_IFIFO:
		return '6';
	default:
		return '0';
	}
}

static char norm_type(char t)
{
	return t == '7' || t == 0 ? '0' : t;
}

struct walk {
	struct check_tree *t;
	bool compare_owners;
	char ***diffs;
	int depth;
};

/* @sign: "+", "-" or ""; @tail: "/" for directories or "(changes)". */
static int note(struct walk *w, const char *sign, const char *path, const char *tail)
{
	char *s;
	if (asprintf(&s, "%s/%s%s", sign, path, tail) < 0)
		return -ENOMEM;
	return strv_consume(w->diffs, s);
}

static int compare(struct walk *w, const char *path, const struct stat *st,
		   const struct tree_entry *e)
{
	char detail[512] = "";
	size_t l = 0;
#define ADD(...)                                                                          \
	l += (size_t)snprintf(detail + l, l < sizeof(detail) ? sizeof(detail) - l : 0,    \
			      __VA_ARGS__)
	char want = norm_type(e->h.type), got = tar_type(st->st_mode);
	if (want != got) {
		ADD("%sfiletype:%c->%c", l ? "," : "", want, got);
	} else if (!e->implicit) {
		if (w->compare_owners && (int64_t)st->st_uid != e->h.uid)
			ADD("%suid:%lld->%u", l ? "," : "", (long long)e->h.uid, st->st_uid);
		if (w->compare_owners && (int64_t)st->st_gid != e->h.gid)
			ADD("%sgid:%lld->%u", l ? "," : "", (long long)e->h.gid, st->st_gid);
		if (got == '0' && st->st_size != e->h.size)
			ADD("%ssize:%lld->%lld", l ? "," : "", (long long)e->h.size,
			    (long long)st->st_size);
		if (got != '2' && (st->st_mode & 07777) != (e->h.mode & 07777))
			ADD("%smode:%04o->%04o", l ? "," : "", (unsigned)(e->h.mode & 07777),
			    (unsigned)(st->st_mode & 07777));
		/* Directories' times change with their entries, links'
		 * are not always kept: only files' are compared (and not
		 * times before 1970, which appliers clamp). */
		if (got == '0' && e->h.mtime >= 0 && st->st_mtim.tv_sec != e->h.mtime)
			ADD("%smtime:%lld->%lld", l ? "," : "", (long long)e->h.mtime,
			    (long long)st->st_mtim.tv_sec);
	}
#undef ADD
	if (!detail[0])
		return 0;
	char d[540];
	snprintf(d, sizeof(d), "(%s)", detail);
	return note(w, "", path, d);
}

static int walk_dir(struct walk *w, int dfd, const char *prefix)
{
	if (++w->depth > 4096)
		return -ELOOP;
	int dup = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
	if (dup < 0)
		return -errno;
	_cleanup_closedir_ DIR *d = fdopendir(dup);
	if (!d) {
		close(dup);
		return -errno;
	}
	struct dirent *de;
	int r = 0;
	while (r == 0 && (de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		char path[CHECK_PATH_MAX];
		snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "/" : "", de->d_name);
		struct stat st;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		struct tree_entry *e = lookup(w->t, path);
		if (!e) {
			r = note(w, "+", path, S_ISDIR(st.st_mode) ? "/" : "");
			continue; /* what is under an added directory is added too */
		}
		e->seen = true;
		r = compare(w, path, &st, e);
		if (r == 0 && S_ISDIR(st.st_mode) && norm_type(e->h.type) == '5') {
			_cleanup_close_ int sub = openat(dfd, de->d_name,
							 O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
								 O_CLOEXEC);
			if (sub >= 0)
				r = walk_dir(w, sub, path);
		}
	}
	w->depth--;
	return r;
}

static int cmp_diff(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	/* Sorted by path; the +/- in front does not count. */
	int c = strcmp(x + (*x == '+' || *x == '-'), y + (*y == '+' || *y == '-'));
	return c ? c : strcmp(x, y);
}

int check_tree_compare(char ***diffs, struct check_tree *t, const char *root, bool compare_owners)
{
	*diffs = NULL;
	_cleanup_close_ int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct walk w = { t, compare_owners, diffs, 0 };
	int r = walk_dir(&w, fd, "");
	for (size_t i = 0; r == 0 && i < t->cap; i++) {
		struct tree_entry *e = &t->e[i];
		if (!e->path || e->dead || e->seen)
			continue;
		/* Only the topmost missing path is named. */
		char parent[CHECK_PATH_MAX];
		snprintf(parent, sizeof(parent), "%s", e->path);
		char *slash = strrchr(parent, '/');
		if (slash) {
			*slash = 0;
			struct tree_entry *pe = lookup(t, parent);
			if (pe && !pe->seen)
				continue;
		}
		r = note(&w, "-", e->path, norm_type(e->h.type) == '5' ? "/" : "");
	}
	size_t n = strv_length(*diffs);
	if (n)
		qsort(*diffs, n, sizeof(char *), cmp_diff);
	return r;
}
