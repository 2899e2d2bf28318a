/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Idmapped mounts for overlay (docs/idmap.md): a user namespace holding a
 * container's ID mappings, and clones of lower layers mounted through it
 * (mount_setattr with MOUNT_ATTR_IDMAP), so one unshifted copy of a layer
 * serves containers of any mappings, as containers/storage does when the
 * kernel allows it.
 *
 * Only <linux/mount.h> here: glibc's <sys/mount.h> clashes with it.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drivers/overlay-internal.h"
#include "util/cleanup.h"
#include "util/error-internal.h"
#include "util/fileutil.h"

#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif

/* "inside outside count" lines of /proc/PID/uid_map; no map is the
 * identity of every ID. */
static int write_map(pid_t pid, const char *file, const cstor_idmap *m, size_t n,
		     cstor_error *err)
{
	char path[64], text[4096];
	size_t len = 0;
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	if (n == 0)
		len = (size_t)snprintf(text, sizeof(text), "0 0 4294967295\n");
	for (size_t i = 0; i < n; i++) {
		int k = snprintf(text + len, sizeof(text) - len, "%u %u %u\n", m[i].container_id,
				 m[i].host_id, m[i].size);
		if (k < 0 || (size_t)k >= sizeof(text) - len)
			return cstor_error_set(err, E2BIG, "%s: too many ID mappings", file);
		len += (size_t)k;
	}
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len)
		return cstor_error_errno(err, errno, "write %s", path);
	return 0;
}

int overlay_userns_open(const struct cstor_idmaps *maps, int *out, cstor_error *err)
{
	int ready[2], done[2];
	if (pipe2(ready, O_CLOEXEC) < 0)
		return cstor_error_errno(err, errno, "pipe");
	if (pipe2(done, O_CLOEXEC) < 0) {
		close(ready[0]);
		close(ready[1]);
		return cstor_error_errno(err, errno, "pipe");
	}
	pid_t pid = fork();
	if (pid == 0) {
		/* Only async-signal-safe calls: the caller may have threads.
		 * The write end of done is closed here too, so the read
		 * below ends when the parent closes its copy. */
		close(done[1]);
		close(ready[0]);
		char c = unshare(CLONE_NEWUSER) == 0 ? 'y' : 'n';
		if (write(ready[1], &c, 1) != 1)
			_exit(1);
		/* Until the parent has its namespace (or gave up): EOF or a
		 * byte, either way the child is done. */
		_exit(read(done[0], &c, 1) < 0 ? 1 : 0);
	}
	close(ready[1]);
	close(done[0]);
	int r = 0;
	char c = 0;
	if (pid < 0)
		r = cstor_error_errno(err, errno, "fork");
	else if (read(ready[0], &c, 1) != 1 || c != 'y')
		r = cstor_error_set(err, EPERM, "create a user namespace for ID mappings");
	if (r == 0)
		r = write_map(pid, "uid_map", maps->uids, maps->n_uids, err);
	if (r == 0)
		r = write_map(pid, "gid_map", maps->gids, maps->n_gids, err);
	if (r == 0) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
		*out = open(path, O_RDONLY | O_CLOEXEC);
		if (*out < 0)
			r = cstor_error_errno(err, errno, "open %s", path);
	}
	close(ready[0]);
	close(done[1]); /* the child's read returns: it exits */
	if (pid > 0)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	return r;
}

int overlay_idmapped_mount(int src_fd, int userns_fd, const char *target, cstor_error *err)
{
	_cleanup_close_ int t = (int)syscall(SYS_open_tree, src_fd, "",
					     OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	if (t < 0)
		return cstor_error_errno(err, errno, "clone a mount for an idmapped mount");
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (__u64)userns_fd };
	if (syscall(SYS_mount_setattr, t, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
		return cstor_error_errno(err, errno, "set ID mappings on a mount (mount_setattr)");
	if (syscall(SYS_move_mount, t, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return cstor_error_errno(err, errno, "attach an idmapped mount on %s", target);
	return 0;
}

void overlay_idmapped_unmount(const char *target)
{
	(void)syscall(SYS_umount2, target, 2 /* MNT_DETACH, in <sys/mount.h> */);
}
