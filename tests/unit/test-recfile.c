/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Record files under their lock (records/recfile.c): a missing, blank or
 * null file is an empty store, a corrupt one an error naming the path (never
 * an empty store that the next save would make real); another writer is
 * noticed by the lock's token (cstor's or Go's) or by the file's mtime;
 * saving replaces the file atomically; read-only stores never write.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "records/recfile.h"
#include "util/cleanup.h"
#include "rec-samples.h"
#include "tap.h"

/* The tests drive the lock primitives directly (see test-lockfile.c). */
#ifdef __clang__
#pragma clang diagnostic ignored "-Wthread-safety-analysis"
#endif

static char top[] = "/tmp/cstor-recfile-test.XXXXXX";

static void remove_top(void)
{
	go_store_remove(top);
}

/* A fresh store directory under one temporary tree, removed at exit
 * whatever the tests did. */
static const char *newdir(void)
{
	static int n;
	static char d[256];
	if (n == 0) {
		if (!mkdtemp(top))
			return NULL;
		atexit(remove_top);
	}
	snprintf(d, sizeof(d), "%s/s%d/store", top, n++);
	return d;
}

static int test_blank(void)
{
	CHECK(cstor_recfile_blank("", 0));
	CHECK(cstor_recfile_blank(" \t\r\n", 4));
	CHECK(!cstor_recfile_blank("\0", 1));
	CHECK(!cstor_recfile_blank(" []", 3));
	CHECK(!cstor_recfile_blank("\v", 1)); /* not JSON whitespace */
	return TEST_PASS;
}

static int test_parse_list(void)
{
	static const char *const empty[] = { "", "\n", "null", "\t null \n", NULL };
	for (size_t i = 0; empty[i]; i++) {
		json_t *root = (json_t *)1;
		CHECK_OK(cstor_recfile_parse_list(&root, empty[i], strlen(empty[i]), "/p/x.json",
						  "images", NULL));
		CHECK(root == NULL);
	}
	json_t *root = NULL;
	CHECK_OK(cstor_recfile_parse_list(&root, " [ ] ", 5, "/p/x.json", "images", NULL));
	CHECK(json_is_array(root) && json_array_size(root) == 0);
	json_decref(root);

	static const char *const corrupt[] = { "[", "garbage", "{}", "\"[]\"", "0", "true",
					       "[] []", "nul", NULL };
	for (size_t i = 0; corrupt[i]; i++) {
		cstor_error err = CSTOR_ERROR_INIT;
		root = NULL;
		CHECK_MSG(cstor_recfile_parse_list(&root, corrupt[i], strlen(corrupt[i]), "/p/x.json",
						   "images", &err) == -EBADMSG,
			  "%s", corrupt[i]);
		CHECK(root == NULL);
		CHECK_MSG(strstr(cstor_error_message(&err), "loading \"/p/x.json\""), "%s",
			  cstor_error_message(&err));
		cstor_error_clear(&err);
	}
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK(cstor_recfile_parse_list(&root, "{}", 2, "/p/x.json", "images", &err) == -EBADMSG);
	CHECK(strstr(cstor_error_message(&err), "expected a list of images"));
	cstor_error_clear(&err);
	/* A NUL byte in the middle is corrupt, not the end of the file. */
	CHECK(cstor_recfile_parse_list(&root, "[]\0garbage", 10, "/p/x.json", "images", &err) ==
	      -EBADMSG);
	cstor_error_clear(&err);
	return TEST_PASS;
}

static int test_open_read_write(void)
{
	const char *d = newdir();
	CHECK(d);
	struct cstor_recfile f;
	cstor_lock lock;
	CHECK_OK(cstor_recfile_open(&f, &lock, d, "images.json", "images.lock", false, NULL));
	struct stat st;
	CHECK(stat(d, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
	char p[512];
	snprintf(p, sizeof(p), "%s/images.json", d);
	CHECK_STREQ(f.path, p);

	struct cstor_recfile_seen seen = { 0 };
	cstor_lock_rlock(&lock);
	CHECK(cstor_recfile_stale(&f, &lock, &seen)); /* never loaded */
	char *data = (char *)1;
	size_t len = 1;
	CHECK_OK(cstor_recfile_read(&f, &lock, &data, &len, &seen, NULL));
	CHECK(data == NULL && len == 0); /* no file: empty store */
	CHECK(seen.loaded);
	CHECK(!cstor_recfile_stale(&f, &lock, &seen));
	cstor_lock_unlock(&lock);

	/* An old reader's fd keeps the old content: the file is replaced, not
	 * rewritten in place. */
	cstor_lock_lock(&lock);
	CHECK_OK(cstor_recfile_write(&f, &lock, "[1]", 3, &seen, NULL));
	int old = open(p, O_RDONLY | O_CLOEXEC);
	CHECK(old >= 0);
	CHECK_OK(cstor_recfile_write(&f, &lock, "[22]", 4, &seen, NULL));
	CHECK(!cstor_recfile_stale(&f, &lock, &seen)); /* our own write */
	cstor_lock_unlock(&lock);
	char buf[16] = { 0 };
	CHECK(pread(old, buf, sizeof(buf), 0) == 3 && memcmp(buf, "[1]", 3) == 0);
	close(old);
	CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == 4);

	/* The token of the save is in the lock file. */
	char lp[512];
	snprintf(lp, sizeof(lp), "%s/images.lock", d);
	int lfd = open(lp, O_RDONLY | O_CLOEXEC);
	unsigned char tok[80];
	CHECK(lfd >= 0 && pread(lfd, tok, sizeof(tok), 0) == 64);
	close(lfd);
	CHECK(seen.token.len == 64 && memcmp(tok, seen.token.bytes, 64) == 0);

	/* Nothing but the file, its lock and its spare (docs/formats.md §1.6)
	 * is left in the directory. */
	DIR *dir = opendir(d);
	CHECK(dir);
	int n = 0;
	struct dirent *e;
	bool odd = false;
	while ((e = readdir(dir))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		n++;
		if (strcmp(e->d_name, "images.json") && strcmp(e->d_name, "images.lock") &&
		    strcmp(e->d_name, ".spare-images.json")) {
			printf("# left over: %s\n", e->d_name);
			odd = true;
		}
	}
	closedir(dir);
	CHECK(n == 3 && !odd);

	/* Read back. */
	struct cstor_recfile_seen seen2 = { 0 };
	cstor_lock_rlock(&lock);
	CHECK_OK(cstor_recfile_read(&f, &lock, &data, &len, &seen2, NULL));
	cstor_lock_unlock(&lock);
	CHECK(len == 4 && data && strcmp(data, "[22]") == 0);
	free(data);
	CHECK(cstor_lock_token_equal(&seen.token, &seen2.token));
	cstor_recfile_close(&f, &lock);
	return TEST_PASS;
}

/* A save by another process (its own lock object, a new token) makes the
 * records stale; so does a hand edit that only changes the file's mtime. */
static int test_stale(void)
{
	const char *d = newdir();
	CHECK(d);
	struct cstor_recfile f;
	cstor_lock lock;
	CHECK_OK(cstor_recfile_open(&f, &lock, d, "layers.json", "layers.lock", false, NULL));
	struct cstor_recfile_seen seen = { 0 };
	cstor_lock_lock(&lock);
	CHECK_OK(cstor_recfile_write(&f, &lock, "[]", 2, &seen, NULL));
	CHECK(!cstor_recfile_stale(&f, &lock, &seen));
	cstor_lock_unlock(&lock);

	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct cstor_recfile g;
		cstor_lock l2;
		struct cstor_recfile_seen s2 = { 0 };
		if (cstor_recfile_open(&g, &l2, d, "layers.json", "layers.lock", false, NULL) < 0)
			_exit(1);
		cstor_lock_lock(&l2);
		int r = cstor_recfile_write(&g, &l2, "[ ]", 3, &s2, NULL);
		cstor_lock_unlock(&l2);
		_exit(r < 0 ? 2 : 0);
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	cstor_lock_rlock(&lock);
	CHECK(cstor_recfile_stale(&f, &lock, &seen));
	char *data = NULL;
	size_t len = 0;
	CHECK_OK(cstor_recfile_read(&f, &lock, &data, &len, &seen, NULL));
	CHECK(len == 3);
	free(data);
	CHECK(!cstor_recfile_stale(&f, &lock, &seen));
	cstor_lock_unlock(&lock);

	/* Same token, other mtime (an editor that does not know the lock). */
	char p[512];
	snprintf(p, sizeof(p), "%s/layers.json", d);
	struct timespec ts[2] = { { 1000000000, 5 }, { 1000000000, 5 } };
	CHECK(utimensat(AT_FDCWD, p, ts, 0) == 0);
	cstor_lock_rlock(&lock);
	CHECK(cstor_recfile_stale(&f, &lock, &seen));
	CHECK_OK(cstor_recfile_read(&f, &lock, &data, &len, &seen, NULL));
	free(data);
	CHECK(!cstor_recfile_stale(&f, &lock, &seen));
	/* The file removed: stale again (an empty store now). */
	CHECK(unlink(p) == 0);
	CHECK(cstor_recfile_stale(&f, &lock, &seen));
	cstor_lock_unlock(&lock);
	cstor_recfile_close(&f, &lock);
	return TEST_PASS;
}

/* A corrupt file is reported with its path by the read + parse path the
 * stores use; the file is left alone. */
static int test_corrupt_file(void)
{
	const char *d = newdir();
	CHECK(d);
	struct cstor_recfile f;
	cstor_lock lock;
	CHECK_OK(cstor_recfile_open(&f, &lock, d, "containers.json", "containers.lock", false,
				     NULL));
	char p[512];
	snprintf(p, sizeof(p), "%s/containers.json", d);
	FILE *fp = fopen(p, "we");
	CHECK(fp && fputs("[{\"id\":", fp) >= 0 && fclose(fp) == 0);
	struct cstor_recfile_seen seen = { 0 };
	char *data = NULL;
	size_t len = 0;
	cstor_lock_rlock(&lock);
	CHECK_OK(cstor_recfile_read(&f, &lock, &data, &len, &seen, NULL));
	cstor_lock_unlock(&lock);
	json_t *root = NULL;
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK(cstor_recfile_parse_list(&root, data, len, f.path, "containers", &err) == -EBADMSG);
	free(data);
	char want[600];
	snprintf(want, sizeof(want), "loading \"%s\"", p);
	CHECK_MSG(strstr(cstor_error_message(&err), want), "%s", cstor_error_message(&err));
	cstor_error_clear(&err);
	struct stat st;
	CHECK(stat(p, &st) == 0 && st.st_size == 7);
	cstor_recfile_close(&f, &lock);
	return TEST_PASS;
}

/* An additional (read-only) store: nothing is created, a missing directory
 * reads as empty, a write is -EROFS naming the file. */
static int test_read_only(void)
{
	const char *d = newdir();
	CHECK(d);
	struct cstor_recfile f;
	cstor_lock lock;
	CHECK_OK(cstor_recfile_open(&f, &lock, d, "images.json", "images.lock", true, NULL));
	struct stat st;
	CHECK(stat(d, &st) < 0 && errno == ENOENT);
	struct cstor_recfile_seen seen = { 0 };
	char *data = (char *)1;
	size_t len = 1;
	cstor_lock_rlock(&lock);
	CHECK_OK(cstor_recfile_read(&f, &lock, &data, &len, &seen, NULL));
	CHECK(data == NULL && len == 0);
	cstor_lock_unlock(&lock);
	cstor_error err = CSTOR_ERROR_INIT;
	cstor_lock_lock(&lock);
	int r = cstor_recfile_write(&f, &lock, "[]", 2, &seen, &err);
	cstor_lock_unlock(&lock);
	CHECK(r == -EROFS && strstr(cstor_error_message(&err), "images.json"));
	cstor_error_clear(&err);
	CHECK(stat(d, &st) < 0 && errno == ENOENT);
	cstor_recfile_close(&f, &lock);

	/* A read-write store whose directory cannot be made: an error naming
	 * the directory, nothing left open. */
	char bad[600];
	snprintf(bad, sizeof(bad), "%s/file", top);
	int fd = open(bad, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	close(fd);
	char sub[700];
	snprintf(sub, sizeof(sub), "%s/x", bad);
	CHECK(cstor_recfile_open(&f, &lock, sub, "images.json", "images.lock", false, &err) < 0);
	CHECK(err.code != 0 && f.dirfd == -1 && f.path == NULL);
	cstor_error_clear(&err);
	return TEST_PASS;
}

/* The Go CLI's save is noticed through its token, and cstor reads what it
 * wrote. */
static int test_go_write_seen(void)
{
	char dir[256];
	int k = go_store_make(dir, sizeof(dir));
	if (k == 77)
		return test_skip("the Go CLI containers-storage cannot make a store here");
	CHECK(k == 0);
	int ret = TEST_FAIL;
	char d[512], cmd[2048];
	snprintf(d, sizeof(d), "%s/g/vfs-layers", dir);
	struct cstor_recfile f;
	cstor_lock lock;
	struct cstor_recfile_seen seen = { 0 };
	char *data = NULL;
	size_t len = 0;
	if (cstor_recfile_open(&f, &lock, d, "layers.json", "layers.lock", false, NULL) < 0)
		goto out_rm;
	cstor_lock_rlock(&lock);
	k = cstor_recfile_read(&f, &lock, &data, &len, &seen, NULL);
	bool stale = cstor_recfile_stale(&f, &lock, &seen);
	cstor_lock_unlock(&lock);
	free(data);
	if (k < 0 || stale || seen.token.len != 64)
		goto out;
	/* Keep the mtime from telling: only the token may reveal the save. */
	snprintf(cmd, sizeof(cmd),
		 "containers-storage -g %s/g --run %s/r -s vfs add-names -n gonew base >/dev/null "
		 "2>&1 && touch -d @%lld.%09ld %s/layers.json",
		 dir, dir, (long long)seen.mtime.tv_sec, seen.mtime.tv_nsec, d);
	if (system(cmd) != 0)
		goto out;
	cstor_lock_rlock(&lock);
	stale = cstor_recfile_stale(&f, &lock, &seen);
	k = cstor_recfile_read(&f, &lock, &data, &len, &seen, NULL);
	cstor_lock_unlock(&lock);
	if (!stale) {
		printf("# Go's save was not noticed\n");
		goto out;
	}
	if (k < 0 || !data || !strstr(data, "\"gonew\"")) {
		free(data);
		goto out;
	}
	free(data);
	ret = TEST_PASS;
out:
	cstor_recfile_close(&f, &lock);
out_rm:
	go_store_remove(dir);
	return ret;
}

TAP_MAIN(TEST(test_blank), TEST(test_parse_list), TEST(test_open_read_write), TEST(test_stale),
	 TEST(test_corrupt_file), TEST(test_read_only), TEST(test_go_write_seen))
