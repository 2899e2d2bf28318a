/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Errors: every fallible cstor function returns 0 on success or a negative
 * errno value, and public functions also fill a cstor_error with a message
 * that says what failed and on which object (set iff the return is < 0).
 *
 * The errno vocabulary (a function documents which of these it returns):
 *   ENOENT   unknown layer, image, container or file
 *   EEXIST   duplicate ID or name
 *   EBUSY    in use: mounted, has children, held by a container
 *   EROFS    the object lives in a read-only (additional) store
 *   EAGAIN   a lock is held and the caller asked not to wait
 *   EBADMSG  corrupt metadata or archive
 *   ENOTSUP  the driver or kernel lacks the feature
 *   EINVAL   bad arguments, unknown option or flag bits
 *   ECANCELED  the caller's cancel flag stopped it (cstor_pull_options)
 * plus what the kernel returns for I/O (EIO, ENOSPC, EACCES, ...).
 */
#ifndef CSTOR_ERROR_H
#define CSTOR_ERROR_H

#include <cstor/common.h>

CSTOR_BEGIN_DECL

typedef struct cstor_error {
	int code;  /* positive errno value, 0 when no error is set */
	char *msg; /* heap-allocated message, or NULL */
} cstor_error;

#define CSTOR_ERROR_INIT { 0, 0 }

/** Free the message and reset @err to CSTOR_ERROR_INIT. Accepts NULL. */
CSTOR_PUBLIC void cstor_error_clear(cstor_error *err);

/** The message of @err, never NULL ("" when none is set, strerror() when
 *  only a code is set). Valid until the next call on @err. */
CSTOR_PUBLIC const char *cstor_error_message(const cstor_error *err);

CSTOR_END_DECL

#endif
