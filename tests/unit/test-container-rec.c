/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The containers.json record codec: Go-written records come back
 * byte-identical, `image` and `layer` always written, Go's field order and
 * omitempty, unknown keys kept, well-known flags read, hostile records
 * refused with the record named.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "records/container-rec.h"
#include "util/cleanup.h"
#include "util/strv.h"
#include "rec-samples.h"
#include "tap.h"

#define WHERE "loading \"/x/containers.json\": container 5"

/* Parse one record from JSON text. */
static int parse_one(struct cstor_container_rec **out, const char *text, cstor_error *err)
{
	struct cstor_obj_head *h = NULL;
	int r = rec_parse_text(&cstor_container_rec_codec, &h, text, WHERE, err);
	*out = (struct cstor_container_rec *)h;
	return r;
}

static char *write_one(const struct cstor_container_rec *r)
{
	return rec_write_text(&cstor_container_rec_codec, &r->h);
}

/* A whole containers.json. */
static int parse_file(struct cstor_obj_head ***recs, size_t *n, const char *text, size_t len,
		      const char *path, cstor_error *err)
{
	return cstor_recs_parse(&cstor_container_rec_codec, recs, n, text, len, path, err);
}

/* A whole containers.json read and written back. */
static int file_roundtrip(const char *text, char **out, cstor_error *err)
{
	return rec_file_roundtrip(&cstor_container_rec_codec, text, "/x/containers.json", out, err);
}

static int test_go_records_byte_identical(void)
{
	for (size_t i = 0; go_containers[i]; i++) {
		struct cstor_container_rec *r = NULL;
		CHECK_OK(parse_one(&r, go_containers[i], NULL));
		_cleanup_free_ char *w = write_one(r);
		cstor_container_rec_free(r);
		CHECK_STREQ(w, go_containers[i]);
	}
	_cleanup_free_ char *file = samples_join(go_containers), *out = NULL;
	CHECK_OK(file_roundtrip(file, &out, NULL));
	CHECK_STREQ(out, file);
	return TEST_PASS;
}

static int test_go_fields_read(void)
{
	struct cstor_container_rec *r = NULL;
	CHECK_OK(parse_one(&r, go_containers[0], NULL));
	CHECK_STREQ(r->image, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	CHECK_STREQ(r->layer, "d7bcb6760dd5856ff2785d172fac580050275dc189a68af540300d7ac0867bd0");
	CHECK_STREQ(r->h.metadata, "<a href=\"x\">&amp;</a>\t\xe2\x80\xa8 \xc3\xa9 \x01");
	CHECK(r->n_uidmap == 1 && r->uidmap[0].host_id == 100000 && r->uidmap[0].size == 65536);
	CHECK(r->n_gidmap == 1 && r->gidmap[0].host_id == 200000);
	CHECK(cstor_bigdata_index_size(&r->h.bd, "config.json") == 4);
	CHECK_STREQ(cstor_container_rec_flag_str(r, CSTOR_CONTAINER_FLAG_MOUNT_LABEL), "");
	CHECK(cstor_container_rec_flag_str(r, CSTOR_CONTAINER_FLAG_VOLATILE) == NULL);
	cstor_container_rec_free(r);

	CHECK_OK(parse_one(&r, go_containers[1], NULL));
	json_t *v = json_object_get(r->h.flags, CSTOR_CONTAINER_FLAG_VOLATILE);
	CHECK(json_is_true(v));
	/* Not a string: no string flag. */
	CHECK(cstor_container_rec_flag_str(r, CSTOR_CONTAINER_FLAG_VOLATILE) == NULL);
	cstor_container_rec_free(r);
	return TEST_PASS;
}

static int test_field_order_and_omitempty(void)
{
	static const char in[] =
		"{\"flags\":{\"MountOpts\":[\"ro\"],\"MountLabel\":\"l\"},\"gidmap\":[{\"container_id\":"
		"0,\"host_id\":2,\"size\":1}],\"uidmap\":[{\"container_id\":0,\"host_id\":1,\"size\":1}"
		"],\"created\":\"2020-01-01T00:00:00Z\",\"big-data-digests\":{\"k\":\"sha256:k\"},"
		"\"big-data-sizes\":{\"k\":0},\"big-data-names\":[\"k\"],\"metadata\":\"m\",\"layer\":"
		"\"l\",\"image\":\"im\",\"names\":[\"n\"],\"id\":\"i\"}";
	static const char want[] =
		"{\"id\":\"i\",\"names\":[\"n\"],\"image\":\"im\",\"layer\":\"l\",\"metadata\":\"m\","
		"\"big-data-names\":[\"k\"],\"big-data-sizes\":{\"k\":0},\"big-data-digests\":{\"k\":"
		"\"sha256:k\"},\"created\":\"2020-01-01T00:00:00Z\",\"uidmap\":[{\"container_id\":0,"
		"\"host_id\":1,\"size\":1}],\"gidmap\":[{\"container_id\":0,\"host_id\":2,\"size\":1}],"
		"\"flags\":{\"MountLabel\":\"l\",\"MountOpts\":[\"ro\"]}}";
	struct cstor_container_rec *r = NULL;
	CHECK_OK(parse_one(&r, in, NULL));
	_cleanup_free_ char *w = write_one(r);
	cstor_container_rec_free(r);
	CHECK_STREQ(w, want);

	/* image and layer are written even when empty or absent. */
	CHECK_OK(parse_one(&r, "{\"id\":\"i\",\"names\":[],\"metadata\":\"\",\"uidmap\":[],"
			       "\"flags\":null}",
			   NULL));
	CHECK_STREQ(r->image, "");
	CHECK_STREQ(r->layer, "");
	_cleanup_free_ char *w2 = write_one(r);
	cstor_container_rec_free(r);
	CHECK_STREQ(w2, "{\"id\":\"i\",\"image\":\"\",\"layer\":\"\",\"created\":\"0001-01-01T00:00:"
			"00Z\"}");
	return TEST_PASS;
}

static int test_unknown_keys_and_copy(void)
{
	struct cstor_container_rec *r = NULL, *c = NULL;
	CHECK_OK(parse_one(&r, "{\"id\":\"i\",\"zz\":1,\"image\":\"im\",\"aa\":[\"<\"]}", NULL));
	_cleanup_free_ char *w = write_one(r);
	CHECK_STREQ(w, "{\"id\":\"i\",\"image\":\"im\",\"layer\":\"\",\"created\":\"0001-01-01T00:00:"
		       "00Z\",\"zz\":1,\"aa\":[\"\\u003c\"]}");
	CHECK_OK(cstor_container_rec_copy(&c, r));
	_cleanup_free_ char *w2 = write_one(c);
	CHECK_STREQ(w2, w);
	cstor_container_rec_free(r);
	cstor_container_rec_free(c);
	return TEST_PASS;
}

static int test_hostile_records(void)
{
	static const char *const bad[] = {
		"[]",
		"1",
		"{\"image\":\"x\"}",
		"{\"id\":\"\"}",
		"{\"id\":false}",
		"{\"id\":\".\"}",
		"{\"id\":\"x/../../y\"}",
		"{\"id\":\"i\",\"image\":1}",
		"{\"id\":\"i\",\"layer\":{}}",
		"{\"id\":\"i\",\"layer\":\"a\\u0000b\"}",
		"{\"id\":\"i\",\"names\":\"c\"}",
		"{\"id\":\"i\",\"uidmap\":\"0:0:1\"}",
		"{\"id\":\"i\",\"uidmap\":[[0,0,1]]}",
		"{\"id\":\"i\",\"gidmap\":[{\"container_id\":0,\"host_id\":99999999999,\"size\":1}]}",
		"{\"id\":\"i\",\"big-data-sizes\":{\"a\":null}}",
		"{\"id\":\"i\",\"flags\":[\"Volatile\"]}",
		NULL,
	};
	for (size_t i = 0; bad[i]; i++) {
		struct cstor_container_rec *r = NULL;
		cstor_error err = CSTOR_ERROR_INIT;
		int k = parse_one(&r, bad[i], &err);
		CHECK_MSG(k == -EBADMSG, "%s: %d", bad[i], k);
		CHECK_MSG(strstr(cstor_error_message(&err), WHERE), "%s: %s", bad[i],
			  cstor_error_message(&err));
		CHECK(r == NULL);
		cstor_error_clear(&err);
	}
	/* Whole file: the index of the failing record. */
	static const char file[] = "[{\"id\":\"a\"},{\"id\":\"b\"},{\"id\":\"c\",\"image\":[]}]";
	struct cstor_obj_head **recs = NULL;
	size_t n = 0;
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK(parse_file(&recs, &n, file, strlen(file), "/x/containers.json",
					 &err) == -EBADMSG);
	CHECK_MSG(strstr(cstor_error_message(&err), "\"/x/containers.json\": container 2"), "%s",
		  cstor_error_message(&err));
	CHECK(recs == NULL && n == 0);
	cstor_error_clear(&err);
	return TEST_PASS;
}

static int test_go_cli_containers_file(void)
{
	char dir[256];
	size_t len = 0;
	_cleanup_free_ char *data = NULL;
	/* Twice at most: once, under a heavily loaded CI run, the Go CLI's
	 * file lacked one of the records the script makes (not reproduced
	 * since); what it wrote is printed if it happens again. */
	for (int attempt = 0; attempt < 2; attempt++) {
		int k = go_store_make(dir, sizeof(dir));
		if (k == 77)
			return test_skip("the Go CLI containers-storage cannot make a store here");
		CHECK(k == 0);
		free(data);
		data = go_store_read(dir, "g/vfs-containers/containers.json", &len);
		go_store_remove(dir);
		CHECK(data && len > 0);
		if (strstr(data, "\"uidmap\"") && strstr(data, "\\u2028") && strstr(data, "Volatile"))
			break;
		printf("# attempt %d: containers.json as the Go CLI wrote it: %s\n", attempt + 1, data);
	}
	CHECK(strstr(data, "\"uidmap\"") && strstr(data, "\\u2028") && strstr(data, "Volatile"));
	_cleanup_free_ char *out = NULL;
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK_MSG(file_roundtrip(data, &out, &err) == 0, "%s", cstor_error_message(&err));
	CHECK_STREQ(out, data);
	return TEST_PASS;
}

TAP_MAIN(TEST(test_go_records_byte_identical), TEST(test_go_fields_read),
	 TEST(test_field_order_and_omitempty), TEST(test_unknown_keys_and_copy),
	 TEST(test_hostile_records), TEST(test_go_cli_containers_file))
