/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Big-data item files: named as containers/storage names them (the key
 * itself when it is only [.0-9a-z], else "=" + padded standard base64), so
 * either implementation finds the other's items; written 0600 in a 0700
 * directory; missing items are ENOENT naming the key.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "records/bigdata.h"
#include "util/cleanup.h"
#include "rec-samples.h"
#include "tap.h"

static int test_file_names(void)
{
	/* Names the Go CLI was seen to use. */
	static const char *const cases[][2] = {
		{ "manifest", "manifest" },
		{ "abc.def9", "abc.def9" },
		{ "manifest-sha256:abc", "=bWFuaWZlc3Qtc2hhMjU2OmFiYw==" },
		{ "sha256:cfgdigest", "=c2hhMjU2OmNmZ2RpZ2VzdA==" },
		{ "Config", "=Q29uZmln" },
		{ "My-Key", "=TXktS2V5" },
		{ "Key With/Slash", "=S2V5IFdpdGgvU2xhc2g=" },
		{ "config.json", "config.json" },
		{ "...", "..." },
		{ "\xc3\xa9", "=w6k=" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		_cleanup_free_ char *n = NULL;
		CHECK_OK(cstor_big_data_file_name(&n, cases[i][0], NULL));
		CHECK_STREQ(n, cases[i][1]);
	}
	/* Keys no file can be named after. "ab?" encodes to "=YWI/". */
	static const char *const bad[] = { "", ".", "..", "ab?", NULL };
	for (size_t i = 0; bad[i]; i++) {
		char *n = NULL;
		cstor_error err = CSTOR_ERROR_INIT;
		CHECK_MSG(cstor_big_data_file_name(&n, bad[i], &err) == -EINVAL, "%s", bad[i]);
		CHECK(n == NULL && err.code == EINVAL);
		cstor_error_clear(&err);
	}
	char *n = NULL;
	CHECK(cstor_big_data_file_name(&n, NULL, NULL) == -EINVAL);
	return TEST_PASS;
}

static int test_write_read(void)
{
	char dir[] = "/tmp/cstor-bigdata-test.XXXXXX";
	CHECK(mkdtemp(dir));
	char obj[256];
	snprintf(obj, sizeof(obj), "%s/objdir/sub", dir);
	int ret = TEST_FAIL;
	void *data = NULL;
	size_t len = 0;
	cstor_error err = CSTOR_ERROR_INIT;

	/* Reading from an object with no directory yet. */
	if (cstor_big_data_read(&data, &len, obj, "manifest", &err) != -ENOENT ||
	    !strstr(cstor_error_message(&err), "\"manifest\""))
		goto out;
	cstor_error_clear(&err);
	if (cstor_big_data_write(obj, "Key With/Slash", "abc\0def", 7, NULL) < 0 ||
	    cstor_big_data_write(obj, "manifest", "", 0, NULL) < 0)
		goto out;
	struct stat st;
	char p[512];
	snprintf(p, sizeof(p), "%s/=S2V5IFdpdGgvU2xhc2g=", obj);
	if (stat(p, &st) < 0 || (st.st_mode & 07777) != 0600 || st.st_size != 7)
		goto out;
	if (stat(obj, &st) < 0 || (st.st_mode & 07777) != 0700)
		goto out;
	if (cstor_big_data_read(&data, &len, obj, "Key With/Slash", NULL) < 0 || len != 7 ||
	    memcmp(data, "abc\0def", 7) != 0)
		goto out;
	free(data);
	data = NULL;
	if (cstor_big_data_read(&data, &len, obj, "manifest", NULL) < 0 || len != 0)
		goto out;
	free(data);
	data = NULL;
	/* Replaced whole. */
	if (cstor_big_data_write(obj, "manifest", "x", 1, NULL) < 0 ||
	    cstor_big_data_read(&data, &len, obj, "manifest", NULL) < 0 || len != 1)
		goto out;
	free(data);
	data = NULL;
	if (cstor_big_data_read(&data, &len, obj, "missing", &err) != -ENOENT ||
	    !strstr(cstor_error_message(&err), "\"missing\""))
		goto out;
	cstor_error_clear(&err);
	if (cstor_big_data_write(obj, "..", "x", 1, &err) != -EINVAL)
		goto out;
	cstor_error_clear(&err);
	ret = TEST_PASS;
out:
	free(data);
	cstor_error_clear(&err);
	go_store_remove(dir);
	return ret;
}

/* The Go CLI finds an item cstor wrote, under its own naming. */
static int test_go_reads_cstor_items(void)
{
	char dir[256];
	int k = go_store_make(dir, sizeof(dir));
	if (k == 77)
		return test_skip("the Go CLI containers-storage cannot make a store here");
	CHECK(k == 0);
	int ret = TEST_FAIL;
	char cmd[2048], obj[512];
	/* The image's directory, named by its ID. */
	snprintf(cmd, sizeof(cmd),
		 "containers-storage -g %s/g --run %s/r -s vfs images -q | head -n1 >%s/id", dir,
		 dir, dir);
	size_t len = 0;
	_cleanup_free_ char *id = NULL, *out = NULL;
	if (system(cmd) != 0 || !(id = go_store_read(dir, "id", &len)) || len < 65)
		goto out;
	id[64] = 0;
	snprintf(obj, sizeof(obj), "%s/g/vfs-images/%s", dir, id);
	/* Go's item, read by cstor. */
	void *data = NULL;
	if (cstor_big_data_read(&data, &len, obj, "Key With/Slash", NULL) < 0 || len != 5 ||
	    memcmp(data, "data\n", 5) != 0) {
		free(data);
		goto out;
	}
	free(data);
	/* cstor's item, read by Go. */
	if (cstor_big_data_write(obj, "Key With/Slash", "from cstor", 10, NULL) < 0)
		goto out;
	snprintf(cmd, sizeof(cmd),
		 "containers-storage -g %s/g --run %s/r -s vfs get-image-data %s 'Key With/Slash' "
		 ">%s/out",
		 dir, dir, id, dir);
	if (system(cmd) != 0 || !(out = go_store_read(dir, "out", &len)))
		goto out;
	if (len != 10 || memcmp(out, "from cstor", 10) != 0) {
		printf("# Go read \"%s\"\n", out);
		goto out;
	}
	ret = TEST_PASS;
out:
	go_store_remove(dir);
	return ret;
}

TAP_MAIN(TEST(test_file_names), TEST(test_write_read), TEST(test_go_reads_cstor_items))
