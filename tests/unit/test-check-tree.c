/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The expected tree of check's content walk (store/check-tree.c): built
 * from layers' tar headers, compared with a real directory. Whiteouts,
 * opaque directories, hard links (whose header's owner, mode and time the
 * inode takes), a non-directory replacing a directory, and what is
 * reported: added, removed, changed.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "store/check-internal.h"
#include "util/cleanup.h"
#include "util/macro.h"
#include "util/rm.h"
#include "util/strv.h"
#include "tap.h"

#define T 1700000000

static char root[64];

static void mk(const char *path, char type, mode_t mode, const char *data)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", root, path);
	if (type == '5')
		(void)!mkdir(p, mode);
	else if (type == '2')
		(void)!symlink(data, p);
	else {
		int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
		if (data)
			(void)!write(fd, data, strlen(data));
		close(fd);
		chmod(p, mode);
	}
	if (type != '2') {
		struct timespec ts[2] = { { T, 0 }, { T, 0 } };
		utimensat(AT_FDCWD, p, ts, 0);
	}
}

static struct check_hdr H(const char *name, char type, int64_t mode, int64_t size)
{
	return (struct check_hdr){ .name = (char *)name, .type = type, .mode = mode, .size = size,
				   .uid = geteuid(), .gid = getegid(), .mtime = T };
}

static int setup(void)
{
	snprintf(root, sizeof(root), "/tmp/cstor-check-tree-XXXXXX");
	return mkdtemp(root) ? 0 : -1;
}

static void teardown(void)
{
	cstor_rm_rf_at_quiet(AT_FDCWD, root);
}

/* The tree of @a, @b applied in turn, compared with what is on disk. */
static char **compare(const struct check_hdr *a, size_t na, const struct check_hdr *b, size_t nb)
{
	struct check_tree *t = NULL;
	if (check_tree_new(&t) < 0)
		return NULL;
	char **d = NULL;
	if (check_tree_add_layer(t, a, na) == 0 && (!b || check_tree_add_layer(t, b, nb) == 0))
		check_tree_compare(&d, t, root, true);
	check_tree_free(t);
	return d;
}

static int test_identical_tree_is_clean(void)
{
	if (setup() < 0)
		return TEST_FAIL;
	mk("etc", '5', 0755, NULL);
	mk("etc/hosts", '0', 0644, "localhost\n");
	mk("etc/link", '2', 0777, "hosts");
	struct check_hdr a[] = { H("./", '5', 0755, 0), H("./etc/", '5', 0755, 0),
				 H("./etc/hosts", '0', 0644, 10), H("etc/link", '2', 0777, 0) };
	char **d = compare(a, 4, NULL, 0);
	CHECK(strv_length(d) == 0);
	strv_free(d);
	teardown();
	return TEST_PASS;
}

static int test_added_removed_changed(void)
{
	if (setup() < 0)
		return TEST_FAIL;
	mk("etc", '5', 0755, NULL);
	mk("etc/hosts", '0', 0600, "localhost\n"); /* mode changed */
	mk("etc/new", '0', 0644, "x");               /* added */
	mk("newdir", '5', 0755, NULL);               /* added, with content */
	mk("newdir/f", '0', 0644, "x");
	struct check_hdr a[] = { H("etc/", '5', 0755, 0), H("etc/hosts", '0', 0644, 10),
				 H("etc/gone", '0', 0644, 1), H("var/", '5', 0755, 0),
				 H("var/log/", '5', 0755, 0) };
	char **d = compare(a, 5, NULL, 0);
	CHECK(strv_length(d) == 5);
	CHECK(d && streq(d[0], "-/etc/gone"));
	CHECK(d && streq(d[1], "/etc/hosts(mode:0644->0600)"));
	CHECK(d && streq(d[2], "+/etc/new"));
	CHECK(d && streq(d[3], "+/newdir/")); /* what is under it is not listed */
	CHECK(d && streq(d[4], "-/var/"));    /* only the topmost missing path */
	strv_free(d);
	teardown();
	return TEST_PASS;
}

static int test_whiteouts_and_opaque(void)
{
	if (setup() < 0)
		return TEST_FAIL;
	mk("a", '5', 0755, NULL);
	mk("a/mine", '0', 0644, "1");
	mk("b", '5', 0755, NULL);
	struct check_hdr lower[] = { H("a/", '5', 0755, 0), H("a/old1", '0', 0644, 1),
				     H("a/old2", '0', 0644, 1), H("b/", '5', 0755, 0),
				     H("b/x", '0', 0644, 1), H("c/", '5', 0755, 0),
				     H("c/y", '0', 0644, 1) };
	/* The opaque marker comes after the layer's own file in a/, as tar
	 * order may put it: it still hides only the lower files. */
	struct check_hdr upper[] = { H("a/", '5', 0755, 0), H("a/mine", '0', 0644, 1),
				     H("a/.wh..wh..opq", '0', 0644, 0), H("b/.wh.x", '0', 0644, 0),
				     H(".wh.c", '0', 0644, 0) };
	char **d = compare(lower, 7, upper, 5);
	for (size_t i = 0; d && d[i]; i++)
		printf("# %s\n", d[i]);
	CHECK(strv_length(d) == 0);
	strv_free(d);
	teardown();
	return TEST_PASS;
}

static int test_hard_link_takes_its_header(void)
{
	if (setup() < 0)
		return TEST_FAIL;
	mk("f", '0', 0700, "abc");
	char p[512], q[512];
	snprintf(p, sizeof(p), "%s/f", root);
	snprintf(q, sizeof(q), "%s/h", root);
	CHECK(link(p, q) == 0);
	struct check_hdr h = H("h", '1', 0700, 0);
	h.link = (char *)"f";
	struct check_hdr a[] = { H("f", '0', 0644, 3), h };
	char **d = compare(a, 2, NULL, 0);
	for (size_t i = 0; d && d[i]; i++)
		printf("# %s\n", d[i]);
	CHECK(strv_length(d) == 0);
	strv_free(d);
	teardown();
	return TEST_PASS;
}

static int test_file_replaces_directory(void)
{
	if (setup() < 0)
		return TEST_FAIL;
	mk("run", '2', 0777, "/var/run");
	struct check_hdr lower[] = { H("run/", '5', 0755, 0), H("run/fifo", '6', 0600, 0) };
	struct check_hdr upper[] = { H("run", '2', 0777, 0) };
	char **d = compare(lower, 2, upper, 1);
	CHECK(strv_length(d) == 0);
	strv_free(d);
	teardown();
	return TEST_PASS;
}

static int test_type_and_size(void)
{
	if (setup() < 0)
		return TEST_FAIL;
	mk("x", '5', 0755, NULL);
	mk("y", '0', 0644, "longer");
	struct check_hdr a[] = { H("x", '0', 0755, 0), H("y", '0', 0644, 2) };
	char **d = compare(a, 2, NULL, 0);
	CHECK(strv_length(d) == 2);
	CHECK(d && streq(d[0], "/x(filetype:0->5)"));
	CHECK(d && streq(d[1], "/y(size:2->6)"));
	strv_free(d);
	teardown();
	return TEST_PASS;
}

TAP_MAIN(TEST(test_identical_tree_is_clean), TEST(test_added_removed_changed),
	 TEST(test_whiteouts_and_opaque), TEST(test_hard_link_takes_its_header),
	 TEST(test_file_replaces_directory), TEST(test_type_and_size))
