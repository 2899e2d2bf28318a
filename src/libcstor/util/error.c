/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error-internal.h"



void cstor_error_clear(cstor_error *err)
{
	if (!err)
		return;
	free(err->msg);
	err->msg = NULL;
	err->code = 0;
}

const char *cstor_error_message(const cstor_error *err)
{
	if (!err)
		return "";
	if (err->msg)
		return err->msg;
	if (err->code)
		return strerror(err->code);
	return "";
}

static int absolute(int code)
{
	if (code < 0)
		code = -code;
	return code ? code : EIO;
}

int cstor_error_setv(cstor_error *err, int code, const char *fmt, va_list ap)
{
	code = absolute(code);
	if (!err)
		return -code;
	free(err->msg);
	err->code = code;
	/* On OOM the message is lost but the code survives; cstor_error_message
	 * falls back to strerror(). */
	if (vasprintf(&err->msg, fmt, ap) < 0)
		err->msg = NULL;
	return -code;
}

int cstor_error_set(cstor_error *err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = cstor_error_setv(err, code, fmt, ap);
	va_end(ap);
	return r;
}

int cstor_error_errno(cstor_error *err, int code, const char *fmt, ...)
{
	code = absolute(code);
	if (!err)
		return -code;
	char *head = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&head, fmt, ap);
	va_end(ap);
	free(err->msg);
	err->msg = NULL;
	err->code = code;
	if (n >= 0 && asprintf(&err->msg, "%s: %s", head, strerror(code)) < 0)
		err->msg = NULL;
	free(head);
	return -code;
}

int cstor_error_wrap(cstor_error *err, int code, const char *fmt, ...)
{
	if (!err)
		return -absolute(code);
	if (!err->code)
		err->code = absolute(code);
	char *head = NULL, *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&head, fmt, ap);
	va_end(ap);
	if (n >= 0 && asprintf(&msg, "%s: %s", head, cstor_error_message(err)) >= 0) {
		free(err->msg);
		err->msg = msg;
	}
	free(head);
	return -err->code;
}

void cstor_error_move(cstor_error *dst, cstor_error *src)
{
	cstor_error_clear(dst);
	*dst = *src;
	src->code = 0;
	src->msg = NULL;
}
