/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Decoding of tar header blocks and pax records, with Go's archive/tar
 * rules: which fields each format has, how numbers are parsed, which pax
 * values override what, and what counts as an error.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util/error-internal.h"

#include "tar-header.h"

void cstor_tar__hdr_state_reset(struct tar_hdr_state *hs)
{
	for (size_t i = 0; i < hs->n_allocs; i++)
		free(hs->allocs[i]);
	hs->n_allocs = 0;
	hs->n_pax = 0;
	hs->have_pax = hs->have_long_name = hs->have_long_link = false;
	hs->hdr = (cstor_tar_header){ .name = hs->blk_name, .linkname = hs->blk_link,
				      .uname = hs->blk_uname, .gname = hs->blk_gname };
	hs->blk_name[0] = hs->blk_link[0] = hs->blk_uname[0] = hs->blk_gname[0] = 0;
}

void cstor_tar__hdr_state_free(struct tar_hdr_state *hs)
{
	cstor_tar__hdr_state_reset(hs);
	free(hs->allocs);
	free(hs->pax);
	free(hs->xattrs);
	cstor_tar__buf_free(&hs->pax_buf);
	cstor_tar__buf_free(&hs->long_name);
	cstor_tar__buf_free(&hs->long_link);
}

bool cstor_tar__block_is_zero(const unsigned char blk[CSTOR_TAR_BLOCK])
{
	static const unsigned char zero[CSTOR_TAR_BLOCK];
	return memcmp(blk, zero, CSTOR_TAR_BLOCK) == 0;
}

/* Copy a NUL-terminated (or full-width) field. */
static size_t field_string(char *dst, const unsigned char *f, size_t n)
{
	const unsigned char *nul = memchr(f, 0, n);
	size_t len = nul ? (size_t)(nul - f) : n;
	memcpy(dst, f, len);
	dst[len] = 0;
	return len;
}

static bool parse_octal(const unsigned char *b, size_t n, int64_t *out)
{
	/* Trim spaces and NULs on both ends, cut at the first NUL, then the
	 * rest must be octal digits. */
	while (n > 0 && (b[0] == ' ' || b[0] == 0)) {
		b++;
		n--;
	}
	while (n > 0 && (b[n - 1] == ' ' || b[n - 1] == 0))
		n--;
	*out = 0;
	if (n == 0)
		return true;
	const unsigned char *nul = memchr(b, 0, n);
	if (nul)
		n = (size_t)(nul - b);
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		if (b[i] < '0' || b[i] > '7' || x > (UINT64_MAX >> 3))
			return false;
		x = x << 3 | (uint64_t)(b[i] - '0');
	}
	*out = (int64_t)x;
	return true;
}

static bool parse_numeric(const unsigned char *b, size_t n, int64_t *out)
{
	if (n == 0 || !(b[0] & 0x80))
		return parse_octal(b, n, out);
	/* GNU base-256: two's complement, big endian, top bit is the flag. */
	unsigned char inv = (b[0] & 0x40) ? 0xff : 0;
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = b[i] ^ inv;
		if (i == 0)
			c &= 0x7f;
		if (x >> 56)
			return false;
		x = x << 8 | c;
	}
	if (x >> 63)
		return false;
	*out = inv ? ~(int64_t)x : (int64_t)x;
	return true;
}

static enum cstor_tar_format block_format(const unsigned char *blk)
{
	if (memcmp(blk + 257, "ustar\0", 6) == 0)
		return memcmp(blk + 508, "tar\0", 4) == 0 ? CSTOR_TAR_FORMAT_STAR
							   : CSTOR_TAR_FORMAT_USTAR;
	if (memcmp(blk + 257, "ustar ", 6) == 0 && memcmp(blk + 263, " \0", 2) == 0)
		return CSTOR_TAR_FORMAT_GNU;
	return CSTOR_TAR_FORMAT_V7;
}

int cstor_tar__parse_block(struct tar_hdr_state *hs, const unsigned char blk[CSTOR_TAR_BLOCK], uint64_t at,
			   struct tar_block_info *bi, cstor_error *err)
{
	int64_t stored, usum = 0, ssum = 0;
	for (int i = 0; i < CSTOR_TAR_BLOCK; i++) {
		unsigned char c = (i >= 148 && i < 156) ? ' ' : blk[i];
		usum += c;
		ssum += (signed char)c;
	}
	/* Old Sun tar summed signed bytes; accept either like Go. */
	if (!parse_octal(blk + 148, 8, &stored) || (stored != usum && stored != ssum))
		return cstor_error_set(err, EBADMSG, "invalid tar header checksum at offset %" PRIu64,
				       at);

	cstor_tar_header *h = &hs->hdr;
	enum cstor_tar_format fmt = block_format(blk);
	bool ok = true;
	char prefix[156] = "";

	hs->blk_format = fmt;
	h->typeflag = (char)blk[156];
	field_string(hs->blk_name, blk, 100);
	field_string(hs->blk_link, blk + 157, 100);
	ok &= parse_numeric(blk + 124, 12, &h->size);
	ok &= parse_numeric(blk + 100, 8, &h->mode);
	ok &= parse_numeric(blk + 108, 8, &h->uid);
	ok &= parse_numeric(blk + 116, 8, &h->gid);
	int64_t t = 0;
	ok &= parse_numeric(blk + 136, 12, &t);
	h->mtime = (struct timespec){ .tv_sec = t };
	h->atime = h->ctime = (struct timespec){ 0 };
	h->has_atime = h->has_ctime = false;
	h->devmajor = h->devminor = 0;
	hs->blk_uname[0] = hs->blk_gname[0] = 0;

	if (fmt != CSTOR_TAR_FORMAT_V7) {
		field_string(hs->blk_uname, blk + 265, 32);
		field_string(hs->blk_gname, blk + 297, 32);
		ok &= parse_numeric(blk + 329, 8, &h->devmajor);
		ok &= parse_numeric(blk + 337, 8, &h->devminor);
	}
	if (fmt == CSTOR_TAR_FORMAT_USTAR) {
		field_string(prefix, blk + 345, 155);
	} else if (fmt == CSTOR_TAR_FORMAT_STAR) {
		field_string(prefix, blk + 345, 131);
		ok &= parse_numeric(blk + 476, 12, &t);
		h->atime.tv_sec = t;
		ok &= parse_numeric(blk + 488, 12, &t);
		h->ctime.tv_sec = t;
		h->has_atime = h->has_ctime = true;
	} else if (fmt == CSTOR_TAR_FORMAT_GNU) {
		bool ok2 = true;
		int64_t a = 0, c = 0;
		if (blk[345])
			ok2 &= parse_numeric(blk + 345, 12, &a);
		if (blk[357])
			ok2 &= parse_numeric(blk + 357, 12, &c);
		if (ok2) {
			h->atime.tv_sec = a;
			h->ctime.tv_sec = c;
			h->has_atime = blk[345] != 0;
			h->has_ctime = blk[357] != 0;
		} else {
			/* Go before 1.8 wrote a ustar prefix into these
			 * fields; Go still reads such files that way. */
			size_t n = field_string(prefix, blk + 345, 155);
			for (size_t i = 0; i < n; i++)
				if ((unsigned char)prefix[i] >= 0x80) {
					prefix[0] = 0;
					break;
				}
		}
	}
	if (prefix[0]) {
		size_t pl = strlen(prefix), nl = strlen(hs->blk_name);
		memmove(hs->blk_name + pl + 1, hs->blk_name, nl + 1);
		memcpy(hs->blk_name, prefix, pl);
		hs->blk_name[pl] = '/';
	}
	h->name = hs->blk_name;
	h->linkname = hs->blk_link;
	h->uname = hs->blk_uname;
	h->gname = hs->blk_gname;
	h->format = fmt;
	if (!ok)
		return cstor_error_set(err, EBADMSG,
				       "invalid numeric field in tar header at offset %" PRIu64, at);

	bi->typeflag = h->typeflag;
	bi->size = h->size;
	bool header_only = strchr("123456", h->typeflag) && h->typeflag;
	if (!header_only && h->size < 0)
		return cstor_error_set(err, EBADMSG,
				       "negative size in tar header at offset %" PRIu64, at);
	return 0;
}

bool cstor_tar__parse_dec(const char *s, size_t len, int64_t *out)
{
	bool neg = false;
	size_t i = 0;
	if (len > 0 && (s[0] == '+' || s[0] == '-')) {
		neg = s[0] == '-';
		i = 1;
	}
	if (i == len)
		return false;
	uint64_t x = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (x > (lim - d) / 10)
			return false;
		x = x * 10 + d;
	}
	*out = neg ? (int64_t)(0 - x) : (int64_t)x;
	return true;
}

static bool parse_pax_time(const char *s, size_t len, struct timespec *ts)
{
	const char *dot = memchr(s, '.', len);
	size_t slen = dot ? (size_t)(dot - s) : len;
	int64_t secs;
	if (!cstor_tar__parse_dec(s, slen, &secs))
		return false;
	long nsec = 0;
	if (dot) {
		const char *f = dot + 1;
		size_t flen = len - slen - 1;
		for (size_t i = 0; i < flen; i++) {
			if (f[i] < '0' || f[i] > '9')
				return false;
			if (i < 9)
				nsec = nsec * 10 + (f[i] - '0');
		}
		for (size_t i = flen; i < 9; i++)
			nsec *= 10;
		if (flen && s[0] == '-' && nsec) {
			/* "-1.5" is 1.5 seconds before the epoch. */
			if (secs == INT64_MIN)
				return false;
			secs -= 1;
			nsec = 1000000000L - nsec;
		}
	}
	*ts = (struct timespec){ .tv_sec = secs, .tv_nsec = nsec };
	return true;
}

int cstor_tar__hdr_parse_pax(struct tar_hdr_state *hs, uint64_t at, cstor_error *err)
{
	char *p = (char *)hs->pax_buf.data;
	size_t rem = hs->pax_buf.len;
	hs->n_pax = 0;
	hs->have_pax = true;
	while (rem > 0) {
		char *sp = memchr(p, ' ', rem);
		int64_t n;
		if (!sp || !cstor_tar__parse_dec(p, (size_t)(sp - p), &n) || n < 5 ||
		    (uint64_t)n > rem || sp - p + 1 >= n || p[n - 1] != '\n')
			return cstor_error_set(err, EBADMSG,
					       "invalid pax record in header at offset %" PRIu64, at);
		char *rec = sp + 1, *end = p + n - 1;
		char *eq = memchr(rec, '=', (size_t)(end - rec));
		if (!eq || eq == rec || memchr(rec, 0, (size_t)(eq - rec)))
			return cstor_error_set(err, EBADMSG,
					       "invalid pax record in header at offset %" PRIu64, at);
		*eq = 0;
		*end = 0;
		size_t vlen = (size_t)(end - eq - 1);
		if ((streq(rec, "path") || streq(rec, "linkpath") || streq(rec, "uname") ||
		     streq(rec, "gname")) &&
		    memchr(eq + 1, 0, vlen))
			return cstor_error_set(err, EBADMSG,
					       "NUL byte in pax record %s in header at offset %" PRIu64,
					       rec, at);
		if (hs->n_pax == hs->cap_pax) {
			size_t cap = hs->cap_pax ? hs->cap_pax * 2 : 16;
			void *np = realloc(hs->pax, cap * sizeof(*hs->pax));
			if (!np)
				return cstor_error_set(err, ENOMEM, "out of memory");
			hs->pax = np;
			hs->cap_pax = cap;
		}
		hs->pax[hs->n_pax++] = (struct cstor_tar_pax_record){ rec, eq + 1, vlen };
		p += n;
		rem -= (size_t)n;
	}
	return 0;
}

void cstor_tar__hdr_set_long(struct tar_hdr_state *hs, char typeflag)
{
	struct tbuf *b = typeflag == 'L' ? &hs->long_name : &hs->long_link;
	/* The body is NUL-terminated by the buffer; cut at an inner NUL. */
	bool set = b->data && b->data[0];
	if (typeflag == 'L')
		hs->have_long_name = set;
	else
		hs->have_long_link = set;
}

static int keep_alloc(struct tar_hdr_state *hs, void *p)
{
	if (hs->n_allocs == hs->cap_allocs) {
		size_t cap = hs->cap_allocs ? hs->cap_allocs * 2 : 8;
		void **np = realloc(hs->allocs, cap * sizeof(*np));
		if (!np)
			return -ENOMEM;
		hs->allocs = np;
		hs->cap_allocs = cap;
	}
	hs->allocs[hs->n_allocs++] = p;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* LIBARCHIVE.xattr.<url-encoded name>=<base64>. Go ignores these; we take
 * them (bsdtar writes them next to SCHILY.xattr with the same value).
 * Undecodable ones are ignored. */
static int libarchive_xattr(struct tar_hdr_state *hs, const char *enc,
			    const struct cstor_tar_pax_record *rec, struct cstor_tar_xattr *x)
{
	size_t elen = strlen(enc);
	char *name = malloc(elen + 1);
	unsigned char *val = malloc(rec->value_len / 4 * 3 + 4);
	if (!name || !val || keep_alloc(hs, name) < 0) {
		free(name);
		free(val);
		return -ENOMEM;
	}
	if (keep_alloc(hs, val) < 0) {
		free(val);
		return -ENOMEM;
	}
	size_t o = 0;
	for (size_t i = 0; i < elen; i++) {
		int hi, lo;
		if (enc[i] == '%' && i + 2 < elen && (hi = hexval(enc[i + 1])) >= 0 &&
		    (lo = hexval(enc[i + 2])) >= 0) {
			name[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else
			name[o++] = enc[i];
	}
	name[o] = 0;
	ssize_t vlen = cstor_tar__base64_decode(val, rec->value, rec->value_len, false);
	if (o == 0 || memchr(name, 0, o) || vlen < 0)
		return 0;
	val[vlen] = 0;
	*x = (struct cstor_tar_xattr){ name, val, (size_t)vlen };
	return 1;
}

static int xattr_idx_cmp(const void *a, const void *b, void *base)
{
	const struct cstor_tar_xattr *x = base;
	size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
	int c = strcmp(x[ia].name, x[ib].name);
	return c ? c : (ia < ib ? -1 : ia > ib);
}

/* Repeated names keep their first position and their last value, then
 * empty values go (Go's map semantics followed by mergePAX's skip). */
static int xattrs_normalize(struct tar_hdr_state *hs, size_t n, size_t *out_n)
{
	struct cstor_tar_xattr *x = hs->xattrs;
	if (n > 1) {
		size_t *idx = malloc(n * sizeof(*idx));
		if (!idx)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++)
			idx[i] = i;
		qsort_r(idx, n, sizeof(*idx), xattr_idx_cmp, x);
		for (size_t i = 0; i < n;) {
			size_t j = i + 1;
			while (j < n && streq(x[idx[i]].name, x[idx[j]].name))
				j++;
			if (j - i > 1) {
				x[idx[i]].value = x[idx[j - 1]].value;
				x[idx[i]].value_len = x[idx[j - 1]].value_len;
				for (size_t k = i + 1; k < j; k++)
					x[idx[k]].name = NULL;
			}
			i = j;
		}
		free(idx);
	}
	size_t w = 0;
	for (size_t i = 0; i < n; i++)
		if (x[i].name && x[i].value_len > 0)
			x[w++] = x[i];
	*out_n = w;
	return 0;
}

struct pax_known {
	const struct cstor_tar_pax_record *path, *linkpath, *uname, *gname, *uid, *gid, *size,
		*mtime, *atime, *ctime;
};

/* Collect xattrs and the last record of every key Go maps onto a field. */
static int pax_scan(struct tar_hdr_state *hs, struct pax_known *k, bool *sparse)
{
	size_t nx = 0;
	*k = (struct pax_known){ 0 };
	*sparse = false;
	for (size_t i = 0; i < hs->n_pax; i++) {
		const struct cstor_tar_pax_record *r = &hs->pax[i];
		const char *key = r->key, *rest;
		struct cstor_tar_xattr x;
		bool have_x = false;

		if (streq(key, "path"))
			k->path = r;
		else if (streq(key, "linkpath"))
			k->linkpath = r;
		else if (streq(key, "uname"))
			k->uname = r;
		else if (streq(key, "gname"))
			k->gname = r;
		else if (streq(key, "uid"))
			k->uid = r;
		else if (streq(key, "gid"))
			k->gid = r;
		else if (streq(key, "size"))
			k->size = r;
		else if (streq(key, "mtime"))
			k->mtime = r;
		else if (streq(key, "atime"))
			k->atime = r;
		else if (streq(key, "ctime"))
			k->ctime = r;
		else if (startswith(key, "GNU.sparse."))
			*sparse = true;
		else if ((rest = startswith(key, "SCHILY.xattr."))) {
			x = (struct cstor_tar_xattr){ (char *)rest, (unsigned char *)r->value,
						      r->value_len };
			have_x = true;
		} else if ((rest = startswith(key, "LIBARCHIVE.xattr."))) {
			int ret = libarchive_xattr(hs, rest, r, &x);
			if (ret < 0)
				return ret;
			have_x = ret > 0;
		}
		if (!have_x)
			continue;
		if (nx == hs->cap_xattrs) {
			size_t cap = hs->cap_xattrs ? hs->cap_xattrs * 2 : 8;
			void *np = realloc(hs->xattrs, cap * sizeof(*hs->xattrs));
			if (!np)
				return -ENOMEM;
			hs->xattrs = np;
			hs->cap_xattrs = cap;
		}
		hs->xattrs[nx++] = x;
	}
	int ret = xattrs_normalize(hs, nx, &hs->hdr.n_xattrs);
	if (ret < 0)
		return ret;
	hs->hdr.xattrs = hs->hdr.n_xattrs ? hs->xattrs : NULL;
	hs->hdr.pax = hs->pax;
	hs->hdr.n_pax = hs->n_pax;
	return 0;
}

static int pax_merge(struct tar_hdr_state *hs, const struct pax_known *k, uint64_t at,
		     cstor_error *err)
{
	cstor_tar_header *h = &hs->hdr;
	const struct cstor_tar_pax_record *bad = NULL;
	/* An empty value keeps the ustar field, as in Go. */
#define NONEMPTY(r) ((r) && (r)->value_len > 0)
	if (NONEMPTY(k->path))
		h->name = k->path->value;
	if (NONEMPTY(k->linkpath))
		h->linkname = k->linkpath->value;
	if (NONEMPTY(k->uname))
		h->uname = k->uname->value;
	if (NONEMPTY(k->gname))
		h->gname = k->gname->value;
	if (NONEMPTY(k->uid) && !cstor_tar__parse_dec(k->uid->value, k->uid->value_len, &h->uid))
		bad = k->uid;
	if (NONEMPTY(k->gid) && !cstor_tar__parse_dec(k->gid->value, k->gid->value_len, &h->gid))
		bad = k->gid;
	if (NONEMPTY(k->size) &&
	    !cstor_tar__parse_dec(k->size->value, k->size->value_len, &h->size))
		bad = k->size;
	if (NONEMPTY(k->mtime) && !parse_pax_time(k->mtime->value, k->mtime->value_len, &h->mtime))
		bad = k->mtime;
	if (NONEMPTY(k->atime)) {
		if (!parse_pax_time(k->atime->value, k->atime->value_len, &h->atime))
			bad = k->atime;
		h->has_atime = true;
	}
	if (NONEMPTY(k->ctime)) {
		if (!parse_pax_time(k->ctime->value, k->ctime->value_len, &h->ctime))
			bad = k->ctime;
		h->has_ctime = true;
	}
#undef NONEMPTY
	if (bad)
		return cstor_error_set(err, EBADMSG,
				       "invalid pax record %s=\"%.64s\" for tar header at offset %" PRIu64,
				       bad->key, bad->value, at);
	return 0;
}

int cstor_tar__hdr_finish(struct tar_hdr_state *hs, uint64_t at, int64_t *content,
			  cstor_error *err)
{
	cstor_tar_header *h = &hs->hdr;
	int ret;

	if (hs->have_pax) {
		struct pax_known k;
		bool sparse;
		if ((ret = pax_scan(hs, &k, &sparse)) < 0)
			return cstor_error_set(err, ret, "out of memory");
		if ((ret = pax_merge(hs, &k, at, err)) < 0)
			return ret;
		if (sparse)
			return cstor_error_set(err, ENOTSUP,
					       "sparse files are not supported (entry %s)", h->name);
		h->format = CSTOR_TAR_FORMAT_PAX;
	}
	if (hs->have_long_name)
		h->name = (char *)hs->long_name.data;
	if (hs->have_long_link)
		h->linkname = (char *)hs->long_link.data;
	if (h->typeflag == 0) {
		/* Pre-POSIX archives mark directories by a trailing slash. */
		size_t l = strlen(h->name);
		h->typeflag = l && h->name[l - 1] == '/' ? '5' : '0';
	}
	if (h->typeflag == 'S')
		return cstor_error_set(err, ENOTSUP, "sparse files are not supported (entry %s)",
				       h->name);
	if (strlen(h->name) > CSTOR_TAR_MAX_NAME || strlen(h->linkname) > CSTOR_TAR_MAX_NAME)
		return cstor_error_set(err, EBADMSG,
				       "name longer than %d bytes in tar header at offset %" PRIu64,
				       CSTOR_TAR_MAX_NAME, at);
	if (h->size < 0)
		return cstor_error_set(err, EBADMSG, "negative size %" PRId64 " in entry %s",
				       h->size, h->name);
	if (h->uid < 0 || h->gid < 0)
		return cstor_error_set(err, EBADMSG, "negative uid or gid in entry %s", h->name);
	bool header_only = h->typeflag >= '1' && h->typeflag <= '6';
	*content = header_only ? 0 : h->size;
	return 0;
}

int cstor_tar__hdr_finish_global(struct tar_hdr_state *hs, cstor_error *err)
{
	/* Go returns only the name, typeflag, records and xattrs of a global
	 * header and ignores errors in its values. */
	cstor_tar_header *h = &hs->hdr;
	struct pax_known k;
	bool sparse;
	char *name = h->name;
	int ret = pax_scan(hs, &k, &sparse);
	if (ret < 0)
		return cstor_error_set(err, ret, "out of memory");
	if (k.path && k.path->value_len > 0)
		name = k.path->value;
	cstor_tar_header g = {
		.name = name, .linkname = hs->blk_link, .typeflag = 'g',
		.format = CSTOR_TAR_FORMAT_PAX, .uname = hs->blk_uname, .gname = hs->blk_gname,
		.xattrs = h->xattrs, .n_xattrs = h->n_xattrs, .pax = h->pax, .n_pax = h->n_pax,
	};
	hs->blk_link[0] = hs->blk_uname[0] = hs->blk_gname[0] = 0;
	*h = g;
	return 0;
}
