/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the registry client reads from files (registry/auth.c,
 * registry/conf.c) and how references split (oci/pull.c): auth.json keys
 * in their forms and precedence, registries.conf prefixes, locations,
 * mirrors and drop-ins; the public calls' option versions and checks
 * (before any store or network is touched).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstor/layer.h>
#include <cstor/registry.h>

#include "oci/pull.h"
#include "registry/client.h"
#include "registry/conf.h"
#include "util/cleanup.h"
#include "util/rm.h"
#include "tap.h"

static char top[] = "/tmp/cstor-regconf-test.XXXXXX";

static void remove_top(void)
{
	cstor_rm_rf_at_quiet(AT_FDCWD, top);
}

/* The directory of the test files, made on first use (a test may run
 * alone). */
static int ensure_top(void)
{
	static bool made;
	if (made)
		return 0;
	if (!mkdtemp(top))
		return -1;
	made = true;
	atexit(remove_top);
	return 0;
}

static int write_file(const char *name, const char *text, char *path, size_t n)
{
	if (ensure_top() < 0)
		return -1;
	snprintf(path, n, "%s/%s", top, name);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* "alice:pw" and "bob:pw2", base64. */
#define ALICE "YWxpY2U6cHc="
#define BOB "Ym9iOnB3Mg=="

static int lookup(char **user, const char *file, const char *host, const char *repo)
{
	char *pass = NULL;
	cstor_error err = CSTOR_ERROR_INIT;
	int r = cstor_reg_auth_lookup(user, &pass, file, host, repo, &err);
	free(pass);
	cstor_error_clear(&err);
	return r;
}

static int test_auth_keys(void)
{
	char path[600];
	CHECK(write_file("auth.json",
			 "{\"auths\":{\"reg.example:5000\":{\"auth\":\"" ALICE "\"},"
			 "\"reg.example:5000/team\":{\"auth\":\"" BOB "\"},"
			 "\"https://index.docker.io/v1/\":{\"auth\":\"" BOB "\"},"
			 "\"https://quay.io\":{\"auth\":\"" ALICE "\"}}}",
			 path, sizeof(path)) == 0);
	char *u = NULL;
	CHECK(lookup(&u, path, "reg.example:5000", "other/app") == 0);
	CHECK_STREQ(u, "alice");
	free(u);
	/* The longest key wins: a repository prefix over the host. */
	CHECK(lookup(&u, path, "reg.example:5000", "team/app") == 0);
	CHECK_STREQ(u, "bob");
	free(u);
	/* "teamx" is not under "team". */
	CHECK(lookup(&u, path, "reg.example:5000", "teamx/app") == 0);
	CHECK_STREQ(u, "alice");
	free(u);
	CHECK(lookup(&u, path, "docker.io", "library/busybox") == 0);
	CHECK_STREQ(u, "bob");
	free(u);
	CHECK(lookup(&u, path, "quay.io", "a/b") == 0);
	CHECK_STREQ(u, "alice");
	free(u);
	CHECK(lookup(&u, path, "reg.example", "a") == 0);
	CHECK(u == NULL);
	/* A named file that is missing or broken is an error. */
	CHECK(lookup(&u, "/nonexistent/auth.json", "quay.io", "a") < 0);
	CHECK(write_file("bad.json", "{", path, sizeof(path)) == 0);
	CHECK(lookup(&u, path, "quay.io", "a") == -EINVAL);
	return TEST_PASS;
}

static int test_auth_precedence(void)
{
	char a[600], b[600], dir[600];
	CHECK(write_file("env.json", "{\"auths\":{\"h\":{\"auth\":\"" ALICE "\"}}}", a,
			 sizeof(a)) == 0);
	CHECK(ensure_top() == 0);
	snprintf(dir, sizeof(dir), "%s/run", top);
	CHECK(mkdir(dir, 0700) == 0 || errno == EEXIST);
	snprintf(dir, sizeof(dir), "%s/run/containers", top);
	CHECK(mkdir(dir, 0700) == 0 || errno == EEXIST);
	CHECK(write_file("run/containers/auth.json", "{\"auths\":{\"h\":{\"auth\":\"" BOB "\"}}}",
			 b, sizeof(b)) == 0);
	snprintf(dir, sizeof(dir), "%s/run", top);
	setenv("XDG_RUNTIME_DIR", dir, 1);
	setenv("HOME", "/nonexistent", 1);
	unsetenv("REGISTRY_AUTH_FILE");
	char *u = NULL;
	CHECK(lookup(&u, NULL, "h", "r") == 0);
	CHECK_STREQ(u, "bob");
	free(u);
	setenv("REGISTRY_AUTH_FILE", a, 1);
	CHECK(lookup(&u, NULL, "h", "r") == 0);
	CHECK_STREQ(u, "alice");
	free(u);
	unsetenv("REGISTRY_AUTH_FILE");
	unsetenv("XDG_RUNTIME_DIR");
	return TEST_PASS;
}

static int test_conf_endpoints(void)
{
	char path[600], dpath[600];
	CHECK(write_file("registries.conf",
			 "unqualified-search-registries = [\"a.example\", \"b.example\"]\n"
			 "[aliases]\n\"bb\" = \"c.example/bb\"\n"
			 "[[registry]]\nprefix = \"src.example/team\"\nlocation = \"dst.example/t2\"\n"
			 "[[registry.mirror]]\nlocation = \"m1.example/cache\"\n"
			 "[[registry.mirror]]\nlocation = \"m2.example\"\n"
			 "pull-from-mirror = \"digest-only\"\ninsecure = true\n"
			 "[[registry]]\nlocation = \"src.example\"\nblocked = true\n"
			 "[[registry]]\nprefix = \"*.wild.example\"\ninsecure = true\n",
			 path, sizeof(path)) == 0);
	snprintf(dpath, sizeof(dpath), "%s/registries.conf.d", top);
	CHECK(mkdir(dpath, 0700) == 0);
	/* A drop-in replaces the alias and the search list. */
	CHECK(write_file("registries.conf.d/50-x.conf",
			 "unqualified-search-registries = [\"z.example\"]\n"
			 "[aliases]\n\"bb\" = \"d.example/bb\"\n",
			 dpath, sizeof(dpath)) == 0);
	setenv("CONTAINERS_REGISTRIES_CONF", path, 1);
	struct cstor_reg_conf *c = NULL;
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK(cstor_reg_conf_load(&c, &err) == 0);
	CHECK_STREQ(cstor_reg_conf_alias(c, "bb"), "d.example/bb");
	CHECK(cstor_reg_conf_alias(c, "nope") == NULL);
	CHECK_STREQ(cstor_reg_conf_search(c)[0], "z.example");
	CHECK(cstor_reg_conf_search(c)[1] == NULL);

	struct cstor_reg_endpoint *e = NULL;
	size_t n = 0;
	/* By tag: the first mirror only (the second is digest-only), then
	 * the rewritten primary. */
	CHECK(cstor_reg_conf_endpoints(&e, &n, c, "src.example", "team/app", false, false, &err) ==
	      0);
	CHECK(n == 2);
	CHECK_STREQ(e[0].host, "m1.example");
	CHECK_STREQ(e[0].repo, "cache/app");
	CHECK(e[0].mirror && !e[0].insecure);
	CHECK_STREQ(e[1].host, "dst.example");
	CHECK_STREQ(e[1].repo, "t2/app");
	CHECK(!e[1].mirror);
	cstor_reg_endpoints_free(e, n);
	/* By digest: both mirrors. */
	CHECK(cstor_reg_conf_endpoints(&e, &n, c, "src.example", "team/app", true, false, &err) == 0);
	CHECK(n == 3);
	CHECK_STREQ(e[1].host, "m2.example");
	CHECK_STREQ(e[1].repo, "app");
	CHECK(e[1].insecure);
	cstor_reg_endpoints_free(e, n);
	/* Push: no mirrors. */
	CHECK(cstor_reg_conf_endpoints(&e, &n, c, "src.example", "team/app", false, true, &err) == 0);
	CHECK(n == 1);
	CHECK_STREQ(e[0].host, "dst.example");
	cstor_reg_endpoints_free(e, n);
	/* Outside the team prefix: the blocked registry. */
	CHECK(cstor_reg_conf_endpoints(&e, &n, c, "src.example", "teamx/app", false, false, &err) ==
	      -EACCES);
	CHECK(strstr(err.msg, "blocked"));
	cstor_error_clear(&err);
	/* A wildcard: the name unchanged, insecure. */
	CHECK(cstor_reg_conf_endpoints(&e, &n, c, "r.wild.example", "a", false, false, &err) == 0);
	CHECK(n == 1);
	CHECK_STREQ(e[0].host, "r.wild.example");
	CHECK_STREQ(e[0].repo, "a");
	CHECK(e[0].insecure);
	cstor_reg_endpoints_free(e, n);
	/* Not configured: itself. */
	CHECK(cstor_reg_conf_endpoints(&e, &n, c, "other.example:5000", "x/y", false, false, &err) ==
	      0);
	CHECK(n == 1);
	CHECK_STREQ(e[0].host, "other.example:5000");
	CHECK_STREQ(e[0].repo, "x/y");
	CHECK(!e[0].insecure);
	cstor_reg_endpoints_free(e, n);
	cstor_reg_conf_free(c);
	unsetenv("CONTAINERS_REGISTRIES_CONF");
	return TEST_PASS;
}

static int test_docker_refs(void)
{
	static const struct {
		const char *in, *host, *repo, *ref;
	} t[] = {
		{ "busybox", "docker.io", "library/busybox", "latest" },
		{ "docker://busybox:1.36", "docker.io", "library/busybox", "1.36" },
		{ "localhost:5000/a/b", "localhost:5000", "a/b", "latest" },
		{ "127.0.0.1:5000/bb:v1", "127.0.0.1:5000", "bb", "v1" },
		{ "quay.io/x/y:t@sha256:"
		  "0123456789012345678901234567890123456789012345678901234567890123",
		  "quay.io", "x/y",
		  "sha256:0123456789012345678901234567890123456789012345678901234567890123" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct cstor_docker_ref r;
		cstor_error err = CSTOR_ERROR_INIT;
		CHECK_MSG(cstor_oci_parse_docker_ref(&r, t[i].in, &err) == 0, "%s", t[i].in);
		CHECK_STREQ(r.host, t[i].host);
		CHECK_STREQ(r.repo, t[i].repo);
		CHECK_STREQ(r.ref, t[i].ref);
		cstor_docker_ref_clear(&r);
	}
	struct cstor_docker_ref r;
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK(cstor_oci_parse_docker_ref(&r, "docker://", &err) == -EINVAL);
	cstor_error_clear(&err);
	CHECK(cstor_oci_parse_docker_ref(&r, "Upper/Case", &err) == -EINVAL);
	cstor_error_clear(&err);
	return TEST_PASS;
}

/* Version 1 structures (without the version 2 fields) are still taken;
 * an unknown version, bad compressions and levels, and --platform with
 * --all-platforms are refused. The reference "docker://" is refused after
 * the options are checked, so its error shows they were accepted. */
static int test_option_versions(void)
{
	cstor_error err = CSTOR_ERROR_INIT;
	cstor_pull_options po = CSTOR_PULL_OPTIONS_INIT;
	CHECK(po.version == 2 && po.cancel == NULL);
	po.version = 1;
	CHECK(cstor_store_pull_image(NULL, NULL, "docker://", &po, &err) == -EINVAL);
	CHECK_MSG(strstr(err.msg, "no image reference"), "%s", err.msg);
	cstor_error_clear(&err);
	CHECK(cstor_registry_list_tags(NULL, "docker://", &po, &err) == -EINVAL);
	CHECK_MSG(strstr(err.msg, "no image reference"), "%s", err.msg);
	cstor_error_clear(&err);
	po.version = 3;
	CHECK(cstor_store_pull_image(NULL, NULL, "docker://", &po, &err) == -EINVAL);
	CHECK_MSG(strstr(err.msg, "version"), "%s", err.msg);
	cstor_error_clear(&err);
	po = (cstor_pull_options)CSTOR_PULL_OPTIONS_INIT;
	po.flags = CSTOR_PULL_ALL_PLATFORMS;
	po.platform = "linux/arm64";
	CHECK(cstor_store_pull_image(NULL, NULL, "x/y", &po, &err) == -EINVAL);
	CHECK_MSG(strstr(err.msg, "all platforms"), "%s", err.msg);
	cstor_error_clear(&err);

	cstor_push_options o = CSTOR_PUSH_OPTIONS_INIT;
	CHECK(o.version == 2 && o.compression == 0 && o.cancel == NULL);
	o.version = 1;
	CHECK(cstor_store_push_image(NULL, NULL, "img", "docker://", &o, &err) == -EINVAL);
	CHECK_MSG(strstr(err.msg, "no image reference"), "%s", err.msg);
	cstor_error_clear(&err);
	o.version = 0;
	CHECK(cstor_store_push_image(NULL, NULL, "img", "docker://", &o, &err) == -EINVAL);
	CHECK_MSG(strstr(err.msg, "version"), "%s", err.msg);
	cstor_error_clear(&err);
	static const struct {
		int compression, level;
		const char *msg;
	} bad[] = {
		{ 3, 0, "unknown compression 3" },
		{ CSTOR_DIFF_GZIP, 10, "level 10 is not from 1 to 9 for gzip" },
		{ 0, 10, "level 10 is not from 1 to 9 for gzip" },
		{ CSTOR_DIFF_ZSTD, 21, "level 21 is not from 1 to 20 for zstd" },
		{ CSTOR_DIFF_ZSTD, -1, "level -1" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = (cstor_push_options)CSTOR_PUSH_OPTIONS_INIT;
		o.compression = bad[i].compression;
		o.compression_level = bad[i].level;
		CHECK(cstor_store_push_image(NULL, NULL, "img", "x/y", &o, &err) == -EINVAL);
		CHECK_MSG(strstr(err.msg, bad[i].msg), "%s", err.msg);
		cstor_error_clear(&err);
	}
	o = (cstor_push_options)CSTOR_PUSH_OPTIONS_INIT;
	o.compression = CSTOR_DIFF_ZSTD;
	o.compression_level = 20;
	CHECK(cstor_store_push_image(NULL, NULL, "img", "docker://", &o, &err) == -EINVAL);
	CHECK_MSG(strstr(err.msg, "no image reference"), "%s", err.msg);
	cstor_error_clear(&err);
	return TEST_PASS;
}

TAP_MAIN(TEST(test_auth_keys), TEST(test_auth_precedence),
	 TEST(test_conf_endpoints), TEST(test_docker_refs), TEST(test_option_versions))
