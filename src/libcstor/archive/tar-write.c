/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tar writer producing the bytes Go's archive/tar writes for headers whose
 * Format is left unspecified (which is how containers/storage's archiver
 * calls it): the same format choice, field encodings, pax record order and
 * pax header names, so that diffs are byte-identical to the Go CLI's.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/error-internal.h"
#include "util/cleanup.h"

#include "tar-internal.h"
#include "tar.h"

#define WRITE_BUF_SIZE (128 * 1024)

struct cstor_tar_writer {
	cstor_tar_write_fn write;
	void *ctx;
	unsigned char *buf;
	size_t len;
	uint64_t offset;
	int64_t remaining;
	unsigned pad;
	int error;
	bool closed;
	char *name; /* current member, for messages */
};

int cstor_tar_writer_new(cstor_tar_writer **out, cstor_tar_write_fn write, void *ctx,
			 cstor_error *err)
{
	if (!out || !write)
		return cstor_error_set(err, EINVAL, "invalid tar writer arguments");
	_cleanup_free_ cstor_tar_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return cstor_error_set(err, ENOMEM, "out of memory");
	w->buf = malloc(WRITE_BUF_SIZE);
	if (!w->buf)
		return cstor_error_set(err, ENOMEM, "out of memory");
	w->write = write;
	w->ctx = ctx;
	*out = TAKE_PTR(w);
	return 0;
}

void cstor_tar_writer_free(cstor_tar_writer *w)
{
	if (!w)
		return;
	free(w->buf);
	free(w->name);
	free(w);
}

uint64_t cstor_tar_writer_offset(const cstor_tar_writer *w)
{
	return w->offset;
}

static int flush(cstor_tar_writer *w, cstor_error *err)
{
	if (w->len == 0)
		return 0;
	int r = w->write(w->ctx, w->buf, w->len);
	if (r < 0) {
		w->error = r;
		return cstor_error_errno(err, r, "write tar stream");
	}
	w->len = 0;
	return 0;
}

static int emit(cstor_tar_writer *w, const void *p, size_t n, cstor_error *err)
{
	if (n == 0)
		return 0;
	if (n >= WRITE_BUF_SIZE) {
		int r = flush(w, err);
		if (r < 0)
			return r;
		r = w->write(w->ctx, p, n);
		if (r < 0) {
			w->error = r;
			return cstor_error_errno(err, r, "write tar stream");
		}
		w->offset += n;
		return 0;
	}
	if (w->len + n > WRITE_BUF_SIZE) {
		int r = flush(w, err);
		if (r < 0)
			return r;
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
	w->offset += n;
	return 0;
}

static const unsigned char zero_block[CSTOR_TAR_BLOCK];

static const char *wname(const cstor_tar_writer *w)
{
	return w->name ? w->name : "";
}

static int check_state(cstor_tar_writer *w, cstor_error *err)
{
	if (w->error)
		return cstor_error_set(err, w->error, "tar writer failed earlier");
	if (w->closed)
		return cstor_error_set(err, EINVAL, "tar writer already closed");
	return 0;
}

/* Finish the previous member: it must be complete, then pad it. */
static int end_member(cstor_tar_writer *w, cstor_error *err)
{
	if (w->remaining > 0)
		return cstor_error_set(err, EINVAL, "tar entry %s: missed writing %" PRId64 " bytes",
				       wname(w), w->remaining);
	int r = emit(w, zero_block, w->pad, err);
	w->pad = 0;
	return r;
}

static bool fits_octal(size_t field, int64_t x)
{
	return x >= 0 && (field >= 22 || x < (INT64_C(1) << ((field - 1) * 3)));
}

static bool is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

/* Go's formatString: copy, NUL-terminate if room, and never leave a
 * truncated name ending in '/' (some readers take that as a directory). */
static void put_string(unsigned char *f, size_t n, const char *s, bool ascii_only)
{
	size_t o = 0;
	size_t full = 0; /* length of s after the ASCII filter */
	for (const char *p = s; *p; p++) {
		if (ascii_only && (unsigned char)*p >= 0x80)
			continue;
		if (o < n)
			f[o++] = (unsigned char)*p;
		full++;
	}
	if (full < n)
		f[full] = 0;
	if (full > n && f[n - 1] == '/') {
		size_t k = n;
		while (k > 0 && f[k - 1] == '/')
			k--;
		f[k] = 0;
	}
}

static void put_octal(unsigned char *f, size_t n, int64_t x)
{
	if (!fits_octal(n, x))
		x = 0;
	char tmp[32];
	snprintf(tmp, sizeof(tmp), "%0*" PRIo64, (int)(n - 1), (uint64_t)x);
	memcpy(f, tmp, n - 1);
	f[n - 1] = 0;
}

static void set_checksum(unsigned char *blk)
{
	memset(blk + 148, ' ', 8);
	unsigned sum = 0;
	for (int i = 0; i < CSTOR_TAR_BLOCK; i++)
		sum += blk[i];
	char tmp[16];
	snprintf(tmp, sizeof(tmp), "%06o", sum);
	memcpy(blk + 148, tmp, 6);
	blk[154] = 0;
	blk[155] = ' ';
}

static void set_ustar_magic(unsigned char *blk)
{
	memcpy(blk + 257, "ustar\0" "00", 8);
}

/* Go's splitUSTARPath. */
static bool split_ustar(const char *name, size_t *prefix_len)
{
	size_t len = strlen(name), l = len;
	if (len <= 100 || !is_ascii(name))
		return false;
	if (l > 156)
		l = 156;
	else if (name[l - 1] == '/')
		l--;
	size_t i = l;
	while (i > 0 && name[i - 1] != '/')
		i--;
	if (i == 0)
		return false;
	i--; /* index of the slash */
	size_t nlen = len - i - 1;
	if (i == 0 || nlen > 100 || nlen == 0 || i > 155)
		return false;
	*prefix_len = i;
	return true;
}

struct rec {
	char *key;
	const char *value;
	size_t value_len;
	bool own_value;
};

struct recs {
	struct rec *v;
	size_t n, cap;
};

static void recs_free(struct recs *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].key);
		if (r->v[i].own_value)
			free((char *)r->v[i].value);
	}
	free(r->v);
}

static int recs_add(struct recs *r, const char *prefix, const char *key, const char *value,
		    size_t value_len, bool own_value)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 8;
		struct rec *nv = realloc(r->v, cap * sizeof(*nv));
		if (!nv)
			goto oom;
		r->v = nv;
		r->cap = cap;
	}
	char *k;
	if (asprintf(&k, "%s%s", prefix, key) < 0)
		goto oom;
	r->v[r->n++] = (struct rec){ k, value, value_len, own_value };
	return 0;
oom:
	if (own_value)
		free((char *)value);
	return -ENOMEM;
}

static int recs_add_num(struct recs *r, const char *key, int64_t v)
{
	char *s;
	if (asprintf(&s, "%" PRId64, v) < 0)
		return -ENOMEM;
	return recs_add(r, "", key, s, strlen(s), true);
}

static int rec_cmp(const void *a, const void *b)
{
	return strcmp(((const struct rec *)a)->key, ((const struct rec *)b)->key);
}

static const struct cstor_tar_pax_record *find_pax(const cstor_tar_header *h, const char *key)
{
	const struct cstor_tar_pax_record *found = NULL;
	for (size_t i = 0; i < h->n_pax; i++)
		if (streq(h->pax[i].key, key))
			found = &h->pax[i];
	return found;
}

static bool is_basic_key(const char *k)
{
	static const char *const basic[] = { "path", "linkpath", "size", "uid", "gid", "uname",
					     "gname", "mtime", "atime", "ctime" };
	for (size_t i = 0; i < ELEMENTSOF(basic); i++)
		if (streq(k, basic[i]))
			return true;
	return startswith(k, "GNU.sparse.") != NULL;
}

static int write_pax_header(cstor_tar_writer *w, const char *name, struct recs *recs,
			    cstor_error *err)
{
	struct tbuf data = { 0 };
	int r = 0;

	qsort(recs->v, recs->n, sizeof(*recs->v), rec_cmp);
	for (size_t i = 0; i < recs->n && r == 0; i++) {
		const struct rec *e = &recs->v[i];
		size_t base = strlen(e->key) + e->value_len + 3, size = base;
		char num[32];
		int nl = snprintf(num, sizeof(num), "%zu", size);
		size += (size_t)nl;
		nl = snprintf(num, sizeof(num), "%zu", size);
		if ((size_t)nl + base != size)
			nl = snprintf(num, sizeof(num), "%zu", (size_t)nl + base);
		if (cstor_tar__buf_append(&data, num, (size_t)nl) < 0 ||
		    cstor_tar__buf_putc(&data, ' ') < 0 ||
		    cstor_tar__buf_append(&data, e->key, strlen(e->key)) < 0 ||
		    cstor_tar__buf_putc(&data, '=') < 0 ||
		    cstor_tar__buf_append(&data, e->value, e->value_len) < 0 ||
		    cstor_tar__buf_putc(&data, '\n') < 0)
			r = cstor_error_set(err, ENOMEM, "out of memory");
	}
	if (r == 0 && data.len > CSTOR_TAR_MAX_SPECIAL)
		r = cstor_error_set(err, EINVAL, "tar entry %s: pax header too large", name);
	if (r < 0) {
		cstor_tar__buf_free(&data);
		return r;
	}

	/* path.Join(dir, "PaxHeaders.0", base) of path.Split(name). */
	const char *slash = strrchr(name, '/');
	size_t dlen = slash ? (size_t)(slash - name) + 1 : 0;
	_cleanup_free_ char *joined = NULL;
	if (asprintf(&joined, "%.*s%sPaxHeaders.0%s%s", (int)dlen, name, dlen ? "/" : "",
		     name[dlen] ? "/" : "", name + dlen) < 0) {
		cstor_tar__buf_free(&data);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	size_t clen;
	_cleanup_free_ char *pname = cstor_tar__path_clean(joined, strlen(joined), &clen);
	if (!pname) {
		cstor_tar__buf_free(&data);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	/* toASCII, cut to 100 bytes, then trim trailing slashes. */
	size_t o = 0;
	for (size_t i = 0; i < clen; i++)
		if ((unsigned char)pname[i] < 0x80 && o < 100)
			pname[o++] = pname[i];
	while (o > 0 && pname[o - 1] == '/')
		o--;
	pname[o] = 0;

	unsigned char blk[CSTOR_TAR_BLOCK] = { 0 };
	put_string(blk, 100, pname, false);
	put_octal(blk + 100, 8, 0);
	put_octal(blk + 108, 8, 0);
	put_octal(blk + 116, 8, 0);
	put_octal(blk + 124, 12, (int64_t)data.len);
	put_octal(blk + 136, 12, 0);
	blk[156] = 'x';
	set_ustar_magic(blk);
	set_checksum(blk);
	unsigned pad = (unsigned)(-data.len & (CSTOR_TAR_BLOCK - 1));
	if ((r = emit(w, blk, sizeof(blk), err)) >= 0 && (r = emit(w, data.data, data.len, err)) >= 0)
		r = emit(w, zero_block, pad, err);
	cstor_tar__buf_free(&data);
	return r;
}

/* The template Go fills for both USTAR and PAX main headers. */
static void fill_block(unsigned char *blk, const cstor_tar_header *h, char typeflag,
		       const char *name, int64_t mtime, bool ascii_only)
{
	put_string(blk, 100, name, ascii_only);
	put_string(blk + 157, 100, h->linkname ? h->linkname : "", ascii_only);
	put_octal(blk + 100, 8, h->mode);
	put_octal(blk + 108, 8, h->uid);
	put_octal(blk + 116, 8, h->gid);
	put_octal(blk + 124, 12, h->size);
	put_octal(blk + 136, 12, mtime);
	blk[156] = (unsigned char)typeflag;
	put_string(blk + 265, 32, h->uname ? h->uname : "", ascii_only);
	put_string(blk + 297, 32, h->gname ? h->gname : "", ascii_only);
	put_octal(blk + 329, 8, h->devmajor);
	put_octal(blk + 337, 8, h->devminor);
	set_ustar_magic(blk);
}

static int check_string(struct recs *recs, const cstor_tar_header *h, const char *s,
			size_t field, const char *key, bool *ustar)
{
	if (!is_ascii(s) || strlen(s) > field) {
		size_t pl;
		if (!streq(key, "path") || !split_ustar(s, &pl))
			*ustar = false;
		return recs_add(recs, "", key, s, strlen(s), false);
	}
	const struct cstor_tar_pax_record *p = find_pax(h, key);
	if (p && p->value_len == strlen(s) && memcmp(p->value, s, p->value_len) == 0)
		return recs_add(recs, "", key, s, strlen(s), false);
	return 0;
}

static int check_number(struct recs *recs, const cstor_tar_header *h, int64_t v, size_t field,
			const char *key, bool *ustar, bool *pax)
{
	if (!fits_octal(field, v)) {
		*ustar = false;
		if (!key) {
			*pax = false;
			return 0;
		}
		return recs_add_num(recs, key, v);
	}
	const struct cstor_tar_pax_record *p = key ? find_pax(h, key) : NULL;
	char num[32];
	if (p && (size_t)snprintf(num, sizeof(num), "%" PRId64, v) == p->value_len &&
	    memcmp(num, p->value, p->value_len) == 0)
		return recs_add_num(recs, key, v);
	return 0;
}

int cstor_tar_writer_header(cstor_tar_writer *w, const cstor_tar_header *h, cstor_error *err)
{
	int r = check_state(w, err);
	if (r < 0)
		return r;
	if (!h || !h->name)
		return cstor_error_set(err, EINVAL, "tar header without a name");
	if ((r = end_member(w, err)) < 0)
		return r;

	const char *name = h->name, *link = h->linkname ? h->linkname : "";
	const char *uname = h->uname ? h->uname : "", *gname = h->gname ? h->gname : "";
	size_t nlen = strlen(name);
	char tf = h->typeflag;
	if (tf == 0)
		tf = nlen && name[nlen - 1] == '/' ? '5' : '0';
	bool header_only = tf >= '1' && tf <= '6';
	if (strchr("0346S", tf) && nlen && name[nlen - 1] == '/')
		return cstor_error_set(err, EINVAL, "tar entry %s: filename may not have trailing slash",
				       name);
	if (strchr("xgLK", tf))
		return cstor_error_set(err, EINVAL, "tar entry %s: cannot write '%c' headers", name, tf);
	if (!header_only && h->size < 0)
		return cstor_error_set(err, EINVAL, "tar entry %s: negative size", name);

	bool ustar = true, pax = true;
	int64_t mtime = h->mtime.tv_sec;
	_cleanup_(recs_free) struct recs recs = { 0 };
	if ((r = check_string(&recs, h, name, 100, "path", &ustar)) < 0 ||
	    (r = check_string(&recs, h, link, 100, "linkpath", &ustar)) < 0 ||
	    (r = check_string(&recs, h, uname, 32, "uname", &ustar)) < 0 ||
	    (r = check_string(&recs, h, gname, 32, "gname", &ustar)) < 0 ||
	    (r = check_number(&recs, h, h->mode, 8, NULL, &ustar, &pax)) < 0 ||
	    (r = check_number(&recs, h, h->uid, 8, "uid", &ustar, &pax)) < 0 ||
	    (r = check_number(&recs, h, h->gid, 8, "gid", &ustar, &pax)) < 0 ||
	    (r = check_number(&recs, h, h->size, 12, "size", &ustar, &pax)) < 0 ||
	    (r = check_number(&recs, h, h->devmajor, 8, NULL, &ustar, &pax)) < 0 ||
	    (r = check_number(&recs, h, h->devminor, 8, NULL, &ustar, &pax)) < 0 ||
	    (r = check_number(&recs, h, mtime, 12, "mtime", &ustar, &pax)) < 0)
		return cstor_error_set(err, r, "out of memory");

	for (size_t i = 0; i < h->n_xattrs; i++) {
		if (strchr(h->xattrs[i].name, '='))
			return cstor_error_set(err, EINVAL, "tar entry %s: invalid xattr name %s",
					       name, h->xattrs[i].name);
		if (recs_add(&recs, "SCHILY.xattr.", h->xattrs[i].name,
			     (const char *)h->xattrs[i].value, h->xattrs[i].value_len, false) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
		ustar = false;
	}
	/* Backwards: with repeated keys the last one wins, as in Go's map. */
	for (size_t i = h->n_pax; i-- > 0;) {
		const char *k = h->pax[i].key;
		bool exists = false;
		for (size_t j = 0; j < recs.n && !exists; j++)
			exists = streq(recs.v[j].key, k);
		ustar = false;
		if (exists || is_basic_key(k))
			continue;
		if (!*k || strchr(k, '='))
			return cstor_error_set(err, EINVAL, "tar entry %s: invalid pax record key", name);
		if (recs_add(&recs, "", k, h->pax[i].value, h->pax[i].value_len, false) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
	}

	unsigned char blk[CSTOR_TAR_BLOCK] = { 0 };
	if (ustar) {
		size_t pl = 0;
		const char *base = name;
		if (split_ustar(name, &pl))
			base = name + pl + 1;
		fill_block(blk, h, tf, base, mtime, false);
		if (pl)
			memcpy(blk + 345, name, pl);
	} else if (pax) {
		if (recs.n && (r = write_pax_header(w, name, &recs, err)) < 0)
			return r;
		fill_block(blk, h, tf, name, mtime, true);
	} else
		return cstor_error_set(err, EINVAL,
				       "tar entry %s: mode or device numbers cannot be encoded", name);
	set_checksum(blk);
	if ((r = emit(w, blk, sizeof(blk), err)) < 0)
		return r;

	int64_t content = header_only ? 0 : h->size;
	w->remaining = content;
	w->pad = (unsigned)(-(uint64_t)content & (CSTOR_TAR_BLOCK - 1));
	free(w->name);
	w->name = strdup(name);
	return 0;
}

int cstor_tar_writer_data(cstor_tar_writer *w, const void *buf, size_t len, cstor_error *err)
{
	int r = check_state(w, err);
	if (r < 0)
		return r;
	if ((uint64_t)len > (uint64_t)w->remaining)
		return cstor_error_set(err, EINVAL, "tar entry %s: write too long",
				       wname(w));
	if ((r = emit(w, buf, len, err)) < 0)
		return r;
	w->remaining -= (int64_t)len;
	return 0;
}

int cstor_tar_writer_data_fd(cstor_tar_writer *w, int fd, cstor_error *err)
{
	int r = check_state(w, err);
	if (r < 0)
		return r;
	for (;;) {
		if (w->len == WRITE_BUF_SIZE && (r = flush(w, err)) < 0)
			return r;
		/* Read one byte past the end to notice a file that grew. */
		size_t want = MIN(WRITE_BUF_SIZE - w->len, (uint64_t)w->remaining + 1);
		ssize_t n = read(fd, w->buf + w->len, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cstor_error_errno(err, errno, "read content of %s", wname(w));
		if (n == 0)
			break;
		if ((uint64_t)n > (uint64_t)w->remaining)
			return cstor_error_set(err, EIO, "tar entry %s: file grew while archiving",
					       wname(w));
		w->len += (size_t)n;
		w->offset += (size_t)n;
		w->remaining -= n;
	}
	if (w->remaining > 0)
		return cstor_error_set(err, EIO, "tar entry %s: file shrank while archiving", wname(w));
	return 0;
}

int cstor_tar_writer_close(cstor_tar_writer *w, cstor_error *err)
{
	int r = check_state(w, err);
	if (r < 0)
		return r;
	if ((r = end_member(w, err)) < 0 || (r = emit(w, zero_block, CSTOR_TAR_BLOCK, err)) < 0 ||
	    (r = emit(w, zero_block, CSTOR_TAR_BLOCK, err)) < 0 || (r = flush(w, err)) < 0)
		return r;
	w->closed = true;
	return 0;
}
