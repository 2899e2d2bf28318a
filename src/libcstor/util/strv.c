/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/strv.h"

size_t strv_length(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

int strv_consume(char ***v, char *s)
{
	if (!s)
		return -ENOMEM;
	size_t n = strv_length(*v);
	char **nv = realloc(*v, (n + 2) * sizeof(char *));
	if (!nv) {
		free(s);
		return -ENOMEM;
	}
	nv[n] = s;
	nv[n + 1] = NULL;
	*v = nv;
	return 0;
}

int strv_append(char ***v, const char *s)
{
	return strv_consume(v, strdup(s));
}

bool strv_contains(char *const *v, const char *s)
{
	for (size_t i = 0; v && v[i]; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

void strv_remove(char **v, const char *s)
{
	if (!v)
		return;
	size_t o = 0;
	for (size_t i = 0; v[i]; i++) {
		if (strcmp(v[i], s) == 0)
			free(v[i]);
		else
			v[o++] = v[i];
	}
	v[o] = NULL;
}

char **strv_copy(char *const *v)
{
	size_t n = strv_length(v);
	char **r = calloc(n + 1, sizeof(char *));
	if (!r)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		r[i] = strdup(v[i]);
		if (!r[i]) {
			strv_free(r);
			return NULL;
		}
	}
	return r;
}

char **strv_split(const char *s, char sep)
{
	char **r = calloc(1, sizeof(char *));
	if (!r)
		return NULL;
	for (;;) {
		const char *e = strchr(s, sep);
		size_t l = e ? (size_t)(e - s) : strlen(s);
		if (strv_consume(&r, strndup(s, l)) < 0) {
			strv_free(r);
			return NULL;
		}
		if (!e)
			return r;
		s = e + 1;
	}
}

char *strv_join(char *const *v, const char *sep)
{
	size_t n = 0, ls = strlen(sep);
	for (size_t i = 0; v && v[i]; i++)
		n += strlen(v[i]) + ls;
	char *r = malloc(n + 1), *p = r;
	if (!r)
		return NULL;
	for (size_t i = 0; v && v[i]; i++) {
		if (i) {
			memcpy(p, sep, ls);
			p += ls;
		}
		size_t l = strlen(v[i]);
		memcpy(p, v[i], l);
		p += l;
	}
	*p = 0;
	return r;
}
