/* SPDX-License-Identifier: Apache-2.0 */
/* Atomic durable writes and whole-file reads. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fileutil.h"
#include "tap.h"

static char dir[] = "/tmp/cstor-fileutil-test.XXXXXX";

static int count_entries(const char *d)
{
	DIR *dd = opendir(d);
	int n = 0;
	struct dirent *de;
	while (dd && (de = readdir(dd)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	if (dd)
		closedir(dd);
	return n;
}

static int test_write_and_read(void)
{
	CHECK(mkdtemp(dir) != NULL);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(dfd >= 0);
	CHECK_OK(cstor_atomic_write_at(dfd, "layers.json", "[]", 2, 0600, CSTOR_WRITE_DURABLE,
				       "layers.json", NULL));
	char *buf = NULL;
	size_t len = 0;
	CHECK_OK(cstor_read_file_at(dfd, "layers.json", &buf, &len, "layers.json", NULL));
	CHECK(len == 2 && strcmp(buf, "[]") == 0);
	free(buf);
	struct stat st;
	CHECK(fstatat(dfd, "layers.json", &st, 0) == 0 && (st.st_mode & 0777) == 0600);
	CHECK_OK(cstor_atomic_write_at(dfd, "layers.json", "[{\"id\":\"a\"}]", 12, 0600, 0,
				       "layers.json", NULL));
	CHECK_OK(cstor_read_file_at(dfd, "layers.json", &buf, &len, "layers.json", NULL));
	CHECK(len == 12 && buf[3] == 'i');
	free(buf);
	/* No temporary files are left behind. */
	CHECK(count_entries(dir) == 1);
	close(dfd);
	return TEST_PASS;
}

static int test_read_missing_names_file(void)
{
	cstor_error err = CSTOR_ERROR_INIT;
	char *buf = NULL;
	CHECK(cstor_read_file_at(AT_FDCWD, "/nonexistent/x.json", &buf, NULL, "/nonexistent/x.json",
				 &err) == -ENOENT);
	CHECK(strstr(cstor_error_message(&err), "/nonexistent/x.json") != NULL);
	cstor_error_clear(&err);
	return TEST_PASS;
}

static int test_full_disk_keeps_old_content(void)
{
	/* A real full filesystem: a 64 KiB tmpfs. */
	char mnt[4200];
	snprintf(mnt, sizeof(mnt), "%s/small", dir);
	CHECK(mkdir(mnt, 0700) == 0);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=64k") < 0)
		return test_skip("cannot mount a tmpfs (not root?)");
	int ok = TEST_FAIL;
	int dfd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	size_t big = 1 << 20;
	char *data = malloc(big);
	cstor_error err = CSTOR_ERROR_INIT;
	char *buf = NULL;
	size_t len = 0;
	if (dfd < 0 || !data)
		goto out;
	memset(data, 'x', big);
	if (cstor_atomic_write_at(dfd, "images.json", "[1]", 3, 0600, CSTOR_WRITE_DURABLE,
				  "images.json", NULL) < 0)
		goto out;
	int r = cstor_atomic_write_at(dfd, "images.json", data, big, 0600, CSTOR_WRITE_DURABLE,
				      "images.json", &err);
	printf("# full disk: %d %s\n", r, cstor_error_message(&err));
	if (r != -ENOSPC || !strstr(cstor_error_message(&err), "images.json"))
		goto out;
	if (cstor_read_file_at(dfd, "images.json", &buf, &len, "images.json", NULL) < 0)
		goto out;
	if (len != 3 || memcmp(buf, "[1]", 3) != 0)
		goto out;
	if (count_entries(mnt) != 1)
		goto out;
	ok = TEST_PASS;
out:
	free(buf);
	free(data);
	cstor_error_clear(&err);
	if (dfd >= 0)
		close(dfd);
	umount2(mnt, MNT_DETACH);
	return ok;
}

/* With a spare kept, a full filesystem still takes a new version of the
 * file (no new inode or block needed); more than the spare holds is an
 * error that keeps the old content. */
static int test_full_disk_uses_spare(void)
{
	char mnt[4200], fill[4300];
	snprintf(mnt, sizeof(mnt), "%s/small2", dir);
	CHECK(mkdir(mnt, 0700) == 0);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=256k") < 0)
		return test_skip("cannot mount a tmpfs (not root?)");
	int ok = TEST_FAIL;
	int dfd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	unsigned fl = CSTOR_WRITE_DURABLE | CSTOR_WRITE_KEEP_SPARE;
	size_t big = 1 << 20;
	char *data = malloc(big), *buf = NULL;
	size_t len = 0;
	cstor_error err = CSTOR_ERROR_INIT;
	struct stat st;
	if (dfd < 0 || !data)
		goto out;
	memset(data, 'x', big);
	if (cstor_atomic_write_at(dfd, "layers.json", "[1]", 3, 0600, fl, "layers.json", NULL) < 0 ||
	    fstatat(dfd, ".spare-layers.json", &st, 0) < 0)
		goto out;
	/* Fill the rest. */
	snprintf(fill, sizeof(fill), "%s/fill", mnt);
	int ffd = open(fill, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	while (ffd >= 0 && write(ffd, data, 4096) == 4096)
		;
	if (ffd >= 0)
		close(ffd);
	if (cstor_atomic_write_at(dfd, "layers.json", "[1,2]", 5, 0600, fl, "layers.json", &err) < 0) {
		printf("# %s\n", cstor_error_message(&err));
		goto out;
	}
	if (cstor_read_file_at(dfd, "layers.json", &buf, &len, "layers.json", NULL) < 0 ||
	    len != 5 || memcmp(buf, "[1,2]", 5) != 0)
		goto out;
	free(buf);
	buf = NULL;
	/* More than the spare holds: refused, the old content kept. */
	if (cstor_atomic_write_at(dfd, "layers.json", data, big, 0600, fl, "layers.json", &err) !=
	    -ENOSPC)
		goto out;
	printf("# too big: %s\n", cstor_error_message(&err));
	if (cstor_read_file_at(dfd, "layers.json", &buf, &len, "layers.json", NULL) < 0 ||
	    len != 5 || memcmp(buf, "[1,2]", 5) != 0)
		goto out;
	ok = TEST_PASS;
out:
	free(buf);
	free(data);
	cstor_error_clear(&err);
	if (dfd >= 0)
		close(dfd);
	umount2(mnt, MNT_DETACH);
	return ok;
}

static int test_mkdir_p(void)
{
	char p[4200];
	snprintf(p, sizeof(p), "%s/a/b/c", dir);
	CHECK_OK(cstor_mkdir_p(p, 0700, NULL));
	struct stat st;
	CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK_OK(cstor_mkdir_p(p, 0700, NULL));
	snprintf(p, sizeof(p), "%s/a/file", dir);
	int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	close(fd);
	snprintf(p, sizeof(p), "%s/a/file/sub", dir);
	CHECK(cstor_mkdir_p(p, 0700, NULL) == -ENOTDIR);
	return TEST_PASS;
}

static int test_cleanup(void)
{
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	return TEST_PASS;
}

TAP_MAIN(TEST(test_write_and_read), TEST(test_read_missing_names_file),
	 TEST(test_full_disk_keeps_old_content), TEST(test_full_disk_uses_spare), TEST(test_mkdir_p),
	 TEST(test_cleanup))
