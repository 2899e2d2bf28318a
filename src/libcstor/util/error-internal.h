/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Setting errors inside the library. All setters accept err == NULL (the
 * caller does not want a message) and return the negative errno, so the
 * usual shape is:
 *
 *     if (fd < 0)
 *             return cstor_error_errno(err, errno, "open %s", path);
 */
#ifndef CSTOR_ERROR_INTERNAL_H
#define CSTOR_ERROR_INTERNAL_H

#include <stdarg.h>

#include <cstor/error.h>

#include "util/macro.h"

/* Set code and message "<fmt>". @code may be positive or negative. */
int cstor_error_set(cstor_error *err, int code, const char *fmt, ...) _printf_(3, 4);
int cstor_error_setv(cstor_error *err, int code, const char *fmt, va_list ap) _printf_(3, 0);

/* Set code and message "<fmt>: <strerror(code)>". */
int cstor_error_errno(cstor_error *err, int code, const char *fmt, ...) _printf_(3, 4);

/* Prepend "<fmt>: " to the message already in @err (which must be set) and
 * return its negative code. When @err is NULL returns @code. */
int cstor_error_wrap(cstor_error *err, int code, const char *fmt, ...) _printf_(3, 4);

/* Move the error of @src into @dst (which is cleared first). */
void cstor_error_move(cstor_error *dst, cstor_error *src);

static inline void cstor_error_clearp(cstor_error *e)
{
	cstor_error_clear(e);
}
#define _cleanup_error_ __attribute__((cleanup(cstor_error_clearp)))

#endif
