/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/umount.h"

static int mnt_id_at(const char *path, uint64_t *id)
{
	struct statx stx;
	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_MNT_ID, &stx) < 0)
		return -errno;
	if (!(stx.stx_mask & STATX_MNT_ID))
		return -ENOTSUP;
	*id = stx.stx_mnt_id;
	return 0;
}

static int plain(const char *target)
{
	return umount2(target, MNT_DETACH) < 0 ? -errno : 0;
}

/* fork() without atfork handlers: the child only makes raw syscalls. */
static pid_t raw_fork(void)
{
	return (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
}

int cstor_umount_detach(const char *target)
{
	uint64_t before;
	if (mnt_id_at(target, &before) < 0)
		return plain(target);
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return plain(target);
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid_t child = raw_fork();
	if (child == 0) {
		if (raw_fork() != 0)
			_exit(0);
		int e = umount2(target, MNT_DETACH) < 0 ? errno : 0;
		ssize_t n = write(p[1], &e, sizeof(e));
		(void)n;
		_exit(0);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(p[1]);
	if (child < 0) {
		close(p[0]);
		return plain(target);
	}
	int st;
	while (waitpid(child, &st, 0) < 0 && errno == EINTR)
		;
	int r = 0;
	for (unsigned spins = 0;; spins++) {
		struct pollfd pfd = { p[0], POLLIN, 0 };
		/* Poll briefly first: detaching takes microseconds. */
		int wait_ms = spins < 20000 ? 0 : 10;
		if (poll(&pfd, 1, wait_ms) > 0) {
			int e = 0;
			ssize_t n = read(p[0], &e, sizeof(e));
			/* Nothing read: the grandchild died without answering
			 * (it cannot be signalled, so only if it never ran). */
			r = n == (ssize_t)sizeof(e) ? -e : plain(target);
			break;
		}
		uint64_t now;
		if (mnt_id_at(target, &now) < 0 || now != before)
			break; /* gone from the table: the rest is the kernel's */
		if (spins < 20000) {
			struct timespec ts = { 0, 20000 };
			nanosleep(&ts, NULL);
		}
	}
	close(p[0]);
	return r;
}
