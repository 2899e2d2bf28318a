/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Scope-bound ownership. Every owned local is initialised to its empty value
 * (NULL, -1) and declared with one of these; ownership leaves the variable only
 * through TAKE_PTR()/TAKE_FD(), which also resets it. All cleanup helpers are
 * idempotent and keep errno as it was, so error paths can return -errno after
 * cleanup ran.
 */
#ifndef CSTOR_UTIL_CLEANUP_H
#define CSTOR_UTIL_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

#define TAKE_PTR(p)                                                            \
	({                                                                     \
		__typeof__(p) _tp = (p);                                       \
		(p) = NULL;                                                    \
		_tp;                                                           \
	})

#define TAKE_FD(fd)                                                            \
	({                                                                     \
		int _tfd = (fd);                                               \
		(fd) = -1;                                                     \
		_tfd;                                                          \
	})

static inline void freep(void *p)
{
	int saved = errno;
	free(*(void **)p);
	errno = saved;
}

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		*fd = -1;
		errno = saved;
	}
}

static inline void fclosep(FILE **f)
{
	if (*f) {
		int saved = errno;
		fclose(*f);
		*f = NULL;
		errno = saved;
	}
}

static inline void closedirp(DIR **d)
{
	if (*d) {
		int saved = errno;
		closedir(*d);
		*d = NULL;
		errno = saved;
	}
}

/* A NULL-terminated array of owned strings. */
static inline void strv_free(char **v)
{
	if (!v)
		return;
	for (char **i = v; *i; i++)
		free(*i);
	free(v);
}

static inline void strv_freep(char ***v)
{
	int saved = errno;
	strv_free(*v);
	*v = NULL;
	errno = saved;
}

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_closedir_ _cleanup_(closedirp)
#define _cleanup_strv_free_ _cleanup_(strv_freep)

/* Define a cleanup helper for a type with a free function that accepts NULL. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                                \
	static inline void func##p(type *p)                                    \
	{                                                                      \
		if (*p) {                                                      \
			int _saved = errno;                                    \
			func(*p);                                              \
			*p = NULL;                                             \
			errno = _saved;                                        \
		}                                                              \
	}

#endif
