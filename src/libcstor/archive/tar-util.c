/* SPDX-License-Identifier: Apache-2.0 */
/* Byte buffers, Go-compatible path cleaning, base64, UTF-8 and JSON string
 * encoding, and a string set: the small pieces the tar and tar-split code
 * need to agree with Go byte for byte. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "tar-internal.h"

int cstor_tar__buf_append(struct tbuf *b, const void *p, size_t n)
{
	int r = cstor_tar__buf_reserve(b, n);
	if (r < 0)
		return r;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
	return 0;
}

void cstor_tar__buf_free(struct tbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

char *cstor_tar__path_clean(const char *p, size_t n, size_t *out_len)
{
	/* Lexical cleaning exactly like Go's path.Clean (= filepath.Clean on
	 * Unix): tar-split compares cleaned names to find duplicates, and the
	 * writer names pax headers with path.Join. */
	char *out = malloc(n + 2);
	if (!out)
		return NULL;
	if (n == 0) {
		strcpy(out, ".");
		*out_len = 1;
		return out;
	}
	bool rooted = p[0] == '/';
	size_t r = 0, w = 0, dotdot = 0;
	if (rooted) {
		out[w++] = '/';
		r = dotdot = 1;
	}
	while (r < n) {
		if (p[r] == '/') {
			r++;
		} else if (p[r] == '.' && (r + 1 == n || p[r + 1] == '/')) {
			r++;
		} else if (p[r] == '.' && r + 1 < n && p[r + 1] == '.' &&
			   (r + 2 == n || p[r + 2] == '/')) {
			r += 2;
			if (w > dotdot) {
				w--;
				while (w > dotdot && out[w] != '/')
					w--;
			} else if (!rooted) {
				if (w > 0)
					out[w++] = '/';
				out[w++] = '.';
				out[w++] = '.';
				dotdot = w;
			}
		} else {
			if ((rooted && w != 1) || (!rooted && w != 0))
				out[w++] = '/';
			for (; r < n && p[r] != '/'; r++)
				out[w++] = p[r];
		}
	}
	if (w == 0)
		out[w++] = '.';
	out[w] = 0;
	*out_len = w;
	return out;
}

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int cstor_tar__base64_append(struct tbuf *b, const void *data, size_t len)
{
	const unsigned char *s = data;
	int r = cstor_tar__buf_reserve(b, (len + 2) / 3 * 4);
	if (r < 0)
		return r;
	unsigned char *o = b->data + b->len;
	size_t i = 0;
	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		*o++ = b64chars[v >> 18];
		*o++ = b64chars[(v >> 12) & 63];
		*o++ = b64chars[(v >> 6) & 63];
		*o++ = b64chars[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)s[i] << 16;
		*o++ = b64chars[v >> 18];
		*o++ = b64chars[(v >> 12) & 63];
		*o++ = '=';
		*o++ = '=';
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
		*o++ = b64chars[v >> 18];
		*o++ = b64chars[(v >> 12) & 63];
		*o++ = b64chars[(v >> 6) & 63];
		*o++ = '=';
	}
	b->len = (size_t)(o - b->data);
	b->data[b->len] = 0;
	return 0;
}

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

ssize_t cstor_tar__base64_decode(unsigned char *out, const char *in, size_t len, bool strict)
{
	size_t o = 0;
	uint32_t acc = 0;
	int q = 0;   /* characters in the current quantum */
	int pad = 0; /* '=' seen */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			if (q < 2)
				return -1;
			pad++;
			q++;
			if (q == 4) {
				if (pad > 2)
					return -1;
				/* Padding ends the data (only newlines may follow). */
				for (i++; i < len; i++)
					if (in[i] != '\r' && in[i] != '\n')
						return -1;
				break;
			}
			continue;
		}
		int v = b64val(c);
		if (v < 0 || pad)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		if (++q == 4) {
			out[o++] = (unsigned char)(acc >> 16);
			out[o++] = (unsigned char)(acc >> 8);
			out[o++] = (unsigned char)acc;
			acc = 0;
			q = 0;
		}
	}
	if (pad) {
		if (q != 4)
			return -1;
		/* q counted the '=' too: 2 or 3 data characters. */
		int data = 4 - pad;
		acc <<= 6 * pad;
		out[o++] = (unsigned char)(acc >> 16);
		if (data == 3)
			out[o++] = (unsigned char)(acc >> 8);
		return (ssize_t)o;
	}
	if (q == 0)
		return (ssize_t)o;
	if (strict || q == 1)
		return -1;
	acc <<= 6 * (4 - q);
	out[o++] = (unsigned char)(acc >> 16);
	if (q == 3)
		out[o++] = (unsigned char)(acc >> 8);
	return (ssize_t)o;
}

bool cstor_tar__utf8_valid(const void *str, size_t len)
{
	const unsigned char *s = str;
	size_t i = 0;
	while (i < len) {
		unsigned char c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t need;
		unsigned char lo = 0x80, hi = 0xbf;
		if (c >= 0xc2 && c <= 0xdf)
			need = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else
			return false;
		if (len - i - 1 < need)
			return false;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= need; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return false;
		i += need + 1;
	}
	return true;
}

int cstor_tar__json_string_append(struct tbuf *b, const char *str, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	int r = cstor_tar__buf_reserve(b, len + 2);
	if (r < 0)
		return r;
	b->data[b->len++] = '"';
	size_t start = 0;
	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		char esc[6];
		size_t esc_len = 0, adv = 1;
		if (c < 0x80) {
			if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
				i++;
				continue;
			}
			esc[0] = '\\';
			esc_len = 2;
			switch (c) {
			case '"':
			case '\\':
				esc[1] = (char)c;
				break;
			case '\n':
				esc[1] = 'n';
				break;
			case '\r':
				esc[1] = 'r';
				break;
			case '\t':
				esc[1] = 't';
				break;
			default:
				/* Go 1.19 writes \b and \f as \u0008/\u000c too. */
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[c >> 4];
				esc[5] = hex[c & 15];
				esc_len = 6;
			}
		} else if (c == 0xe2 && i + 2 < len && s[i + 1] == 0x80 &&
			   (s[i + 2] == 0xa8 || s[i + 2] == 0xa9)) {
			/* U+2028 and U+2029 break JavaScript string literals. */
			memcpy(esc, "\\u202", 5);
			esc[5] = s[i + 2] == 0xa8 ? '8' : '9';
			esc_len = 6;
			adv = 3;
		} else {
			i++;
			continue;
		}
		if ((r = cstor_tar__buf_append(b, s + start, i - start)) < 0 ||
		    (r = cstor_tar__buf_append(b, esc, esc_len)) < 0)
			return r;
		i += adv;
		start = i;
	}
	if ((r = cstor_tar__buf_append(b, s + start, len - start)) < 0)
		return r;
	return cstor_tar__buf_putc(b, '"');
}

static uint64_t strset_seed;

static uint64_t hash_bytes(const char *s, size_t len)
{
	/* FNV-1a with a per-process seed and a murmur finaliser: cheap, and
	 * a crafted tar-split cannot aim at fixed collisions. */
	if (!strset_seed) {
		uint64_t seed = 0;
		if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
			seed = (uint64_t)(uintptr_t)&seed;
		__atomic_store_n(&strset_seed, seed | 1, __ATOMIC_RELAXED);
	}
	uint64_t h = UINT64_C(0xcbf29ce484222325) ^ __atomic_load_n(&strset_seed, __ATOMIC_RELAXED);
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= UINT64_C(0x100000001b3);
	}
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return h;
}

static int strset_grow(struct tar_strset *set)
{
	size_t cap = set->cap ? set->cap * 2 : 64;
	struct tar_strset_slot *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < set->cap; i++) {
		if (!set->slots[i].s)
			continue;
		size_t j = set->slots[i].hash & (cap - 1);
		while (slots[j].s)
			j = (j + 1) & (cap - 1);
		slots[j] = set->slots[i];
	}
	free(set->slots);
	set->slots = slots;
	set->cap = cap;
	return 0;
}

int cstor_tar__strset_add(struct tar_strset *set, const char *s, size_t len)
{
	if ((set->n + 1) * 4 > set->cap * 3) {
		int r = strset_grow(set);
		if (r < 0)
			return r;
	}
	uint64_t h = hash_bytes(s, len);
	size_t j = h & (set->cap - 1);
	for (; set->slots[j].s; j = (j + 1) & (set->cap - 1)) {
		struct tar_strset_slot *e = &set->slots[j];
		if (e->hash == h && e->len == len && memcmp(e->s, s, len) == 0)
			return 0;
	}
	char *copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, s, len);
	copy[len] = 0;
	set->slots[j] = (struct tar_strset_slot){ copy, len, h };
	set->n++;
	return 1;
}

void cstor_tar__strset_free(struct tar_strset *set)
{
	for (size_t i = 0; i < set->cap; i++)
		free(set->slots[i].s);
	free(set->slots);
	*set = (struct tar_strset){ 0 };
}
