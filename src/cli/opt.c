/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Flag parsing with the rules of Docker's mflag (containers-storage's
 * parser): parsing stops at the first non-flag argument or "--"; "--name",
 * "-n", "--name=value" and "--name value" are accepted; a boolean flag takes
 * an optional "=value" ("--debug=false"); values in "=value" lose one pair of
 * surrounding quotes; an unknown single-dash word is tried as bundled
 * one-letter flags ("-qj"); "-h", "-help" and "--help" ask for usage.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "util/strv.h"

static int failf(char **errmsg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int failf(char **errmsg, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(errmsg, fmt, ap) < 0)
		*errmsg = NULL;
	va_end(ap);
	return -1;
}

static const struct cli_flag *find(const struct cli_flag *const *sets, const char *name)
{
	for (size_t s = 0; sets[s]; s++)
		for (const struct cli_flag *f = sets[s]; f->names[0]; f++)
			for (size_t n = 0; n < 3 && f->names[n]; n++)
				if (strcmp(f->names[n], name) == 0)
					return f;
	return NULL;
}

static char *trim_quotes(const char *v)
{
	size_t l = strlen(v);
	if (l >= 2 && ((v[0] == '"' && v[l - 1] == '"') || (v[0] == '\'' && v[l - 1] == '\'')))
		return strndup(v + 1, l - 2);
	return strdup(v);
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const t[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const f[] = { "0", "f", "F", "FALSE", "false", "False" };
	for (size_t i = 0; i < 6; i++) {
		if (strcmp(v, t[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(v, f[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/* Apply one flag; *consumed tells whether the next argument was its value. */
static int apply(const struct cli_flag *f, const char *name, const char *value, bool has_value,
		 const char *next, bool *consumed, char **errmsg)
{
	*consumed = false;
	if (f->type == CLI_BOOL) {
		bool b = true;
		if (has_value && parse_bool(value, &b) < 0)
			return failf(errmsg, "invalid boolean value \"%s\" for  -%s", value, name);
		*(bool *)f->target = b;
		return 0;
	}
	if (!has_value) {
		if (!next)
			return failf(errmsg, "flag needs an argument: -%s", name);
		value = next;
		*consumed = true;
	}
	if (f->type == CLI_STRING) {
		char **t = f->target;
		free(*t);
		*t = strdup(value);
		return *t ? 0 : failf(errmsg, "out of memory");
	}
	return strv_append((char ***)f->target, value) < 0 ? failf(errmsg, "out of memory") : 0;
}

static int parse(const struct cli_flag *const *sets, int *argc, char ***argv, char **errmsg,
		 bool *dashdash)
{
	int n = *argc;
	char **a = *argv;
	*errmsg = NULL;
	*dashdash = false;
	while (n > 0) {
		const char *s = a[0];
		if (s[0] != '-' || s[1] == 0)
			break;
		if (strcmp(s, "--") == 0) {
			a++;
			n--;
			*dashdash = true;
			break;
		}
		const char *name = s + 1;
		if (name[0] == '=' || (name[0] == '-' && name[1] == '='))
			return failf(errmsg, "bad flag syntax: %s", s);
		a++;
		n--;
		const char *eq = strchr(name, '=');
		char *fname = eq ? strndup(name, (size_t)(eq - name)) : strdup(name);
		char *value = eq ? trim_quotes(eq + 1) : NULL;
		if (!fname || (eq && !value)) {
			free(fname);
			free(value);
			return failf(errmsg, "out of memory");
		}
		const struct cli_flag *f = find(sets, fname);
		int r = 0;
		if (f) {
			bool consumed;
			r = apply(f, fname, value, eq != NULL, n > 0 ? a[0] : NULL, &consumed, errmsg);
			if (consumed) {
				a++;
				n--;
			}
		} else if (strcmp(fname, "-help") == 0 || strcmp(fname, "help") == 0 ||
			   strcmp(fname, "h") == 0) {
			free(fname);
			free(value);
			return 1;
		} else if (strcmp(fname, "-version") == 0 && !eq) {
			free(fname);
			free(value);
			return 2;
		} else if (fname[0] == '-' || strlen(fname) < 2 || eq) {
			r = failf(errmsg, "flag provided but not defined: -%s", fname);
		} else {
			/* Bundled one-letter flags; a letter that takes a
			 * value takes the next argument. */
			for (const char *l = fname; *l && r == 0; l++) {
				char one[2] = { *l, 0 };
				const struct cli_flag *bf = find(sets, one);
				if (!bf) {
					r = failf(errmsg, "flag provided but not defined: -%s", fname);
					break;
				}
				bool consumed;
				r = apply(bf, one, NULL, false, n > 0 ? a[0] : NULL, &consumed, errmsg);
				if (consumed) {
					a++;
					n--;
				}
			}
		}
		free(fname);
		free(value);
		if (r < 0)
			return -1;
	}
	*argc = n;
	*argv = a;
	return 0;
}

int cli_parse_flags(const struct cli_flag *const *sets, int *argc, char ***argv, char **errmsg)
{
	bool dashdash;
	return parse(sets, argc, argv, errmsg, &dashdash);
}

/*
 * mflag stops at the first argument; people write `import SRC --name X`.
 * Parsing on after an argument changes the meaning of a Go command line
 * only where an argument after the first begins with "-" (Go takes it as
 * an argument, so does "--" here): names and IDs of a store do not, and
 * "--" keeps the Go reading when one does.
 */
int cli_parse_args(const struct cli_flag *const *sets, bool interspersed, int *argc,
		   char ***argv, char **errmsg)
{
	int n = *argc;
	char **a = *argv;
	char **pos = calloc((size_t)n + 1, sizeof(*pos));
	if (!pos)
		return failf(errmsg, "out of memory");
	int npos = 0;
	for (;;) {
		bool dashdash;
		int r = parse(sets, &n, &a, errmsg, &dashdash);
		if (r != 0) {
			free(pos);
			return r;
		}
		if (n == 0)
			break;
		if (!interspersed || dashdash) {
			while (n > 0) {
				pos[npos++] = a[0];
				a++;
				n--;
			}
			break;
		}
		pos[npos++] = a[0];
		a++;
		n--;
	}
	/* The array lives as long as the command runs, like argv. */
	*argc = npos;
	*argv = pos;
	return 0;
}
