/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Preloaded (LD_PRELOAD) into the programs tests/cli/test-power-cut.sh runs
 * over cutfs: the kernel does not pass syncfs(2) or sync(2) on to a FUSE
 * server (it sends FUSE_SYNCFS to virtiofs only), so after the real call
 * this asks the filesystem for the xattr "user.cutfs.syncfs", which cutfs
 * (tests/tools/cutfs.c) takes as the syncfs it cannot see. Any other
 * filesystem answers ENODATA or ENOTSUP and nothing happens. The program's
 * own calls are unchanged: this only tells cutfs that they happened.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/xattr.h>
#include <unistd.h>

#define SYNCFS_XATTR "user.cutfs.syncfs"

/* Exported although the build hides symbols by default. */
__attribute__((visibility("default"))) int syncfs(int fd)
{
	static int (*real)(int);
	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "syncfs");
	int r = real(fd);
	int e = errno;
	char c;
	(void)fgetxattr(fd, SYNCFS_XATTR, &c, 0);
	errno = e;
	return r;
}

__attribute__((visibility("default"))) void sync(void)
{
	static void (*real)(void);
	if (!real)
		real = (void (*)(void))dlsym(RTLD_NEXT, "sync");
	real();
	/* sync(2) has no fd: the cutfs the test names. */
	const char *mnt = getenv("CUTFS_MOUNT");
	if (!mnt)
		return;
	int e = errno;
	char c;
	(void)getxattr(mnt, SYNCFS_XATTR, &c, 0);
	errno = e;
}
