/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The images.json record codec: Go-written records come back byte-identical,
 * Go's field order and omitempty, unknown keys kept, the digests that find an
 * image, and hostile records refused with the record named.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "records/image-rec.h"
#include "util/cleanup.h"
#include "util/strv.h"
#include "rec-samples.h"
#include "tap.h"

#define WHERE "loading \"/x/images.json\": image 2"

/* Parse one record from JSON text. */
static int parse_one(struct cstor_image_rec **out, const char *text, cstor_error *err)
{
	struct cstor_obj_head *h = NULL;
	int r = rec_parse_text(&cstor_image_rec_codec, &h, text, WHERE, err);
	*out = (struct cstor_image_rec *)h;
	return r;
}

static char *write_one(const struct cstor_image_rec *r)
{
	return rec_write_text(&cstor_image_rec_codec, &r->h);
}

/* A whole images.json. */
static int parse_file(struct cstor_obj_head ***recs, size_t *n, const char *text, size_t len,
		      const char *path, cstor_error *err)
{
	return cstor_recs_parse(&cstor_image_rec_codec, recs, n, text, len, path, err);
}

/* A whole images.json read and written back. */
static int file_roundtrip(const char *text, char **out, cstor_error *err)
{
	return rec_file_roundtrip(&cstor_image_rec_codec, text, "/x/images.json", out, err);
}

static int test_go_records_byte_identical(void)
{
	for (size_t i = 0; go_images[i]; i++) {
		struct cstor_image_rec *r = NULL;
		CHECK_OK(parse_one(&r, go_images[i], NULL));
		_cleanup_free_ char *w = write_one(r);
		cstor_image_rec_free(r);
		CHECK_STREQ(w, go_images[i]);
	}
	_cleanup_free_ char *file = samples_join(go_images), *out = NULL;
	CHECK_OK(file_roundtrip(file, &out, NULL));
	CHECK_STREQ(out, file);
	return TEST_PASS;
}

static int test_go_fields_read(void)
{
	struct cstor_image_rec *r = NULL;
	CHECK_OK(parse_one(&r, go_images[0], NULL));
	CHECK(strv_length(r->h.names) == 1 && strv_length(r->names_history) == 3);
	CHECK_STREQ(r->names_history[0], "third");
	CHECK_STREQ(r->names_history[2], "renamed");
	CHECK_STREQ(r->layer, "b9978cf1e1dacf8794c8cb9c8ffad7d2e55252909380c0275d2d1d79365ca153");
	CHECK(strv_length(r->mapped_layers) == 1);
	CHECK_STREQ(r->h.metadata, "imgmeta");
	CHECK(r->digest == NULL && r->h.bd.names == NULL && r->h.bd.sizes == NULL);
	cstor_image_rec_free(r);

	CHECK_OK(parse_one(&r, go_images[1], NULL));
	CHECK_STREQ(r->h.metadata, "meta\"data");
	CHECK(strv_length(r->h.bd.names) == 2);
	CHECK_STREQ(r->h.bd.names[1], "Key With/Slash");
	CHECK(cstor_bigdata_index_size(&r->h.bd, "manifest-sha256:abc") == 13);
	CHECK(cstor_bigdata_index_size(&r->h.bd, "absent") == -1);
	CHECK_STREQ(cstor_bigdata_index_digest(&r->h.bd, "Key With/Slash"),
		    "sha256:e6e990d980b9f2dd2075743d03168a6ead793676498a21d45816607c4e6baee8");
	CHECK(cstor_bigdata_index_digest(&r->h.bd, "absent") == NULL);
	cstor_image_rec_free(r);
	return TEST_PASS;
}

static int test_field_order_and_omitempty(void)
{
	static const char in[] =
		"{\"flags\":{\"b\":2,\"a\":1},\"created\":\"2020-01-01T00:00:00+01:00\",\"big-data-"
		"digests\":{\"z\":\"sha256:z\",\"m\":\"sha256:m\"},\"big-data-sizes\":{\"z\":2,\"m\":1},"
		"\"big-data-names\":[\"z\",\"m\"],\"metadata\":\"md\",\"mapped-layers\":[\"ml\"],\"layer\":"
		"\"l\",\"names-history\":[\"h\"],\"names\":[\"n\"],\"digest\":\"sha256:d\",\"id\":\"i\"}";
	static const char want[] =
		"{\"id\":\"i\",\"digest\":\"sha256:d\",\"names\":[\"n\"],\"names-history\":[\"h\"],"
		"\"layer\":\"l\",\"mapped-layers\":[\"ml\"],\"metadata\":\"md\",\"big-data-names\":["
		"\"z\",\"m\"],\"big-data-sizes\":{\"m\":1,\"z\":2},\"big-data-digests\":{\"m\":"
		"\"sha256:m\",\"z\":\"sha256:z\"},\"created\":\"2020-01-01T00:00:00+01:00\",\"flags\":{"
		"\"a\":1,\"b\":2}}";
	struct cstor_image_rec *r = NULL;
	CHECK_OK(parse_one(&r, in, NULL));
	_cleanup_free_ char *w = write_one(r);
	cstor_image_rec_free(r);
	CHECK_STREQ(w, want);

	static const char empty[] =
		"{\"id\":\"i\",\"digest\":\"\",\"names\":[],\"names-history\":null,\"layer\":\"\","
		"\"mapped-layers\":[],\"metadata\":\"\",\"big-data-names\":[],\"big-data-sizes\":{},"
		"\"big-data-digests\":null,\"flags\":{}}";
	CHECK_OK(parse_one(&r, empty, NULL));
	_cleanup_free_ char *w2 = write_one(r);
	cstor_image_rec_free(r);
	CHECK_STREQ(w2, "{\"id\":\"i\",\"created\":\"0001-01-01T00:00:00Z\"}");
	return TEST_PASS;
}

static int test_unknown_keys_kept(void)
{
	struct cstor_image_rec *r = NULL;
	CHECK_OK(parse_one(&r, "{\"new-b\":[1],\"id\":\"i\",\"new-a\":{\"y\":null,\"x\":\"&\"}}",
			   NULL));
	_cleanup_free_ char *w = write_one(r);
	cstor_image_rec_free(r);
	CHECK_STREQ(w, "{\"id\":\"i\",\"created\":\"0001-01-01T00:00:00Z\",\"new-b\":[1],\"new-a\":{"
		       "\"x\":\"\\u0026\",\"y\":null}}");
	return TEST_PASS;
}

/* The digests that find an image: the explicit one, then manifest items in
 * big-data-names order, each once; an empty `digest` takes the first. */
static int test_digests(void)
{
	static const char d1[] = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
	static const char d2[] = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
	char in[2048];
	snprintf(in, sizeof(in),
		 "{\"id\":\"i\",\"big-data-names\":[\"config\",\"manifest-b\",\"manifest\","
		 "\"manifest-c\"],\"big-data-digests\":{\"config\":\"bogus\",\"manifest\":\"%s\","
		 "\"manifest-b\":\"%s\",\"manifest-c\":\"%s\"}}",
		 d1, d2, d1);
	struct cstor_image_rec *r = NULL;
	CHECK_OK(parse_one(&r, in, NULL));
	CHECK_OK(cstor_image_rec_recompute_digests(r, NULL));
	CHECK_STREQ(r->digest, d2);
	CHECK(strv_length(r->digests) == 2);
	CHECK_STREQ(r->digests[0], d2);
	CHECK_STREQ(r->digests[1], d1);
	/* The digest is now written, as Go persists it. */
	_cleanup_free_ char *w = write_one(r);
	CHECK(strstr(w, "\"digest\":\"sha256:2222"));
	cstor_image_rec_free(r);

	/* An explicit digest comes first. */
	snprintf(in, sizeof(in),
		 "{\"id\":\"i\",\"digest\":\"%s\",\"big-data-names\":[\"manifest\"],"
		 "\"big-data-digests\":{\"manifest\":\"%s\"}}",
		 d1, d2);
	CHECK_OK(parse_one(&r, in, NULL));
	CHECK_OK(cstor_image_rec_recompute_digests(r, NULL));
	CHECK_STREQ(r->digest, d1);
	CHECK(strv_length(r->digests) == 2);
	cstor_image_rec_free(r);

	/* Invalid digests: named in the error, with go-digest's reason. */
	static const char *const bad[] = {
		"{\"id\":\"i\",\"digest\":\"sha256:123\"}",
		"{\"id\":\"i\",\"digest\":\"nocolon\"}",
		"{\"id\":\"i\",\"big-data-names\":[\"manifest\"],\"big-data-digests\":{\"manifest\":"
		"\"sha256:zz\"}}",
		"{\"id\":\"i\",\"big-data-digests\":{\"manifest-x\":\"md5:00\"}}",
		NULL,
	};
	for (size_t i = 0; bad[i]; i++) {
		cstor_error err = CSTOR_ERROR_INIT;
		CHECK_OK(parse_one(&r, bad[i], NULL));
		CHECK_MSG(cstor_image_rec_recompute_digests(r, &err) == -EBADMSG, "%s", bad[i]);
		CHECK_MSG(strstr(cstor_error_message(&err), "validating"), "%s",
			  cstor_error_message(&err));
		cstor_error_clear(&err);
		cstor_image_rec_free(r);
	}
	/* Through the file reader, the failing image is named. */
	static const char file[] = "[{\"id\":\"good\"},{\"id\":\"badimg\",\"digest\":\"sha256:1\"}]";
	struct cstor_obj_head **recs = NULL;
	size_t n = 0;
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK(parse_file(&recs, &n, file, strlen(file), "/x/images.json", &err) ==
	      -EBADMSG);
	CHECK_MSG(strstr(cstor_error_message(&err), "\"/x/images.json\": image 1") &&
			  strstr(cstor_error_message(&err), "badimg"),
		  "%s", cstor_error_message(&err));
	cstor_error_clear(&err);
	char why[128];
	cstor_digest_go_error(why, sizeof(why), "sha256:123");
	CHECK_STREQ(why, "invalid checksum digest length");
	return TEST_PASS;
}

static int test_copy(void)
{
	struct cstor_image_rec *r = NULL, *c = NULL;
	CHECK_OK(parse_one(&r, go_images[1], NULL));
	CHECK_OK(cstor_image_rec_recompute_digests(r, NULL));
	CHECK_OK(cstor_image_rec_copy(&c, r));
	_cleanup_free_ char *a = write_one(r), *b = write_one(c);
	CHECK_STREQ(a, b);
	CHECK(strv_length(r->digests) == 1 && strv_length(c->digests) == 1);
	CHECK_STREQ(c->digests[0], r->digests[0]);
	CHECK(c->h.names != r->h.names);
	cstor_image_rec_free(r);
	cstor_image_rec_free(c);
	return TEST_PASS;
}

static int test_hostile_records(void)
{
	static const char *const bad[] = {
		"[]",
		"null",
		"{}",
		"{\"id\":\"\"}",
		"{\"id\":1}",
		"{\"id\":\"..\"}",
		"{\"id\":\"a/b\"}",
		"{\"id\":\"a\\u0000b\"}",
		"{\"id\":\"i\",\"digest\":5}",
		"{\"id\":\"i\",\"names\":{}}",
		"{\"id\":\"i\",\"names\":[\"a\",2]}",
		"{\"id\":\"i\",\"names-history\":\"h\"}",
		"{\"id\":\"i\",\"layer\":[]}",
		"{\"id\":\"i\",\"mapped-layers\":[true]}",
		"{\"id\":\"i\",\"metadata\":{}}",
		"{\"id\":\"i\",\"big-data-names\":\"m\"}",
		"{\"id\":\"i\",\"big-data-sizes\":[]}",
		"{\"id\":\"i\",\"big-data-sizes\":{\"m\":\"1\"}}",
		"{\"id\":\"i\",\"big-data-sizes\":{\"m\":1.5}}",
		"{\"id\":\"i\",\"big-data-digests\":{\"m\":1}}",
		"{\"id\":\"i\",\"created\":false}",
		"{\"id\":\"i\",\"flags\":1}",
		NULL,
	};
	for (size_t i = 0; bad[i]; i++) {
		struct cstor_image_rec *r = NULL;
		cstor_error err = CSTOR_ERROR_INIT;
		int k = parse_one(&r, bad[i], &err);
		CHECK_MSG(k == -EBADMSG, "%s: %d", bad[i], k);
		CHECK_MSG(strstr(cstor_error_message(&err), WHERE), "%s: %s", bad[i],
			  cstor_error_message(&err));
		CHECK(r == NULL);
		cstor_error_clear(&err);
	}
	return TEST_PASS;
}

static int test_go_cli_images_file(void)
{
	char dir[256];
	int k = go_store_make(dir, sizeof(dir));
	if (k == 77)
		return test_skip("the Go CLI containers-storage cannot make a store here");
	CHECK(k == 0);
	size_t len = 0;
	_cleanup_free_ char *data = go_store_read(dir, "g/vfs-images/images.json", &len);
	go_store_remove(dir);
	CHECK(data && len > 0);
	CHECK(strstr(data, "\"names-history\"") && strstr(data, "\"big-data-digests\""));
	_cleanup_free_ char *out = NULL;
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK_MSG(file_roundtrip(data, &out, &err) == 0, "%s", cstor_error_message(&err));
	CHECK_STREQ(out, data);
	return TEST_PASS;
}

TAP_MAIN(TEST(test_go_records_byte_identical), TEST(test_go_fields_read),
	 TEST(test_field_order_and_omitempty), TEST(test_unknown_keys_kept), TEST(test_digests),
	 TEST(test_copy), TEST(test_hostile_records), TEST(test_go_cli_images_file))
