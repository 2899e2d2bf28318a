/* SPDX-License-Identifier: Apache-2.0 */
/* Named failure points: where a mutating operation can die (a kill -9) or
 * where a call can fail, chosen at run time by CSTOR_FAILPOINT, so that a
 * test can walk every point of an operation (docs/crash-testing.md). */
#pragma once

#include <stdbool.h>

/* 0 until the environment was read; then 1 when no point is selected and
 * no trace asked for (the usual case: one load and a branch per point). */
extern int cstor_failpoint_off;

int cstor_failpoint_slow(const char *name, const char *detail);

/* Pass the point @name (":" @detail appended when not NULL). Returns 0,
 * or -errno when CSTOR_FAILPOINT selects this pass with an errno; the
 * caller then fails as if the call at this point had failed with it.
 * Does not return when the point is selected to die. */
static inline int cstor_failpoint_at(const char *name, const char *detail)
{
	if (__builtin_expect(__atomic_load_n(&cstor_failpoint_off, __ATOMIC_RELAXED), 1))
		return 0;
	return cstor_failpoint_slow(name, detail);
}

static inline int cstor_failpoint(const char *name)
{
	return cstor_failpoint_at(name, NULL);
}

#include "util/error-internal.h"

/* A point where the next step fails when selected with an errno: @err
 * then says which step, as the step's own failure would. */
static inline int cstor_failpoint_err(cstor_error *err, const char *name, const char *detail,
				      const char *step)
{
	int r = cstor_failpoint_at(name, detail);
	return r < 0 ? cstor_error_errno(err, -r, "%s", step) : 0;
}
