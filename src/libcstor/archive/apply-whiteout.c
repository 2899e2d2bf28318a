/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Whiteouts while extracting a layer: executed (vfs: removals, opaque
 * directories emptied of what earlier layers put there, AUFS hard-link
 * helpers) or converted to overlay's on-disk form (0/0 character devices,
 * the opaque xattr).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util/error-internal.h"
#include "util/cleanup.h"
#include "util/rm.h"

#include "apply-internal.h"

/* ---- path set ---- */

static uint64_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static struct apply_pathset_slot *find_slot(struct apply_pathset_slot *slots, size_t cap,
					    const char *s, size_t len, uint64_t h)
{
	for (size_t i = h & (cap - 1);; i = (i + 1) & (cap - 1)) {
		struct apply_pathset_slot *sl = &slots[i];
		if (!sl->s || (sl->hash == h && sl->len == len && memcmp(sl->s, s, len) == 0))
			return sl;
	}
}

int apply_pathset_add(struct apply_pathset *set, const char *s, size_t len)
{
	if ((set->n + 1) * 4 > set->cap * 3) {
		size_t cap = set->cap ? set->cap * 2 : 1024;
		struct apply_pathset_slot *slots = calloc(cap, sizeof(*slots));
		if (!slots)
			return -ENOMEM;
		for (size_t i = 0; i < set->cap; i++)
			if (set->slots[i].s)
				*find_slot(slots, cap, set->slots[i].s, set->slots[i].len,
					   set->slots[i].hash) = set->slots[i];
		free(set->slots);
		set->slots = slots;
		set->cap = cap;
	}
	uint64_t h = hash_bytes(s, len);
	struct apply_pathset_slot *sl = find_slot(set->slots, set->cap, s, len, h);
	if (sl->s)
		return 0;
	sl->s = strndup(s, len);
	if (!sl->s)
		return -ENOMEM;
	sl->len = len;
	sl->hash = h;
	set->n++;
	return 0;
}

bool apply_pathset_has(const struct apply_pathset *set, const char *s, size_t len)
{
	if (set->n == 0)
		return false;
	return find_slot(set->slots, set->cap, s, len, hash_bytes(s, len))->s != NULL;
}

void apply_pathset_free(struct apply_pathset *set)
{
	for (size_t i = 0; i < set->cap; i++)
		free(set->slots[i].s);
	free(set->slots);
	*set = (struct apply_pathset){ 0 };
}

/* ---- EXECUTE ---- */

int apply_whiteout_remove(struct apply *a, const char *dir, size_t dir_len, const char *target,
			  cstor_error *err)
{
	int pfd;
	int r = apply_parent(a, dir, dir_len, false, &pfd, err);
	if (r == -ENOENT) {
		/* Go's RemoveAll: nothing to remove (a dangling symlink on the
		 * way). */
		cstor_error_clear(err);
		return 0;
	}
	if (r < 0)
		return r;
	apply_cache_invalidate(a);
	r = cstor_rm_rf_at(pfd, target, err);
	return r < 0 ? cstor_error_wrap(err, r, "whiteout") : 0;
}

/* A directory listing taken before anything in it is removed, like Go's
 * WalkDir (which reads a directory whole, sorted, before visiting it). */
static int list_dir(int fd, char ***ret, size_t *ret_n)
{
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	_cleanup_closedir_ DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -errno;
	}
	char **v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int r = 0;
	errno = 0;
	while ((de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			char **nv = realloc(v, cap * sizeof(*nv));
			if (!nv) {
				r = -ENOMEM;
				break;
			}
			v = nv;
		}
		if (!(v[n] = strdup(de->d_name))) {
			r = -ENOMEM;
			break;
		}
		n++;
		errno = 0;
	}
	if (r == 0 && errno != 0)
		r = -errno;
	if (r < 0) {
		for (size_t i = 0; i < n; i++)
			free(v[i]);
		free(v);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static int opaque_walk(struct apply *a, int fd, char *path, size_t len, int depth,
		       cstor_error *err)
{
	if (depth > PATH_MAX / 2)
		return cstor_error_set(err, ELOOP, "opaque directory \"%s\": tree too deep", path);
	char **names = NULL;
	size_t n = 0;
	int r = list_dir(fd, &names, &n);
	if (r < 0)
		return cstor_error_errno(err, r, "opaque directory \"%s\": list", path);
	for (size_t i = 0; i < n && r >= 0; i++) {
		size_t nl = strlen(names[i]);
		size_t sub = len ? len + 1 + nl : nl;
		if (sub > PATH_MAX) {
			r = cstor_error_set(err, ENAMETOOLONG, "opaque directory: path too long");
			break;
		}
		if (len)
			path[len] = '/';
		memcpy(path + (len ? len + 1 : 0), names[i], nl + 1);
		if (!apply_pathset_has(&a->unpacked, path, sub)) {
			r = cstor_rm_rf_at(fd, names[i], err);
			if (r < 0)
				r = cstor_error_wrap(err, r, "opaque directory");
		} else {
			/* Created by this archive: keep it, but what lower
			 * layers left inside a kept directory goes too. */
			_cleanup_close_ int cfd = openat(fd, names[i], O_RDONLY | O_DIRECTORY |
								       O_NOFOLLOW | O_CLOEXEC);
			if (cfd >= 0)
				r = opaque_walk(a, cfd, path, sub, depth + 1, err);
			else if (errno != ENOTDIR && errno != ELOOP && errno != ENOENT)
				r = cstor_error_errno(err, errno, "opaque directory \"%s\"", path);
		}
		path[len] = 0;
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

int apply_whiteout_opaque(struct apply *a, const char *dir, size_t dir_len, cstor_error *err)
{
	/* Go walks the directory without following it: a marker inside a
	 * symlink to a directory removes nothing. */
	_cleanup_close_ int fd = -1;
	if (dir_len == 0) {
		fd = openat(a->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else {
		size_t d = dir_len;
		while (d > 0 && dir[d - 1] != '/')
			d--;
		int pfd;
		int r = apply_parent(a, dir, d ? d - 1 : 0, false, &pfd, err);
		if (r == -ENOENT) {
			cstor_error_clear(err);
			return 0;
		}
		if (r < 0)
			return r;
		_cleanup_free_ char *base = strndup(dir + d, dir_len - d);
		if (!base)
			return cstor_error_set(err, ENOMEM, "out of memory");
		fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && (errno == ELOOP || errno == ENOTDIR || errno == ENOENT))
			return 0;
	}
	if (fd < 0)
		return cstor_error_errno(err, errno, "opaque directory \"%.*s\"", (int)dir_len, dir);
	_cleanup_free_ char *path = malloc(PATH_MAX + NAME_MAX + 2);
	if (!path)
		return cstor_error_set(err, ENOMEM, "out of memory");
	memcpy(path, dir, dir_len);
	path[dir_len] = 0;
	apply_cache_invalidate(a);
	return opaque_walk(a, fd, path, dir_len, 0, err);
}

/* ---- OVERLAY ---- */

int apply_whiteout_mknod(struct apply *a, int pfd, const char *target, const cstor_tar_header *h,
			 cstor_error *err)
{
	if (mknodat(pfd, target, S_IFCHR | 0, makedev(0, 0)) < 0)
		return cstor_error_errno(err, errno, "create whiteout \"%s\"", target);
	if (fchownat(pfd, target, (uid_t)h->uid, (gid_t)h->gid, AT_SYMLINK_NOFOLLOW) < 0 &&
	    !(a->o->ignore_chown_errors && (errno == EPERM || errno == EINVAL)))
		return cstor_error_errno(err, errno, "chown whiteout \"%s\"", target);
	return 0;
}

int apply_whiteout_opaque_xattr(struct apply *a, int pfd, cstor_error *err)
{
	_cleanup_close_ int fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return cstor_error_errno(err, errno, "open opaque directory");
	/* Rootless overlay would use user.overlay.opaque; the store runs
	 * this as root. */
	if (fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0) < 0)
		return cstor_error_errno(err, errno, "set trusted.overlay.opaque");
	(void)a;
	return 0;
}

/* ---- AUFS hard links (EXECUTE) ---- */

static int tmp_file(struct apply *a)
{
	/* In the layer's filesystem, so copies to the tree can share
	 * extents; memory when the filesystem has no O_TMPFILE. */
	int fd = openat(a->root_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	fd = memfd_create("cstor-plnk", MFD_CLOEXEC);
	return fd >= 0 ? fd : -errno;
}

static void plnk_clear(struct apply_plnk *p)
{
	free(p->base);
	for (size_t i = 0; i < p->n_xattrs; i++) {
		free(p->xattrs[i].name);
		free(p->xattrs[i].value);
	}
	free(p->xattrs);
	*p = (struct apply_plnk){ 0 };
}

int apply_plnk_save(struct apply *a, const cstor_tar_header *h, const char *base,
		    cstor_error *err)
{
	struct apply_plnk p = { 0 };
	int r;
	if (!(p.base = strdup(base)))
		goto oom;
	if (a->plnk_fd < 0) {
		a->plnk_fd = tmp_file(a);
		if (a->plnk_fd < 0) {
			r = cstor_error_errno(err, a->plnk_fd, "temporary file for AUFS hard links");
			goto fail;
		}
	}
	if (lseek(a->plnk_fd, (off_t)a->plnk_end, SEEK_SET) < 0) {
		r = cstor_error_errno(err, errno, "temporary file for AUFS hard links");
		goto fail;
	}
	p.off = a->plnk_end;
	r = cstor_tar_reader_copy_to_fd(a->r, a->plnk_fd, err);
	if (r < 0)
		goto fail;
	p.len = (uint64_t)cstor_tar_reader_content_size(a->r);
	a->plnk_end += p.len;
	p.mode = h->mode;
	p.uid = h->uid;
	p.gid = h->gid;
	p.mtime = h->mtime;
	p.atime = h->atime;
	p.has_atime = h->has_atime;
	if (h->n_xattrs && !(p.xattrs = calloc(h->n_xattrs, sizeof(*p.xattrs))))
		goto oom;
	for (size_t i = 0; i < h->n_xattrs; i++) {
		if (!apply_xattr_from_go(h, i))
			continue;
		struct cstor_tar_xattr *x = &p.xattrs[p.n_xattrs];
		x->name = strdup(h->xattrs[i].name);
		x->value = malloc(h->xattrs[i].value_len + 1);
		if (!x->name || !x->value) {
			free(x->name);
			free(x->value);
			goto oom;
		}
		memcpy(x->value, h->xattrs[i].value, h->xattrs[i].value_len + 1);
		x->value_len = h->xattrs[i].value_len;
		p.n_xattrs++;
	}

	/* The last member of a base name wins, as in Go's map. */
	for (size_t i = 0; i < a->n_plnk; i++)
		if (streq(a->plnk[i].base, base)) {
			plnk_clear(&a->plnk[i]);
			a->plnk[i] = p;
			return 0;
		}
	struct apply_plnk *np = realloc(a->plnk, (a->n_plnk + 1) * sizeof(*np));
	if (!np)
		goto oom;
	a->plnk = np;
	a->plnk[a->n_plnk++] = p;
	return 0;

oom:
	r = cstor_error_set(err, ENOMEM, "out of memory");
fail:
	plnk_clear(&p);
	return r;
}

bool apply_xattr_from_go(const cstor_tar_header *h, size_t i)
{
	bool libarchive = false;
	for (size_t k = 0; k < h->n_pax && !libarchive; k++)
		libarchive = startswith(h->pax[k].key, "LIBARCHIVE.xattr.") != NULL;
	if (!libarchive)
		return true;
	for (size_t k = 0; k < h->n_pax; k++) {
		const char *n = startswith(h->pax[k].key, "SCHILY.xattr.");
		if (n && streq(n, h->xattrs[i].name))
			return true;
	}
	return false;
}

const struct apply_plnk *apply_plnk_find(const struct apply *a, const char *base)
{
	for (size_t i = 0; i < a->n_plnk; i++)
		if (streq(a->plnk[i].base, base))
			return &a->plnk[i];
	return NULL;
}

void apply_plnk_free(struct apply *a)
{
	for (size_t i = 0; i < a->n_plnk; i++)
		plnk_clear(&a->plnk[i]);
	free(a->plnk);
	a->plnk = NULL;
	a->n_plnk = 0;
	if (a->plnk_fd >= 0)
		close(a->plnk_fd);
	a->plnk_fd = -1;
}
