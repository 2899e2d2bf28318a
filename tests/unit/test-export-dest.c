/* SPDX-License-Identifier: Apache-2.0 */
/* Export destinations ("oci:DIR[:REF]", "oci-archive:FILE[:REF]") and OCI
 * ref names (oci/export-dest.c). */
#include "tap.h"

#include "util/error-internal.h"
#include "oci/export-internal.h"

/* Parse @dest; the error code, 0 with kind/path/ref checked. */
static int parse(const char *dest, enum cstor_export_kind kind, const char *path, const char *ref)
{
	struct cstor_export_dest d;
	cstor_error err = CSTOR_ERROR_INIT;
	int r = cstor_export_dest_parse(&d, dest, &err);
	if (r < 0) {
		if (!err.msg || !strstr(err.msg, "oci") ||
		    (r == -EINVAL && !strstr(err.msg, "invalid reference") &&
		     !strstr(err.msg, "oci:DIR[:REF] or oci-archive:FILE[:REF]")))
			printf("# %s: unexpected message: %s\n", dest, cstor_error_message(&err));
		cstor_error_clear(&err);
		return r;
	}
	bool ok = d.kind == kind && streq(d.path, path) && streq_ptr(d.ref, ref);
	if (!ok)
		printf("# %s: kind %d path %s ref %s\n", dest, d.kind, d.path, d.ref ? d.ref : "(none)");
	cstor_export_dest_done(&d);
	return ok ? 0 : -1000;
}

static int test_forms(void)
{
	CHECK(parse("oci:/tmp/x", CSTOR_EXPORT_OCI_DIR, "/tmp/x", NULL) == 0);
	CHECK(parse("oci:/tmp/x:v1", CSTOR_EXPORT_OCI_DIR, "/tmp/x", "v1") == 0);
	CHECK(parse("oci:rel/dir:", CSTOR_EXPORT_OCI_DIR, "rel/dir", NULL) == 0);
	/* REF is everything after the path's colon, colons included. */
	CHECK(parse("oci:x:example.com/bb:v1", CSTOR_EXPORT_OCI_DIR, "x", "example.com/bb:v1") == 0);
	CHECK(parse("oci-archive:a.tar", CSTOR_EXPORT_OCI_ARCHIVE, "a.tar", NULL) == 0);
	CHECK(parse("oci-archive:/d/a.tar:latest", CSTOR_EXPORT_OCI_ARCHIVE, "/d/a.tar", "latest") == 0);
	/* docker-archive's NAME is normalised for RepoTags; dir: has none. */
	CHECK(parse("docker-archive:x.tar", CSTOR_EXPORT_DOCKER_ARCHIVE, "x.tar", NULL) == 0);
	CHECK(parse("docker-archive:x.tar:busybox", CSTOR_EXPORT_DOCKER_ARCHIVE, "x.tar",
		    "docker.io/library/busybox:latest") == 0);
	CHECK(parse("docker-archive:/d/x.tar:quay.io/a/b:v2", CSTOR_EXPORT_DOCKER_ARCHIVE, "/d/x.tar",
		    "quay.io/a/b:v2") == 0);
	CHECK(parse("dir:/tmp/d", CSTOR_EXPORT_DIR, "/tmp/d", NULL) == 0);
	return TEST_PASS;
}

static int test_refused(void)
{
	const char *bad[] = { "", "/tmp/x", "x", "./a:b", "oci:", "oci::v1", "oci-archive:",
			      "docker-archive:x.tar:Bad", "docker-archive:x.tar:a@sha256:00",
			      "dir:/x:ref", "docker://busybox", "OCI:/x",
			      "oci:/x:bad ref", "oci:/x:-v1", "oci:/x:a//b", "oci:/x:a/", "oci:/x:a..b" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_MSG(parse(bad[i], 0, "", NULL) == -EINVAL, "%s", bad[i]);
	CHECK(parse(NULL, 0, "", NULL) == -EINVAL);
	return TEST_PASS;
}

static int test_ref_names(void)
{
	const char *good[] = { "v1", "latest", "A_b", "1.0", "a--b", "a-b.c_d", "a+b@c:d",
			       "example.com/bb:v1", "a/b/c", "x" };
	const char *bad[] = { "", "-a", "a-", "a__b", "_a", "a/", "/a", "a//b", "a b", "a..b",
			      "a:", "é", "a/-b", "a---b" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK_MSG(cstor_export_ref_valid(good[i]), "%s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_MSG(!cstor_export_ref_valid(bad[i]), "%s", bad[i]);
	return TEST_PASS;
}

TAP_MAIN(TEST(test_forms), TEST(test_refused), TEST(test_ref_names))
