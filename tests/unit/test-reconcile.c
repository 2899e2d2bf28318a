/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reconciliation (mount/reconcile.h, mount/mount-internal.h) on real
 * stores: the count is the number of live holders (persistent, process
 * and Go's), dead holders are reclaimed by whatever reads the count next
 * (delete and listings included, with nothing run in between), Go's
 * mountpoints.json always gets the true count, and the kernel's mount table
 * is the truth (a vanished mount is noticed, an unheld one unmounted).
 *
 * vfs needs no mounts for the primary store's layers: those tests run
 * unprivileged too (as uid 65534 when we are root). Kernel mount tests use
 * overlay and need root; every mount is undone at exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstor/layer.h>
#include <cstor/mount.h>
#include <cstor/store.h>

#include "mount/mount-internal.h"
#include "util/fileutil.h"
#include "util/mountinfo.h"
#include "util/rm.h"
#include "tap.h"

/* Paths are short; a truncated one would be a test bug. */
#define PATHF(buf, ...)                                                        \
	((size_t)snprintf(buf, sizeof(buf), __VA_ARGS__) >= sizeof(buf) ? abort() : (void)0)

#ifdef __clang__
#pragma clang diagnostic ignored "-Wthread-safety-analysis"
#endif

static char top[4096] = "/tmp/cstor-reconcile-test.XXXXXX";
static char graph[4200], run[4200];
static const char *driver;

/* Unmount everything under @top, deepest first, then remove it. */
static void cleanup_top(void)
{
	for (int round = 0; round < 64; round++) {
		FILE *f = fopen("/proc/self/mountinfo", "re");
		if (!f)
			break;
		char line[8192], best[4096] = "";
		while (fgets(line, sizeof(line), f)) {
			char mp[4096];
			if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 &&
			    strncmp(mp, top, strlen(top)) == 0 && strlen(mp) > strlen(best))
				snprintf(best, sizeof(best), "%s", mp);
		}
		fclose(f);
		if (!best[0] || umount2(best, MNT_DETACH) < 0)
			break;
	}
	cstor_rm_rf_at_quiet(AT_FDCWD, top);
}

static int fresh(const char *drv)
{
	static int n;
	if (n == 0) {
		if (!mkdtemp(top) || chmod(top, 0755) < 0)
			return -1;
		atexit(cleanup_top);
	}
	PATHF(graph, "%s/t%d/g", top, n);
	PATHF(run, "%s/t%d/r", top, n++);
	driver = drv;
	return 0;
}

static int open_store(cstor_store **s)
{
	cstor_store_options o = CSTOR_STORE_OPTIONS_INIT;
	o.graph_root = graph;
	o.run_root = run;
	o.driver = driver;
	o.config_file = "";
	cstor_error err = CSTOR_ERROR_INIT;
	int r = cstor_store_open(s, &o, &err);
	if (r < 0)
		printf("# open store %s: %s\n", graph, err.msg);
	cstor_error_clear(&err);
	return r;
}

static int new_layer(char *id, size_t size, cstor_store *s)
{
	cstor_layer *l = NULL;
	cstor_layer_options o = CSTOR_LAYER_OPTIONS_INIT;
	cstor_error err = CSTOR_ERROR_INIT;
	int r = cstor_store_create_layer(&l, s, &o, &err);
	if (r < 0)
		printf("# create layer: %s\n", err.msg);
	else
		snprintf(id, size, "%s", cstor_layer_id(l));
	cstor_error_clear(&err);
	cstor_layer_free(l);
	return r;
}

/* The reconciled count, through the public API. */
static int64_t mounted(cstor_store *s, const char *id)
{
	int64_t n = -1;
	cstor_error err = CSTOR_ERROR_INIT;
	if (cstor_store_mounted(&n, s, id, &err) < 0) {
		printf("# mounted %s: %s\n", id, err.msg);
		n = -1;
	}
	cstor_error_clear(&err);
	return n;
}

/* The raw count Go reads in mountpoints.json, without reconciling. */
static int64_t raw_count(const char *id)
{
	char dir[4300];
	PATHF(dir, "%s/%s-layers", run, driver);
	struct cstor_mounts *m = NULL;
	if (cstor_mounts_open(&m, dir, NULL) < 0)
		return -1;
	int64_t n = -1;
	if (cstor_mounts_start(m, NULL) == 0) {
		struct cstor_mount_rec *r = cstor_mounts_get(m, id);
		n = r ? r->count : 0;
		cstor_mounts_done(m);
	}
	cstor_mounts_free(m);
	return n;
}

static int write_mountpoints(const char *text)
{
	char p[4300];
	snprintf(p, sizeof(p), "%s/%s-layers/mountpoints.json", run, driver);
	FILE *f = fopen(p, "we");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* A child process opens the store, takes a process hold on @id, and is
 * SIGKILLed: a dead holder nothing has reconciled yet. */
static int hold_and_die(const char *id)
{
	int ready[2];
	if (pipe2(ready, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(ready[0]);
		cstor_store *s = NULL;
		cstor_mount_hold *h = NULL;
		if (open_store(&s) < 0 || cstor_store_mount_hold(&h, NULL, s, id, NULL, NULL) < 0)
			_exit(1);
		(void)!write(ready[1], "x", 1);
		for (;;)
			pause();
	}
	close(ready[1]);
	char c;
	int ok = read(ready[0], &c, 1) == 1;
	close(ready[0]);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return ok ? 0 : -1;
}

static int test_count_equals_live_holders(void)
{
	if (!driver)
		CHECK(fresh("vfs") == 0);
	cstor_store *s = NULL;
	CHECK_OK(open_store(&s));
	char id[128];
	CHECK_OK(new_layer(id, sizeof(id), s));
	cstor_error err = CSTOR_ERROR_INIT;
	char *path = NULL;
	CHECK_OK(cstor_store_mount(&path, s, id, NULL, &err));
	cstor_mount_hold *h1 = NULL, *h2 = NULL;
	CHECK_OK(cstor_store_mount_hold(&h1, NULL, s, id, NULL, &err));
	CHECK_OK(cstor_store_mount_hold(&h2, NULL, s, id, NULL, &err));
	CHECK(mounted(s, id) == 3 && raw_count(id) == 3);
	/* Forgotten without release: its fd is closed, the hold dead. */
	cstor_mount_hold_free(h1);
	CHECK(raw_count(id) == 3);
	CHECK(mounted(s, id) == 2 && raw_count(id) == 2);
	/* Killed: reclaimed by the next reader of the count. */
	CHECK(hold_and_die(id) == 0);
	CHECK(raw_count(id) == 3);
	int64_t live = -1;
	CHECK_OK(cstor_mount_live_count(&live, s, id, &err));
	CHECK(live == 2 && raw_count(id) == 2);
	CHECK_OK(cstor_mount_hold_release(h2, s, &err));
	CHECK(mounted(s, id) == 1);
	int still = -1;
	CHECK_OK(cstor_store_unmount(&still, s, id, 0, &err));
	CHECK(still == 0 && mounted(s, id) == 0 && raw_count(id) == 0);
	/* Nothing left behind for the layer. */
	char hd[4400];
	snprintf(hd, sizeof(hd), "%s/%s-layers/cstor-holders/%s", run, driver, id);
	CHECK(access(hd, F_OK) < 0 && errno == ENOENT);
	free(path);
	cstor_store_free(s);
	return TEST_PASS;
}

/* Delete reads the reconciled count: nothing needs to run in between. */
static int test_delete_after_holder_killed(void)
{
	if (!driver)
		CHECK(fresh("vfs") == 0);
	cstor_store *s = NULL;
	CHECK_OK(open_store(&s));
	char id[128];
	CHECK_OK(new_layer(id, sizeof(id), s));
	CHECK(hold_and_die(id) == 0);
	CHECK(raw_count(id) == 1);
	cstor_error err = CSTOR_ERROR_INIT;
	int r = cstor_store_delete_layer(s, id, &err);
	CHECK_MSG(r == 0, "%s", err.msg);
	CHECK(raw_count(id) == 0);
	/* A live hold still protects the layer. */
	CHECK_OK(new_layer(id, sizeof(id), s));
	cstor_mount_hold *h = NULL;
	CHECK_OK(cstor_store_mount_hold(&h, NULL, s, id, NULL, &err));
	r = cstor_store_delete_layer(s, id, &err);
	CHECK(r == -EBUSY && strstr(err.msg, "mounted (1 times)"));
	cstor_error_clear(&err);
	CHECK_OK(cstor_mount_hold_release(h, s, &err));
	CHECK_OK(cstor_store_delete_layer(s, id, &err));
	cstor_store_free(s);
	return TEST_PASS;
}

/* Listings show reconciled counts: no dead hold, every live one. */
static int test_listing_is_reconciled(void)
{
	if (!driver)
		CHECK(fresh("vfs") == 0);
	cstor_store *s = NULL;
	CHECK_OK(open_store(&s));
	char a[128], b[128], c[128];
	CHECK_OK(new_layer(a, sizeof(a), s));
	CHECK_OK(new_layer(b, sizeof(b), s));
	CHECK_OK(new_layer(c, sizeof(c), s));
	CHECK(hold_and_die(a) == 0);
	cstor_error err = CSTOR_ERROR_INIT;
	cstor_mount_hold *h = NULL;
	char *mp = NULL;
	CHECK_OK(cstor_store_mount_hold(&h, &mp, s, b, NULL, &err));
	cstor_layer *l = NULL;
	CHECK_OK(cstor_store_layer(&l, s, a, &err));
	CHECK(cstor_layer_mount_count(l) == 0 && cstor_layer_mount_point(l) == NULL);
	cstor_layer_free(l);
	CHECK(hold_and_die(c) == 0);
	cstor_layer **list = NULL;
	CHECK_OK(cstor_store_layers(&list, s, &err));
	size_t n = 0;
	for (; list[n]; n++) {
		const char *id = cstor_layer_id(list[n]);
		if (strcmp(id, b) == 0) {
			CHECK(cstor_layer_mount_count(list[n]) == 1);
			CHECK_STREQ(cstor_layer_mount_point(list[n]), mp);
		} else
			CHECK_MSG(cstor_layer_mount_count(list[n]) == 0 &&
					  !cstor_layer_mount_point(list[n]),
				  "%s listed as mounted %lld times", id,
				  (long long)cstor_layer_mount_count(list[n]));
	}
	CHECK(n == 3);
	cstor_layer_list_free(list);
	CHECK(raw_count(c) == 0);
	CHECK_OK(cstor_mount_hold_release(h, s, &err));
	free(mp);
	cstor_store_free(s);
	return TEST_PASS;
}

/* Go's holds: counted from the changes a Go writer makes to the count. */
static int test_foreign_holds(void)
{
	if (!driver)
		CHECK(fresh("vfs") == 0);
	cstor_store *s = NULL;
	CHECK_OK(open_store(&s));
	char id[128];
	CHECK_OK(new_layer(id, sizeof(id), s));
	cstor_error err = CSTOR_ERROR_INIT;
	char rec[8192];
	/* Go mounted it twice (vfs: the mount point is the layer directory). */
	snprintf(rec, sizeof(rec), "[{\"id\":\"%s\",\"path\":\"%s/vfs/dir/%s\",\"count\":2}]", id,
		 graph, id);
	CHECK(write_mountpoints(rec) == 0);
	CHECK(mounted(s, id) == 2);
	cstor_mount_hold *h = NULL;
	CHECK_OK(cstor_store_mount_hold(&h, NULL, s, id, NULL, &err));
	CHECK(mounted(s, id) == 3 && raw_count(id) == 3);
	cstor_mount_holder *hs = NULL;
	size_t n = 0;
	CHECK_OK(cstor_store_mount_holders(NULL, &hs, &n, s, id, &err));
	int64_t foreign = 0, process = 0;
	for (size_t i = 0; i < n; i++) {
		if (hs[i].kind == CSTOR_HOLDER_FOREIGN)
			foreign += hs[i].count;
		if (hs[i].kind == CSTOR_HOLDER_PROCESS)
			process += hs[i].count;
	}
	cstor_mount_holders_free(hs, n);
	CHECK(foreign == 2 && process == 1);
	/* Go unmounts once: it writes the count it read, less one. */
	snprintf(rec, sizeof(rec), "[{\"id\":\"%s\",\"path\":\"%s/vfs/dir/%s\",\"count\":2}]", id,
		 graph, id);
	CHECK(write_mountpoints(rec) == 0);
	CHECK(mounted(s, id) == 2);
	CHECK_OK(cstor_mount_hold_release(h, s, &err));
	CHECK(mounted(s, id) == 1 && raw_count(id) == 1);
	int still = -1;
	CHECK_OK(cstor_store_unmount(&still, s, id, 0, &err));
	CHECK(still == 0 && raw_count(id) == 0);
	cstor_store_free(s);
	return TEST_PASS;
}

static int need_overlay(void)
{
	if (geteuid() != 0)
		return test_skip("kernel mounts need root");
	FILE *f = fopen("/proc/filesystems", "re");
	char line[256];
	bool have = false;
	while (f && fgets(line, sizeof(line), f))
		have |= strstr(line, "\toverlay\n") != NULL;
	if (f)
		fclose(f);
	return have ? 0 : test_skip("no overlay filesystem");
}

/* The kernel's table is the truth: a mount that vanished while holders
 * remain is made again; a Go hold on a vanished mount holds nothing; a
 * mount whose holders all died is unmounted. */
static int test_kernel_table_is_the_truth(void)
{
	int r = need_overlay();
	if (r)
		return r;
	CHECK(fresh("overlay") == 0);
	cstor_store *s = NULL;
	CHECK_OK(open_store(&s));
	char id[128];
	CHECK_OK(new_layer(id, sizeof(id), s));
	cstor_error err = CSTOR_ERROR_INIT;
	cstor_mount_hold *h = NULL;
	char *mp = NULL;
	CHECK_OK(cstor_store_mount_hold(&h, &mp, s, id, NULL, &err));
	CHECK(cstor_mountinfo_has(mp, "overlay"));
	/* Unmounted behind our back: the holder still wants it. */
	CHECK(umount2(mp, MNT_DETACH) == 0);
	CHECK(!cstor_mountinfo_has(mp, NULL));
	CHECK(mounted(s, id) == 1);
	CHECK(cstor_mountinfo_has(mp, "overlay"));
	CHECK_OK(cstor_mount_hold_release(h, s, &err));
	CHECK(!cstor_mountinfo_has(mp, NULL));
	/* A Go record of a mount that is not there. */
	char rec[8192];
	snprintf(rec, sizeof(rec), "[{\"id\":\"%s\",\"path\":\"%s\",\"count\":1}]", id, mp);
	CHECK(write_mountpoints(rec) == 0);
	CHECK(raw_count(id) == 1);
	CHECK(mounted(s, id) == 0 && raw_count(id) == 0);
	/* All holders killed: the mount stays in the kernel until the next
	 * reader of the count, which unmounts it. */
	CHECK(hold_and_die(id) == 0);
	CHECK(cstor_mountinfo_has(mp, "overlay"));
	int64_t live = -1;
	CHECK_OK(cstor_mount_live_count(&live, s, id, &err));
	CHECK(live == 0);
	CHECK(!cstor_mountinfo_has(mp, NULL));
	/* A mount nobody recorded (killed between mounting and recording)
	 * is found where the driver mounts, and not stacked on. */
	char *p2 = NULL;
	CHECK_OK(cstor_store_mount(&p2, s, id, NULL, &err));
	CHECK_STREQ(p2, mp);
	CHECK(write_mountpoints("[]") == 0);
	char hd[4400];
	snprintf(hd, sizeof(hd), "%s/overlay-layers/cstor-holders", run);
	cstor_rm_rf_at_quiet(AT_FDCWD, hd);
	CHECK(mounted(s, id) == 0);
	CHECK(!cstor_mountinfo_has(mp, NULL));
	free(p2);
	free(mp);
	CHECK_OK(cstor_store_shutdown(s, 1, &err));
	cstor_store_free(s);
	return TEST_PASS;
}

/* The vfs tests as uid 65534, in a store it owns. */
static int test_unprivileged(void)
{
	if (geteuid() != 0)
		return test_skip("not root: the vfs tests above already ran unprivileged");
	CHECK(fresh("vfs") == 0);
	char base[4200];
	PATHF(base, "%s/nobody", top);
	CHECK(mkdir(base, 0700) == 0 && chown(base, 65534, 65534) == 0);
	PATHF(graph, "%s/g", base);
	PATHF(run, "%s/r", base);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0 ||
		    geteuid() != 65534)
			_exit(2);
		static int (*const tests[])(void) = {
			test_count_equals_live_holders, test_delete_after_holder_killed,
			test_listing_is_reconciled, test_foreign_holds,
		};
		for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
			/* A store of its own each (the layer counts differ). */
			PATHF(graph, "%s/g%zu", base, i);
			PATHF(run, "%s/r%zu", base, i);
			if (tests[i]() != TEST_PASS) {
				printf("# unprivileged test %zu failed\n", i);
				fflush(stdout);
				_exit(1);
			}
		}
		_exit(0);
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	return TEST_PASS;
}

/* A layer of a read-only (additional) store: an explicit read-write mount
 * is refused with -EROFS; CSTOR_MOUNT_READ_ONLY_IF_NEEDED mounts it
 * read-only instead (what the command line asks for), and the hold counts
 * like any other. */
static int test_read_only_if_needed(void)
{
	if (geteuid() != 0)
		return test_skip("bind mounts need root");
	CHECK(fresh("vfs") == 0);
	cstor_store *ro = NULL, *s = NULL;
	char id[128], ro_graph[4200];
	CHECK(open_store(&ro) == 0);
	CHECK(new_layer(id, sizeof(id), ro) == 0);
	cstor_store_free(ro);
	snprintf(ro_graph, sizeof(ro_graph), "%s", graph);
	CHECK(fresh("vfs") == 0);
	char opt[4300];
	PATHF(opt, "vfs.imagestore=%s", ro_graph);
	const char *const dopts[] = { opt, NULL };
	cstor_store_options so = CSTOR_STORE_OPTIONS_INIT;
	so.graph_root = graph;
	so.run_root = run;
	so.driver = "vfs";
	so.config_file = "";
	so.driver_options = dopts;
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK_MSG(cstor_store_open(&s, &so, &err) == 0, "%s", err.msg);

	char *mp = NULL;
	CHECK(cstor_store_mount(&mp, s, id, NULL, &err) == -EROFS);
	cstor_error_clear(&err);
	cstor_mount_options o = CSTOR_MOUNT_OPTIONS_INIT;
	const char *const rw[] = { "rw", NULL };
	o.options = rw;
	CHECK(cstor_store_mount(&mp, s, id, &o, &err) == -EROFS);
	cstor_error_clear(&err);
	o.flags = 1u << 7;
	CHECK(cstor_store_mount(&mp, s, id, &o, &err) == -EINVAL);
	cstor_error_clear(&err);
	o.options = NULL;
	o.flags = CSTOR_MOUNT_READ_ONLY_IF_NEEDED;
	CHECK_MSG(cstor_store_mount(&mp, s, id, &o, &err) == 0, "%s", err.msg);
	CHECK(strncmp(mp, ro_graph, strlen(ro_graph)) != 0);
	CHECK(cstor_mountinfo_has(mp, NULL));
	char probe[4300];
	PATHF(probe, "%s/probe", mp);
	CHECK(open(probe, O_WRONLY | O_CREAT | O_CLOEXEC, 0600) == -1 && errno == EROFS);
	CHECK(mounted(s, id) == 1);
	int still = -1;
	CHECK(cstor_store_unmount(&still, s, id, 0, &err) == 0 && still == 0);
	CHECK(!cstor_mountinfo_has(mp, NULL));
	free(mp);
	cstor_store_free(s);
	return TEST_PASS;
}

/* Each vfs test gets a store of its own. */
#define VFS(fn)                                                                \
	static int fn##_vfs(void)                                              \
	{                                                                      \
		driver = NULL;                                                 \
		return fn();                                                   \
	}
VFS(test_count_equals_live_holders)
VFS(test_delete_after_holder_killed)
VFS(test_listing_is_reconciled)
VFS(test_foreign_holds)

TAP_MAIN(TEST(test_count_equals_live_holders_vfs), TEST(test_delete_after_holder_killed_vfs),
	 TEST(test_listing_is_reconciled_vfs), TEST(test_foreign_holds_vfs),
	 TEST(test_kernel_table_is_the_truth), TEST(test_unprivileged),
	 TEST(test_read_only_if_needed))
