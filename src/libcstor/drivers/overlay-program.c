/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Overlay through a mount program (overlay.mount_program, e.g.
 * fuse-overlayfs), as containers/storage runs one: instead of mount(2),
 * `<program> -o <mount data> <target>` with the driver home as working
 * directory; the program starts its FUSE daemon and exits 0 once the file
 * system is mounted. Unmounting is a plain detach of the target (we are
 * root; fusermount is not needed).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drivers/overlay-internal.h"
#include "util/error-internal.h"
#include "util/cleanup.h"
#include "util/mountinfo.h"

extern char **environ;

/* The most stderr of a failed mount program quoted in the error. */
#define STDERR_MAX 2048

int overlay_program_set(struct cstor_driver *d, const char *program, cstor_error *err)
{
	const char *base = strrchr(program, '/');
	base = base ? base + 1 : program;
	char *p = strdup(program), *t = NULL;
	/* FUSE file systems show in mountinfo as "fuse.<subtype>", the
	 * subtype being the program's name (fuse-overlayfs sets it so). */
	if (!p || asprintf(&t, "fuse.%s", base) < 0) {
		free(p);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	free(d->mount_program);
	free(d->mount_fstype);
	d->mount_program = p;
	d->mount_fstype = t;
	return 0;
}

int overlay_program_lookup(const char *name, char **out)
{
	const char *path = getenv("PATH");
	if (!path || !path[0])
		path = "/usr/local/bin:/usr/bin:/bin";
	for (const char *s = path; *s;) {
		const char *e = strchrnul(s, ':');
		char *cand = NULL;
		if (e > s && asprintf(&cand, "%.*s/%s", (int)(e - s), s, name) < 0)
			return -ENOMEM;
		if (cand && access(cand, X_OK) == 0) {
			*out = cand;
			return 0;
		}
		free(cand);
		s = *e ? e + 1 : e;
	}
	return -ENOENT;
}

/* Whatever the program wrote to stderr, trimmed, for an error message. */
static void read_stderr(int fd, char *buf, size_t size)
{
	ssize_t n = pread(fd, buf, size - 1, 0);
	size_t len = n > 0 ? (size_t)n : 0;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		len--;
	buf[len] = 0;
	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\n')
			buf[i] = ' ';
	if (!len)
		snprintf(buf, size, "<stderr empty>");
}

int overlay_program_mount(struct cstor_driver *d, const char *data, const char *target,
			  cstor_error *err)
{
	/* stderr goes to an anonymous file, not a pipe: the daemon the
	 * program leaves behind could keep a pipe open (no EOF to wait for),
	 * and a chatty program could fill one before it exits. */
	_cleanup_close_ int errfd = memfd_create("cstor-mount-program", MFD_CLOEXEC);
	_cleanup_close_ int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (errfd < 0 || null < 0)
		return cstor_error_errno(err, errno, "overlay: prepare to run %s", d->mount_program);

	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int r = posix_spawn_file_actions_init(&fa);
	if (r)
		return cstor_error_errno(err, r, "overlay: run %s", d->mount_program);
	if ((r = posix_spawnattr_init(&attr))) {
		posix_spawn_file_actions_destroy(&fa);
		return cstor_error_errno(err, r, "overlay: run %s", d->mount_program);
	}
	/* The child starts with default signal dispositions and mask, whatever
	 * the library's caller set (an ignored SIGCHLD would break the
	 * program's own waits). */
	sigset_t all, none;
	sigfillset(&all);
	sigemptyset(&none);
	short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
	if (!r)
		r = posix_spawnattr_setflags(&attr, flags);
	if (!r)
		r = posix_spawnattr_setsigdefault(&attr, &all);
	if (!r)
		r = posix_spawnattr_setsigmask(&attr, &none);
	/* Relative lowers (l/<link>, <id>/diff) are relative to the home;
	 * the chdir happens in the child, never in our process, whose
	 * threads share one working directory. */
	if (!r)
		r = posix_spawn_file_actions_addfchdir_np(&fa, d->home_fd);
	if (!r)
		r = posix_spawn_file_actions_adddup2(&fa, null, STDIN_FILENO);
	if (!r)
		r = posix_spawn_file_actions_adddup2(&fa, null, STDOUT_FILENO);
	if (!r)
		r = posix_spawn_file_actions_adddup2(&fa, errfd, STDERR_FILENO);
	pid_t pid = -1;
	char *argv[] = { d->mount_program, (char *)"-o", (char *)data, (char *)target, NULL };
	if (!r)
		r = posix_spawnp(&pid, d->mount_program, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (r)
		return cstor_error_errno(err, r, "overlay: using mount program %s", d->mount_program);

	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return cstor_error_errno(err, errno, "overlay: wait for %s", d->mount_program);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	char msg[STDERR_MAX];
	read_stderr(errfd, msg, sizeof(msg));
	/* Go: "using mount program %s: <stderr>: exit status N". */
	if (WIFEXITED(st))
		return cstor_error_set(err, EIO, "overlay: using mount program %s: %s: exit status %d",
				       d->mount_program, msg, WEXITSTATUS(st));
	return cstor_error_set(err, EIO, "overlay: using mount program %s: %s: killed by signal %d",
			       d->mount_program, msg, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

void overlay_program_sync(const char *target)
{
	/* The daemon may keep writes in its cache (FUSE writeback): push
	 * them to the layer's diff/ before the mount is detached, as Go
	 * does when it unmounts without fusermount. */
	if (!cstor_mountinfo_has(target, NULL))
		return;
	_cleanup_close_ int fd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		(void)syncfs(fd);
}
