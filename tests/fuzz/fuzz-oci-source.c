/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Image archives over arbitrary bytes: the tar index of oci/source.c
 * (offsets, long names, pax records, links between members) and the
 * manifest/config parsing of oci/manifest.c, as an OCI archive and as a
 * docker-archive. Whatever the input, opening and loading either fail with
 * an error message or give an image whose every layer blob can be read to
 * its announced size.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/error-internal.h"
#include "oci/manifest.h"
#include "oci/source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_layers(struct cstor_oci_src *src, const struct cstor_oci_image *img)
{
	for (size_t i = 0; i < img->n_layers; i++) {
		struct cstor_oci_member m;
		cstor_error err = CSTOR_ERROR_INIT;
		if (cstor_oci_src_open_member(&m, src, img->layers[i].member, &err) < 0) {
			assert(err.code != 0);
			cstor_error_clear(&err);
			continue;
		}
		char buf[4096];
		uint64_t total = 0;
		long n;
		while ((n = cstor_oci_member_read(&m, buf, sizeof(buf))) > 0)
			total += (uint64_t)n;
		assert(n == 0 && total == m.size);
		cstor_oci_member_close(&m);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz-oci", MFD_CLOEXEC);
	assert(fd >= 0);
	assert(write(fd, data, size) == (ssize_t)size);
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	struct cstor_oci_src *src = NULL;
	cstor_error err = CSTOR_ERROR_INIT;
	if (cstor_oci_src_open(&src, path, &err) < 0) {
		assert(err.code != 0 && err.msg);
		cstor_error_clear(&err);
		close(fd);
		return 0;
	}
	for (int docker = 0; docker < 2; docker++) {
		struct cstor_oci_image img;
		if (cstor_oci_image_load(&img, src, docker, NULL, &err) < 0) {
			assert(err.code != 0 && err.msg);
			cstor_error_clear(&err);
			continue;
		}
		assert(img.manifest && img.config);
		read_layers(src, &img);
		cstor_oci_image_clear(&img);
	}
	cstor_oci_src_free(src);
	close(fd);
	return 0;
}
