/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Arbitrary bytes as a records file (layers.json, images.json or
 * containers.json, chosen by the first byte) into the record codecs. Besides
 * memory errors this checks that a failure is -EBADMSG with a message naming
 * the file, and that whatever is accepted writes back as text that parses
 * again to the same text (the records cstor writes are what it reads).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "records/container-rec.h"
#include "records/fields.h"
#include "records/image-rec.h"
#include "records/layer-rec.h"
#include "util/error-internal.h"
#include "util/gojson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void write_all(cstor_buf *b, const struct cstor_rec_codec *c, struct cstor_obj_head **r,
		      size_t n)
{
	cstor_buf_putc(b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			cstor_buf_putc(b, ',');
		c->write(b, r[i]);
	}
	cstor_buf_putc(b, ']');
}

static void free_all(const struct cstor_rec_codec *c, struct cstor_obj_head **r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		c->free(r[i]);
	free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	static const struct cstor_rec_codec *const codecs[] = {
		&cstor_layer_rec_codec,
		&cstor_image_rec_codec,
		&cstor_container_rec_codec,
	};
	const struct cstor_rec_codec *c = codecs[data[0] % 3];
	cstor_error err = CSTOR_ERROR_INIT;
	struct cstor_obj_head **recs = NULL;
	size_t n = 0;
	int r = cstor_recs_parse(c, &recs, &n, (const char *)data + 1, size - 1, "fuzz.json", &err);
	if (r == -ENOMEM) {
		cstor_error_clear(&err);
		return 0;
	}
	if (r < 0) {
		if (r != -EBADMSG || err.code != EBADMSG || !err.msg || !strstr(err.msg, "fuzz.json"))
			abort();
		cstor_error_clear(&err);
		return 0;
	}
	cstor_buf one = { 0 };
	write_all(&one, c, recs, n);
	free_all(c, recs, n);
	if (one.oom) {
		cstor_buf_free(&one);
		return 0;
	}
	struct cstor_obj_head **again = NULL;
	size_t m = 0;
	r = cstor_recs_parse(c, &again, &m, one.data, one.len, "written.json", &err);
	if (r == -ENOMEM) {
		cstor_buf_free(&one);
		cstor_error_clear(&err);
		return 0;
	}
	if (r < 0 || m != n)
		abort(); /* what we write must read back */
	cstor_buf two = { 0 };
	write_all(&two, c, again, m);
	free_all(c, again, m);
	if (!two.oom && (two.len != one.len || memcmp(one.data, two.data, one.len) != 0))
		abort(); /* and write the same again */
	cstor_buf_free(&one);
	cstor_buf_free(&two);
	cstor_error_clear(&err);
	return 0;
}
