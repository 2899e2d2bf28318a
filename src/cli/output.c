/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

#include "cli.h"
#include "util/gojson.h"

void cli_json_string(FILE *f, const char *s)
{
	cstor_buf b = { 0 };
	cstor_json_str(&b, s);
	if (b.data)
		fwrite(b.data, 1, b.len, f);
	cstor_buf_free(&b);
}

int cli_argmap_init(struct cli_argmap *m, int argc)
{
	m->n = 0;
	m->keys = calloc((size_t)argc + 1, sizeof(*m->keys));
	m->vals = calloc((size_t)argc + 1, sizeof(*m->vals));
	if (!m->keys || !m->vals) {
		free(m->keys);
		free(m->vals);
		m->keys = NULL;
		m->vals = NULL;
		return -1;
	}
	return 0;
}

void cli_argmap_free(struct cli_argmap *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->vals[i]);
	free(m->keys);
	free(m->vals);
	m->keys = NULL;
	m->vals = NULL;
	m->n = 0;
}

int cli_argmap_set(struct cli_argmap *m, const char *key, const char *val)
{
	size_t i = 0;
	while (i < m->n && strcmp(m->keys[i], key) != 0)
		i++;
	char *v = strdup(val ? val : "");
	if (!v)
		return -1;
	if (i == m->n) {
		m->keys[i] = key;
		m->vals[i] = NULL;
		m->n++;
	}
	free(m->vals[i]);
	m->vals[i] = v;
	return 0;
}

const char *cli_argmap_get(const struct cli_argmap *m, const char *key)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->keys[i], key) == 0)
			return m->vals[i];
	return NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void cli_argmap_print_json(const struct cli_argmap *m, bool raw)
{
	/* Go's encoding/json writes map keys sorted bytewise. */
	const char **keys = malloc((m->n + 1) * sizeof(*keys));
	if (!keys) {
		fputs("cstor: out of memory\n", stderr);
		return;
	}
	memcpy(keys, m->keys, m->n * sizeof(*keys));
	qsort(keys, m->n, sizeof(*keys), cmp_str);
	putchar('{');
	for (size_t i = 0; i < m->n; i++) {
		if (i)
			putchar(',');
		cli_json_string(stdout, keys[i]);
		putchar(':');
		const char *v = cli_argmap_get(m, keys[i]);
		if (raw)
			fputs(v, stdout);
		else
			cli_json_string(stdout, v);
	}
	puts("}");
	free(keys);
}

int cli_read_all(FILE *f, char **data, size_t *len)
{
	size_t cap = 0, n = 0;
	char *buf = NULL;
	for (;;) {
		if (cap - n < 65536) {
			size_t ncap = cap ? cap * 2 : 65536;
			char *nb = realloc(buf, ncap + 1);
			if (!nb) {
				free(buf);
				errno = ENOMEM;
				return -1;
			}
			buf = nb;
			cap = ncap;
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			if (ferror(f)) {
				int e = errno ? errno : EIO;
				free(buf);
				errno = e;
				return -1;
			}
			break;
		}
	}
	buf[n] = 0;
	*data = buf;
	*len = n;
	return 0;
}

/* Go's strconv.Quote, as `%q` prints paths in `changes`. */
void cli_go_quote(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	putc('"', f);
	while (*p) {
		unsigned char c = *p;
		if (c == '"' || c == '\\') {
			fprintf(f, "\\%c", c);
			p++;
			continue;
		}
		if (c < 0x20 || c == 0x7f) {
			static const char esc[] = "abtnvfr";
			if (c >= 7 && c <= 13)
				fprintf(f, "\\%c", esc[c - 7]);
			else
				fprintf(f, "\\x%02x", c);
			p++;
			continue;
		}
		if (c < 0x80) {
			putc(c, f);
			p++;
			continue;
		}
		/* Valid UTF-8 is printed as is; other bytes as \x escapes. */
		size_t len = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
		bool ok = len > 0;
		for (size_t i = 1; ok && i < len; i++)
			ok = (p[i] & 0xc0) == 0x80;
		if (ok) {
			fwrite(p, 1, len, f);
			p += len;
		} else {
			fprintf(f, "\\x%02x", c);
			p++;
		}
	}
	putc('"', f);
}
