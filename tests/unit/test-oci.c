/* SPDX-License-Identifier: Apache-2.0 */
/* Image sources: reference names, dates, and the tar index of archives. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/error-internal.h"
#include "records/layer-rec.h"
#include "oci/refname.h"
#include "oci/source.h"
#include "tap.h"

static int norm_is(const char *in, const char *want)
{
	char *out = NULL;
	cstor_error err = CSTOR_ERROR_INIT;
	int r = cstor_refname_normalize(&out, in, &err);
	int ok = want ? r == 0 && strcmp(out, want) == 0 : r == -EINVAL && err.msg;
	if (!ok)
		fprintf(stderr, "# %s -> %s (want %s)\n", in, r == 0 ? out : err.msg,
			want ? want : "error");
	free(out);
	cstor_error_clear(&err);
	return ok;
}

static int test_refname(void)
{
	/* As docker/distribution's ParseNormalizedNamed + TagNameOnly. */
	CHECK(norm_is("busybox", "docker.io/library/busybox:latest"));
	CHECK(norm_is("busybox:1.36", "docker.io/library/busybox:1.36"));
	CHECK(norm_is("user/app", "docker.io/user/app:latest"));
	CHECK(norm_is("docker.io/busybox", "docker.io/library/busybox:latest"));
	CHECK(norm_is("index.docker.io/user/app:v", "docker.io/user/app:v"));
	CHECK(norm_is("quay.io/a/b", "quay.io/a/b:latest"));
	CHECK(norm_is("localhost/x", "localhost/x:latest"));
	CHECK(norm_is("localhost:5000/x:t", "localhost:5000/x:t"));
	CHECK(norm_is("example.com:5000/a/b_c.d-e__f", "example.com:5000/a/b_c.d-e__f:latest"));
	CHECK(norm_is("a/b@sha256:"
		      "0000000000000000000000000000000000000000000000000000000000000000",
		      "docker.io/a/b@sha256:"
		      "0000000000000000000000000000000000000000000000000000000000000000"));
	CHECK(norm_is("Upper/x", "Upper/x:latest")); /* an upper-case first part is a domain */
	CHECK(norm_is("a/Upper", NULL));
	CHECK(norm_is("a//b", NULL));
	CHECK(norm_is("a/b:", NULL));
	CHECK(norm_is("a/b:-x", NULL));
	CHECK(norm_is("a/-b", NULL));
	CHECK(norm_is("a/b@sha256:12", NULL));
	CHECK(norm_is("", NULL));
	CHECK(norm_is(":tag", NULL));
	return TEST_PASS;
}

static int time_is(const char *in, const char *want)
{
	char *out = cstor_time_normalize(in);
	int ok = want ? out && strcmp(out, want) == 0 : out == NULL;
	if (!ok)
		fprintf(stderr, "# %s -> %s\n", in, out ? out : "(null)");
	free(out);
	return ok;
}

static int test_time(void)
{
	CHECK(time_is("2023-11-14T22:13:20Z", "2023-11-14T22:13:20Z"));
	CHECK(time_is("2023-11-14T22:13:20.500000000Z", "2023-11-14T22:13:20.5Z"));
	CHECK(time_is("2023-11-14T22:13:20.000Z", "2023-11-14T22:13:20Z"));
	CHECK(time_is("2023-11-14T22:13:20+00:00", "2023-11-14T22:13:20Z"));
	CHECK(time_is("2023-11-14T22:13:20.1+02:00", "2023-11-14T22:13:20.1+02:00"));
	CHECK(time_is("2023-11-14 22:13:20Z", NULL));
	CHECK(time_is("2023-11-14T22:13:20", NULL));
	CHECK(time_is("2023-11-14T22:13:20.Z", NULL));
	CHECK(time_is("2023-11-14T22:13:20.1234567891Z", NULL));
	CHECK(time_is("2023-11-14T22:13:20+0200", NULL));
	CHECK(time_is("", NULL));
	return TEST_PASS;
}

/* ---- tar index ---- */

static void octal(char *f, size_t len, unsigned long long v)
{
	snprintf(f, len, "%0*llo", (int)len - 1, v);
}

/* Append a ustar member (header + padded data) to a memfd. */
static void add(int fd, const char *name, char type, const char *link, const char *data,
		size_t len)
{
	char h[512] = { 0 };
	snprintf(h, 100, "%s", name);
	octal(h + 100, 8, 0644);
	octal(h + 108, 8, 0);
	octal(h + 116, 8, 0);
	octal(h + 124, 12, len);
	octal(h + 136, 12, 0);
	h[156] = type;
	if (link)
		snprintf(h + 157, 100, "%s", link);
	memcpy(h + 257, "ustar\0" "00", 8);
	memset(h + 148, ' ', 8);
	unsigned sum = 0;
	for (int i = 0; i < 512; i++)
		sum += (unsigned char)h[i];
	snprintf(h + 148, 8, "%06o", sum);
	if (write(fd, h, 512) != 512)
		abort();
	if (len) {
		char pad[512] = { 0 };
		if (write(fd, data, len) != (ssize_t)len ||
		    write(fd, pad, (512 - len % 512) % 512) < 0)
			abort();
	}
}

static struct cstor_oci_src *open_fd(int fd, cstor_error *err, int *r)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	struct cstor_oci_src *src = NULL;
	*r = cstor_oci_src_open(&src, path, err);
	return src;
}

static int read_is(struct cstor_oci_src *src, const char *name, const char *want)
{
	char *buf = NULL;
	size_t len = 0;
	cstor_error err = CSTOR_ERROR_INIT;
	int r = cstor_oci_src_read(&buf, &len, src, name, 1 << 20, &err);
	int ok = want ? r == 0 && strcmp(buf, want) == 0 : r < 0;
	if (!ok)
		fprintf(stderr, "# %s: r=%d %s\n", name, r, r == 0 ? buf : err.msg);
	free(buf);
	cstor_error_clear(&err);
	return ok;
}

static int test_tar_index(void)
{
	int fd = memfd_create("t", MFD_CLOEXEC);
	add(fd, "./a/f", '0', NULL, "one", 3);
	add(fd, "a/f", '0', NULL, "two", 3); /* the later member wins */
	add(fd, "b/link", '2', "../a/f", NULL, 0);
	add(fd, "c/hard", '1', "a/f", NULL, 0);
	add(fd, "d/loop", '2', "loop", NULL, 0);
	add(fd, "e/dir", '5', NULL, NULL, 0);
	add(fd, "x/../g", '0', NULL, "gee", 3);
	char end[1024] = { 0 };
	CHECK(write(fd, end, sizeof(end)) == (ssize_t)sizeof(end));
	cstor_error err = CSTOR_ERROR_INIT;
	int r;
	struct cstor_oci_src *src = open_fd(fd, &err, &r);
	CHECK_OK(r);
	CHECK(read_is(src, "a/f", "two"));
	CHECK(read_is(src, "b/link", "two"));
	CHECK(read_is(src, "c/hard", "two"));
	CHECK(read_is(src, "g", "gee"));
	CHECK(read_is(src, "d/loop", NULL));
	CHECK(read_is(src, "e/dir", NULL));
	CHECK(read_is(src, "nope", NULL));
	CHECK(cstor_oci_src_exists(src, "a/f") && !cstor_oci_src_exists(src, "zz"));
	cstor_oci_src_free(src);
	close(fd);
	return TEST_PASS;
}

static int test_tar_truncated(void)
{
	int fd = memfd_create("t", MFD_CLOEXEC);
	char big[2000];
	memset(big, 'x', sizeof(big));
	add(fd, "big", '0', NULL, big, sizeof(big));
	CHECK(ftruncate(fd, 512 + 1000) == 0);
	cstor_error err = CSTOR_ERROR_INIT;
	int r;
	struct cstor_oci_src *src = open_fd(fd, &err, &r);
	CHECK(r == -EBADMSG && !src);
	CHECK(strstr(err.msg, "truncated"));
	cstor_error_clear(&err);
	/* Garbage is not a tar archive. */
	CHECK(ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0);
	memset(big, 'y', sizeof(big));
	CHECK(write(fd, big, sizeof(big)) == (ssize_t)sizeof(big));
	src = open_fd(fd, &err, &r);
	CHECK(r == -EBADMSG && strstr(err.msg, "not a tar archive"));
	cstor_error_clear(&err);
	close(fd);
	return TEST_PASS;
}

TAP_MAIN(TEST(test_refname), TEST(test_time), TEST(test_tar_index), TEST(test_tar_truncated))
