/* SPDX-License-Identifier: Apache-2.0 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/gojson.h"
#include "util/macro.h"

void cstor_buf_free(cstor_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
	b->oom = false;
}

static bool reserve(cstor_buf *b, size_t n)
{
	if (b->oom)
		return false;
	if (b->len + n + 1 <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + n + 1)
		cap *= 2;
	char *d = realloc(b->data, cap);
	if (!d) {
		b->oom = true;
		return false;
	}
	b->data = d;
	b->cap = cap;
	return true;
}

bool cstor_buf_reserve(cstor_buf *b, size_t n)
{
	return reserve(b, n);
}

void cstor_buf_put(cstor_buf *b, const void *p, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void cstor_buf_puts(cstor_buf *b, const char *s)
{
	cstor_buf_put(b, s, strlen(s));
}

void cstor_buf_putc(cstor_buf *b, char c)
{
	cstor_buf_put(b, &c, 1);
}

void cstor_buf_printf(cstor_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

char *cstor_buf_steal(cstor_buf *b, size_t *len)
{
	if (!reserve(b, 0)) {
		cstor_buf_free(b);
		return NULL;
	}
	b->data[b->len] = 0;
	char *d = b->data;
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return d;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t v;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xe0) == 0xc0) {
		len = 2;
		v = c & 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3;
		v = c & 0x0f;
	} else if ((c & 0xf8) == 0xf0) {
		len = 4;
		v = c & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and out-of-range code points are
	 * invalid, as in Go's utf8.DecodeRuneInString. */
	if ((len == 2 && v < 0x80) || (len == 3 && v < 0x800) || (len == 4 && v < 0x10000) ||
	    (v >= 0xd800 && v <= 0xdfff) || v > 0x10ffff)
		return 0;
	*cp = v;
	return len;
}

/* The ASCII bytes Go writes as they are: the rest of a string is copied
 * in runs between the bytes that need a look (records are mostly such runs,
 * and saving a big store is mostly this loop). */
static bool plain_ascii(unsigned char c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&';
}

static bool plain[256];
static bool plain_set;

static void plain_init(void)
{
	if (!__atomic_load_n(&plain_set, __ATOMIC_ACQUIRE)) {
		/* Racing threads write the same values. */
		for (unsigned c = 0; c < 256; c++)
			__atomic_store_n(&plain[c], plain_ascii((unsigned char)c), __ATOMIC_RELAXED);
		__atomic_store_n(&plain_set, true, __ATOMIC_RELEASE);
	}
}

void cstor_json_string(cstor_buf *b, const char *str, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	plain_init();
	const unsigned char *s = (const unsigned char *)str;
	if (!reserve(b, len + 2))
		return;
	cstor_buf_putc(b, '"');
	size_t start = 0, i = 0;
	while (i < len) {
		while (i < len && plain[s[i]])
			i++;
		if (i == len)
			break;
		unsigned char c = s[i];
		if (c < 0x80) {
			cstor_buf_put(b, s + start, i - start);
			switch (c) {
			case '"':
				cstor_buf_puts(b, "\\\"");
				break;
			case '\\':
				cstor_buf_puts(b, "\\\\");
				break;
			case '\n':
				cstor_buf_puts(b, "\\n");
				break;
			case '\r':
				cstor_buf_puts(b, "\\r");
				break;
			case '\t':
				cstor_buf_puts(b, "\\t");
				break;
			default: {
				char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
				cstor_buf_put(b, e, 6);
			}
			}
			i++;
			start = i;
			continue;
		}
		uint32_t cp;
		size_t n = utf8_seq(s + i, len - i, &cp);
		if (n == 0) {
			cstor_buf_put(b, s + start, i - start);
			cstor_buf_puts(b, "\\ufffd");
			i++;
			start = i;
			continue;
		}
		if (cp == 0x2028 || cp == 0x2029) {
			cstor_buf_put(b, s + start, i - start);
			cstor_buf_puts(b, cp == 0x2028 ? "\\u2028" : "\\u2029");
			i += n;
			start = i;
			continue;
		}
		i += n;
	}
	cstor_buf_put(b, s + start, len - start);
	cstor_buf_putc(b, '"');
}

void cstor_json_str(cstor_buf *b, const char *s)
{
	/* Most strings (IDs, names, keys, dates) need no escape: one scan,
	 * one copy. NUL is not plain, so the scan stops at the end. */
	plain_init();
	const unsigned char *u = (const unsigned char *)s;
	size_t n = 0;
	while (plain[u[n]])
		n++;
	if (u[n] != 0) {
		cstor_json_string(b, s, n + strlen(s + n));
		return;
	}
	if (!reserve(b, n + 2))
		return;
	char *d = b->data + b->len;
	d[0] = '"';
	memcpy(d + 1, s, n);
	d[n + 1] = '"';
	b->len += n + 2;
}

/* Go's float64 encoding: shortest representation that round-trips, in %f
 * style for 1e-6 <= |x| < 1e21 and %e style (two-digit exponent minimum)
 * otherwise. */
static void put_real(cstor_buf *b, double v)
{
	if (!isfinite(v)) {
		/* Go refuses to encode these; jansson cannot produce them. */
		cstor_buf_puts(b, "null");
		return;
	}
	if (v == 0) {
		/* Go writes -0 for negative zero, which reads back as the
		 * integer 0 and would then be written "0": write that at once,
		 * so a record reads and writes the same text every time. */
		cstor_buf_putc(b, '0');
		return;
	}
	char tmp[64];
	int prec;
	for (prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	double a = fabs(v);
	/* Go writes 1e-6 <= |x| < 1e21 in plain notation, but a whole number
	 * of 2^63 or more written so (no '.', no exponent) is an integer
	 * jansson refuses to read back ("too big integer"): those get the
	 * exponent form, which any JSON reader, Go's included, reads as the
	 * same float64. Only values of keys cstor keeps without knowing them
	 * can be so big. */
	if (a != 0 && (a < 1e-6 || a >= 9223372036854775808.0)) {
		/* tmp is d.ddde±XX: Go drops a lone ".0"-less mantissa the
		 * same way %e with minimal precision does. */
		char *e = strchr(tmp, 'e');
		char mant[64];
		snprintf(mant, sizeof(mant), "%.*s", (int)(e - tmp), tmp);
		int exp = atoi(e + 1);
		cstor_buf_printf(b, "%se%c%02d", mant, exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
		return;
	}
	/* Plain notation with exactly the significant digits found above. */
	int exp10 = atoi(strchr(tmp, 'e') + 1);
	int decimals = prec - 1 - exp10;
	if (decimals < 0)
		decimals = 0;
	cstor_buf_printf(b, "%.*f", decimals, v);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void cstor_json_value(cstor_buf *b, const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		size_t n = json_object_size(v);
		const char **keys = malloc((n ? n : 1) * sizeof(*keys));
		if (!keys) {
			b->oom = true;
			return;
		}
		size_t k = 0;
		const char *key;
		json_t *val;
		json_object_foreach((json_t *)v, key, val)
			keys[k++] = key;
		qsort(keys, k, sizeof(*keys), cmp_str);
		cstor_buf_putc(b, '{');
		for (size_t i = 0; i < k; i++) {
			if (i)
				cstor_buf_putc(b, ',');
			cstor_json_str(b, keys[i]);
			cstor_buf_putc(b, ':');
			cstor_json_value(b, json_object_get(v, keys[i]));
		}
		cstor_buf_putc(b, '}');
		free(keys);
		break;
	}
	case JSON_ARRAY:
		cstor_buf_putc(b, '[');
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i)
				cstor_buf_putc(b, ',');
			cstor_json_value(b, json_array_get(v, i));
		}
		cstor_buf_putc(b, ']');
		break;
	case JSON_STRING:
		cstor_json_string(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		cstor_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		put_real(b, json_real_value(v));
		break;
	case JSON_TRUE:
		cstor_buf_puts(b, "true");
		break;
	case JSON_FALSE:
		cstor_buf_puts(b, "false");
		break;
	case JSON_NULL:
		cstor_buf_puts(b, "null");
		break;
	}
}

void cstor_json_key(cstor_buf *b, bool *first, const char *key)
{
	if (!*first)
		cstor_buf_putc(b, ',');
	*first = false;
	cstor_json_str(b, key);
	cstor_buf_putc(b, ':');
}

void cstor_json_kv_str(cstor_buf *b, bool *first, const char *key, const char *val)
{
	cstor_json_key(b, first, key);
	cstor_json_str(b, val ? val : "");
}

void cstor_json_kv_str_omit(cstor_buf *b, bool *first, const char *key, const char *val)
{
	if (val && val[0])
		cstor_json_kv_str(b, first, key, val);
}

void cstor_json_kv_int_omit(cstor_buf *b, bool *first, const char *key, int64_t val)
{
	if (val == 0)
		return;
	cstor_json_key(b, first, key);
	cstor_buf_printf(b, "%lld", (long long)val);
}

void cstor_json_kv_strv_omit(cstor_buf *b, bool *first, const char *key, char **v)
{
	if (!v || !v[0])
		return;
	cstor_json_key(b, first, key);
	cstor_buf_putc(b, '[');
	for (size_t i = 0; v[i]; i++) {
		if (i)
			cstor_buf_putc(b, ',');
		cstor_json_str(b, v[i]);
	}
	cstor_buf_putc(b, ']');
}

void cstor_json_time(cstor_buf *b, int64_t sec, long nsec)
{
	time_t t = (time_t)sec;
	struct tm tm;
	gmtime_r(&t, &tm);
	char frac[32] = "";
	if (nsec > 0) {
		snprintf(frac, sizeof(frac), ".%09ld", nsec);
		size_t l = strlen(frac);
		while (frac[l - 1] == '0')
			frac[--l] = 0;
	}
	cstor_buf_printf(b, "\"%04d-%02d-%02dT%02d:%02d:%02d%sZ\"", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}
