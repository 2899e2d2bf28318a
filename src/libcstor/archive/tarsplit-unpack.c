/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tar-split unpacker: gunzip, split the stream into JSON values (any
 * whitespace between them, like Go's json.Decoder), and decode each into an
 * entry with encoding/json's rules for tar-split's storage.Entry: unknown
 * keys are skipped, keys match case-insensitively, null leaves a field
 * unset, []byte fields are padded standard base64, integers must be plain
 * integers, invalid UTF-8 in strings becomes U+FFFD.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "util/error-internal.h"
#include "util/cleanup.h"

#include "tar-header.h"
#include "tar-internal.h"
#include "tarsplit.h"

#define IN_SIZE (128 * 1024)
#define INFLATE_CHUNK (256 * 1024)
#define MAX_DEPTH 1000

struct cstor_tarsplit_unpacker {
	cstor_tar_read_fn read;
	void *ctx;
	z_stream z;
	bool z_init, in_eof, any_input, member_end, stream_done;
	unsigned char *in;
	int error;

	struct tbuf d; /* decompressed, not yet parsed */
	size_t dpos;   /* start of the next value */
	size_t scan;   /* how far the current value was scanned */
	int depth;
	bool started, in_str, esc;

	size_t index; /* values decoded so far */
	struct tbuf name, payload, tmp;
	struct cstor_tarsplit_entry e;
	struct tar_strset seen;
};

static int ufail(cstor_tarsplit_unpacker *u, cstor_error *err, int code, const char *fmt, ...)
	_printf_(4, 5);

static int ufail(cstor_tarsplit_unpacker *u, cstor_error *err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = cstor_error_setv(err, code, fmt, ap);
	va_end(ap);
	u->error = r;
	return r;
}

int cstor_tarsplit_unpacker_new(cstor_tarsplit_unpacker **out, cstor_tar_read_fn read,
				void *ctx, cstor_error *err)
{
	if (!out || !read)
		return cstor_error_set(err, EINVAL, "invalid arguments");
	cstor_tarsplit_unpacker *u = calloc(1, sizeof(*u));
	if (!u || !(u->in = malloc(IN_SIZE))) {
		free(u);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	if (inflateInit2(&u->z, 15 + 16) != Z_OK) {
		free(u->in);
		free(u);
		return cstor_error_set(err, ENOMEM, "cannot initialise gzip decompression");
	}
	u->z_init = true;
	u->read = read;
	u->ctx = ctx;
	*out = u;
	return 0;
}

void cstor_tarsplit_unpacker_free(cstor_tarsplit_unpacker *u)
{
	if (!u)
		return;
	if (u->z_init)
		inflateEnd(&u->z);
	free(u->in);
	cstor_tar__buf_free(&u->d);
	cstor_tar__buf_free(&u->name);
	cstor_tar__buf_free(&u->payload);
	cstor_tar__buf_free(&u->tmp);
	cstor_tar__strset_free(&u->seen);
	free(u);
}

/* Append decompressed bytes to u->d: >0 added, 0 at the end of the last
 * gzip member, or -errno. */
static ssize_t inflate_more(cstor_tarsplit_unpacker *u, cstor_error *err)
{
	if (u->stream_done)
		return 0;
	if (cstor_tar__buf_reserve(&u->d, INFLATE_CHUNK) < 0)
		return ufail(u, err, ENOMEM, "out of memory");
	for (;;) {
		if (u->z.avail_in == 0 && !u->in_eof) {
			ssize_t n = u->read(u->ctx, u->in, IN_SIZE);
			if (n == -EINTR)
				continue;
			if (n < 0)
				return ufail(u, err, (int)n, "read tar-split data: %s", strerror((int)-n));
			if (n > IN_SIZE)
				return ufail(u, err, EIO, "read callback returned too much");
			if (n == 0)
				u->in_eof = true;
			else
				u->any_input = true;
			u->z.next_in = u->in;
			u->z.avail_in = (uInt)n;
		}
		if (u->member_end) {
			/* Another gzip member may follow, as Go's reader allows. */
			if (u->z.avail_in == 0) {
				if (!u->in_eof)
					continue;
				u->stream_done = true;
				return 0;
			}
			inflateReset(&u->z);
			u->member_end = false;
		}
		if (u->z.avail_in == 0 && u->in_eof)
			return ufail(u, err, EBADMSG,
				     u->any_input ? "corrupt tar-split data: truncated gzip stream"
						  : "corrupt tar-split data: empty file");
		size_t space = u->d.cap - u->d.len - 1;
		u->z.next_out = u->d.data + u->d.len;
		u->z.avail_out = (uInt)MIN(space, (size_t)INFLATE_CHUNK);
		uInt before = u->z.avail_out;
		int zr = inflate(&u->z, Z_NO_FLUSH);
		size_t produced = before - u->z.avail_out;
		u->d.len += produced;
		if (zr == Z_STREAM_END)
			u->member_end = true;
		else if (zr != Z_OK && zr != Z_BUF_ERROR)
			return ufail(u, err, EBADMSG, "corrupt tar-split data: gzip: %s",
				     u->z.msg ? u->z.msg : "invalid data");
		if (produced > 0)
			return (ssize_t)produced;
	}
}

static bool is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Find the next complete JSON value in u->d: 1 with [*start, *end), 0 at
 * the clean end of the stream, or -errno. */
static int next_value(cstor_tarsplit_unpacker *u, size_t *start, size_t *end, cstor_error *err)
{
	for (;;) {
		const unsigned char *d = u->d.data;
		while (u->scan < u->d.len) {
			unsigned char c = d[u->scan];
			if (!u->started) {
				if (is_ws(c)) {
					u->dpos = ++u->scan;
					continue;
				}
				if (c == 'n') {
					if (u->d.len - u->scan < 4)
						break;
					*start = u->scan;
					*end = u->scan + 4;
					u->scan = u->dpos = *end;
					return 1;
				}
				if (c != '{')
					return ufail(u, err, EBADMSG,
						     "corrupt tar-split data: entry %zu is not an object",
						     u->index);
				u->started = true;
				u->depth = 1;
				u->scan++;
				continue;
			}
			if (u->in_str) {
				if (u->esc) {
					u->esc = false;
					u->scan++;
					continue;
				}
				size_t i = u->scan;
				while (i < u->d.len && d[i] != '"' && d[i] != '\\')
					i++;
				u->scan = i;
				if (i == u->d.len)
					break;
				if (d[i] == '\\')
					u->esc = true;
				else
					u->in_str = false;
				u->scan++;
				continue;
			}
			u->scan++;
			if (c == '"')
				u->in_str = true;
			else if (c == '{' || c == '[') {
				if (++u->depth > MAX_DEPTH)
					return ufail(u, err, EBADMSG,
						     "corrupt tar-split data: entry %zu nested too deeply",
						     u->index);
			} else if ((c == '}' || c == ']') && --u->depth == 0) {
				*start = u->dpos;
				*end = u->scan;
				u->dpos = u->scan;
				u->started = false;
				return 1;
			}
		}
		if (u->scan - u->dpos > CSTOR_TARSPLIT_MAX_ENTRY)
			return ufail(u, err, EBADMSG,
				     "corrupt tar-split data: entry %zu larger than %d bytes", u->index,
				     CSTOR_TARSPLIT_MAX_ENTRY);
		/* Drop what was parsed before reading more. */
		if (u->dpos > 0) {
			memmove(u->d.data, u->d.data + u->dpos, u->d.len - u->dpos);
			u->d.len -= u->dpos;
			u->scan -= u->dpos;
			u->dpos = 0;
		}
		ssize_t n = inflate_more(u, err);
		if (n < 0)
			return (int)n;
		if (n == 0) {
			if (u->d.len > u->dpos)
				return ufail(u, err, EBADMSG,
					     "corrupt tar-split data: entry %zu is truncated", u->index);
			return 0;
		}
	}
}

/* ---- JSON decoding of one value ---------------------------------------- */

struct jp {
	const char *p, *end;
};

static void jws(struct jp *j)
{
	while (j->p < j->end && is_ws((unsigned char)*j->p))
		j->p++;
}

static bool jlit(struct jp *j, const char *lit)
{
	size_t l = strlen(lit);
	if ((size_t)(j->end - j->p) < l || memcmp(j->p, lit, l) != 0)
		return false;
	j->p += l;
	return true;
}

static int hex4(const char *s)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		int c = s[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v << 4 | d;
	}
	return v;
}

static int put_utf8(struct tbuf *b, uint32_t cp)
{
	char o[4];
	size_t n;
	if (cp < 0x80) {
		o[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		o[0] = (char)(0xf0 | cp >> 18);
		o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return cstor_tar__buf_append(b, o, n);
}

/* Decode a JSON string into @out (NUL-terminated). -EBADMSG on a syntax
 * error, -ENOMEM. */
static int jstring(struct jp *j, struct tbuf *out)
{
	out->len = 0;
	if (cstor_tar__buf_reserve(out, 0) < 0)
		return -ENOMEM;
	out->data[0] = 0;
	if (j->p >= j->end || *j->p != '"')
		return -EBADMSG;
	j->p++;
	for (;;) {
		const char *s = j->p;
		while (j->p < j->end && *j->p != '"' && *j->p != '\\' && (unsigned char)*j->p >= 0x20)
			j->p++;
		/* Copy valid UTF-8 runs; each invalid byte becomes U+FFFD. */
		const char *q = s;
		while (q < j->p) {
			const char *r = q;
			while (r < j->p && (unsigned char)*r < 0x80)
				r++;
			size_t k = 1;
			if (r < j->p) {
				unsigned char c = (unsigned char)*r;
				k = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
				if ((size_t)(j->p - r) < k || !cstor_tar__utf8_valid(r, k))
					k = 0;
			}
			if (cstor_tar__buf_append(out, q, (size_t)(r - q)) < 0)
				return -ENOMEM;
			if (r == j->p)
				break;
			if (k ? cstor_tar__buf_append(out, r, k) : put_utf8(out, 0xfffd))
				return -ENOMEM;
			q = r + (k ? k : 1);
		}
		if (j->p >= j->end || (unsigned char)*j->p < 0x20)
			return -EBADMSG;
		if (*j->p == '"') {
			j->p++;
			return 0;
		}
		/* Backslash escape. */
		if (j->end - j->p < 2)
			return -EBADMSG;
		char c = j->p[1];
		j->p += 2;
		const char *simple = strchr("\"\\/bfnrt", c);
		if (c && simple) {
			static const char map[] = "\"\\/\b\f\n\r\t";
			if (cstor_tar__buf_putc(out, map[simple - "\"\\/bfnrt"]) < 0)
				return -ENOMEM;
			continue;
		}
		if (c != 'u' || j->end - j->p < 4)
			return -EBADMSG;
		int cp = hex4(j->p);
		if (cp < 0)
			return -EBADMSG;
		j->p += 4;
		if (cp >= 0xd800 && cp < 0xdc00 && j->end - j->p >= 6 && j->p[0] == '\\' &&
		    j->p[1] == 'u') {
			int lo = hex4(j->p + 2);
			if (lo >= 0xdc00 && lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				j->p += 6;
			}
		}
		if (cp >= 0xd800 && cp < 0xe000)
			cp = 0xfffd; /* lone surrogate, as Go */
		if (put_utf8(out, (uint32_t)cp) < 0)
			return -ENOMEM;
	}
}

/* A JSON number that must be an integer (Go refuses 1.0 or 1e3 for int). */
static int jint(struct jp *j, int64_t *out)
{
	const char *s = j->p;
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p >= j->end || *j->p < '0' || *j->p > '9')
		return -EBADMSG;
	if (*j->p == '0' && j->p + 1 < j->end && j->p[1] >= '0' && j->p[1] <= '9')
		return -EBADMSG;
	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	if (j->p < j->end && (*j->p == '.' || *j->p == 'e' || *j->p == 'E'))
		return -EBADMSG;
	return cstor_tar__parse_dec(s, (size_t)(j->p - s), out) ? 0 : -EBADMSG;
}

static int jskip(struct jp *j, struct tbuf *tmp, int depth)
{
	jws(j);
	if (j->p >= j->end || depth > MAX_DEPTH)
		return -EBADMSG;
	char c = *j->p;
	if (c == '"')
		return jstring(j, tmp);
	if (c == '{' || c == '[') {
		char close = c == '{' ? '}' : ']';
		j->p++;
		jws(j);
		if (j->p < j->end && *j->p == close) {
			j->p++;
			return 0;
		}
		for (;;) {
			int r;
			if (c == '{') {
				jws(j);
				if ((r = jstring(j, tmp)) < 0)
					return r;
				jws(j);
				if (j->p >= j->end || *j->p++ != ':')
					return -EBADMSG;
			}
			if ((r = jskip(j, tmp, depth + 1)) < 0)
				return r;
			jws(j);
			if (j->p >= j->end)
				return -EBADMSG;
			if (*j->p == close) {
				j->p++;
				return 0;
			}
			if (*j->p++ != ',')
				return -EBADMSG;
		}
	}
	if (jlit(j, "true") || jlit(j, "false") || jlit(j, "null"))
		return 0;
	/* Any JSON number. */
	if (*j->p == '-')
		j->p++;
	if (j->p >= j->end || *j->p < '0' || *j->p > '9')
		return -EBADMSG;
	if (*j->p == '0')
		j->p++;
	else
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return -EBADMSG;
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return -EBADMSG;
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	return 0;
}

/* A []byte field: null keeps it nil, a string is standard base64. */
static int jbytes(struct jp *j, struct tbuf *tmp, struct tbuf *out, bool *is_null)
{
	if (jlit(j, "null")) {
		*is_null = true;
		return 0;
	}
	int r = jstring(j, tmp);
	if (r < 0)
		return r;
	out->len = 0;
	if (cstor_tar__buf_reserve(out, tmp->len / 4 * 3 + 3) < 0)
		return -ENOMEM;
	ssize_t n = cstor_tar__base64_decode(out->data, (const char *)tmp->data, tmp->len, true);
	if (n < 0)
		return -EBADMSG;
	out->len = (size_t)n;
	out->data[n] = 0;
	*is_null = false;
	return 0;
}

static int jnull_or_int(struct jp *j, int64_t *v)
{
	return jlit(j, "null") ? 0 : jint(j, v);
}

static int decode_entry(cstor_tarsplit_unpacker *u, const char *s, size_t len)
{
	struct jp j = { s, s + len };
	struct cstor_tarsplit_entry *e = &u->e;
	bool name_set = false, name_raw_null = true, payload_null = true;
	struct tbuf name_raw = { 0 };
	int r = 0;

	*e = (struct cstor_tarsplit_entry){ 0 };
	u->name.len = 0;
	if (jlit(&j, "null"))
		goto done; /* decodes to the zero Entry: ignored */
	if (j.p >= j.end || *j.p++ != '{')
		return -EBADMSG;
	jws(&j);
	if (j.p < j.end && *j.p == '}') {
		j.p++;
		goto done;
	}
	for (;;) {
		jws(&j);
		if ((r = jstring(&j, &u->tmp)) < 0)
			goto out;
		/* Go matches keys case-insensitively; a key with a NUL in it
		 * matches nothing. */
		char key[16] = "";
		if (u->tmp.len < sizeof(key) && !memchr(u->tmp.data, 0, u->tmp.len))
			memcpy(key, u->tmp.data, u->tmp.len + 1);
		jws(&j);
		if (j.p >= j.end || *j.p++ != ':') {
			r = -EBADMSG;
			goto out;
		}
		jws(&j);
		if (!strcasecmp(key, "type"))
			r = jnull_or_int(&j, &e->type);
		else if (!strcasecmp(key, "size"))
			r = jnull_or_int(&j, &e->size);
		else if (!strcasecmp(key, "position"))
			r = jnull_or_int(&j, &e->position);
		else if (!strcasecmp(key, "name")) {
			if (!jlit(&j, "null")) {
				r = jstring(&j, &u->name);
				name_set = true;
			}
		} else if (!strcasecmp(key, "name_raw"))
			r = jbytes(&j, &u->tmp, &name_raw, &name_raw_null);
		else if (!strcasecmp(key, "payload"))
			r = jbytes(&j, &u->tmp, &u->payload, &payload_null);
		else
			r = jskip(&j, &u->tmp, 1);
		if (r < 0)
			goto out;
		jws(&j);
		if (j.p >= j.end) {
			r = -EBADMSG;
			goto out;
		}
		if (*j.p == '}') {
			j.p++;
			break;
		}
		if (*j.p++ != ',') {
			r = -EBADMSG;
			goto out;
		}
	}
done:
	if (!name_raw_null && name_raw.len > 0) {
		/* GetName(): name_raw wins when not empty. */
		cstor_tar__buf_free(&u->name);
		u->name = name_raw;
		name_raw = (struct tbuf){ 0 };
	} else if (!name_set)
		u->name.len = 0;
	if (cstor_tar__buf_reserve(&u->name, 0) < 0) {
		r = -ENOMEM;
		goto out;
	}
	u->name.data[u->name.len] = 0;
	e->name = (const char *)u->name.data;
	e->name_len = u->name.len;
	e->payload = payload_null ? NULL : u->payload.data;
	e->payload_len = payload_null ? 0 : u->payload.len;
	if (e->payload && !e->payload_len)
		e->payload = (const unsigned char *)""; /* "" is not null */
	r = 0;
out:
	cstor_tar__buf_free(&name_raw);
	return r;
}

int cstor_tarsplit_unpacker_next(cstor_tarsplit_unpacker *u,
				 const struct cstor_tarsplit_entry **out, cstor_error *err)
{
	size_t start = 0, end = 0;
	*out = NULL;
	if (u->error)
		return cstor_error_set(err, u->error, "tar-split unpacker failed earlier");
	int r = next_value(u, &start, &end, err);
	if (r <= 0)
		return r;
	r = decode_entry(u, (const char *)u->d.data + start, end - start);
	if (r == -ENOMEM)
		return ufail(u, err, ENOMEM, "out of memory");
	if (r < 0)
		return ufail(u, err, EBADMSG, "corrupt tar-split data: invalid JSON in entry %zu",
			     u->index);
	u->index++;
	if (u->e.type == CSTOR_TARSPLIT_FILE) {
		size_t clen;
		_cleanup_free_ char *clean = cstor_tar__path_clean(u->e.name, u->e.name_len, &clen);
		if (!clean)
			return ufail(u, err, ENOMEM, "out of memory");
		r = cstor_tar__strset_add(&u->seen, clean, clen);
		if (r < 0)
			return ufail(u, err, ENOMEM, "out of memory");
		if (r == 0)
			return ufail(u, err, EBADMSG, "duplicates of file paths not supported: %.*s",
				     (int)MIN(u->e.name_len, (size_t)4096), u->e.name);
	}
	*out = &u->e;
	return 1;
}
