/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A minimal TAP harness for the unit tests. A test is a function returning
 * TEST_PASS, TEST_SKIP (after test_skip("reason")) or TEST_FAIL; CHECK()
 * reports the failing expression with its location and fails the test.
 *
 *     static int test_foo(void) { CHECK(1 + 1 == 2); return TEST_PASS; }
 *     TAP_MAIN(TEST(test_foo), TEST(test_bar))
 *
 * Run one test by name: ./test-x test_foo
 */
#ifndef CSTOR_TESTS_TAP_H
#define CSTOR_TESTS_TAP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST_PASS 0
#define TEST_FAIL (-1)
#define TEST_SKIP 77

struct tap_test {
	const char *name;
	int (*fn)(void);
};

static char tap_skip_reason[512];

static inline int test_skip(const char *reason)
{
	snprintf(tap_skip_reason, sizeof(tap_skip_reason), "%s", reason);
	return TEST_SKIP;
}

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			printf("# %s:%d: check failed: %s\n", __FILE__,         \
			       __LINE__, #cond);                               \
			fflush(stdout);                                        \
			return TEST_FAIL;                                      \
		}                                                              \
	} while (0)

#define CHECK_MSG(cond, ...)                                                   \
	do {                                                                   \
		if (!(cond)) {                                                 \
			printf("# %s:%d: check failed: %s: ", __FILE__,         \
			       __LINE__, #cond);                               \
			printf(__VA_ARGS__);                                   \
			printf("\n");                                          \
			fflush(stdout);                                        \
			return TEST_FAIL;                                      \
		}                                                              \
	} while (0)

#define CHECK_STREQ(a, b)                                                      \
	do {                                                                   \
		const char *_a = (a), *_b = (b);                               \
		if (!_a || !_b || strcmp(_a, _b) != 0) {                       \
			printf("# %s:%d: \"%s\" != \"%s\" (%s vs %s)\n",         \
			       __FILE__, __LINE__, _a ? _a : "(null)",         \
			       _b ? _b : "(null)", #a, #b);                    \
			fflush(stdout);                                        \
			return TEST_FAIL;                                      \
		}                                                              \
	} while (0)

#define CHECK_OK(expr)                                                         \
	do {                                                                   \
		int _r = (expr);                                               \
		if (_r < 0) {                                                  \
			printf("# %s:%d: %s returned %d (%s)\n", __FILE__,      \
			       __LINE__, #expr, _r, strerror(-_r));            \
			fflush(stdout);                                        \
			return TEST_FAIL;                                      \
		}                                                              \
	} while (0)

#define TEST(fn) { #fn, fn }

static inline int tap_run(const struct tap_test *tests, size_t n, int argc, char **argv)
{
	int failed = 0;
	size_t planned = 0;
	for (size_t i = 0; i < n; i++)
		if (argc < 2 || strcmp(argv[1], tests[i].name) == 0)
			planned++;
	printf("1..%zu\n", planned);
	fflush(stdout);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (argc >= 2 && strcmp(argv[1], tests[i].name) != 0)
			continue;
		k++;
		tap_skip_reason[0] = 0;
		int r = tests[i].fn();
		if (r == TEST_PASS)
			printf("ok %zu - %s\n", k, tests[i].name);
		else if (r == TEST_SKIP)
			printf("ok %zu - %s # SKIP %s\n", k, tests[i].name, tap_skip_reason);
		else {
			printf("not ok %zu - %s\n", k, tests[i].name);
			failed++;
		}
		fflush(stdout);
	}
	return failed ? 1 : 0;
}

#define TAP_MAIN(...)                                                          \
	int main(int argc, char **argv)                                        \
	{                                                                      \
		static const struct tap_test tests[] = { __VA_ARGS__ };        \
		return tap_run(tests, sizeof(tests) / sizeof(tests[0]), argc,  \
			       argv);                                          \
	}

#endif
