/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mountpoints.json (mount/mountpoints.h): containers/storage's format read
 * and written, a missing or empty file is no mounts, a corrupt one is an
 * error naming the file (never an empty state), and the last-writer token
 * and the mtime make a process see another's writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mount/mountpoints.h"
#include "util/fileutil.h"
#include "util/rm.h"
#include "tap.h"

/* Paths are short; a truncated one would be a test bug. */
#define PATHF(buf, ...)                                                        \
	((size_t)snprintf(buf, sizeof(buf), __VA_ARGS__) >= sizeof(buf) ? abort() : (void)0)

/* The tests hold the lock across failing CHECKs (the process reports and
 * exits); the analysis is for library code. */
#ifdef __clang__
#pragma clang diagnostic ignored "-Wthread-safety-analysis"
#endif

static char top[] = "/tmp/cstor-mountpoints-test.XXXXXX";
static char dir[4096];

static void remove_top(void)
{
	cstor_rm_rf_at_quiet(AT_FDCWD, top);
}

/* A fresh run-layers directory per test. */
static int fresh(void)
{
	static int n;
	if (n == 0) {
		if (!mkdtemp(top))
			return -1;
		atexit(remove_top);
	}
	PATHF(dir, "%s/t%d/overlay-layers", top, n++);
	return 0;
}

static int put_file(const char *content)
{
	char p[4200];
	snprintf(p, sizeof(p), "%s/mountpoints.json", dir);
	FILE *f = fopen(p, "we");
	if (!f)
		return -1;
	fputs(content, f);
	return fclose(f);
}

static char *get_file(void)
{
	char p[4200];
	snprintf(p, sizeof(p), "%s/mountpoints.json", dir);
	char *data = NULL;
	size_t len;
	return cstor_read_file_at(AT_FDCWD, p, &data, &len, p, NULL) < 0 ? NULL : data;
}

static int test_missing_file_is_empty(void)
{
	CHECK(fresh() == 0);
	struct cstor_mounts *m = NULL;
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK_OK(cstor_mounts_open(&m, dir, &err));
	CHECK(cstor_mounts_start(m, &err) == 0);
	CHECK(m->n == 0);
	CHECK(cstor_mounts_get(m, "abc") == NULL);
	cstor_mounts_done(m);
	/* Go writes "" or null for no mounts on some paths: both are empty. */
	const char *empty[] = { "", "  \n", "null", "[]" };
	for (size_t i = 0; i < 4; i++) {
		CHECK(put_file(empty[i]) == 0);
		CHECK_MSG(cstor_mounts_start(m, &err) == 0, "%s: %s", empty[i], err.msg);
		CHECK(m->n == 0);
		cstor_mounts_done(m);
	}
	cstor_mounts_free(m);
	return TEST_PASS;
}

static int test_go_format(void)
{
	CHECK(fresh() == 0);
	CHECK(cstor_mkdir_p(dir, 0700, NULL) == 0);
	/* What containers/storage writes (docs/formats.md §2.4). */
	CHECK(put_file("[{\"id\":\"aaa\",\"path\":\"/run/x/aaa/merged\",\"count\":2},"
		       "{\"id\":\"bbb\",\"path\":\"/run/x/bbb/merged\",\"count\":1}]") == 0);
	struct cstor_mounts *m = NULL;
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK_OK(cstor_mounts_open(&m, dir, &err));
	CHECK(cstor_mounts_start(m, &err) == 0);
	CHECK(m->n == 2);
	struct cstor_mount_rec *a = cstor_mounts_get(m, "aaa");
	CHECK(a && a->count == 2);
	CHECK_STREQ(a->path, "/run/x/aaa/merged");
	/* Change one, drop one, add one; records without a count or a path
	 * are not written (Go would read them as mounted nowhere). */
	CHECK_OK(cstor_mounts_set(m, "aaa", "/run/x/aaa/merged", 3, &err));
	CHECK_OK(cstor_mounts_set(m, "bbb", NULL, 0, &err));
	CHECK_OK(cstor_mounts_set(m, "ccc", "/p\"q", 1, &err));
	CHECK_OK(cstor_mounts_set(m, "ddd", "", 1, &err));
	CHECK(cstor_mounts_get(m, "bbb") == NULL);
	CHECK_OK(cstor_mounts_save(m, &err));
	cstor_mounts_done(m);
	char *text = get_file();
	CHECK_STREQ(text, "[{\"id\":\"aaa\",\"path\":\"/run/x/aaa/merged\",\"count\":3},"
			  "{\"id\":\"ccc\",\"path\":\"/p\\\"q\",\"count\":1}]");
	free(text);
	/* Nothing mounted: an empty list, as Go writes it. */
	CHECK(cstor_mounts_start(m, &err) == 0);
	CHECK_OK(cstor_mounts_set(m, "aaa", NULL, 0, &err));
	CHECK_OK(cstor_mounts_set(m, "ccc", NULL, -1, &err));
	CHECK_OK(cstor_mounts_set(m, "ddd", NULL, 0, &err));
	CHECK_OK(cstor_mounts_save(m, &err));
	cstor_mounts_done(m);
	text = get_file();
	CHECK_STREQ(text, "[]");
	free(text);
	cstor_mounts_free(m);
	return TEST_PASS;
}

/* A layer listed twice (hand-edited, or a tool's bug): Go fills its
 * layers in file order, so the last record is the one it reads; cstor
 * reads that one and writes the layer back once. Many records with a few
 * IDs stay cheap (no scan per record). */
static int test_duplicate_ids(void)
{
	CHECK(fresh() == 0);
	CHECK(cstor_mkdir_p(dir, 0700, NULL) == 0);
	CHECK(put_file("[{\"id\":\"aaa\",\"path\":\"/old\",\"count\":7},"
		       "{\"id\":\"bbb\",\"path\":\"/b\",\"count\":1},"
		       "{\"id\":\"aaa\",\"path\":\"/new\",\"count\":2}]") == 0);
	struct cstor_mounts *m = NULL;
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK_OK(cstor_mounts_open(&m, dir, &err));
	CHECK(cstor_mounts_start(m, &err) == 0);
	CHECK(m->n == 2);
	struct cstor_mount_rec *a = cstor_mounts_get(m, "aaa");
	CHECK(a && a->count == 2);
	CHECK_STREQ(a->path, "/new");
	CHECK_OK(cstor_mounts_set(m, "aaa", "/new", 3, &err));
	CHECK_OK(cstor_mounts_save(m, &err));
	cstor_mounts_done(m);
	char *text = get_file();
	CHECK_STREQ(text, "[{\"id\":\"aaa\",\"path\":\"/new\",\"count\":3},"
			  "{\"id\":\"bbb\",\"path\":\"/b\",\"count\":1}]");
	free(text);
	/* 200000 records of 3 IDs. */
	size_t cap = 200000 * 40 + 16, len = 0;
	char *big = malloc(cap);
	CHECK(big);
	big[len++] = '[';
	for (int i = 0; i < 200000; i++)
		len += (size_t)snprintf(big + len, cap - len,
					"%s{\"id\":\"i%d\",\"path\":\"/p\",\"count\":%d}",
					i ? "," : "", i % 3, i + 1);
	big[len++] = ']';
	big[len] = 0;
	CHECK(put_file(big) == 0);
	free(big);
	CHECK(cstor_mounts_start(m, &err) == 0);
	CHECK(m->n == 3);
	a = cstor_mounts_get(m, "i0");
	CHECK(a && a->count == 199999);
	cstor_mounts_done(m);
	cstor_mounts_free(m);
	return TEST_PASS;
}

static int test_corrupt_file_is_an_error(void)
{
	const char *bad[] = {
		"[{\"id\":\"aaa\",\"pa", /* torn */
		"{\"id\":\"aaa\"}",       /* not a list */
		"7",
		"[{\"path\":\"/x\",\"count\":1}]", /* no id */
		"[{\"id\":\"aaa\",\"count\":\"1\"}]", /* count not a number */
		"[{\"id\":\"aaa\",\"path\":7}]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(fresh() == 0);
		CHECK(cstor_mkdir_p(dir, 0700, NULL) == 0);
		CHECK(put_file(bad[i]) == 0);
		struct cstor_mounts *m = NULL;
		cstor_error err = CSTOR_ERROR_INIT;
		CHECK_OK(cstor_mounts_open(&m, dir, &err));
		int r = cstor_mounts_start(m, &err);
		CHECK_MSG(r == -EBADMSG, "%s: %d", bad[i], r);
		CHECK(err.msg && strstr(err.msg, dir) &&
		      strstr(err.msg, "mountpoints.json"));
		cstor_error_clear(&err);
		/* Failing released the lock: it fails again instead of hanging,
		 * and keeps failing: it is never read as "no mounts". */
		CHECK(cstor_mounts_start(m, &err) == -EBADMSG);
		cstor_error_clear(&err);
		/* Repaired by hand: read again. */
		CHECK(put_file("[]") == 0);
		CHECK(cstor_mounts_start(m, &err) == 0);
		CHECK(m->n == 0);
		cstor_mounts_done(m);
		cstor_mounts_free(m);
	}
	return TEST_PASS;
}

/* Another process's write (with the token) is seen at the next start. */
static int test_other_writer_seen(void)
{
	CHECK(fresh() == 0);
	struct cstor_mounts *m = NULL;
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK_OK(cstor_mounts_open(&m, dir, &err));
	CHECK(cstor_mounts_start(m, &err) == 0);
	CHECK(m->n == 0);
	cstor_mounts_done(m);
	for (int round = 1; round <= 3; round++) {
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			struct cstor_mounts *c = NULL;
			if (cstor_mounts_open(&c, dir, NULL) < 0 || cstor_mounts_start(c, NULL) != 0)
				_exit(1);
			int r = cstor_mounts_set(c, "aaa", "/x", round, NULL);
			if (r == 0)
				r = cstor_mounts_save(c, NULL);
			cstor_mounts_done(c);
			cstor_mounts_free(c);
			_exit(r == 0 ? 0 : 1);
		}
		int st;
		CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
		CHECK(cstor_mounts_start(m, &err) == 0);
		struct cstor_mount_rec *a = cstor_mounts_get(m, "aaa");
		CHECK_MSG(a && a->count == round, "round %d: %lld", round,
			  a ? (long long)a->count : -1LL);
		cstor_mounts_done(m);
	}
	cstor_mounts_free(m);
	return TEST_PASS;
}

/* A hand edit (no token change) is noticed by its mtime. */
static int test_hand_edit_seen(void)
{
	CHECK(fresh() == 0);
	struct cstor_mounts *m = NULL;
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK_OK(cstor_mounts_open(&m, dir, &err));
	CHECK(cstor_mounts_start(m, &err) == 0);
	CHECK_OK(cstor_mounts_set(m, "aaa", "/x", 1, &err));
	CHECK_OK(cstor_mounts_save(m, &err));
	cstor_mounts_done(m);
	CHECK(put_file("[{\"id\":\"aaa\",\"path\":\"/x\",\"count\":5}]") == 0);
	/* Make sure the mtime differs even on a coarse clock. */
	char p[4200];
	snprintf(p, sizeof(p), "%s/mountpoints.json", dir);
	struct timespec ts[2] = { { 0, UTIME_OMIT }, { 12345, 0 } };
	CHECK(utimensat(AT_FDCWD, p, ts, 0) == 0);
	CHECK(cstor_mounts_start(m, &err) == 0);
	struct cstor_mount_rec *a = cstor_mounts_get(m, "aaa");
	CHECK(a && a->count == 5);
	cstor_mounts_done(m);
	cstor_mounts_free(m);
	return TEST_PASS;
}

/* Our save writes the lock file's token, so Go readers reload. */
static int test_save_writes_token(void)
{
	CHECK(fresh() == 0);
	struct cstor_mounts *m = NULL;
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK_OK(cstor_mounts_open(&m, dir, &err));
	char lp[4200];
	snprintf(lp, sizeof(lp), "%s/mountpoints.lock", dir);
	char *before = NULL, *after = NULL;
	size_t lb = 0, la = 0;
	cstor_read_file_at(AT_FDCWD, lp, &before, &lb, lp, NULL);
	CHECK(cstor_mounts_start(m, &err) == 0);
	CHECK_OK(cstor_mounts_set(m, "aaa", "/x", 1, &err));
	CHECK_OK(cstor_mounts_save(m, &err));
	cstor_mounts_done(m);
	CHECK(cstor_read_file_at(AT_FDCWD, lp, &after, &la, lp, NULL) == 0);
	CHECK(la >= 64);
	CHECK(lb != la || memcmp(before, after, la) != 0);
	free(before);
	free(after);
	cstor_mounts_free(m);
	return TEST_PASS;
}

TAP_MAIN(TEST(test_missing_file_is_empty), TEST(test_go_format), TEST(test_duplicate_ids),
	 TEST(test_corrupt_file_is_an_error), TEST(test_other_writer_seen),
	 TEST(test_hand_edit_seen), TEST(test_save_writes_token))
