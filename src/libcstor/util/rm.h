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

/* Remove everything under the directory @name below @dirfd, keeping the
 * directory itself (its mode, owner and times): a layer's files emptied for
 * rebuilding. @what names it in errors. */
int cstor_rm_contents_at(int dirfd, const char *name, const char *what, cstor_error *err);

/* The names of the directories directly under @dirfd (never symlinks),
 * except those in @skip (NULL-terminated, may be NULL) and those starting
 * with a dot; sorted. *out is NULL-terminated, malloc'd. */
int cstor_list_subdirs_at(char ***out, int dirfd, const char *const *skip, const char *what,
			  cstor_error *err);

#endif
