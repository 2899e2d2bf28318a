/* SPDX-License-Identifier: Apache-2.0 */
/* ID mappings: parsing, checking, mapping, and shifting a tree's owners. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/error-internal.h"
#include "util/idmap.h"

int cstor_idmap_to_host(const cstor_idmap *m, size_t n, uint32_t id, uint32_t *out)
{
	if (n == 0) {
		*out = id;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		if (id >= m[i].container_id && id - m[i].container_id < m[i].size) {
			*out = m[i].host_id + (id - m[i].container_id);
			return 0;
		}
	return -EINVAL;
}

int cstor_idmap_to_container(const cstor_idmap *m, size_t n, uint32_t id, uint32_t *out)
{
	if (n == 0) {
		*out = id;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		if (id >= m[i].host_id && id - m[i].host_id < m[i].size) {
			*out = m[i].container_id + (id - m[i].host_id);
			return 0;
		}
	return -EINVAL;
}

bool cstor_idmap_equal(const cstor_idmap *a, size_t na, const cstor_idmap *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (a[i].container_id != b[i].container_id || a[i].host_id != b[i].host_id ||
		    a[i].size != b[i].size)
			return false;
	return true;
}

bool cstor_idmap_contiguous(const cstor_idmap *m, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if ((uint64_t)m[i].host_id != (uint64_t)m[i - 1].host_id + m[i - 1].size ||
		    (uint64_t)m[i].container_id != (uint64_t)m[i - 1].container_id + m[i - 1].size)
			return false;
	return true;
}

static bool overlaps(uint32_t a, uint32_t an, uint32_t b, uint32_t bn)
{
	return (uint64_t)a < (uint64_t)b + bn && (uint64_t)b < (uint64_t)a + an;
}

int cstor_idmap_check(const cstor_idmap *m, size_t n, const char *what, cstor_error *err)
{
	for (size_t i = 0; i < n; i++) {
		if (m[i].size == 0)
			return cstor_error_set(err, EINVAL,
					       "%s map: range %u:%u:%u has size 0", what,
					       m[i].container_id, m[i].host_id, m[i].size);
		if ((uint64_t)m[i].container_id + m[i].size > (uint64_t)UINT32_MAX + 1 ||
		    (uint64_t)m[i].host_id + m[i].size > (uint64_t)UINT32_MAX + 1)
			return cstor_error_set(err, EINVAL,
					       "%s map: range %u:%u:%u goes past the largest ID "
					       "4294967295",
					       what, m[i].container_id, m[i].host_id, m[i].size);
		for (size_t k = 0; k < i; k++) {
			bool c = overlaps(m[i].container_id, m[i].size, m[k].container_id, m[k].size);
			if (c || overlaps(m[i].host_id, m[i].size, m[k].host_id, m[k].size))
				return cstor_error_set(
					err, EINVAL,
					"%s map: ranges %u:%u:%u and %u:%u:%u overlap (%s IDs)", what,
					m[k].container_id, m[k].host_id, m[k].size, m[i].container_id,
					m[i].host_id, m[i].size, c ? "container" : "host");
		}
	}
	return 0;
}

int cstor_idmap_dup(cstor_idmap **out, size_t *n_out, const cstor_idmap *m, size_t n)
{
	*out = NULL;
	*n_out = 0;
	if (n == 0)
		return 0;
	if (!(*out = malloc(n * sizeof(*m))))
		return -ENOMEM;
	memcpy(*out, m, n * sizeof(*m));
	*n_out = n;
	return 0;
}

static int append(cstor_idmap **maps, size_t *n, uint32_t c, uint32_t h, uint32_t size)
{
	cstor_idmap *v = realloc(*maps, (*n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	v[*n] = (cstor_idmap){ c, h, size };
	*maps = v;
	++*n;
	return 0;
}

/* A decimal number that fits 32 bits, the whole of [s, e). */
static bool parse_u32(const char *s, const char *e, uint32_t *out)
{
	if (s == e || e - s > 10)
		return false;
	uint64_t v = 0;
	for (const char *p = s; p < e; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

int cstor_idmap_parse(cstor_idmap **maps, size_t *n, const char *text, const char *what,
		      cstor_error *err)
{
	if (!text || !text[0])
		return 0;
	uint32_t v[3];
	int k = 0;
	for (const char *p = text;;) {
		const char *e = p + strcspn(p, ":,");
		if (!parse_u32(p, e, &v[k]))
			return cstor_error_set(err, EINVAL,
					       "%s map \"%s\": \"%.*s\" is not an ID (expected "
					       "container:host:size[,container:host:size...])",
					       what, text, (int)(e - p), p);
		if (++k == 3) {
			if (append(maps, n, v[0], v[1], v[2]) < 0)
				return cstor_error_set(err, ENOMEM, "out of memory");
			k = 0;
		} else if (*e != ':')
			return cstor_error_set(err, EINVAL,
					       "%s map \"%s\": expected container:host:size, each "
					       "range three numbers",
					       what, text);
		if (!*e)
			break;
		p = e + 1;
	}
	return cstor_idmap_check(*maps, *n, what, err);
}

int cstor_idmap_from_subid(cstor_idmap **maps, size_t *n, const char *file, const char *name,
			   cstor_error *err)
{
	_cleanup_fclose_ FILE *f = fopen(file, "re");
	if (!f)
		return cstor_error_errno(err, errno, "open %s", file);
	_cleanup_free_ char *line = NULL;
	size_t cap = 0, found = 0;
	uint32_t next = 0;
	ssize_t len;
	unsigned lineno = 0;
	while ((len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		line[strcspn(line, "\r\n")] = 0;
		if (!line[0] || line[0] == '#')
			continue;
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			return cstor_error_set(err, EINVAL, "%s:%u: expected name:start:count", file,
					       lineno);
		*c1 = 0;
		if (strcmp(line, name) != 0)
			continue;
		uint32_t h, size;
		if (!parse_u32(c1 + 1, c2, &h) || !parse_u32(c2 + 1, c2 + 1 + strlen(c2 + 1), &size))
			return cstor_error_set(err, EINVAL, "%s:%u: expected name:start:count", file,
					       lineno);
		if ((uint64_t)next + size > UINT32_MAX)
			return cstor_error_set(err, EINVAL, "%s: the ranges of %s are too large",
					       file, name);
		if (append(maps, n, next, h, size) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
		next += size;
		found++;
	}
	if (ferror(f))
		return cstor_error_errno(err, errno, "read %s", file);
	if (!found)
		return cstor_error_set(err, ENOENT, "no ranges found for \"%s\" in %s", name, file);
	return cstor_idmap_check(*maps, *n, file, err);
}

/* Tree shifting */

struct seen {
	dev_t dev;
	ino_t ino;
	uid_t uid;
	gid_t gid;
};

struct shift {
	const struct cstor_idmaps *from, *to;
	struct seen *seen;
	size_t n_seen, cap_seen;
	char path[4096]; /* relative to the root, for messages */
};

static int map_id(uint32_t *out, const struct shift *s, uint32_t id, bool uid, cstor_error *err)
{
	const cstor_idmap *f = uid ? s->from->uids : s->from->gids;
	size_t nf = uid ? s->from->n_uids : s->from->n_gids;
	const cstor_idmap *t = uid ? s->to->uids : s->to->gids;
	size_t nt = uid ? s->to->n_uids : s->to->n_gids;
	uint32_t c;
	if (cstor_idmap_to_container(f, nf, id, &c) < 0)
		return cstor_error_set(err, EINVAL,
				       "%s: owner %s %" PRIu32 " is not mapped by the layer's old "
				       "%s map",
				       s->path[0] ? s->path : ".", uid ? "UID" : "GID", id,
				       uid ? "UID" : "GID");
	if (cstor_idmap_to_host(t, nt, c, out) < 0)
		return cstor_error_set(err, EINVAL,
				       "%s: container %s %" PRIu32 " cannot be mapped to a host ID "
				       "by the new %s map",
				       s->path[0] ? s->path : ".", uid ? "UID" : "GID", c,
				       uid ? "UID" : "GID");
	return 0;
}

/* An inode with several links is shifted once: a later link whose owner is
 * already the shifted one is left alone. Through an overlay mount a second
 * link of a lower file still shows the old owner (the first was copied up
 * on its own), so it is shifted too. */
static struct seen *seen_find(struct shift *s, const struct stat *st)
{
	for (size_t i = 0; i < s->n_seen; i++)
		if (s->seen[i].dev == st->st_dev && s->seen[i].ino == st->st_ino)
			return &s->seen[i];
	return NULL;
}

static int shift_one(struct shift *s, int pfd, const char *name, int fd, const struct stat *st,
		     cstor_error *err)
{
	uint32_t uid, gid;
	int r;
	struct seen *e = NULL;
	if (!S_ISDIR(st->st_mode) && st->st_nlink > 1) {
		e = seen_find(s, st);
		if (e && e->uid == st->st_uid && e->gid == st->st_gid)
			return 0;
	}
	if ((r = map_id(&uid, s, st->st_uid, true, err)) < 0 ||
	    (r = map_id(&gid, s, st->st_gid, false, err)) < 0)
		return r;
	if (!S_ISDIR(st->st_mode) && st->st_nlink > 1) {
		if (!e) {
			if (s->n_seen == s->cap_seen) {
				size_t cap = s->cap_seen ? 2 * s->cap_seen : 64;
				struct seen *v = realloc(s->seen, cap * sizeof(*v));
				if (!v)
					return cstor_error_set(err, ENOMEM, "out of memory");
				s->seen = v;
				s->cap_seen = cap;
			}
			s->seen[s->n_seen++] = (struct seen){ st->st_dev, st->st_ino, uid, gid };
		}
	}
	if (uid == st->st_uid && gid == st->st_gid)
		return 0;
	/* chown drops file capabilities and setuid/setgid: kept and set again. */
	char cap[256];
	ssize_t ncap = -1;
	if (S_ISREG(st->st_mode))
		ncap = fd >= 0 ? fgetxattr(fd, "security.capability", cap, sizeof(cap))
			       : lgetxattr(name, "security.capability", cap, sizeof(cap));
	r = fd >= 0 ? fchown(fd, uid, gid) : fchownat(pfd, name, uid, gid, AT_SYMLINK_NOFOLLOW);
	if (r < 0)
		return cstor_error_errno(err, errno, "%s: chown to %" PRIu32 ":%" PRIu32,
					 s->path[0] ? s->path : ".", uid, gid);
	if (ncap > 0 && fd >= 0 && fsetxattr(fd, "security.capability", cap, (size_t)ncap, 0) < 0)
		return cstor_error_errno(err, errno, "%s: restore file capabilities", s->path);
	if (!S_ISLNK(st->st_mode) && (st->st_mode & 06000)) {
		r = fd >= 0 ? fchmod(fd, st->st_mode & 07777)
			    : fchmodat(pfd, name, st->st_mode & 07777, 0);
		if (r < 0)
			return cstor_error_errno(err, errno, "%s: chmod to %04o",
						 s->path[0] ? s->path : ".",
						 (unsigned)(st->st_mode & 07777));
	}
	return 0;
}

/* @fd is a directory (owned by the caller), already shifted itself. */
static int shift_dir(struct shift *s, int fd, cstor_error *err)
{
	int dfd = dup(fd);
	if (dfd < 0)
		return cstor_error_errno(err, errno, "%s: dup", s->path);
	_cleanup_closedir_ DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return cstor_error_errno(err, errno, "%s: opendir", s->path);
	}
	size_t plen = strlen(s->path);
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		int n = snprintf(s->path + plen, sizeof(s->path) - plen, "%s%s", plen ? "/" : "",
				 de->d_name);
		if (n < 0 || (size_t)n >= sizeof(s->path) - plen)
			return cstor_error_set(err, ENAMETOOLONG, "%.*s/%s: path too long",
					       (int)plen, s->path, de->d_name);
		struct stat st;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return cstor_error_errno(err, errno, "%s: stat", s->path);
		int r;
		if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) {
			/* Regular files are opened to keep their capabilities
			 * (O_PATH cannot read xattrs); O_NOFOLLOW, as the entry
			 * may have been swapped for a link. */
			int flags = S_ISDIR(st.st_mode) ? O_RDONLY | O_DIRECTORY : O_RDONLY;
			_cleanup_close_ int cfd =
				openat(fd, de->d_name, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
			if (cfd < 0)
				return cstor_error_errno(err, errno, "%s: open", s->path);
			if ((r = shift_one(s, fd, de->d_name, cfd, &st, err)) < 0)
				return r;
			if (S_ISDIR(st.st_mode) && (r = shift_dir(s, cfd, err)) < 0)
				return r;
		} else if ((r = shift_one(s, fd, de->d_name, -1, &st, err)) < 0)
			return r;
		s->path[plen] = 0;
		errno = 0;
	}
	if (errno)
		return cstor_error_errno(err, errno, "%s: readdir", s->path);
	return 0;
}

int cstor_idmap_shift_tree(int dirfd, const struct cstor_idmaps *from,
			   const struct cstor_idmaps *to, cstor_error *err)
{
	struct shift s = { .from = from, .to = to };
	struct stat st;
	int r;
	if (fstat(dirfd, &st) < 0)
		r = cstor_error_errno(err, errno, "stat the layer's root");
	else if ((r = shift_one(&s, -1, NULL, dirfd, &st, err)) == 0)
		r = shift_dir(&s, dirfd, err);
	free(s.seen);
	return r;
}
