/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A strict TOML 1.0 parser (see toml.h): one pass over the text, building
 * jansson values directly.
 *
 * TOML allows a table to be defined only once, and what counts as "defined"
 * depends on how the table came to exist: [a.b] merely creates a, which a
 * later [a] may still define; dotted keys define their tables, so [a] after
 * a.x = 1 is an error, yet [a.y] is fine; inline tables are closed once
 * written. jansson objects cannot carry that history, so the parser keeps a
 * side map from container pointer to its origin. Containers are never freed
 * while parsing, so the pointers stay unique.
 */
#include <fcntl.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/error-internal.h"
#include "util/toml.h"
#include "util/cleanup.h"
#include "util/macro.h"

#define MAX_DEPTH CSTOR_TOML_MAX_DEPTH
/* Refuse to slurp huge or endless files (/dev/zero) as configuration. */
#define MAX_FILE_SIZE (64u << 20)

enum origin {
	O_NONE,     /* root, scalars, static arrays and everything inside them */
	O_IMPLICIT, /* prefix of a [header]; a later [header] may still define it */
	O_HEADER,   /* defined by [header], or an element of [[header]] */
	O_DOTTED,   /* defined by dotted keys; headers may only add sub-tables */
	O_INLINE,   /* inline table, closed for good */
	O_AOT,      /* array made by [[header]], the only kind [[...]] may extend */
};

struct origin_slot {
	const json_t *v;
	unsigned char origin;
};

struct buf {
	char *s;
	size_t len, cap;
};

struct parser {
	const char *start, *p, *end;
	const char *filename;
	cstor_error *err;
	json_t *root;
	json_t *cur; /* table the current [section] writes to */
	unsigned cur_depth;
	struct origin_slot *slot; /* open addressing, power-of-two size */
	size_t nslot, capslot;
	locale_t c_locale;
	char dbuf[40];   /* describe() result */
	struct buf kstr; /* fmt_key() result */
};

struct keypart {
	char *s;
	size_t len;
	const char *at;
};

struct key {
	size_t n;
	struct keypart part[MAX_DEPTH];
};

static void buf_done(struct buf *b)
{
	free(b->s);
	*b = (struct buf){ 0 };
}

/* Keeps b->s NUL-terminated (and allocated, even when empty). */
static int buf_put(struct buf *b, const char *s, size_t n)
{
	if (b->cap - b->len <= n) {
		size_t cap = MAX(MAX(b->cap * 2, b->len + n + 1), (size_t)32);
		char *t = realloc(b->s, cap);
		if (!t)
			return -ENOMEM;
		b->s = t;
		b->cap = cap;
	}
	if (n)
		memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = 0;
	return 0;
}

static int buf_putc(struct buf *b, char c)
{
	return buf_put(b, &c, 1);
}

static int buf_put_cp(struct buf *b, uint32_t cp)
{
	static const unsigned char lead[] = { 0, 0, 0xc0, 0xe0, 0xf0 };
	char u[4];
	int n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
	for (int i = n - 1; i > 0; i--, cp >>= 6)
		u[i] = 0x80 | (cp & 0x3f);
	u[0] = lead[n] | cp;
	return buf_put(b, u, n);
}

static void key_done(struct key *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->part[i].s);
	k->n = 0;
}

static void parser_done(struct parser *ps)
{
	free(ps->slot);
	ps->slot = NULL;
	buf_done(&ps->kstr);
	if (ps->c_locale)
		freelocale(ps->c_locale);
	ps->c_locale = 0;
}

static bool is_bare(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

static bool is_control(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

static int oom(struct parser *ps)
{
	return cstor_error_set(ps->err, ENOMEM, "%s: out of memory", ps->filename);
}

static int fail(struct parser *ps, const char *at, const char *fmt, ...) _printf_(3, 4);
static int fail(struct parser *ps, const char *at, const char *fmt, ...)
{
	if (!ps->err)
		return -EBADMSG;
	/* Columns count characters, not bytes: skip UTF-8 continuation bytes. */
	size_t line = 1, col = 1;
	for (const char *s = ps->start; s < at; s++) {
		if (*s == '\n') {
			line++;
			col = 1;
		} else if (((unsigned char)*s & 0xc0) != 0x80)
			col++;
	}
	char *what = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&what, fmt, ap);
	va_end(ap);
	if (n < 0)
		return oom(ps);
	int r = cstor_error_set(ps->err, EBADMSG, "%s:%zu:%zu: %s", ps->filename, line, col, what);
	free(what);
	return r;
}

/* Only called after check_utf8() accepted the text. */
static uint32_t decode_utf8(const char *s)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return c;
	int n = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : 1;
	uint32_t cp = c & (0x3f >> n);
	for (int i = 1; i <= n; i++)
		cp = cp << 6 | (s[i] & 0x3f);
	return cp;
}

/* Names the character at @at for a message. */
static const char *describe(struct parser *ps, const char *at)
{
	if (at >= ps->end)
		return "end of file";
	unsigned char c = *at;
	if (c == '\n' || c == '\r')
		return "end of line";
	if (is_control(c))
		snprintf(ps->dbuf, sizeof(ps->dbuf), "control character U+%04X", c);
	else if (c < 0x80)
		snprintf(ps->dbuf, sizeof(ps->dbuf), "'%c'", c);
	else
		snprintf(ps->dbuf, sizeof(ps->dbuf), "character U+%04X", (unsigned)decode_utf8(at));
	return ps->dbuf;
}

/* The first @n parts of @k spelled as TOML would, cut when very long. */
static const char *fmt_key(struct parser *ps, const struct key *k, size_t n)
{
	struct buf *b = &ps->kstr;
	b->len = 0;
	for (size_t i = 0; i < n; i++) {
		const struct keypart *kp = &k->part[i];
		bool bare = kp->len > 0, literal = true;
		for (size_t j = 0; j < kp->len; j++) {
			unsigned char c = kp->s[j];
			bare = bare && is_bare(c);
			literal = literal && c != '\'' && !is_control(c) && c != '\t';
		}
		if (i > 0 && buf_putc(b, '.') < 0)
			return "?";
		if (bare || literal) {
			if ((!bare && buf_putc(b, '\'') < 0) || buf_put(b, kp->s, kp->len) < 0 ||
			    (!bare && buf_putc(b, '\'') < 0))
				return "?";
			continue;
		}
		if (buf_putc(b, '"') < 0)
			return "?";
		for (size_t j = 0; j < kp->len; j++) {
			unsigned char c = kp->s[j];
			char esc[8];
			if (c == '"' || c == '\\')
				snprintf(esc, sizeof(esc), "\\%c", c);
			else if (is_control(c) || c == '\t')
				snprintf(esc, sizeof(esc), "\\u%04X", c);
			else
				snprintf(esc, sizeof(esc), "%c", c);
			if (buf_put(b, esc, strlen(esc)) < 0)
				return "?";
		}
		if (buf_putc(b, '"') < 0)
			return "?";
	}
	if (b->len > 200) {
		size_t cut = 200;
		while (cut > 0 && ((unsigned char)b->s[cut] & 0xc0) == 0x80)
			cut--;
		b->len = cut;
		if (buf_put(b, "...", 3) < 0)
			return "?";
	}
	return b->len ? b->s : "";
}

static int check_utf8(struct parser *ps)
{
	for (const unsigned char *s = (const unsigned char *)ps->start; s < (const unsigned char *)ps->end;) {
		unsigned char c = *s;
		if (c < 0x80) {
			s++;
			continue;
		}
		int n = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : 0;
		bool ok = n > 0 && (const unsigned char *)ps->end - s > n;
		uint32_t cp = c & (0x3f >> n);
		for (int i = 1; ok && i <= n; i++) {
			ok = (s[i] & 0xc0) == 0x80;
			cp = cp << 6 | (s[i] & 0x3f);
		}
		/* Overlong forms, UTF-16 surrogates and values past U+10FFFF. */
		if (ok && ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
			   (cp >= 0xd800 && cp <= 0xdfff)))
			ok = false;
		if (!ok)
			return fail(ps, (const char *)s, "invalid UTF-8 (byte 0x%02X)", c);
		s += n + 1;
	}
	return 0;
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t'))
		ps->p++;
}

/* 1 when a newline was consumed, 0 when not at one. */
static int eat_newline(struct parser *ps)
{
	const char *s = ps->p;
	if (s < ps->end && *s == '\n') {
		ps->p++;
		return 1;
	}
	if (s < ps->end && *s == '\r') {
		if (s + 1 >= ps->end || s[1] != '\n')
			return fail(ps, s, "carriage return not followed by line feed");
		ps->p += 2;
		return 1;
	}
	return 0;
}

static int skip_comment(struct parser *ps)
{
	if (ps->p >= ps->end || *ps->p != '#')
		return 0;
	for (ps->p++; ps->p < ps->end && *ps->p != '\n' && *ps->p != '\r'; ps->p++)
		if (is_control(*ps->p))
			return fail(ps, ps->p, "%s is not allowed in comments", describe(ps, ps->p));
	return 0;
}

/* Whitespace, comments and newlines, as allowed between array elements. */
static int skip_blank(struct parser *ps)
{
	for (;;) {
		skip_ws(ps);
		int r = skip_comment(ps);
		if (r < 0)
			return r;
		r = eat_newline(ps);
		if (r <= 0)
			return r;
	}
}

static int end_of_line(struct parser *ps, const char *after)
{
	skip_ws(ps);
	int r = skip_comment(ps);
	if (r < 0)
		return r;
	if (ps->p >= ps->end)
		return 0;
	r = eat_newline(ps);
	if (r != 0)
		return MIN(r, 0);
	return fail(ps, ps->p, "unexpected %s after %s, expected end of line", describe(ps, ps->p),
		    after);
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 99;
}

static int parse_escape(struct parser *ps, struct buf *b, bool multi)
{
	static const char simple[] = "btnfr\"\\", value[] = "\b\t\n\f\r\"\\";
	const char *at = ps->p;
	int r;
	if (multi) {
		/* A line-ending backslash swallows all whitespace and newlines
		 * up to the next content. */
		const char *s = at + 1;
		while (s < ps->end && (*s == ' ' || *s == '\t'))
			s++;
		if (s < ps->end && (*s == '\n' || *s == '\r')) {
			ps->p = s;
			do {
				skip_ws(ps);
				r = eat_newline(ps);
			} while (r > 0);
			return r;
		}
	}
	if (at + 1 >= ps->end)
		return fail(ps, at, "unterminated string");
	char e = at[1];
	const char *m = e ? strchr(simple, e) : NULL;
	int digits = e == 'u' ? 4 : e == 'U' ? 8 : 0;
	uint32_t cp = m ? (unsigned char)value[m - simple] : 0;
	if (!m && !digits) {
		if (e > 0x20 && e < 0x7f)
			return fail(ps, at, "invalid escape sequence \\%c", e);
		return fail(ps, at, "invalid escape sequence: backslash followed by %s",
			    describe(ps, at + 1));
	}
	ps->p = at + 2;
	for (int i = 0; i < digits; i++, ps->p++) {
		int d = ps->p < ps->end ? hex_value(*ps->p) : 99;
		if (d > 15)
			return fail(ps, at, "escape \\%c needs %d hexadecimal digits", e, digits);
		cp = cp << 4 | d;
	}
	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return fail(ps, at, "escape \\%c%.*s is not a Unicode scalar value", e, digits, at + 2);
	return buf_put_cp(b, cp) < 0 ? oom(ps) : 0;
}

/* Any of the four string forms; the opening quote is at ps->p. */
static int parse_string(struct parser *ps, struct buf *b, bool key)
{
	const char *open = ps->p;
	char q = *open;
	bool multi = ps->end - open >= 3 && open[1] == q && open[2] == q;
	int r;

	if (multi && key)
		return fail(ps, open, "a multi-line string cannot be a key");
	if (buf_put(b, "", 0) < 0)
		return oom(ps);
	ps->p += multi ? 3 : 1;
	/* A newline right after the opening delimiter is not content. */
	if (multi && (r = eat_newline(ps)) < 0)
		return r;
	for (;;) {
		const char *s = ps->p;
		if (s >= ps->end)
			return fail(ps, open, "unterminated string");
		unsigned char c = *s;
		if (c == q) {
			if (!multi) {
				ps->p++;
				return 0;
			}
			/* Up to two quotes may directly precede the closing three. */
			size_t n = 0;
			while (s + n < ps->end && s[n] == q && n < 5)
				n++;
			ps->p += n;
			if (buf_put(b, s, n >= 3 ? n - 3 : n) < 0)
				return oom(ps);
			if (n >= 3)
				return 0;
		} else if (c == '\\' && q == '"') {
			if ((r = parse_escape(ps, b, multi)) < 0)
				return r;
		} else if (c == '\n' || c == '\r') {
			if (!multi)
				return fail(ps, open, "unterminated string (only \"\"\" and ''' strings may span lines)");
			if ((r = eat_newline(ps)) < 0)
				return r;
			if (buf_putc(b, '\n') < 0)
				return oom(ps);
		} else if (is_control(c)) {
			return fail(ps, s, "%s is not allowed in strings%s", describe(ps, s),
				    q == '"' ? ", use an escape sequence" : "");
		} else {
			const char *e = s + 1;
			while (e < ps->end && *e != q && *e != '\\' && !is_control(*e))
				e++;
			if (buf_put(b, s, e - s) < 0)
				return oom(ps);
			ps->p = e;
		}
	}
}

static int parse_key(struct parser *ps, struct key *k)
{
	for (;;) {
		const char *s = ps->p;
		if (k->n == MAX_DEPTH)
			return fail(ps, s, "key has more than %d parts", MAX_DEPTH);
		struct keypart *kp = &k->part[k->n];
		if (s < ps->end && (*s == '"' || *s == '\'')) {
			_cleanup_(buf_done) struct buf b = { 0 };
			int r = parse_string(ps, &b, true);
			if (r < 0)
				return r;
			kp->len = b.len;
			kp->s = TAKE_PTR(b.s);
		} else {
			const char *e = s;
			while (e < ps->end && is_bare(*e))
				e++;
			if (e == s)
				return fail(ps, s, "expected a key, found %s", describe(ps, s));
			/* Not strndup: the input need not be NUL-terminated. */
			kp->s = malloc((size_t)(e - s) + 1);
			if (!kp->s)
				return oom(ps);
			memcpy(kp->s, s, (size_t)(e - s));
			kp->s[e - s] = 0;
			kp->len = e - s;
			ps->p = e;
		}
		kp->at = s;
		k->n++;
		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != '.')
			return 0;
		ps->p++;
		skip_ws(ps);
	}
}

static size_t slot_of(const struct parser *ps, const json_t *v)
{
	size_t mask = ps->capslot - 1;
	size_t i = (size_t)(((uint64_t)(uintptr_t)v * UINT64_C(0x9e3779b97f4a7c15)) >> 32) & mask;
	while (ps->slot[i].v && ps->slot[i].v != v)
		i = (i + 1) & mask;
	return i;
}

static enum origin origin_of(const struct parser *ps, const json_t *v)
{
	if (!ps->capslot)
		return O_NONE;
	size_t i = slot_of(ps, v);
	return ps->slot[i].v ? ps->slot[i].origin : O_NONE;
}

static int set_origin(struct parser *ps, const json_t *v, enum origin o)
{
	if ((ps->nslot + 1) * 2 > ps->capslot) {
		struct origin_slot *old = ps->slot;
		size_t oldcap = ps->capslot, cap = oldcap ? oldcap * 2 : 64;
		ps->slot = calloc(cap, sizeof(*ps->slot));
		if (!ps->slot) {
			ps->slot = old;
			return oom(ps);
		}
		ps->capslot = cap;
		for (size_t i = 0; i < oldcap; i++)
			if (old[i].v)
				ps->slot[slot_of(ps, old[i].v)] = old[i];
		free(old);
	}
	size_t i = slot_of(ps, v);
	if (!ps->slot[i].v) {
		ps->slot[i].v = v;
		ps->nslot++;
	}
	ps->slot[i].origin = o;
	return 0;
}

/* A new empty table in @parent (an object under @kp, or appended to an array). */
static int add_table(struct parser *ps, json_t *parent, const struct keypart *kp, enum origin o,
		     json_t **ret)
{
	json_t *t = json_object();
	if (!t)
		return oom(ps);
	int r = kp ? json_object_setn_new_nocheck(parent, kp->s, kp->len, t)
		   : json_array_append_new(parent, t);
	if (r < 0)
		return oom(ps);
	*ret = t;
	return set_origin(ps, t, o);
}

static int too_deep(struct parser *ps, const char *at)
{
	return fail(ps, at, "nesting too deep (more than %d levels)", MAX_DEPTH);
}

/* Makes [k] or [[k]] the current table. */
static int open_table(struct parser *ps, const struct key *k, bool aot)
{
	json_t *t = ps->root;
	unsigned depth = 0;
	int r;

	for (size_t i = 0; i < k->n; i++) {
		const struct keypart *kp = &k->part[i];
		bool last = i + 1 == k->n;
		json_t *v = json_object_getn(t, kp->s, kp->len);
		enum origin o = v ? origin_of(ps, v) : O_NONE;

		if (++depth > MAX_DEPTH)
			return too_deep(ps, kp->at);
		if (!v && last && aot) {
			json_t *a = json_array();
			if (!a || json_object_setn_new_nocheck(t, kp->s, kp->len, a) < 0)
				return oom(ps);
			if ((r = set_origin(ps, a, O_AOT)) < 0)
				return r;
			if (++depth > MAX_DEPTH)
				return too_deep(ps, kp->at);
			if ((r = add_table(ps, a, NULL, O_HEADER, &t)) < 0)
				return r;
		} else if (!v) {
			if ((r = add_table(ps, t, kp, last ? O_HEADER : O_IMPLICIT, &t)) < 0)
				return r;
		} else if (json_is_array(v)) {
			if (o != O_AOT)
				return fail(ps, kp->at, "cannot use \"%s\" as a table: it is an array value",
					    fmt_key(ps, k, i + 1));
			if (last && !aot)
				return fail(ps, kp->at, "cannot define table \"%s\": it is an array of tables",
					    fmt_key(ps, k, i + 1));
			if (++depth > MAX_DEPTH)
				return too_deep(ps, kp->at);
			if (last) {
				if ((r = add_table(ps, v, NULL, O_HEADER, &t)) < 0)
					return r;
			} else
				t = json_array_get(v, json_array_size(v) - 1);
		} else if (!json_is_object(v)) {
			return fail(ps, kp->at, "cannot use \"%s\" as a table: it already holds a value",
				    fmt_key(ps, k, i + 1));
		} else if (o == O_INLINE) {
			return fail(ps, kp->at, "cannot extend inline table \"%s\"", fmt_key(ps, k, i + 1));
		} else if (last && aot) {
			return fail(ps, kp->at, "cannot define array of tables \"%s\": it is already a table",
				    fmt_key(ps, k, i + 1));
		} else if (last && o == O_DOTTED) {
			return fail(ps, kp->at, "table \"%s\" is already defined by dotted keys",
				    fmt_key(ps, k, i + 1));
		} else if (last && o != O_IMPLICIT) {
			return fail(ps, kp->at, "table \"%s\" is defined twice", fmt_key(ps, k, i + 1));
		} else {
			if (last && (r = set_origin(ps, v, O_HEADER)) < 0)
				return r;
			t = v;
		}
	}
	ps->cur = t;
	ps->cur_depth = depth;
	return 0;
}

static int parse_header(struct parser *ps)
{
	_cleanup_(key_done) struct key k = { .n = 0 };
	bool aot = ps->end - ps->p >= 2 && ps->p[1] == '[';
	int r;

	ps->p += aot ? 2 : 1;
	skip_ws(ps);
	if ((r = parse_key(ps, &k)) < 0)
		return r;
	skip_ws(ps);
	for (int i = 0; i <= aot; i++, ps->p++)
		if (ps->p >= ps->end || *ps->p != ']')
			return fail(ps, ps->p, "expected \"%s\" to close the table header, found %s",
				    aot ? "]]" : "]", describe(ps, ps->p));
	return open_table(ps, &k, aot);
}

static int scan_digits(struct parser *ps, const char **q, const char *e, int base, bool decimal)
{
	const char *s = *q;
	if (s >= e || hex_value(*s) >= base)
		return fail(ps, s, "expected a digit, found %s", describe(ps, s));
	if (decimal && *s == '0' && s + 1 < e && (hex_value(s[1]) < 10 || s[1] == '_'))
		return fail(ps, s, "leading zeros are not allowed in decimal numbers");
	for (s++; s < e;) {
		if (*s == '_') {
			if (s + 1 >= e || hex_value(s[1]) >= base)
				return fail(ps, s, "'_' in a number must sit between two digits");
			s += 2;
		} else if (hex_value(*s) < base)
			s++;
		else
			break;
	}
	*q = s;
	return 0;
}

static int parse_number(struct parser *ps, const char *s, const char *e, json_t **out)
{
	const char *q = s, *digits;
	bool neg = false, is_float = false;
	int base = 10, r;

	if (e - s >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b')) {
		base = s[1] == 'x' ? 16 : s[1] == 'o' ? 8 : 2;
		q = digits = s + 2;
		if ((r = scan_digits(ps, &q, e, base, false)) < 0)
			return r;
	} else {
		neg = *q == '-';
		if (*q == '+' || *q == '-')
			q++;
		digits = q;
		if ((r = scan_digits(ps, &q, e, 10, true)) < 0)
			return r;
		if (q < e && *q == '.') {
			q++;
			if ((r = scan_digits(ps, &q, e, 10, false)) < 0)
				return r;
			is_float = true;
		}
		if (q < e && (*q == 'e' || *q == 'E')) {
			q++;
			if (q < e && (*q == '+' || *q == '-'))
				q++;
			if ((r = scan_digits(ps, &q, e, 10, false)) < 0)
				return r;
			is_float = true;
		}
	}
	if (q != e)
		return fail(ps, q, "unexpected %s in number", describe(ps, q));

	if (is_float) {
		_cleanup_(buf_done) struct buf t = { 0 };
		for (const char *c = s; c < e; c++)
			if (*c != '_' && buf_putc(&t, *c) < 0)
				return oom(ps);
		/* The application's LC_NUMERIC must not change what "1.5" means. */
		if (!ps->c_locale && !(ps->c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0)))
			return oom(ps);
		errno = 0;
		double d = strtod_l(t.s, NULL, ps->c_locale);
		if (errno == ERANGE && isinf(d))
			return fail(ps, s, "float %.*s is out of range", (int)(e - s), s);
		*out = json_real(d);
	} else {
		uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
		for (const char *c = digits; c < e; c++) {
			if (*c == '_')
				continue;
			uint64_t d = hex_value(*c);
			if (v > (lim - d) / base)
				return fail(ps, s, "integer %.*s does not fit in 64 bits", (int)(e - s), s);
			v = v * base + d;
		}
		*out = json_integer(neg ? (json_int_t)(0 - v) : (json_int_t)v);
	}
	return *out ? 0 : oom(ps);
}

static bool all_digits(const char *s, const char *e, size_t n)
{
	if ((size_t)(e - s) < n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int num(const char *s, size_t n)
{
	int v = 0;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + s[i] - '0';
	return v;
}

/* Length of the full-date (YYYY-MM-DD, a real day) at @s, or 0. */
static size_t scan_date(const char *s, const char *e)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (e - s < 10 || !all_digits(s, e, 4) || s[4] != '-' || !all_digits(s + 5, e, 2) ||
	    s[7] != '-' || !all_digits(s + 8, e, 2))
		return 0;
	int y = num(s, 4), m = num(s + 5, 2), d = num(s + 8, 2);
	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return 0;
	if (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return 0;
	return 10;
}

/* Length of the partial-time (HH:MM:SS[.fraction]) at @s, or 0. */
static size_t scan_time(const char *s, const char *e)
{
	if (e - s < 8 || !all_digits(s, e, 2) || s[2] != ':' || !all_digits(s + 3, e, 2) ||
	    s[5] != ':' || !all_digits(s + 6, e, 2))
		return 0;
	/* Second 60 is a leap second. */
	if (num(s, 2) > 23 || num(s + 3, 2) > 59 || num(s + 6, 2) > 60)
		return 0;
	size_t n = 8;
	if (s + n < e && s[n] == '.') {
		size_t f = n + 1;
		while (s + f < e && s[f] >= '0' && s[f] <= '9')
			f++;
		if (f == n + 1)
			return 0;
		n = f;
	}
	return n;
}

static size_t scan_offset(const char *s, const char *e)
{
	if (s < e && (*s == 'Z' || *s == 'z'))
		return 1;
	if (e - s >= 6 && (*s == '+' || *s == '-') && all_digits(s + 1, e, 2) && s[3] == ':' &&
	    all_digits(s + 4, e, 2) && num(s + 1, 2) <= 23 && num(s + 4, 2) <= 59)
		return 6;
	return 0;
}

static int parse_datetime(struct parser *ps, const char *s, const char *e, json_t **out)
{
	size_t n = e - s, len = scan_date(s, e);
	if (len && len < n && (s[len] == 'T' || s[len] == 't' || s[len] == ' ')) {
		size_t t = scan_time(s + len + 1, e);
		len = t ? len + 1 + t : 0;
		if (len)
			len += scan_offset(s + len, e);
	} else if (!len)
		len = scan_time(s, e);
	if (len != n)
		return fail(ps, s, "invalid date or time \"%.*s\" (expected RFC 3339, like 1979-05-27T07:32:00Z)",
			    (int)MIN(n, (size_t)64), s);
	*out = json_stringn_nocheck(s, n);
	return *out ? 0 : oom(ps);
}

static bool is_token(int c)
{
	return is_bare(c) || c == '+' || c == '.' || c == ':';
}

/* Booleans, numbers, dates and times: the unquoted values. */
static int parse_scalar(struct parser *ps, json_t **out)
{
	const char *s = ps->p, *e = s;
	while (e < ps->end && is_token(*e))
		e++;
	/* RFC 3339 lets a space separate date and time. */
	if (e - s == 10 && scan_date(s, e) && ps->end - e >= 4 && e[0] == ' ' &&
	    all_digits(e + 1, ps->end, 2) && e[3] == ':')
		for (e++; e < ps->end && is_token(*e);)
			e++;
	ps->p = e;

	size_t n = e - s;
	const char *u = s + (*s == '+' || *s == '-');
	if (n == 4 && memcmp(s, "true", 4) == 0)
		*out = json_true();
	else if (n == 5 && memcmp(s, "false", 5) == 0)
		*out = json_false();
	else if (e - u == 3 && (memcmp(u, "inf", 3) == 0 || memcmp(u, "nan", 3) == 0))
		/* jansson has no non-finite reals. */
		*out = json_stringn_nocheck(s, n);
	else if ((n >= 5 && all_digits(s, e, 4) && s[4] == '-') || (n >= 3 && all_digits(s, e, 2) && s[2] == ':'))
		return parse_datetime(ps, s, e, out);
	else if ((*s >= '0' && *s <= '9') || *s == '+' || *s == '-')
		return parse_number(ps, s, e, out);
	else
		return fail(ps, s, "invalid value \"%.*s\" (strings must be quoted)", (int)MIN(n, (size_t)64), s);
	return *out ? 0 : oom(ps);
}

static int parse_value(struct parser *ps, json_t **out, unsigned depth);

static int parse_keyval(struct parser *ps, json_t *t, unsigned depth)
{
	_cleanup_(key_done) struct key k = { .n = 0 };
	_cleanup_(json_decrefp) json_t *v = NULL;
	int r;

	if ((r = parse_key(ps, &k)) < 0)
		return r;
	skip_ws(ps);
	if (ps->p >= ps->end || *ps->p != '=')
		return fail(ps, ps->p, "expected '=' after key \"%s\", found %s", fmt_key(ps, &k, k.n),
			    describe(ps, ps->p));
	ps->p++;
	skip_ws(ps);

	for (size_t i = 0; i + 1 < k.n; i++) {
		const struct keypart *kp = &k.part[i];
		json_t *sub = json_object_getn(t, kp->s, kp->len);
		enum origin o = sub ? origin_of(ps, sub) : O_NONE;

		if (++depth > MAX_DEPTH)
			return too_deep(ps, kp->at);
		if (!sub) {
			if ((r = add_table(ps, t, kp, O_DOTTED, &t)) < 0)
				return r;
			continue;
		}
		if (!json_is_object(sub))
			return fail(ps, kp->at, "cannot use \"%s\" as a table: it already holds %s",
				    fmt_key(ps, &k, i + 1), json_is_array(sub) ? "an array" : "a value");
		if (o == O_INLINE)
			return fail(ps, kp->at, "cannot extend inline table \"%s\"", fmt_key(ps, &k, i + 1));
		if (o == O_HEADER)
			return fail(ps, kp->at,
				    "cannot extend table \"%s\" with dotted keys: it is defined by its own [header]",
				    fmt_key(ps, &k, i + 1));
		/* Dotted keys define what [a.b] only created: no [a] later. */
		if (o == O_IMPLICIT && (r = set_origin(ps, sub, O_DOTTED)) < 0)
			return r;
		t = sub;
	}
	const struct keypart *kp = &k.part[k.n - 1];
	if (json_object_getn(t, kp->s, kp->len))
		return fail(ps, kp->at, "duplicate key \"%s\"", fmt_key(ps, &k, k.n));
	if ((r = parse_value(ps, &v, depth + 1)) < 0)
		return r;
	if (json_object_setn_new_nocheck(t, kp->s, kp->len, TAKE_PTR(v)) < 0)
		return oom(ps);
	return 0;
}

static int parse_array(struct parser *ps, json_t **out, unsigned depth)
{
	const char *open = ps->p;
	_cleanup_(json_decrefp) json_t *a = NULL;
	int r;

	if (depth > MAX_DEPTH)
		return too_deep(ps, open);
	if (!(a = json_array()))
		return oom(ps);
	ps->p++;
	for (;;) {
		if ((r = skip_blank(ps)) < 0)
			return r;
		if (ps->p < ps->end && *ps->p == ']')
			break;
		if (ps->p >= ps->end)
			return fail(ps, open, "unterminated array");
		_cleanup_(json_decrefp) json_t *v = NULL;
		if ((r = parse_value(ps, &v, depth + 1)) < 0)
			return r;
		if (json_array_append_new(a, TAKE_PTR(v)) < 0)
			return oom(ps);
		if ((r = skip_blank(ps)) < 0)
			return r;
		if (ps->p < ps->end && *ps->p == ']')
			break;
		if (ps->p >= ps->end)
			return fail(ps, open, "unterminated array");
		if (*ps->p != ',')
			return fail(ps, ps->p, "expected ',' or ']' in array, found %s", describe(ps, ps->p));
		ps->p++;
	}
	ps->p++;
	*out = TAKE_PTR(a);
	return 0;
}

static int parse_inline_table(struct parser *ps, json_t **out, unsigned depth)
{
	_cleanup_(json_decrefp) json_t *t = NULL;
	int r;

	if (depth > MAX_DEPTH)
		return too_deep(ps, ps->p);
	if (!(t = json_object()))
		return oom(ps);
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}')
		ps->p++;
	else
		for (;;) {
			if ((r = parse_keyval(ps, t, depth)) < 0)
				return r;
			skip_ws(ps);
			const char *s = ps->p;
			if (s < ps->end && *s == '}') {
				ps->p++;
				break;
			}
			if (s >= ps->end || *s == '\n' || *s == '\r')
				return fail(ps, s, "expected '}' before %s (inline tables must be on one line)",
					    describe(ps, s));
			if (*s != ',')
				return fail(ps, s, "expected ',' or '}' in inline table, found %s", describe(ps, s));
			ps->p++;
			skip_ws(ps);
			if (ps->p < ps->end && *ps->p == '}')
				return fail(ps, ps->p, "trailing comma in inline table is not allowed");
		}
	if ((r = set_origin(ps, t, O_INLINE)) < 0)
		return r;
	*out = TAKE_PTR(t);
	return 0;
}

static int parse_value(struct parser *ps, json_t **out, unsigned depth)
{
	const char *s = ps->p;
	if (s >= ps->end || (*s && strchr("\n\r#,]}", *s)))
		return fail(ps, s, "missing value, found %s", describe(ps, s));
	if (*s == '"' || *s == '\'') {
		_cleanup_(buf_done) struct buf b = { 0 };
		int r = parse_string(ps, &b, false);
		if (r < 0)
			return r;
		*out = json_stringn_nocheck(b.s, b.len);
		return *out ? 0 : oom(ps);
	}
	if (*s == '[')
		return parse_array(ps, out, depth);
	if (*s == '{')
		return parse_inline_table(ps, out, depth);
	if (is_token(*s))
		return parse_scalar(ps, out);
	return fail(ps, s, "invalid value starting with %s", describe(ps, s));
}

static int parse_document(struct parser *ps)
{
	for (;;) {
		int r = 0;
		const char *after = "value";
		skip_ws(ps);
		if (ps->p >= ps->end)
			return 0;
		if (*ps->p == '[') {
			r = parse_header(ps);
			after = "table header";
		} else if (*ps->p != '#' && *ps->p != '\n' && *ps->p != '\r')
			r = parse_keyval(ps, ps->cur, ps->cur_depth);
		if (r < 0 || (r = end_of_line(ps, after)) < 0)
			return r;
	}
}

int cstor_toml_parse(json_t **out, const char *text, size_t len, const char *filename, cstor_error *err)
{
	_cleanup_(parser_done) struct parser ps = {
		.filename = filename ? filename : "<input>",
		.err = err,
	};
	_cleanup_(json_decrefp) json_t *root = NULL;
	int r;

	if (!text)
		text = "", len = 0;
	ps.start = ps.p = text;
	ps.end = text + len;
	/* Tolerate the byte order mark some editors write. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		ps.start = ps.p = text + 3;
	if (!(root = json_object()))
		return oom(&ps);
	ps.root = ps.cur = root;
	if ((r = check_utf8(&ps)) < 0 || (r = parse_document(&ps)) < 0)
		return r;
	*out = TAKE_PTR(root);
	return 0;
}

int cstor_toml_parse_file(json_t **out, const char *path, cstor_error *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	_cleanup_free_ char *data = NULL;
	size_t len = 0, cap = 0;

	if (fd < 0)
		return cstor_error_errno(err, errno, "open %s", path);
	for (;;) {
		if (cap - len < 4096) {
			if (cap >= MAX_FILE_SIZE)
				return cstor_error_set(err, EFBIG, "read %s: larger than %u bytes", path,
						       MAX_FILE_SIZE);
			size_t ncap = cap ? cap * 2 : 16384;
			char *d = realloc(data, ncap);
			if (!d)
				return cstor_error_set(err, ENOMEM, "read %s: out of memory", path);
			data = d;
			cap = ncap;
		}
		ssize_t n = read(fd, data + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cstor_error_errno(err, errno, "read %s", path);
		if (n == 0)
			break;
		len += n;
	}
	return cstor_toml_parse(out, data, len, path, err);
}
