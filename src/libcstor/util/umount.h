/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CSTOR_UTIL_UMOUNT_H
#define CSTOR_UTIL_UMOUNT_H

/*
 * umount2(@target, MNT_DETACH) that returns as soon as the mount has left
 * the mount table, instead of when the kernel has also waited out an RCU
 * grace period and torn the superblock down (milliseconds to tens of
 * milliseconds per unmount on some machines, whoever asks).
 *
 * A lazy unmount already lets the teardown happen later (when the last user
 * lets go); this only stops the caller from waiting for it. The syscall
 * runs in a short-lived grandchild process (signals blocked, no locks, no
 * atfork handlers: a raw clone), the intermediate child is reaped at once,
 * and the caller polls the mount ID at @target and the child's result pipe:
 * whichever says "done" first. Errors of umount2 are returned as -errno.
 * Falls back to a plain umount2 when statx cannot report mount IDs.
 */
int cstor_umount_detach(const char *target);

#endif
