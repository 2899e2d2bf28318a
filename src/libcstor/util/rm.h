/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CSTOR_UTIL_RM_H
#define CSTOR_UTIL_RM_H

#include <cstor/error.h>

/* Remove @name below @dirfd and everything under it, never following a
 * symlink (a hostile layer cannot make us delete outside it). Absent is
 * fine. Directories without write permission are made writable first. */
int cstor_rm_rf_at(int dirfd, const char *name, cstor_error *err);

/* The same, ignoring errors (best-effort cleanup). */
void cstor_rm_rf_at_quiet(int dirfd, const char *name);

#endif
