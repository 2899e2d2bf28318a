/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-layer apply locks: <run_dir>/apply-<id>.lock (run_dir is
 * <runroot>/<driver>-layers), an OFD write lock held by the process applying
 * a tarball to layer <id>. It excludes concurrent applies to one layer and
 * tells a running apply from an interrupted one (a dead process holds no
 * lock).
 */
#ifndef CSTOR_RECORDS_APPLY_LOCK_H
#define CSTOR_RECORDS_APPLY_LOCK_H

#include <stdbool.h>

#include <cstor/error.h>

/* Take the apply lock of @id without waiting (-EBUSY when held); the
 * returned fd holds it. Release unlinks the lock file and closes the fd. */
int cstor_apply_lock_take(int *fd_out, const char *run_dir, const char *id, cstor_error *err);
void cstor_apply_lock_release(const char *run_dir, const char *id, int fd);
/* Whether some process holds the apply lock of @id. */
bool cstor_apply_in_progress(const char *run_dir, const char *id);

#endif
