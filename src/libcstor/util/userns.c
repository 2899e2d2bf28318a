/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Becoming root in a new user namespace, for an unprivileged caller, as
 * containers/storage's pkg/unshare does before running a rootless command:
 * the caller's IDs map to 0 and, where /etc/subuid and /etc/subgid give the
 * user ranges and newuidmap/newgidmap exist, the ranges map to 1 and up.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstor/store.h>

#include "util/cleanup.h"
#include "util/error-internal.h"
#include "util/fileutil.h"

/* The first range of @file for user @name or uid @id: 1, or 0 when none. */
static int subid_range(const char *file, const char *name, unsigned long id, unsigned long *start,
		       unsigned long *count)
{
	_cleanup_fclose_ FILE *f = fopen(file, "re");
	if (!f)
		return 0;
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		char who[256];
		unsigned long s, c;
		if (sscanf(line, "%255[^:]:%lu:%lu", who, &s, &c) != 3 || c == 0)
			continue;
		char *end;
		unsigned long n = strtoul(who, &end, 10);
		if ((name && strcmp(who, name) == 0) || (*end == '\0' && n == id)) {
			*start = s;
			*count = c;
			return 1;
		}
	}
	return 0;
}

static int write_file(const char *path, const char *data)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, data, strlen(data));
	if (n < 0)
		return -errno;
	return (size_t)n == strlen(data) ? 0 : -EIO;
}

/* Run newuidmap or newgidmap for process @pid; 0 when it mapped. */
static int run_newidmap(const char *tool, pid_t pid, unsigned long id, unsigned long start,
			unsigned long count)
{
	char spid[32], sid[32], sstart[32], scount[32];
	snprintf(spid, sizeof(spid), "%d", (int)pid);
	snprintf(sid, sizeof(sid), "%lu", id);
	snprintf(sstart, sizeof(sstart), "%lu", start);
	snprintf(scount, sizeof(scount), "%lu", count);
	pid_t c = fork();
	if (c < 0)
		return -errno;
	if (c == 0) {
		int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (devnull >= 0)
			dup2(devnull, STDERR_FILENO);
		execlp(tool, tool, spid, "0", sid, "1", "1", sstart, scount, (char *)NULL);
		_exit(127);
	}
	int st;
	while (waitpid(c, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EPERM;
}

int cstor_enter_user_namespace(cstor_error *err)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	const char *done = getenv("_CONTAINERS_USERNS_CONFIGURED");
	if (uid == 0 || (done && done[0]))
		return 0;
	struct passwd *pw = getpwuid(uid);
	const char *name = pw ? pw->pw_name : NULL;
	unsigned long us = 0, uc = 0, gs = 0, gc = 0;
	bool ranges = subid_range("/etc/subuid", name, uid, &us, &uc) &&
		      subid_range("/etc/subgid", name, uid, &gs, &gc);

	/* The helper maps the ranges from outside once this process has
	 * its namespace: it waits for a byte on @go, answers on @ok. */
	int go[2] = { -1, -1 }, ok[2] = { -1, -1 };
	pid_t helper = -1;
	if (ranges) {
		if (pipe2(go, O_CLOEXEC) < 0 || pipe2(ok, O_CLOEXEC) < 0)
			return cstor_error_errno(err, errno, "pipe");
		pid_t parent = getpid();
		helper = fork();
		if (helper < 0)
			return cstor_error_errno(err, errno, "fork");
		if (helper == 0) {
			char b;
			close(go[1]);
			close(ok[0]);
			if (read(go[0], &b, 1) != 1)
				_exit(1);
			char res = run_newidmap("newuidmap", parent, uid, us, uc) == 0 &&
						   run_newidmap("newgidmap", parent, gid, gs, gc) == 0 ?
					   'y' :
					   'n';
			_exit(write(ok[1], &res, 1) == 1 ? 0 : 1);
		}
		close(go[0]);
		close(ok[1]);
	}
	int r = unshare(CLONE_NEWUSER | CLONE_NEWNS);
	int e = errno;
	char res = 'n';
	if (helper > 0) {
		if (r == 0 && write(go[1], "g", 1) == 1 && read(ok[0], &res, 1) != 1)
			res = 'n';
		close(go[1]);
		close(ok[0]);
		while (waitpid(helper, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (r < 0)
		return cstor_error_errno(err, e,
					 "create a user namespace (are unprivileged user namespaces "
					 "enabled?)");
	if (res != 'y') {
		/* No ranges, or the tools refused: the caller's own IDs only,
		 * which an unprivileged process may map itself. */
		char m[64];
		snprintf(m, sizeof(m), "0 %u 1\n", (unsigned)uid);
		if ((r = write_file("/proc/self/uid_map", m)) < 0)
			return cstor_error_errno(err, -r, "write /proc/self/uid_map");
		if ((r = write_file("/proc/self/setgroups", "deny")) < 0 && r != -ENOENT)
			return cstor_error_errno(err, -r, "write /proc/self/setgroups");
		snprintf(m, sizeof(m), "0 %u 1\n", (unsigned)gid);
		if ((r = write_file("/proc/self/gid_map", m)) < 0)
			return cstor_error_errno(err, -r, "write /proc/self/gid_map");
	}
	/* Mounts made in here stay in here. */
	if (mount("none", "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return cstor_error_errno(err, errno, "make / a slave mount");
	char v[32];
	snprintf(v, sizeof(v), "%u", (unsigned)uid);
	setenv("_CONTAINERS_ROOTLESS_UID", v, 1);
	snprintf(v, sizeof(v), "%u", (unsigned)gid);
	setenv("_CONTAINERS_ROOTLESS_GID", v, 1);
	setenv("_CONTAINERS_USERNS_CONFIGURED", "done", 1);
	return 0;
}
