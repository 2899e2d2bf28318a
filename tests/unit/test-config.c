/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage.conf resolution (store/config.c), checked on the resulting
 * cstor_config: which file is read, driver/runroot/graphroot/options from it,
 * the environment ($STORAGE_DRIVER, $STORAGE_OPTS), caller options that
 * override only their own setting, rootless defaults (in a child running as
 * uid 65534), and bad values reported with the file and key.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/config.h"
#include "util/cleanup.h"
#include "util/strv.h"
#include "rec-samples.h"
#include "tap.h"

static char top[] = "/tmp/cstor-config-test.XXXXXX";
static char conf[512];

static void remove_top(void)
{
	go_store_remove(top);
}

/* Write @text as a new storage.conf and point $CONTAINERS_STORAGE_CONF at
 * it; every variable that could change the outcome is cleared. */
static int use_conf(const char *text)
{
	static int n;
	if (n == 0) {
		if (!mkdtemp(top))
			return -1;
		atexit(remove_top);
		/* Readable by the unprivileged child of the rootless test. */
		if (chmod(top, 0755) < 0)
			return -1;
	}
	snprintf(conf, sizeof(conf), "%s/storage-%d.conf", top, n++);
	FILE *f = fopen(conf, "we");
	if (!f)
		return -1;
	fputs(text, f);
	if (fclose(f) != 0 || chmod(conf, 0644) < 0)
		return -1;
	setenv("CONTAINERS_STORAGE_CONF", conf, 1);
	unsetenv("STORAGE_DRIVER");
	unsetenv("STORAGE_OPTS");
	return 0;
}

static const char base_conf[] = "# a comment\n"
				"[storage]\n"
				"driver = \"overlay\"\n"
				"runroot = \"/tmp/cfg-run\"\n"
				"graphroot = \"/tmp/cfg-graph\"\n"
				"transient_store = true\n"
				"\n"
				"[storage.options]\n"
				"additionalimagestores = [\"/ais1\", \"/ais2\"]\n"
				"pull_options = {enable_partial_images = \"false\"}\n"
				"\n"
				"[storage.options.overlay]\n"
				"mountopt = \"nodev,metacopy=on\"\n"
				"mount_program = \"\"\n"
				"[storage.options.vfs]\n"
				"ignore_chown_errors = \"true\"\n";

static int test_file_values(void)
{
	CHECK(use_conf(base_conf) == 0);
	struct cstor_config c;
	CHECK_OK(cstor_config_resolve(&c, NULL, NULL));
	CHECK_STREQ(c.config_file, conf);
	CHECK_STREQ(c.driver, "overlay");
	CHECK_STREQ(c.graph_root, "/tmp/cfg-graph");
	CHECK_STREQ(c.run_root, "/tmp/cfg-run");
	CHECK(c.transient_store);
	/* Additional stores in configuration order, the overlay section's
	 * non-empty keys; not the vfs section of a driver not chosen. */
	CHECK(strv_length(c.driver_opts) == 3);
	CHECK_STREQ(c.driver_opts[0], "overlay.imagestore=/ais1");
	CHECK_STREQ(c.driver_opts[1], "overlay.imagestore=/ais2");
	CHECK(strv_contains(c.driver_opts, "overlay.mountopt=nodev,metacopy=on"));
	cstor_config_done(&c);
	CHECK(c.graph_root == NULL);
	return TEST_PASS;
}

/* Each caller option replaces only its own setting (unlike the Go CLI,
 * which drops the file's driver and options as soon as one is given). */
static int test_caller_overrides_own_key(void)
{
	CHECK(use_conf(base_conf) == 0);
	struct cstor_config c;
	cstor_store_options o = CSTOR_STORE_OPTIONS_INIT;
	o.graph_root = "/tmp/caller-graph";
	CHECK_OK(cstor_config_resolve(&c, &o, NULL));
	CHECK_STREQ(c.graph_root, "/tmp/caller-graph");
	CHECK_STREQ(c.run_root, "/tmp/cfg-run");
	CHECK_STREQ(c.driver, "overlay");
	CHECK(strv_length(c.driver_opts) == 3);
	CHECK(c.transient_store);
	cstor_config_done(&c);

	/* An option replaces the configured one with the same key; image
	 * stores add to the configured ones. */
	const char *const opts[] = { "overlay.mountopt=nodev", "overlay.imagestore=/ais3", NULL };
	o = (cstor_store_options)CSTOR_STORE_OPTIONS_INIT;
	o.run_root = "/tmp/caller-run";
	o.driver_options = opts;
	o.transient_store = 0;
	CHECK_OK(cstor_config_resolve(&c, &o, NULL));
	CHECK_STREQ(c.graph_root, "/tmp/cfg-graph");
	CHECK_STREQ(c.run_root, "/tmp/caller-run");
	CHECK(!c.transient_store);
	CHECK(strv_contains(c.driver_opts, "overlay.mountopt=nodev"));
	CHECK(!strv_contains(c.driver_opts, "overlay.mountopt=nodev,metacopy=on"));
	CHECK(strv_contains(c.driver_opts, "overlay.imagestore=/ais1"));
	CHECK(strv_contains(c.driver_opts, "overlay.imagestore=/ais3"));
	CHECK(strv_length(c.driver_opts) == 4);
	cstor_config_done(&c);

	/* Another driver: its own section's options, the store-wide ones
	 * kept under the driver actually used. */
	o = (cstor_store_options)CSTOR_STORE_OPTIONS_INIT;
	o.driver = "vfs";
	CHECK_OK(cstor_config_resolve(&c, &o, NULL));
	CHECK_STREQ(c.driver, "vfs");
	CHECK(strv_contains(c.driver_opts, "vfs.imagestore=/ais1"));
	CHECK(strv_contains(c.driver_opts, "vfs.ignore_chown_errors=true"));
	CHECK(!strv_contains(c.driver_opts, "overlay.mountopt=nodev,metacopy=on"));
	cstor_config_done(&c);

	/* A malformed caller option is refused, naming it. */
	const char *const badopt[] = { "overlay.mountopt", NULL };
	o = (cstor_store_options)CSTOR_STORE_OPTIONS_INIT;
	o.driver_options = badopt;
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK(cstor_config_resolve(&c, &o, &err) == -EINVAL);
	CHECK(strstr(cstor_error_message(&err), "overlay.mountopt"));
	cstor_error_clear(&err);
	cstor_config_done(&c);
	return TEST_PASS;
}

static int test_environment(void)
{
	CHECK(use_conf(base_conf) == 0);
	struct cstor_config c;
	setenv("STORAGE_DRIVER", "vfs", 1);
	CHECK_OK(cstor_config_resolve(&c, NULL, NULL));
	CHECK_STREQ(c.driver, "vfs");
	cstor_config_done(&c);
	/* The caller's driver wins over the environment. */
	cstor_store_options o = CSTOR_STORE_OPTIONS_INIT;
	o.driver = "overlay2";
	CHECK_OK(cstor_config_resolve(&c, &o, NULL));
	CHECK_STREQ(c.driver, "overlay"); /* the old name, as Go rewrites it */
	cstor_config_done(&c);
	unsetenv("STORAGE_DRIVER");

	/* $STORAGE_OPTS replaces the file's options. */
	setenv("STORAGE_OPTS", "overlay.mountopt=nodev,overlay.size=1G", 1);
	CHECK_OK(cstor_config_resolve(&c, NULL, NULL));
	CHECK(strv_length(c.driver_opts) == 2);
	CHECK_STREQ(c.driver_opts[0], "overlay.mountopt=nodev");
	CHECK_STREQ(c.driver_opts[1], "overlay.size=1G");
	cstor_config_done(&c);
	setenv("STORAGE_OPTS", "", 1);
	CHECK_OK(cstor_config_resolve(&c, NULL, NULL));
	CHECK(strv_length(c.driver_opts) == 0);
	cstor_config_done(&c);
	unsetenv("STORAGE_OPTS");
	return TEST_PASS;
}

static int test_driver_overlay2_in_file(void)
{
	CHECK(use_conf("[storage]\ndriver = \"overlay2\"\n[storage.options.overlay]\n"
		       "mountopt = \"nodev\"\n") == 0);
	struct cstor_config c;
	CHECK_OK(cstor_config_resolve(&c, NULL, NULL));
	CHECK_STREQ(c.driver, "overlay");
	CHECK(strv_contains(c.driver_opts, "overlay.mountopt=nodev"));
	cstor_config_done(&c);
	return TEST_PASS;
}

/* No file (missing, or "" from the caller): built-in defaults for root. */
static int test_defaults(void)
{
	if (geteuid() != 0)
		return test_skip("root defaults need root");
	CHECK(use_conf("") == 0);
	setenv("CONTAINERS_STORAGE_CONF", "/nonexistent/storage.conf", 1);
	struct cstor_config c;
	CHECK_OK(cstor_config_resolve(&c, NULL, NULL));
	CHECK(c.config_file == NULL);
	CHECK(c.driver == NULL);
	CHECK_STREQ(c.graph_root, "/var/lib/containers/storage");
	CHECK_STREQ(c.run_root, "/run/containers/storage");
	CHECK(!c.transient_store && !c.rootless && c.driver_opts == NULL);
	cstor_config_done(&c);

	CHECK(use_conf(base_conf) == 0);
	cstor_store_options o = CSTOR_STORE_OPTIONS_INIT;
	o.config_file = "";
	CHECK_OK(cstor_config_resolve(&c, &o, NULL));
	CHECK(c.config_file == NULL && c.driver == NULL);
	CHECK_STREQ(c.graph_root, "/var/lib/containers/storage");
	cstor_config_done(&c);

	/* The caller's file wins over $CONTAINERS_STORAGE_CONF. */
	char mine[600];
	snprintf(mine, sizeof(mine), "%s", conf);
	CHECK(use_conf("[storage]\ndriver = \"vfs\"\n") == 0);
	o.config_file = mine;
	CHECK_OK(cstor_config_resolve(&c, &o, NULL));
	CHECK_STREQ(c.config_file, mine);
	CHECK_STREQ(c.driver, "overlay");
	cstor_config_done(&c);
	return TEST_PASS;
}

/* A bad value is an error naming the file and the key. */
static int test_bad_values(void)
{
	static const struct {
		const char *text, *key;
		int code;
	} bad[] = {
		{ "[storage]\ndriver = 1\n", "driver", EBADMSG },
		{ "[storage]\ngraphroot = [\"/a\"]\n", "graphroot", EBADMSG },
		{ "[storage]\nrunroot = true\n", "runroot", EBADMSG },
		{ "[storage]\nrootless_storage_path = 2\n", "rootless_storage_path", EBADMSG },
		{ "[storage]\ntransient_store = \"yes\"\n", "transient_store", EBADMSG },
		{ "storage = 1\n", "[storage]", EBADMSG },
		{ "[storage]\n[storage.options]\nadditionalimagestores = \"/a\"\n",
		  "additionalimagestores", EBADMSG },
		{ "[storage]\n[storage.options]\nadditionalimagestores = [1]\n",
		  "additionalimagestores", EBADMSG },
		{ "[storage]\n[storage.options]\nmountopt = 1\n", "mountopt", EBADMSG },
		{ "[storage]\ndriver = \"overlay\"\n[storage.options]\noverlay = 1\n",
		  "storage.options.overlay", EBADMSG },
		{ "[storage]\ndriver = \"overlay\"\n[storage.options.overlay]\nmountopt = 5\n",
		  "mountopt", EBADMSG },
		{ "[storage\ndriver = \"overlay\"\n", NULL, 0 },
		{ "[storage]\ndriver = \"overlay\n", NULL, 0 },
		{ "[storage]\ndriver = \"a\"\ndriver = \"b\"\n", NULL, 0 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(use_conf(bad[i].text) == 0);
		struct cstor_config c;
		cstor_error err = CSTOR_ERROR_INIT;
		int r = cstor_config_resolve(&c, NULL, &err);
		const char *m = cstor_error_message(&err);
		CHECK_MSG(r < 0 && err.code == -r, "%s: %d", bad[i].text, r);
		if (bad[i].code)
			CHECK_MSG(r == -bad[i].code, "%s: %d", bad[i].text, r);
		CHECK_MSG(strstr(m, conf), "%s: %s", bad[i].text, m);
		if (bad[i].key)
			CHECK_MSG(strstr(m, bad[i].key), "%s: %s", bad[i].text, m);
		cstor_error_clear(&err);
		cstor_config_done(&c);
	}
	/* Roots must be absolute. */
	CHECK(use_conf("[storage]\ngraphroot = \"rel/dir\"\n") == 0);
	struct cstor_config c;
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK(cstor_config_resolve(&c, NULL, &err) == -EINVAL);
	CHECK(strstr(cstor_error_message(&err), "rel/dir"));
	cstor_error_clear(&err);
	cstor_config_done(&c);
	cstor_store_options o = CSTOR_STORE_OPTIONS_INIT;
	o.run_root = "relative";
	CHECK(use_conf(base_conf) == 0);
	CHECK(cstor_config_resolve(&c, &o, &err) == -EINVAL);
	cstor_error_clear(&err);
	cstor_config_done(&c);
	/* A file that cannot be read (a directory) is an error, not defaults. */
	setenv("CONTAINERS_STORAGE_CONF", top, 1);
	CHECK(cstor_config_resolve(&c, NULL, &err) < 0);
	CHECK(strstr(cstor_error_message(&err), top));
	cstor_error_clear(&err);
	cstor_config_done(&c);
	return TEST_PASS;
}

/* In a child running as uid 65534 (or as the unprivileged user running
 * the test): the per-user defaults, and roots taken
 * from a user's own file but never from the system's. Exit codes name the
 * failing step. */
static int rootless_child(const char *user_conf)
{
	struct cstor_config c;
	char home[600], want[700];
	snprintf(home, sizeof(home), "%s/home", top);
	setenv("HOME", home, 1);
	unsetenv("XDG_DATA_HOME");
	unsetenv("XDG_CONFIG_HOME");
	unsetenv("STORAGE_DRIVER");
	unsetenv("STORAGE_OPTS");
	setenv("XDG_RUNTIME_DIR", "/tmp/xdg-rt", 1);

	/* No file at all. */
	setenv("CONTAINERS_STORAGE_CONF", "/nonexistent.conf", 1);
	if (cstor_config_resolve(&c, NULL, NULL) < 0 || !c.rootless)
		return 10;
	snprintf(want, sizeof(want), "%s/.local/share/containers/storage", home);
	if (strcmp(c.graph_root, want) != 0 || strcmp(c.run_root, "/tmp/xdg-rt/containers") != 0)
		return 11;
	cstor_config_done(&c);

	setenv("XDG_DATA_HOME", "/tmp/xdg-data", 1);
	unsetenv("XDG_RUNTIME_DIR");
	setenv("TMPDIR", "/tmp/tmpdir", 1);
	if (cstor_config_resolve(&c, NULL, NULL) < 0)
		return 12;
	if (strcmp(c.graph_root, "/tmp/xdg-data/containers/storage") != 0)
		return 13;
	/* No $XDG_RUNTIME_DIR and no /run/user/<uid> of our own. */
	char rt[64];
	struct stat st;
	snprintf(rt, sizeof(rt), "/run/user/%u", (unsigned)geteuid());
	snprintf(want, sizeof(want), "/tmp/tmpdir/containers-user-%u/containers",
		 (unsigned)geteuid());
	if (stat(rt, &st) < 0 && strcmp(c.run_root, want) != 0)
		return 14;
	cstor_config_done(&c);

	/* A user's file: its roots are used. */
	setenv("CONTAINERS_STORAGE_CONF", user_conf, 1);
	if (cstor_config_resolve(&c, NULL, NULL) < 0)
		return 15;
	if (strcmp(c.graph_root, "/tmp/cfg-graph") != 0 || strcmp(c.run_root, "/tmp/cfg-run") != 0)
		return 16;
	cstor_config_done(&c);

	/* The file found through $XDG_CONFIG_HOME. */
	unsetenv("CONTAINERS_STORAGE_CONF");
	char xdg[600];
	snprintf(xdg, sizeof(xdg), "%s/xdgconf", top);
	setenv("XDG_CONFIG_HOME", xdg, 1);
	if (cstor_config_resolve(&c, NULL, NULL) < 0)
		return 17;
	snprintf(want, sizeof(want), "%s/containers/storage.conf", xdg);
	if (!c.config_file || strcmp(c.config_file, want) != 0 ||
	    strcmp(c.graph_root, "/tmp/rootless-path") != 0 || strcmp(c.driver, "vfs") != 0)
		return 18;
	cstor_config_done(&c);

	/* The system's file (if this host has one): its roots are root's,
	 * never a rootless user's. */
	setenv("XDG_CONFIG_HOME", "/nonexistent", 1);
	if (cstor_config_resolve(&c, NULL, NULL) < 0)
		return 19;
	if (c.config_file && !c.rootless_storage_path &&
	    strcmp(c.graph_root, "/tmp/xdg-data/containers/storage") != 0)
		return 20;
	cstor_config_done(&c);
	return 0;
}

static int test_rootless_defaults(void)
{
	CHECK(use_conf(base_conf) == 0);
	char user_conf[600], dir[600], path[700];
	snprintf(user_conf, sizeof(user_conf), "%s", conf);
	snprintf(dir, sizeof(dir), "%s/xdgconf", top);
	CHECK(mkdir(dir, 0755) == 0 || errno == EEXIST);
	snprintf(path, sizeof(path), "%s/containers", dir);
	CHECK(mkdir(path, 0755) == 0 || errno == EEXIST);
	snprintf(path, sizeof(path), "%s/containers/storage.conf", dir);
	FILE *f = fopen(path, "we");
	CHECK(f);
	fputs("[storage]\ndriver = \"vfs\"\nrootless_storage_path = \"/tmp/rootless-path\"\n", f);
	CHECK(fclose(f) == 0 && chmod(path, 0644) == 0);

	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		/* Run unprivileged, the test runs as it is. */
		if (geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
			_exit(2);
		_exit(rootless_child(user_conf));
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child step %d", WEXITSTATUS(st));
	return TEST_PASS;
}

/* imagestore: from the file, replaced or turned off ("") by the caller
 * (options version 2; a version 1 caller has no such field and gets the
 * file's), cleaned of repeated and trailing slashes; a relative one or the
 * graph root itself is an error naming the file. */
static int test_image_store(void)
{
	CHECK(use_conf("[storage]\ndriver = \"vfs\"\ngraphroot = \"/tmp/cfg-graph\"\n"
		       "imagestore = \"/tmp//cfg-is/\"\n") == 0);
	struct cstor_config c;
	CHECK_OK(cstor_config_resolve(&c, NULL, NULL));
	CHECK_STREQ(c.image_store, "/tmp/cfg-is");
	CHECK_STREQ(c.src_image_store, "the config file");
	cstor_config_done(&c);

	cstor_store_options o = CSTOR_STORE_OPTIONS_INIT;
	o.image_store = "/tmp/caller-is/./";
	CHECK_OK(cstor_config_resolve(&c, &o, NULL));
	CHECK_STREQ(c.image_store, "/tmp/caller-is");
	cstor_config_done(&c);
	o.image_store = "";
	CHECK_OK(cstor_config_resolve(&c, &o, NULL));
	CHECK(c.image_store == NULL);
	cstor_config_done(&c);
	o.version = 1;
	o.image_store = "not read";
	CHECK_OK(cstor_config_resolve(&c, &o, NULL));
	CHECK_STREQ(c.image_store, "/tmp/cfg-is");
	cstor_config_done(&c);

	cstor_error err = CSTOR_ERROR_INIT;
	o = (cstor_store_options)CSTOR_STORE_OPTIONS_INIT;
	o.image_store = "/tmp/cfg-graph/";
	CHECK(cstor_config_resolve(&c, &o, &err) == -EINVAL);
	CHECK(strstr(cstor_error_message(&err), "different from the graph root"));
	cstor_error_clear(&err);
	cstor_config_done(&c);

	CHECK(use_conf("[storage]\nimagestore = \"rel/is\"\n") == 0);
	CHECK(cstor_config_resolve(&c, NULL, &err) == -EINVAL);
	CHECK(strstr(cstor_error_message(&err), conf));
	CHECK(strstr(cstor_error_message(&err), "imagestore: image store \"rel/is\" is not an absolute path"));
	cstor_error_clear(&err);
	cstor_config_done(&c);
	CHECK(use_conf("[storage]\nimagestore = 7\n") == 0);
	CHECK(cstor_config_resolve(&c, NULL, &err) == -EBADMSG);
	CHECK(strstr(cstor_error_message(&err), "[storage] imagestore must be a string"));
	cstor_error_clear(&err);
	cstor_config_done(&c);
	return TEST_PASS;
}

TAP_MAIN(TEST(test_file_values), TEST(test_caller_overrides_own_key), TEST(test_environment),
	 TEST(test_driver_overlay2_in_file), TEST(test_defaults), TEST(test_bad_values),
	 TEST(test_rootless_defaults), TEST(test_image_store))
