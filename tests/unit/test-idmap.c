/* SPDX-License-Identifier: Apache-2.0 */
/* util/idmap.c: parsing and checking maps, mapping IDs both ways, and the
 * chown copy of a tree (as root: real owners, hard links, setuid bits). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"

#include "util/error-internal.h"
#include "util/idmap.h"
#include "util/rm.h"

static int parse(cstor_idmap **m, size_t *n, const char *text, char *msg, size_t len)
{
	cstor_error err = CSTOR_ERROR_INIT;
	*m = NULL;
	*n = 0;
	int r = cstor_idmap_parse(m, n, text, "uid", &err);
	snprintf(msg, len, "%s", cstor_error_message(&err));
	cstor_error_clear(&err);
	return r;
}

static int test_parse(void)
{
	cstor_idmap *m;
	size_t n;
	char msg[512];
	CHECK(parse(&m, &n, "0:100000:65536,65536:5:1", msg, sizeof(msg)) == 0);
	CHECK(n == 2 && m[0].container_id == 0 && m[0].host_id == 100000 && m[0].size == 65536);
	CHECK(m[1].container_id == 65536 && m[1].host_id == 5 && m[1].size == 1);
	free(m);
	/* The Go CLI 1.43's colon-only form. */
	CHECK(parse(&m, &n, "0:1000:10:10:2000:5", msg, sizeof(msg)) == 0);
	CHECK(n == 2 && m[1].container_id == 10 && m[1].host_id == 2000 && m[1].size == 5);
	free(m);
	CHECK(parse(&m, &n, "", msg, sizeof(msg)) == 0 && n == 0);
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "0:1:0", "uid map: range 0:1:0 has size 0" },
		{ "0:1:10,5:100:1", "uid map: ranges 0:1:10 and 5:100:1 overlap (container IDs)" },
		{ "0:100:10,20:105:1", "uid map: ranges 0:100:10 and 20:105:1 overlap (host IDs)" },
		{ "4294967295:0:2", "uid map: range 4294967295:0:2 goes past the largest ID 4294967295" },
		{ "0:1", "uid map \"0:1\": expected container:host:size, each range three numbers" },
		{ "x:1:1", "uid map \"x:1:1\": \"x\" is not an ID" },
		{ "0:1:1,", "uid map \"0:1:1,\": \"\" is not an ID" },
		{ "0:4294967296:1", "\"4294967296\" is not an ID" },
		{ "0: 1:1", "\" 1\" is not an ID" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(parse(&m, &n, bad[i].text, msg, sizeof(msg)) == -EINVAL);
		CHECK(strstr(msg, bad[i].msg) != NULL);
		free(m);
	}
	return TEST_PASS;
}

static int test_map(void)
{
	const cstor_idmap m[] = { { 0, 100000, 1000 }, { 1000, 5, 1 } };
	uint32_t out;
	CHECK(cstor_idmap_to_host(m, 2, 0, &out) == 0 && out == 100000);
	CHECK(cstor_idmap_to_host(m, 2, 999, &out) == 0 && out == 100999);
	CHECK(cstor_idmap_to_host(m, 2, 1000, &out) == 0 && out == 5);
	CHECK(cstor_idmap_to_host(m, 2, 1001, &out) == -EINVAL);
	CHECK(cstor_idmap_to_container(m, 2, 5, &out) == 0 && out == 1000);
	CHECK(cstor_idmap_to_container(m, 2, 100001, &out) == 0 && out == 1);
	CHECK(cstor_idmap_to_container(m, 2, 6, &out) == -EINVAL);
	/* No map: every ID is itself. */
	CHECK(cstor_idmap_to_host(NULL, 0, 42, &out) == 0 && out == 42);
	CHECK(!cstor_idmap_contiguous(m, 2));
	const cstor_idmap c[] = { { 0, 100, 10 }, { 10, 110, 5 } };
	CHECK(cstor_idmap_contiguous(c, 2));
	CHECK(cstor_idmap_equal(c, 2, c, 2) && !cstor_idmap_equal(c, 2, m, 2) &&
	      !cstor_idmap_equal(c, 1, c, 2));
	return TEST_PASS;
}

static int test_subid(void)
{
	char path[] = "/tmp/cstor-subid-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	const char *text = "# comment\nalice:100000:65536\nbob:1:2\nalice:300000:10\n";
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	cstor_idmap *m = NULL;
	size_t n = 0;
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK(cstor_idmap_from_subid(&m, &n, path, "alice", &err) == 0);
	CHECK(n == 2 && m[0].container_id == 0 && m[0].host_id == 100000 && m[0].size == 65536);
	CHECK(m[1].container_id == 65536 && m[1].host_id == 300000 && m[1].size == 10);
	free(m);
	m = NULL;
	n = 0;
	CHECK(cstor_idmap_from_subid(&m, &n, path, "carol", &err) == -ENOENT);
	CHECK(strstr(cstor_error_message(&err), "no ranges found for \"carol\"") != NULL);
	cstor_error_clear(&err);
	unlink(path);
	return TEST_PASS;
}

static int test_shift_tree(void)
{
	if (geteuid() != 0)
		return test_skip("needs root to give files away");
	char dir[] = "/tmp/cstor-shift-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(dfd >= 0);
	CHECK(mkdirat(dfd, "d", 0755) == 0);
	int f = openat(dfd, "d/f", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	CHECK(f >= 0);
	close(f);
	CHECK(linkat(dfd, "d/f", dfd, "hl", 0) == 0);
	CHECK(fchownat(dfd, "d/f", 100005, 100006, 0) == 0);
	CHECK(fchownat(dfd, "d", 100000, 100000, 0) == 0);
	CHECK(fchown(dfd, 100000, 100000) == 0);
	f = openat(dfd, "suid", O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
	CHECK(f >= 0 && fchown(f, 100007, 100008) == 0 && fchmod(f, 04755) == 0);
	close(f);
	CHECK(symlinkat("d/f", dfd, "ln") == 0);
	CHECK(fchownat(dfd, "ln", 100009, 100010, AT_SYMLINK_NOFOLLOW) == 0);

	const cstor_idmap old[] = { { 0, 100000, 65536 } }, new[] = { { 0, 300000, 65536 } };
	const struct cstor_idmaps from = { old, 1, old, 1 }, to = { new, 1, new, 1 };
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK(cstor_idmap_shift_tree(dfd, &from, &to, &err) == 0);
	struct stat st;
	CHECK(fstatat(dfd, "d/f", &st, 0) == 0 && st.st_uid == 300005 && st.st_gid == 300006);
	CHECK(fstatat(dfd, "hl", &st, 0) == 0 && st.st_uid == 300005 && st.st_nlink == 2);
	CHECK(fstatat(dfd, "suid", &st, 0) == 0 && st.st_uid == 300007 && (st.st_mode & 07777) == 04755);
	CHECK(fstatat(dfd, "ln", &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_uid == 300009);
	CHECK(fstat(dfd, &st) == 0 && st.st_uid == 300000);
	/* Shifting again from the old maps: the owners are not theirs. */
	CHECK(cstor_idmap_shift_tree(dfd, &from, &to, &err) == -EINVAL);
	CHECK(strstr(cstor_error_message(&err), "is not mapped by the layer's old UID map") != NULL);
	cstor_error_clear(&err);
	close(dfd);
	cstor_rm_rf_at(AT_FDCWD, dir, NULL);
	return TEST_PASS;
}

TAP_MAIN(TEST(test_parse), TEST(test_map), TEST(test_subid), TEST(test_shift_tree))
