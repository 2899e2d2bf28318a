/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Image sources: directories and tarballs (see source.h). The tar index is
 * a small reader of its own rather than archive/tar-read.c because it needs
 * what a streaming reader does not give: the offset of every member's data.
 * It understands what image archives use (ustar, GNU long names, pax path
 * and size records, base-256 sizes) and refuses the rest of the strange
 * things a tarball can hold only where they would matter (sizes, bounds).
 */
#include <fcntl.h>
#include <linux/openat2.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "archive/compress.h"
#include "util/error-internal.h"
#include "util/fileutil.h"
#include "oci/source.h"
#include "util/cleanup.h"
#include "util/macro.h"

#define MAX_MEMBERS (1u << 20)
#define MAX_EXT (1u << 20) /* pax and GNU long-name bodies */

struct member {
	char *name;
	char *link; /* symlink or hard link target, or NULL */
	char type;
	off_t off;
	uint64_t size;
	size_t order;
};

struct cstor_oci_src {
	char *path;
	int dir_fd; /* a directory source, else -1 */
	int tar_fd; /* a tarball (or its decompressed copy), else -1 */
	struct member *m;
	size_t n;
	const struct cstor_oci_src_ops *ops; /* a served source, else NULL */
	void *ops_ctx;
	char *platform;
};

bool cstor_oci_src_is_dir(const struct cstor_oci_src *src)
{
	return src->dir_fd >= 0;
}

const char *cstor_oci_src_path(const struct cstor_oci_src *src)
{
	return src->path;
}

void cstor_oci_src_free(struct cstor_oci_src *src)
{
	if (!src)
		return;
	for (size_t i = 0; i < src->n; i++) {
		free(src->m[i].name);
		free(src->m[i].link);
	}
	free(src->m);
	if (src->ops)
		src->ops->free(src->ops_ctx);
	free(src->platform);
	if (src->dir_fd >= 0)
		close(src->dir_fd);
	if (src->tar_fd >= 0)
		close(src->tar_fd);
	free(src->path);
	free(src);
}

/* Make a member name canonical in place: no leading "/" or "./", no "."
 * or empty components, ".." resolved (never above the root). */
static void clean_path(char *p)
{
	char *out = p;
	const char *in = p;
	while (*in) {
		while (*in == '/')
			in++;
		const char *e = strchrnul(in, '/');
		size_t len = (size_t)(e - in);
		if (len == 0 || (len == 1 && in[0] == '.')) {
			/* skip */
		} else if (len == 2 && in[0] == '.' && in[1] == '.') {
			while (out > p && *--out != '/')
				;
		} else {
			if (out > p)
				*out++ = '/';
			memmove(out, in, len);
			out += len;
		}
		in = e;
	}
	*out = 0;
}

static int parse_number(uint64_t *v, const unsigned char *f, size_t len)
{
	if (f[0] & 0x80) {
		/* base-256: big-endian, the top bit marks it; negative is bad */
		if (f[0] & 0x40)
			return -1;
		uint64_t x = f[0] & 0x3f;
		for (size_t i = 1; i < len; i++) {
			if (x >> 55)
				return -1;
			x = x << 8 | f[i];
		}
		*v = x;
		return 0;
	}
	uint64_t x = 0;
	size_t i = 0;
	while (i < len && (f[i] == ' ' || f[i] == 0))
		i++;
	for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) {
		if (x >> 60)
			return -1;
		x = x * 8 + (uint64_t)(f[i] - '0');
	}
	for (; i < len; i++)
		if (f[i] != ' ' && f[i] != 0)
			return -1;
	*v = x;
	return 0;
}

static bool checksum_ok(const unsigned char *h)
{
	uint64_t want;
	if (parse_number(&want, h + 148, 8) < 0)
		return false;
	unsigned long u = 0;
	long s = 0;
	for (int i = 0; i < 512; i++) {
		unsigned char c = (i >= 148 && i < 156) ? ' ' : h[i];
		u += c;
		s += (signed char)c;
	}
	return want == u || (long)want == s;
}

static char *field(const unsigned char *f, size_t len)
{
	return strndup((const char *)f, len);
}

static int pread_all(int fd, void *buf, size_t len, off_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, off + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EBADMSG;
		done += (size_t)n;
	}
	return 0;
}

/* Pax records that matter here: path, linkpath, size. */
static int parse_pax(const char *body, size_t len, char **path, char **link, uint64_t *size,
		     bool *has_size)
{
	size_t i = 0;
	while (i < len) {
		char *end;
		unsigned long rl = strtoul(body + i, &end, 10);
		if (end == body + i || *end != ' ' || rl == 0 || rl > len - i)
			return -1;
		const char *kv = end + 1, *rend = body + i + rl;
		if (rend[-1] != '\n')
			return -1;
		const char *eq = memchr(kv, '=', (size_t)(rend - kv));
		if (!eq)
			return -1;
		size_t kl = (size_t)(eq - kv), vl = (size_t)(rend - 1 - eq - 1);
		if (kl == 4 && memcmp(kv, "path", 4) == 0) {
			free(*path);
			*path = strndup(eq + 1, vl);
		} else if (kl == 8 && memcmp(kv, "linkpath", 8) == 0) {
			free(*link);
			*link = strndup(eq + 1, vl);
		} else if (kl == 4 && memcmp(kv, "size", 4) == 0) {
			char tmp[32];
			if (vl == 0 || vl >= sizeof(tmp))
				return -1;
			memcpy(tmp, eq + 1, vl);
			tmp[vl] = 0;
			char *e;
			errno = 0;
			unsigned long long v = strtoull(tmp, &e, 10);
			if (*e || errno)
				return -1;
			*size = v;
			*has_size = true;
		}
		i += rl;
	}
	return 0;
}

static int cmp_member(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int index_tar(struct cstor_oci_src *src, cstor_error *err)
{
	struct stat st;
	if (fstat(src->tar_fd, &st) < 0)
		return cstor_error_errno(err, errno, "stat %s", src->path);
	uint64_t fsize = (uint64_t)st.st_size;
	off_t off = 0;
	_cleanup_free_ char *long_name = NULL, *long_link = NULL, *pax_path = NULL,
			    *pax_link = NULL;
	uint64_t pax_size = 0;
	bool has_pax_size = false;
	size_t cap = 0;
	for (;;) {
		unsigned char h[512];
		if ((uint64_t)off + 512 > fsize) {
			if ((uint64_t)off == fsize && src->n > 0)
				break; /* no end blocks: accepted, as Go's reader does */
			return cstor_error_set(err, EBADMSG, "%s: truncated archive (at byte %lld)",
					       src->path, (long long)off);
		}
		int r = pread_all(src->tar_fd, h, 512, off);
		if (r < 0)
			return cstor_error_errno(err, -r, "read %s", src->path);
		bool zero = true;
		for (int i = 0; i < 512 && zero; i++)
			zero = h[i] == 0;
		if (zero)
			break;
		if (!checksum_ok(h))
			return cstor_error_set(err, EBADMSG,
					       "%s: not a tar archive, or corrupt (bad header at byte "
					       "%lld)",
					       src->path, (long long)off);
		uint64_t size;
		if (parse_number(&size, h + 124, 12) < 0)
			return cstor_error_set(err, EBADMSG, "%s: bad size field at byte %lld",
					       src->path, (long long)off);
		char type = (char)h[156];
		if (type == 'x' && has_pax_size)
			has_pax_size = false;
		if (!(type == 'x' || type == 'g' || type == 'L' || type == 'K') && has_pax_size)
			size = pax_size;
		off_t data = off + 512;
		uint64_t blocks = (size + 511) / 512 * 512;
		bool header_only = type == '1' || type == '2' || type == '3' || type == '4' ||
				   type == '5' || type == '6';
		if (header_only)
			blocks = 0;
		if (size > fsize || (uint64_t)data + (header_only ? 0 : size) > fsize)
			return cstor_error_set(err, EBADMSG,
					       "%s: truncated archive (member at byte %lld runs past "
					       "the end of the file)",
					       src->path, (long long)off);
		if (type == 'x' || type == 'L' || type == 'K') {
			if (size > MAX_EXT)
				return cstor_error_set(err, EBADMSG,
						       "%s: extension header over 1 MiB at byte %lld",
						       src->path, (long long)off);
			_cleanup_free_ char *body = malloc(size + 1);
			if (!body)
				return cstor_error_set(err, ENOMEM, "out of memory");
			if ((r = pread_all(src->tar_fd, body, size, data)) < 0)
				return cstor_error_errno(err, -r, "read %s", src->path);
			body[size] = 0;
			if (type == 'x') {
				if (parse_pax(body, size, &pax_path, &pax_link, &pax_size,
					      &has_pax_size) < 0)
					return cstor_error_set(err, EBADMSG,
							       "%s: bad pax header at byte %lld",
							       src->path, (long long)off);
			} else if (type == 'L') {
				free(long_name);
				long_name = strdup(body);
			} else {
				free(long_link);
				long_link = strdup(body);
			}
			off = data + (off_t)blocks;
			continue;
		}
		if (type == 'g') {
			off = data + (off_t)blocks;
			continue;
		}
		if (src->n >= MAX_MEMBERS)
			return cstor_error_set(err, EBADMSG, "%s: more than %u members", src->path,
					       MAX_MEMBERS);
		char *name;
		if (pax_path)
			name = TAKE_PTR(pax_path);
		else if (long_name)
			name = TAKE_PTR(long_name);
		else if (memcmp(h + 257, "ustar\0", 6) == 0 && h[345]) {
			_cleanup_free_ char *pre = field(h + 345, 155), *base = field(h, 100);
			name = pre && base && asprintf(&name, "%s/%s", pre, base) >= 0 ? name : NULL;
		} else
			name = field(h, 100);
		char *link = pax_link ? TAKE_PTR(pax_link)
				      : long_link ? TAKE_PTR(long_link) : field(h + 157, 100);
		if (src->n == cap) {
			cap = cap ? cap * 2 : 64;
			struct member *nm = realloc(src->m, cap * sizeof(*nm));
			if (!nm) {
				free(name);
				free(link);
				return cstor_error_set(err, ENOMEM, "out of memory");
			}
			src->m = nm;
		}
		if (!name || !link) {
			free(name);
			free(link);
			return cstor_error_set(err, ENOMEM, "out of memory");
		}
		clean_path(name);
		size_t k = src->n++;
		src->m[k] = (struct member){ name, link, type ? type : '0', data, size, k };
		has_pax_size = false;
		off = data + (off_t)blocks;
	}
	if (src->n == 0)
		return 0; /* an empty archive: every lookup misses */
	qsort(src->m, src->n, sizeof(*src->m), cmp_member);
	/* A name given twice: the later member wins, as extraction would. */
	size_t w = 0;
	for (size_t i = 0; i < src->n; i++) {
		if (i + 1 < src->n && streq(src->m[i].name, src->m[i + 1].name)) {
			free(src->m[i].name);
			free(src->m[i].link);
			continue;
		}
		src->m[w++] = src->m[i];
	}
	src->n = w;
	return 0;
}

static int decompress_to_tmpfile(struct cstor_oci_src *src, cstor_error *err)
{
	const char *tmp = getenv("TMPDIR");
	_cleanup_close_ int out = open(tmp && tmp[0] ? tmp : "/var/tmp",
				       O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (out < 0)
		return cstor_error_errno(err, errno, "create a temporary file for %s", src->path);
	_cleanup_decompressor_ cstor_decompressor *d = NULL;
	int r = cstor_decompressor_new(&d, cstor_fd_read, &src->tar_fd, 0, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *buf = malloc(1 << 20);
	if (!buf)
		return cstor_error_set(err, ENOMEM, "out of memory");
	for (;;) {
		ssize_t n = cstor_decompressor_read(d, buf, 1 << 20, err);
		if (n < 0)
			return cstor_error_wrap(err, (int)n, "decompress %s", src->path);
		if (n == 0)
			break;
		if ((r = cstor_write_all(out, buf, (size_t)n)) < 0)
			return cstor_error_errno(err, -r, "write a temporary copy of %s", src->path);
	}
	close(src->tar_fd);
	src->tar_fd = TAKE_FD(out);
	return 0;
}



int cstor_oci_src_open(struct cstor_oci_src **out, const char *path, cstor_error *err)
{
	struct cstor_oci_src *src = calloc(1, sizeof(*src));
	if (!src || !(src->path = strdup(path))) {
		free(src);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	src->dir_fd = src->tar_fd = -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int r = 0;
	struct stat st;
	if (fd < 0)
		r = cstor_error_errno(err, errno, "open %s", path);
	else if (fstat(fd, &st) < 0)
		r = cstor_error_errno(err, errno, "stat %s", path);
	else if (S_ISDIR(st.st_mode))
		src->dir_fd = fd;
	else if (S_ISREG(st.st_mode)) {
		src->tar_fd = fd;
		unsigned char magic[CSTOR_COMPRESSION_MAGIC_MAX];
		ssize_t n = pread(fd, magic, sizeof(magic), 0);
		if (n < 0)
			r = cstor_error_errno(err, errno, "read %s", path);
		else if (cstor_compression_detect(magic, (size_t)n) != CSTOR_COMPRESSION_NONE)
			r = decompress_to_tmpfile(src, err);
		if (r == 0)
			r = index_tar(src, err);
	} else {
		close(fd);
		r = cstor_error_set(err, EINVAL, "%s is neither a directory nor a file", path);
	}
	if (r < 0) {
		cstor_oci_src_free(src);
		return r;
	}
	*out = src;
	return 0;
}

int cstor_oci_src_new_ops(struct cstor_oci_src **out, const char *path,
			  const struct cstor_oci_src_ops *ops, void *ctx, cstor_error *err)
{
	struct cstor_oci_src *src = calloc(1, sizeof(*src));
	if (!src || !(src->path = strdup(path))) {
		free(src);
		ops->free(ctx);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	src->dir_fd = src->tar_fd = -1;
	src->ops = ops;
	src->ops_ctx = ctx;
	*out = src;
	return 0;
}

int cstor_oci_src_set_platform(struct cstor_oci_src *src, const char *platform,
			       cstor_error *err)
{
	free(src->platform);
	src->platform = NULL;
	if (platform && !(src->platform = strdup(platform)))
		return cstor_error_set(err, ENOMEM, "out of memory");
	return 0;
}

const char *cstor_oci_src_platform(const struct cstor_oci_src *src)
{
	return src->platform;
}

static const struct member *find(const struct cstor_oci_src *src, const char *name)
{
	size_t lo = 0, hi = src->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(name, src->m[mid].name);
		if (c == 0)
			return &src->m[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* Follow symlinks and hard links inside the archive (docker save links
 * "<id>/layer.tar" to "../<diffid>.tar"). */
/* The member @name names, following symbolic and hard links within the
 * archive. NULL when there is none; *link (may be NULL) then gets the
 * last link target that led nowhere, or "" when @name itself is absent. */
static const struct member *resolve_link(const struct cstor_oci_src *src, const char *name,
					 const char **link)
{
	char buf[PATH_MAX];
	if (link)
		*link = "";
	if (strlen(name) >= sizeof(buf))
		return NULL;
	strcpy(buf, name);
	clean_path(buf);
	for (int hops = 0; hops < 16; hops++) {
		const struct member *m = find(src, buf);
		if (!m || (m->type != '1' && m->type != '2'))
			return m;
		if (link)
			*link = m->link;
		char next[PATH_MAX];
		if (m->type == '1' || m->link[0] == '/') {
			if (strlen(m->link) >= sizeof(next))
				return NULL;
			strcpy(next, m->link);
		} else {
			const char *slash = strrchr(m->name, '/');
			int dl = slash ? (int)(slash - m->name) : 0;
			if (snprintf(next, sizeof(next), "%.*s/%s", dl, m->name, m->link) >=
			    (int)sizeof(next))
				return NULL;
		}
		clean_path(next);
		strcpy(buf, next);
	}
	return NULL;
}

static const struct member *resolve(const struct cstor_oci_src *src, const char *name)
{
	return resolve_link(src, name, NULL);
}

bool cstor_oci_src_exists(struct cstor_oci_src *src, const char *name)
{
	if (src->ops)
		return src->ops->exists(src->ops_ctx, name);
	if (src->dir_fd >= 0)
		return faccessat(src->dir_fd, name, F_OK, 0) == 0;
	return resolve(src, name) != NULL;
}

int cstor_oci_src_open_member(struct cstor_oci_member *m, struct cstor_oci_src *src,
			      const char *name, cstor_error *err)
{
	*m = (struct cstor_oci_member){ .fd = -1 };
	if (src->ops)
		return src->ops->open_member(src->ops_ctx, m, name, err);
	if (src->dir_fd >= 0) {
		/* Blobs are files of the layout: a symlink out of it (or
		 * "..") would read something the user did not hand over, so
		 * resolution stays beneath the layout directory. */
		struct open_how how = { .flags = O_RDONLY | O_CLOEXEC,
					.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
		int fd = (int)syscall(SYS_openat2, src->dir_fd, name, &how, sizeof(how));
		if (fd < 0 && errno == ENOSYS)
			fd = strstr(name, "..") ? (errno = EXDEV, -1)
						: openat(src->dir_fd, name,
							 O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0 && errno == EXDEV)
			return cstor_error_set(err, EBADMSG, "%s: %s leads out of the layout",
					       src->path, name);
		struct stat st;
		if (fd < 0 && errno == ENOENT)
			return cstor_error_set(err, ENOENT, "%s: %s is missing", src->path, name);
		if (fd < 0)
			return cstor_error_errno(err, errno, "open %s/%s", src->path, name);
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			close(fd);
			return cstor_error_set(err, EBADMSG, "%s: %s is not a regular file", src->path,
					       name);
		}
		*m = (struct cstor_oci_member){ fd, true, 0, (uint64_t)st.st_size,
						(uint64_t)st.st_size };
		return 0;
	}
	const char *link = NULL;
	const struct member *e = resolve_link(src, name, &link);
	if (!e && link[0])
		return cstor_error_set(err, ENOENT,
				       "%s: %s is a link to %s, which is not a file of the archive",
				       src->path, name, link);
	if (!e)
		return cstor_error_set(err, ENOENT, "%s: %s is missing", src->path, name);
	if (e->type != '0' && e->type != '7')
		return cstor_error_set(err, EBADMSG, "%s: %s is not a regular file", src->path, name);
	*m = (struct cstor_oci_member){ src->tar_fd, false, e->off, e->size, e->size };
	return 0;
}

void cstor_oci_member_close(struct cstor_oci_member *m)
{
	if (m->own_fd && m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	if (m->stream)
		m->sops->close(m->stream);
	m->stream = NULL;
	cstor_error_clear(&m->serr);
}

ssize_t cstor_oci_member_peek(struct cstor_oci_member *m, void *buf, size_t len)
{
	if (m->stream) {
		cstor_error_clear(&m->serr);
		return m->sops->peek(m->stream, buf, len, &m->serr);
	}
	ssize_t n;
	do
		n = pread(m->fd, buf, m->size < len ? m->size : len, m->off);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

ssize_t cstor_oci_member_read(void *ctx, void *buf, size_t len)
{
	struct cstor_oci_member *m = ctx;
	if (m->stream) {
		/* The stream knows where the blob ends (and checks it). */
		cstor_error_clear(&m->serr);
		ssize_t n = m->sops->read(m->stream, buf, len, &m->serr);
		if (n > 0)
			m->left -= (uint64_t)n <= m->left ? (uint64_t)n : m->left;
		return n;
	}
	if (m->left == 0)
		return 0;
	if (len > m->left)
		len = (size_t)m->left;
	ssize_t n;
	do
		n = pread(m->fd, buf, len, m->off);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -EBADMSG; /* the file shrank under us */
	m->off += n;
	m->left -= (uint64_t)n;
	return n;
}

int cstor_oci_src_read(char **out, size_t *len, struct cstor_oci_src *src, const char *name,
		       size_t max, cstor_error *err)
{
	if (src->ops)
		return src->ops->read(src->ops_ctx, out, len, name, max, err);
	struct cstor_oci_member m;
	int r = cstor_oci_src_open_member(&m, src, name, err);
	if (r < 0)
		return r;
	if (m.size > max) {
		cstor_oci_member_close(&m);
		return cstor_error_set(err, EBADMSG, "%s: %s is too big (%llu bytes)", src->path,
				       name, (unsigned long long)m.size);
	}
	char *buf = malloc(m.size + 1);
	if (!buf) {
		cstor_oci_member_close(&m);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	size_t done = 0;
	while (done < m.size) {
		ssize_t n = cstor_oci_member_read(&m, buf + done, m.size - done);
		if (n <= 0) {
			free(buf);
			cstor_oci_member_close(&m);
			return cstor_error_errno(err, n < 0 ? (int)-n : EIO, "read %s/%s", src->path,
						 name);
		}
		done += (size_t)n;
	}
	cstor_oci_member_close(&m);
	buf[done] = 0;
	*out = buf;
	*len = done;
	return 0;
}
