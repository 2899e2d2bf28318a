/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers used everywhere in the library and the CLI. */
#ifndef CSTOR_UTIL_MACRO_H
#define CSTOR_UTIL_MACRO_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))
#define _likely_(x) __builtin_expect(!!(x), 1)
#define _unlikely_(x) __builtin_expect(!!(x), 0)
#define _hidden_ __attribute__((visibility("hidden")))

/* Turn a libc "-1 and errno" result into 0 / -errno. */
#define RET_NERRNO(expr)                                                       \
	({                                                                     \
		__auto_type _r = (expr);                                       \
		_r < 0 ? -errno : 0;                                           \
	})

static inline int negative_errno(void)
{
	/* errno may be 0 after a failing call in rare libc paths; never
	 * report success for a failure. */
	return errno > 0 ? -errno : -EIO;
}

static inline bool streq(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

static inline bool streq_ptr(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

static inline const char *startswith(const char *s, const char *prefix)
{
	size_t l = strlen(prefix);
	return strncmp(s, prefix, l) == 0 ? s + l : NULL;
}

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
