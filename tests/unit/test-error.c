/* SPDX-License-Identifier: Apache-2.0 */
#include "tap.h"

#include "util/error-internal.h"

static int test_set_and_wrap(void)
{
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK(cstor_error_set(&err, ENOENT, "layer %s", "abc") == -ENOENT);
	CHECK_STREQ(cstor_error_message(&err), "layer abc");
	CHECK(cstor_error_wrap(&err, 0, "mount %d", 7) == -ENOENT);
	CHECK_STREQ(cstor_error_message(&err), "mount 7: layer abc");
	cstor_error_clear(&err);
	CHECK(err.code == 0 && err.msg == NULL);
	CHECK_STREQ(cstor_error_message(&err), "");
	return TEST_PASS;
}

static int test_errno_message(void)
{
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK(cstor_error_errno(&err, -EACCES, "open %s", "/x") == -EACCES);
	CHECK_STREQ(cstor_error_message(&err), "open /x: Permission denied");
	cstor_error_clear(&err);
	return TEST_PASS;
}

static int test_null_error(void)
{
	/* Callers that do not want messages pass NULL. */
	CHECK(cstor_error_set(NULL, EBUSY, "x") == -EBUSY);
	CHECK(cstor_error_wrap(NULL, -EROFS, "x") == -EROFS);
	CHECK(cstor_error_set(NULL, 0, "x") == -EIO);
	return TEST_PASS;
}

TAP_MAIN(TEST(test_set_and_wrap), TEST(test_errno_message), TEST(test_null_error))
