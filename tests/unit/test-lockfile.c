/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lock files: tokens, exclusion between processes (against our own locks and
 * against classic POSIX fcntl locks as the Go code takes them), exclusion
 * between threads, read-only lock objects that never write.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "records/lockfile.h"
#include "tap.h"

/* These tests drive the lock primitives directly, including holding locks
 * across failed CHECKs (the process is about to report and exit): the
 * analysis is for library code, not for tests of the primitives. */
#ifdef __clang__
#pragma clang diagnostic ignored "-Wthread-safety-analysis"
#endif

static char dir[] = "/tmp/cstor-lock-test.XXXXXX";
static char path[4096];

static int setup(void)
{
	static bool created;
	if (!created) {
		if (!mkdtemp(dir))
			return -1;
		created = true;
	}
	static int n;
	snprintf(path, sizeof(path), "%s/sub/l%d.lock", dir, n++);
	return 0;
}

/* A child process that takes a lock on `path` and keeps it until told to
 * go; it reports readiness through a pipe. mode: 'w' cstor exclusive, 'r'
 * cstor shared, 'W' classic F_SETLK write, 'R' classic read. */
struct holder {
	pid_t pid;
	int go_fd;
};

static int holder_start(struct holder *h, char mode)
{
	int ready[2], go[2];
	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0)
		return -1;
	h->pid = fork();
	if (h->pid < 0)
		return -1;
	if (h->pid == 0) {
		if (mode == 'w' || mode == 'r') {
			cstor_lock l;
			if (cstor_lock_open(&l, path, false, NULL) < 0)
				_exit(3);
			if (mode == 'w')
				cstor_lock_lock(&l);
			else
				cstor_lock_rlock(&l);
		} else {
			int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
			struct flock fl = { .l_type = mode == 'W' ? F_WRLCK : F_RDLCK,
					    .l_whence = SEEK_SET };
			if (fd < 0 || fcntl(fd, F_SETLKW, &fl) < 0)
				_exit(4);
		}
		char c = 'x';
		if (write(ready[1], &c, 1) != 1)
			_exit(5);
		if (read(go[0], &c, 1) < 0)
			_exit(6);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	char c;
	int ok = read(ready[0], &c, 1) == 1 ? 0 : -1;
	close(ready[0]);
	h->go_fd = go[1];
	return ok;
}

static int holder_stop(struct holder *h)
{
	char c = 'g';
	if (write(h->go_fd, &c, 1) != 1)
		return -1;
	close(h->go_fd);
	int st;
	if (waitpid(h->pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int test_token_layout(void)
{
	cstor_lock_token a, b;
	cstor_lock_token_new(&a);
	cstor_lock_token_new(&b);
	CHECK(a.len == 64 && b.len == 64);
	uint32_t pid = (uint32_t)a.bytes[16] | (uint32_t)a.bytes[17] << 8 |
		       (uint32_t)a.bytes[18] << 16 | (uint32_t)a.bytes[19] << 24;
	CHECK(pid == (uint32_t)getpid());
	uint64_t ca = 0, cb = 0;
	for (int i = 7; i >= 0; i--) {
		ca = ca << 8 | a.bytes[8 + i];
		cb = cb << 8 | b.bytes[8 + i];
	}
	CHECK(cb == ca + 1);
	CHECK(!cstor_lock_token_equal(&a, &b));
	return TEST_PASS;
}

static int test_record_and_read(void)
{
	CHECK(setup() == 0);
	cstor_lock l;
	CHECK_OK(cstor_lock_open(&l, path, false, NULL));
	cstor_lock_token t0, t1, t2;
	cstor_lock_rlock(&l);
	CHECK_OK(cstor_lock_read_token(&l, &t0, NULL));
	cstor_lock_unlock(&l);
	CHECK(t0.len == 0); /* a new lock file is empty, as Go leaves it */
	cstor_lock_lock(&l);
	CHECK_OK(cstor_lock_record_write(&l, &t1, NULL));
	CHECK_OK(cstor_lock_read_token(&l, &t2, NULL));
	cstor_lock_unlock(&l);
	CHECK(cstor_lock_token_equal(&t1, &t2));
	struct stat st;
	CHECK(stat(path, &st) == 0 && st.st_size == 64);
	CHECK((st.st_mode & 0777) == 0644 || (st.st_mode & 0777) == (0644 & ~(mode_t)022));
	cstor_lock_close(&l);
	return TEST_PASS;
}

static int test_other_process_write_is_seen(void)
{
	CHECK(setup() == 0);
	cstor_lock l;
	CHECK_OK(cstor_lock_open(&l, path, false, NULL));
	cstor_lock_token mine, now;
	cstor_lock_lock(&l);
	CHECK_OK(cstor_lock_record_write(&l, &mine, NULL));
	cstor_lock_unlock(&l);
	pid_t pid = fork();
	if (pid == 0) {
		cstor_lock c;
		cstor_lock_token t;
		/* A new process has an empty registry: its own object. */
		if (cstor_lock_open(&c, path, false, NULL) < 0)
			_exit(1);
		cstor_lock_lock(&c);
		int r = cstor_lock_record_write(&c, &t, NULL);
		cstor_lock_unlock(&c);
		_exit(r < 0);
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	cstor_lock_rlock(&l);
	CHECK_OK(cstor_lock_read_token(&l, &now, NULL));
	cstor_lock_unlock(&l);
	CHECK(!cstor_lock_token_equal(&mine, &now));
	cstor_lock_close(&l);
	return TEST_PASS;
}

static int check_try(cstor_lock *l, bool want_excl, bool want_shared)
{
	if (cstor_lock_trylock(l)) {
		cstor_lock_unlock(l);
		if (!want_excl)
			return -1;
	} else if (want_excl)
		return -1;
	if (cstor_lock_tryrlock(l)) {
		cstor_lock_unlock(l);
		if (!want_shared)
			return -1;
	} else if (want_shared)
		return -1;
	return 0;
}

static int test_excludes_other_cstor_process(void)
{
	CHECK(setup() == 0);
	cstor_lock l;
	CHECK_OK(cstor_lock_open(&l, path, false, NULL));
	struct holder h;
	CHECK(holder_start(&h, 'w') == 0);
	CHECK(check_try(&l, false, false) == 0);
	CHECK(holder_stop(&h) == 0);
	CHECK(check_try(&l, true, true) == 0);
	CHECK(holder_start(&h, 'r') == 0);
	CHECK(check_try(&l, false, true) == 0);
	CHECK(holder_stop(&h) == 0);
	cstor_lock_close(&l);
	return TEST_PASS;
}

static int test_conflicts_with_classic_posix_locks(void)
{
	/* The Go implementation takes classic F_SETLKW locks: OFD locks must
	 * conflict with them both ways. */
	CHECK(setup() == 0);
	cstor_lock l;
	CHECK_OK(cstor_lock_open(&l, path, false, NULL));
	struct holder h;
	CHECK(holder_start(&h, 'W') == 0);
	CHECK(check_try(&l, false, false) == 0);
	CHECK(holder_stop(&h) == 0);
	CHECK(holder_start(&h, 'R') == 0);
	CHECK(check_try(&l, false, true) == 0);
	CHECK(holder_stop(&h) == 0);

	/* And a classic lock attempt fails while we hold ours. */
	cstor_lock_lock(&l);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(path, O_RDWR | O_CLOEXEC);
		struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
		_exit(fd >= 0 && fcntl(fd, F_SETLK, &fl) < 0 ? 0 : 1);
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	cstor_lock_unlock(&l);
	cstor_lock_close(&l);
	return TEST_PASS;
}

static int test_one_object_per_path(void)
{
	CHECK(setup() == 0);
	cstor_lock a, b;
	CHECK_OK(cstor_lock_open(&a, path, false, NULL));
	CHECK_OK(cstor_lock_open(&b, path, false, NULL));
	CHECK(a.file == b.file);
	cstor_lock_lock(&a);
	/* fcntl locks do not exclude within a process; the shared object's
	 * in-process lock must. */
	CHECK(!cstor_lock_trylock(&b));
	CHECK(!cstor_lock_tryrlock(&b));
	cstor_lock_unlock(&a);
	cstor_lock_rlock(&a);
	CHECK(cstor_lock_tryrlock(&b));
	cstor_lock_unlock(&b);
	CHECK(!cstor_lock_trylock(&b));
	cstor_lock_unlock(&a);
	cstor_lock ro;
	CHECK(cstor_lock_open(&ro, path, true, NULL) == -EINVAL);
	cstor_lock_close(&a);
	cstor_lock_close(&b);
	return TEST_PASS;
}

static int test_file_lock_released_on_last_unlock(void)
{
	CHECK(setup() == 0);
	cstor_lock a;
	CHECK_OK(cstor_lock_open(&a, path, false, NULL));
	cstor_lock_rlock(&a);
	cstor_lock_rlock(&a);
	cstor_lock_unlock(&a);
	/* Still held shared by this process: another process cannot take
	 * it exclusively. */
	struct holder h;
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(path, O_RDWR | O_CLOEXEC);
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		_exit(fd >= 0 && fcntl(fd, F_SETLK, &fl) < 0 ? 0 : 1);
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	cstor_lock_unlock(&a);
	CHECK(holder_start(&h, 'W') == 0);
	CHECK(holder_stop(&h) == 0);
	cstor_lock_close(&a);
	return TEST_PASS;
}

struct thread_arg {
	cstor_lock *lock;
	long *counter;
	int iterations;
	int bad;
};

static void *writer(void *p)
{
	struct thread_arg *a = p;
	for (int i = 0; i < a->iterations; i++) {
		cstor_lock_lock(a->lock);
		long v = *a->counter;
		/* Widen the window a data race would need. */
		for (volatile int k = 0; k < 50; k++)
			;
		*a->counter = v + 1;
		cstor_lock_unlock(a->lock);
	}
	return NULL;
}

static void *reader(void *p)
{
	struct thread_arg *a = p;
	for (int i = 0; i < a->iterations; i++) {
		cstor_lock_rlock(a->lock);
		long v1 = *a->counter;
		for (volatile int k = 0; k < 50; k++)
			;
		if (*a->counter != v1)
			a->bad++;
		cstor_lock_unlock(a->lock);
	}
	return NULL;
}

static int test_threads(void)
{
	CHECK(setup() == 0);
	cstor_lock l;
	CHECK_OK(cstor_lock_open(&l, path, false, NULL));
	long counter = 0;
	pthread_t th[8];
	struct thread_arg args[8];
	for (int i = 0; i < 8; i++) {
		args[i] = (struct thread_arg){ &l, &counter, 2000, 0 };
		CHECK(pthread_create(&th[i], NULL, i % 2 ? reader : writer, &args[i]) == 0);
	}
	int bad = 0;
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		bad += args[i].bad;
	}
	CHECK(counter == 4 * 2000);
	CHECK(bad == 0);
	cstor_lock_close(&l);
	return TEST_PASS;
}

static int test_read_only_never_writes(void)
{
	CHECK(setup() == 0);
	/* Missing file: not created, locking still works in-process. */
	cstor_lock ro;
	CHECK_OK(cstor_lock_open(&ro, path, true, NULL));
	cstor_lock_rlock(&ro);
	cstor_lock_token t;
	CHECK_OK(cstor_lock_read_token(&ro, &t, NULL));
	CHECK(t.len == 0);
	cstor_lock_unlock(&ro);
	CHECK(access(path, F_OK) < 0 && errno == ENOENT);
	cstor_lock_close(&ro);

	/* Existing file: shared lock only, writes refused, content kept. */
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	CHECK(write(fd, "0123456789", 10) == 10);
	close(fd);
	CHECK(chmod(path, 0444) == 0);
	CHECK_OK(cstor_lock_open(&ro, path, true, NULL));
	cstor_lock_lock(&ro);
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK(cstor_lock_record_write(&ro, &t, &err) == -EROFS);
	CHECK(strstr(cstor_error_message(&err), "read-only") != NULL);
	cstor_error_clear(&err);
	cstor_lock_unlock(&ro);
	struct holder h;
	cstor_lock_rlock(&ro);
	/* Another reader is not blocked by our (shared) hold. */
	CHECK(holder_start(&h, 'R') == 0);
	CHECK(holder_stop(&h) == 0);
	cstor_lock_unlock(&ro);
	char buf[16] = { 0 };
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0 && read(fd, buf, sizeof(buf)) == 10);
	close(fd);
	CHECK(memcmp(buf, "0123456789", 10) == 0);
	cstor_lock_close(&ro);
	return TEST_PASS;
}

static int test_cleanup(void)
{
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	return TEST_PASS;
}

static void *try_shared(void *arg)
{
	cstor_lock *l = arg;
	bool got = cstor_lock_tryrlock(l);
	if (got)
		cstor_lock_unlock(l);
	return got ? (void *)1 : NULL;
}

/* Whether another process can take a classic write lock on `path` now. */
static int other_process_can_write(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(path, O_RDWR | O_CLOEXEC);
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		_exit(fd >= 0 && fcntl(fd, F_SETLK, &fl) == 0 ? 0 : 1);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st) == 0;
}

static int test_lock_threads(void)
{
	/* Exclusive among threads, shared on the file (a reader's reload):
	 * taken while another process reads, keeps writers out. */
	CHECK(setup() == 0);
	cstor_lock l;
	CHECK_OK(cstor_lock_open(&l, path, false, NULL));
	struct holder h;
	CHECK(holder_start(&h, 'r') == 0);
	alarm(20); /* blocking here is the failure */
	cstor_lock_lock_threads(&l);
	alarm(0);
	pthread_t t;
	void *got = (void *)1;
	CHECK(pthread_create(&t, NULL, try_shared, &l) == 0);
	CHECK(pthread_join(t, &got) == 0);
	CHECK(got == NULL); /* our other threads wait */
	CHECK(holder_stop(&h) == 0);
	CHECK(other_process_can_write() == 0); /* other processes' writers wait */
	cstor_lock_unlock(&l);
	CHECK(other_process_can_write() == 1);
	cstor_lock_close(&l);
	return TEST_PASS;
}

TAP_MAIN(TEST(test_token_layout), TEST(test_record_and_read), TEST(test_other_process_write_is_seen),
	 TEST(test_excludes_other_cstor_process), TEST(test_conflicts_with_classic_posix_locks),
	 TEST(test_one_object_per_path), TEST(test_file_lock_released_on_last_unlock),
	 TEST(test_threads), TEST(test_lock_threads), TEST(test_read_only_never_writes),
	 TEST(test_cleanup))
