/* SPDX-License-Identifier: Apache-2.0 */
/* CSTOR_FAILPOINT=NAME[@N][:ERRNO] selects the N-th pass (default: the
 * first) of the point NAME in this process: without ERRNO the process
 * kills itself there with SIGKILL, as a kill -9 or an OOM kill would; with
 * ERRNO (EIO, ENOSPC, EDQUOT, EROFS or a number) that one pass fails with
 * it. CSTOR_FAILPOINT_TRACE=FILE appends the name of every point passed,
 * one a line, so that a test learns which points an operation has.
 * Always compiled: unset, a point costs a load and a branch, and the tests
 * in CI walk the same binary users run (docs/crash-testing.md). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/failpoint.h"

int cstor_failpoint_off;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char want[512];
static long want_pass = 1;
static int want_errno; /* 0: die */
static long passes;
static int trace_fd = -1;
static bool have_point;

static int parse_errno(const char *s)
{
	static const struct {
		const char *name;
		int e;
	} t[] = { { "EIO", EIO }, { "ENOSPC", ENOSPC }, { "EDQUOT", EDQUOT }, { "EROFS", EROFS },
		  { "ENOMEM", ENOMEM }, { "EACCES", EACCES } };
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(s, t[i].name) == 0)
			return t[i].e;
	char *end;
	long v = strtol(s, &end, 10);
	return *s && !*end && v > 0 && v < 4096 ? (int)v : EIO;
}

static void init(void)
{
	const char *fp = getenv("CSTOR_FAILPOINT");
	const char *tr = getenv("CSTOR_FAILPOINT_TRACE");
	if (fp && *fp && strlen(fp) < sizeof(want)) {
		strcpy(want, fp);
		/* The name itself has colons (layer-create:after-record), so
		 * the errno is what follows the last one, when it is one. */
		char *c = strrchr(want, ':');
		if (c && c[1] >= 'A' && c[1] <= 'Z') {
			want_errno = parse_errno(c + 1);
			*c = 0;
		} else if (c && c[1] >= '0' && c[1] <= '9' && !strchr(c, '@')) {
			want_errno = parse_errno(c + 1);
			*c = 0;
		}
		char *at = strrchr(want, '@');
		if (at) {
			want_pass = strtol(at + 1, NULL, 10);
			if (want_pass < 1)
				want_pass = 1;
			*at = 0;
		}
		have_point = true;
	}
	if (tr && *tr)
		trace_fd = open(tr, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (!have_point && trace_fd < 0)
		__atomic_store_n(&cstor_failpoint_off, 1, __ATOMIC_RELAXED);
}

static bool matches(const char *name, const char *detail)
{
	size_t n = strlen(name);
	if (strncmp(want, name, n) != 0)
		return false;
	if (!detail)
		return want[n] == 0;
	return want[n] == ':' && strcmp(want + n + 1, detail) == 0;
}

int cstor_failpoint_slow(const char *name, const char *detail)
{
	pthread_once(&once, init);
	if (__atomic_load_n(&cstor_failpoint_off, __ATOMIC_RELAXED))
		return 0;
	if (trace_fd >= 0) {
		char line[1024];
		int n = snprintf(line, sizeof(line), "%s%s%s\n", name, detail ? ":" : "",
				 detail ? detail : "");
		if (n > 0 && (size_t)n < sizeof(line))
			(void)!write(trace_fd, line, (size_t)n);
	}
	if (!have_point || !matches(name, detail))
		return 0;
	if (__atomic_add_fetch(&passes, 1, __ATOMIC_RELAXED) != want_pass)
		return 0;
	if (want_errno)
		return -want_errno;
	/* As a kill -9: no atexit handler, no buffered output, no unwinding. */
	raise(SIGKILL);
	_exit(137);
}
