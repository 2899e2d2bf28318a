/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Holder files (mount/holders.h): persistent holders last, a process
 * holder lives exactly as long as some process has its open file
 * description (killed holders are not live, whatever their pid), half-made
 * holders are cleaned up, and the state file round-trips. None of this
 * needs root: the same checks run as uid 65534 when we are root.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mount/holders.h"
#include "util/fileutil.h"
#include "util/macro.h"
#include "util/rm.h"
#include "util/strv.h"
#include "tap.h"

/* Paths are short; a truncated one would be a test bug. */
#define PATHF(buf, ...)                                                        \
	((size_t)snprintf(buf, sizeof(buf), __VA_ARGS__) >= sizeof(buf) ? abort() : (void)0)

static char top[4096] = "/tmp/cstor-holders-test.XXXXXX";
static char dir[4096];

static void remove_top(void)
{
	cstor_rm_rf_at_quiet(AT_FDCWD, top);
}

/* A fresh holder directory (not created: the first holder makes it). */
static int fresh(void)
{
	static int n;
	if (n == 0) {
		if (!mkdtemp(top) || chmod(top, 0755) < 0)
			return -1;
		atexit(remove_top);
	}
	PATHF(dir, "%s/t%d/cstor-holders/layer", top, n++);
	return 0;
}

static int scan(struct cstor_holder_scan *h, bool list)
{
	cstor_error err = CSTOR_ERROR_INIT;
	int r = cstor_holders_scan(h, dir, list, &err);
	if (r < 0)
		printf("# scan %s: %s\n", dir, err.msg);
	cstor_error_clear(&err);
	return r;
}

static bool exists(const char *file)
{
	return access(file, F_OK) == 0;
}

static int test_no_directory_no_holders(void)
{
	CHECK(fresh() == 0);
	struct cstor_holder_scan h;
	CHECK_OK(scan(&h, true));
	CHECK(h.persistent == 0 && h.process == 0 && h.n == 0);
	cstor_holder_scan_done(&h);
	return TEST_PASS;
}

static int test_persistent_holders(void)
{
	CHECK(fresh() == 0);
	cstor_error err = CSTOR_ERROR_INIT;
	char *f1 = NULL, *f2 = NULL;
	CHECK_OK(cstor_holder_create(NULL, &f1, dir, false, false, "shell", &err));
	CHECK_OK(cstor_holder_create(NULL, &f2, dir, false, false, NULL, &err));
	CHECK(strcmp(f1, f2) != 0);
	struct cstor_holder_scan h;
	CHECK_OK(scan(&h, true));
	CHECK(h.persistent == 2 && h.process == 0);
	CHECK(strv_length(h.persistent_files) == 2);
	CHECK(startswith(h.persistent_files[0], "s-") && startswith(h.persistent_files[1], "s-"));
	CHECK(h.n == 2);
	bool described = false;
	for (size_t i = 0; i < h.n; i++) {
		CHECK(h.list[i].kind == CSTOR_HOLDER_PERSISTENT);
		CHECK(h.list[i].pid == getpid() && h.list[i].since > 0 && h.list[i].count == 1);
		described |= h.list[i].description && strcmp(h.list[i].description, "shell") == 0;
	}
	CHECK(described);
	cstor_holder_scan_done(&h);
	/* Persistent: no process keeps them, and they stay. */
	CHECK(exists(f1) && exists(f2));
	CHECK(unlink(f1) == 0);
	CHECK_OK(scan(&h, false));
	CHECK(h.persistent == 1 && h.n == 0);
	cstor_holder_scan_done(&h);
	free(f1);
	free(f2);
	return TEST_PASS;
}

/* Live while its open file description is open, in this process or any
 * other; dead (and removed by the next scan) once it is closed. */
static int test_process_holder_lives_with_its_fd(void)
{
	CHECK(fresh() == 0);
	cstor_error err = CSTOR_ERROR_INIT;
	int fd = -1;
	char *file = NULL;
	CHECK_OK(cstor_holder_create(&fd, &file, dir, true, false, "engine", &err));
	CHECK(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC));
	CHECK(strstr(file, "/p-") != NULL);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(dfd >= 0);
	CHECK(cstor_holder_alive(dfd, strrchr(file, '/') + 1));
	struct cstor_holder_scan h;
	CHECK_OK(scan(&h, true));
	CHECK(h.process == 1 && h.persistent == 0 && h.n == 1);
	CHECK(h.list[0].kind == CSTOR_HOLDER_PROCESS && h.list[0].pid == getpid());
	CHECK_STREQ(h.list[0].description, "engine");
	cstor_holder_scan_done(&h);
	/* A child sharing the description keeps it alive after we close. */
	int go[2];
	CHECK(pipe2(go, O_CLOEXEC) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		char c;
		close(go[1]);
		(void)!read(go[0], &c, 1);
		_exit(0);
	}
	close(go[0]);
	close(fd);
	CHECK(cstor_holder_alive(dfd, strrchr(file, '/') + 1));
	CHECK_OK(scan(&h, false));
	CHECK(h.process == 1);
	cstor_holder_scan_done(&h);
	close(go[1]);
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	/* The child had the description through fork; with the child gone,
	 * so is the hold, and the scan removes the file. */
	CHECK(!cstor_holder_alive(dfd, strrchr(file, '/') + 1));
	CHECK_OK(scan(&h, false));
	CHECK(h.process == 0);
	cstor_holder_scan_done(&h);
	CHECK(!exists(file));
	close(dfd);
	free(file);
	return TEST_PASS;
}

/* A child takes a process hold and is SIGKILLed: not live any more. */
static int test_killed_holder_is_dead(void)
{
	CHECK(fresh() == 0);
	int ready[2];
	CHECK(pipe2(ready, O_CLOEXEC) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(ready[0]);
		int fd;
		if (cstor_holder_create(&fd, NULL, dir, true, false, "child", NULL) < 0)
			_exit(1);
		(void)!write(ready[1], "x", 1);
		for (;;)
			pause();
	}
	close(ready[1]);
	char c;
	CHECK(read(ready[0], &c, 1) == 1);
	close(ready[0]);
	struct cstor_holder_scan h;
	CHECK_OK(scan(&h, true));
	CHECK(h.process == 1 && h.n == 1 && h.list[0].pid == pid);
	cstor_holder_scan_done(&h);
	CHECK(kill(pid, SIGKILL) == 0);
	int st;
	CHECK(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st));
	CHECK_OK(scan(&h, false));
	CHECK(h.process == 0 && h.persistent == 0);
	cstor_holder_scan_done(&h);
	/* Its file is gone with it. */
	CHECK_OK(scan(&h, false));
	CHECK(h.process == 0);
	cstor_holder_scan_done(&h);
	return TEST_PASS;
}

/* A holder whose fd is inherited across exec (with-mount's command)
 * outlives the process that made it. */
static int test_inherited_hold_outlives_its_maker(void)
{
	CHECK(fresh() == 0);
	int ready[2];
	CHECK(pipe2(ready, O_CLOEXEC) == 0);
	pid_t maker = fork();
	CHECK(maker >= 0);
	if (maker == 0) {
		close(ready[0]);
		int fd;
		if (cstor_holder_create(&fd, NULL, dir, true, true, NULL, NULL) < 0 ||
		    (fcntl(fd, F_GETFD) & FD_CLOEXEC))
			_exit(1);
		pid_t cmd = fork();
		if (cmd == 0) {
			/* The command: keeps the fd, knows nothing of it. */
			char arg[32];
			snprintf(arg, sizeof(arg), "exec sleep 300 # %d", fd);
			execl("/bin/sh", "sh", "-c", arg, (char *)NULL);
			_exit(127);
		}
		char line[32];
		int n = snprintf(line, sizeof(line), "%d\n", (int)cmd);
		(void)!write(ready[1], line, n);
		for (;;)
			pause();
	}
	close(ready[1]);
	char buf[32] = { 0 };
	CHECK(read(ready[0], buf, sizeof(buf) - 1) > 0);
	close(ready[0]);
	pid_t cmd = atoi(buf);
	CHECK(cmd > 0);
	kill(maker, SIGKILL);
	waitpid(maker, NULL, 0);
	struct cstor_holder_scan h;
	int live = scan(&h, false) == 0 ? (int)h.process : -1;
	cstor_holder_scan_done(&h);
	kill(cmd, SIGKILL);
	/* The command is our grandchild: reparented, not ours to reap; wait
	 * until it is gone. */
	for (int i = 0; i < 200 && kill(cmd, 0) == 0; i++)
		usleep(10000);
	CHECK_MSG(live == 1, "live holders while the command runs: %d", live);
	int dead = -1;
	for (int i = 0; i < 200 && dead != 0; i++) {
		dead = scan(&h, false) == 0 ? (int)h.process : -1;
		cstor_holder_scan_done(&h);
		if (dead)
			usleep(10000);
	}
	CHECK_MSG(dead == 0, "live holders after the command was killed: %d", dead);
	return TEST_PASS;
}

static int test_half_made_holders_removed(void)
{
	CHECK(fresh() == 0);
	CHECK(cstor_mkdir_p(dir, 0700, NULL) == 0);
	char p[4200], q[4200];
	snprintf(p, sizeof(p), "%s/.tmp-p-0011223344556677", dir);
	snprintf(q, sizeof(q), "%s/p-8899aabbccddeeff", dir);
	int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	close(fd);
	/* A process holder file nobody locks: its process died. */
	fd = open(q, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	close(fd);
	struct cstor_holder_scan h;
	CHECK_OK(scan(&h, false));
	CHECK(h.process == 0 && h.persistent == 0);
	cstor_holder_scan_done(&h);
	CHECK(!exists(p) && !exists(q));
	return TEST_PASS;
}

static int test_state_round_trip(void)
{
	CHECK(fresh() == 0);
	CHECK(cstor_mkdir_p(dir, 0700, NULL) == 0);
	cstor_error err = CSTOR_ERROR_INIT;
	struct cstor_holder_state st;
	/* None yet. */
	CHECK_OK(cstor_holder_state_read(&st, dir, &err));
	CHECK(st.written == -1 && !st.pending && !st.path);
	cstor_holder_state_done(&st);
	char *opts[] = { (char *)"ro", (char *)"nodev", NULL };
	struct cstor_holder_state w = {
		.written = 3, .foreign = 1, .pending = true, .pending_prev = 2,
		.path = (char *)"/run/x/merged", .options = opts, .label = (char *)"lbl",
	};
	CHECK_OK(cstor_holder_state_write(dir, &w, &err));
	CHECK_OK(cstor_holder_state_read(&st, dir, &err));
	CHECK(st.written == 3 && st.foreign == 1 && st.pending && st.pending_prev == 2);
	CHECK_STREQ(st.path, "/run/x/merged");
	CHECK_STREQ(st.label, "lbl");
	CHECK(strv_length(st.options) == 2);
	CHECK_STREQ(st.options[1], "nodev");
	cstor_holder_state_done(&st);
	w.pending = false;
	w.options = NULL;
	w.label = NULL;
	CHECK_OK(cstor_holder_state_write(dir, &w, &err));
	CHECK_OK(cstor_holder_state_read(&st, dir, &err));
	CHECK(!st.pending && !st.options && !st.label && st.written == 3);
	cstor_holder_state_done(&st);
	/* A torn state is none: the Go count rules. */
	char p[4200];
	snprintf(p, sizeof(p), "%s/state", dir);
	FILE *f = fopen(p, "we");
	CHECK(f);
	fputs("{\"written\":3,\"for", f);
	fclose(f);
	CHECK_OK(cstor_holder_state_read(&st, dir, &err));
	CHECK(st.written == -1 && st.foreign == 0);
	cstor_holder_state_done(&st);
	return TEST_PASS;
}

static int test_create_fails_with_an_error(void)
{
	CHECK(fresh() == 0);
	/* A file where the directory should be. */
	char parent[4200];
	snprintf(parent, sizeof(parent), "%s", dir);
	*strrchr(parent, '/') = 0;
	CHECK(cstor_mkdir_p(parent, 0700, NULL) == 0);
	int fd = open(dir, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	close(fd);
	cstor_error err = CSTOR_ERROR_INIT;
	char *file = NULL;
	int r = cstor_holder_create(NULL, &file, dir, false, false, NULL, &err);
	CHECK(r < 0 && err.code == -r && err.msg && strstr(err.msg, dir));
	CHECK(file == NULL);
	cstor_error_clear(&err);
	struct cstor_holder_scan h;
	r = cstor_holders_scan(&h, dir, false, &err);
	CHECK(r == -ENOTDIR && err.code == ENOTDIR && strstr(err.msg, dir));
	cstor_error_clear(&err);
	return TEST_PASS;
}

/* The tests above as an unprivileged user: a forked child drops to uid
 * 65534 and runs them in a directory it owns. */
static int test_unprivileged(void)
{
	if (geteuid() != 0)
		return test_skip("not root: every test above already ran unprivileged");
	CHECK(fresh() == 0);
	char base[4200];
	PATHF(base, "%s/nobody", top);
	CHECK(mkdir(base, 0700) == 0 && chown(base, 65534, 65534) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0 ||
		    geteuid() != 65534)
			_exit(2);
		static int (*const tests[])(void) = {
			test_no_directory_no_holders, test_persistent_holders,
			test_process_holder_lives_with_its_fd, test_killed_holder_is_dead,
			test_inherited_hold_outlives_its_maker, test_half_made_holders_removed,
			test_state_round_trip, test_create_fails_with_an_error,
		};
		/* fresh() now makes directories under the one we own. */
		PATHF(top, "%s", base);
		for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
			if (tests[i]() != TEST_PASS) {
				printf("# unprivileged test %zu failed\n", i);
				fflush(stdout);
				_exit(1);
			}
		_exit(0);
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	return TEST_PASS;
}

TAP_MAIN(TEST(test_no_directory_no_holders), TEST(test_persistent_holders),
	 TEST(test_process_holder_lives_with_its_fd), TEST(test_killed_holder_is_dead),
	 TEST(test_inherited_hold_outlives_its_maker), TEST(test_half_made_holders_removed),
	 TEST(test_state_round_trip), TEST(test_create_fails_with_an_error),
	 TEST(test_unprivileged))
