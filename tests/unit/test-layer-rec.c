/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The layers.json record codec: records as Go 1.43 writes them come back
 * byte-identical, fields are written in Go's order with its omitempty rules,
 * unknown keys survive, and hostile records are errors naming the record
 * (file and index), never a crash or a silently changed value.
 */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "records/layer-rec.h"
#include "util/cleanup.h"
#include "rec-samples.h"
#include "tap.h"

/* A whole layers.json. */
static int parse_file(struct cstor_layer_rec ***recs, size_t *n, const char *text, size_t len,
		      const char *path, cstor_error *err)
{
	return cstor_recs_parse(&cstor_layer_rec_codec, (struct cstor_obj_head ***)recs, n, text, len,
				path, err);
}

/* A whole layers.json read and written back. */
static int file_roundtrip(const char *text, char **out, cstor_error *err)
{
	return rec_file_roundtrip(&cstor_layer_rec_codec, text, "/x/layers.json", out, err);
}

/* Parse one record from JSON text. */
static int parse_one(struct cstor_layer_rec **out, const char *text, cstor_error *err)
{
	struct cstor_obj_head *h = NULL;
	int r = rec_parse_text(&cstor_layer_rec_codec, &h, text, "loading \"/x/layers.json\": layer 3", err);
	*out = (struct cstor_layer_rec *)h;
	return r;
}

static char *write_one(const struct cstor_layer_rec *r)
{
	return rec_write_text(&cstor_layer_rec_codec, &r->h);
}

static int test_go_records_byte_identical(void)
{
	for (size_t i = 0; go_layers[i]; i++) {
		struct cstor_layer_rec *r = NULL;
		cstor_error err = CSTOR_ERROR_INIT;
		CHECK_OK(parse_one(&r, go_layers[i], &err));
		_cleanup_free_ char *w = write_one(r);
		cstor_layer_rec_free(r);
		CHECK_STREQ(w, go_layers[i]);
	}
	_cleanup_free_ char *file = samples_join(go_layers), *out = NULL;
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK_OK(file_roundtrip(file, &out, &err));
	CHECK_STREQ(out, file);
	return TEST_PASS;
}

static int test_go_fields_read(void)
{
	struct cstor_layer_rec *r = NULL;
	CHECK_OK(parse_one(&r, go_layers[0], NULL));
	CHECK_STREQ(r->h.id, "b9978cf1e1dacf8794c8cb9c8ffad7d2e55252909380c0275d2d1d79365ca153");
	CHECK(r->h.names && r->h.names[0] && !r->h.names[1]);
	CHECK_STREQ(r->h.names[0], "base");
	CHECK(r->parent == NULL);
	CHECK_STREQ(r->h.metadata, "bad \xef\xbf\xbd utf8");
	CHECK_STREQ(r->h.created, "2026-12-05T01:29:32.348558725Z");
	CHECK(r->compressed_size == 166 && r->uncompressed_size == 10240);
	CHECK(r->compression == 2);
	CHECK(r->n_uidset == 2 && r->uidset[0] == 0 && r->uidset[1] == 1000);
	CHECK(r->n_gidset == 2 && r->gidset[0] == 0 && r->gidset[1] == 2000);
	CHECK(r->h.bd.names && r->h.bd.names[0] && !r->h.bd.names[1]);
	CHECK_STREQ(r->h.bd.names[0], "Some Data");
	CHECK(r->n_uidmap == 0 && r->h.flags == NULL && r->h.extra == NULL && !r->is_volatile);
	cstor_layer_rec_free(r);

	CHECK_OK(parse_one(&r, go_layers[1], NULL));
	CHECK(r->n_uidmap == 1 && r->uidmap[0].container_id == 0 &&
	      r->uidmap[0].host_id == 100000 && r->uidmap[0].size == 65536);
	CHECK(r->n_gidmap == 1 && r->gidmap[0].host_id == 200000);
	cstor_layer_rec_free(r);
	return TEST_PASS;
}

/* What Go escapes is escaped, and an escape Go wrote for an invalid byte
 * (\ufffd) comes back as the character, as Go's own next save writes it. */
static int test_string_escapes(void)
{
	struct cstor_layer_rec *r = NULL;
	CHECK_OK(parse_one(&r, "{\"id\":\"i\",\"metadata\":\"bad \\ufffd \\u003c\\u0026\\u003e "
			       "\\u2028\\u2029\\u007f\\u001f\\/\\ud83d\\ude00\"}",
			   NULL));
	_cleanup_free_ char *w = write_one(r);
	cstor_layer_rec_free(r);
	CHECK_STREQ(w, "{\"id\":\"i\",\"metadata\":\"bad \xef\xbf\xbd \\u003c\\u0026\\u003e "
		       "\\u2028\\u2029\x7f\\u001f/\xf0\x9f\x98\x80\",\"created\":\"0001-01-01T00:00:"
		       "00Z\"}");
	return TEST_PASS;
}

/* Every field set, given in scrambled order: written in Go's struct order. */
static int test_field_order(void)
{
	static const char in[] =
		"{\"big-data-names\":[\"k\"],\"gidmap\":[{\"container_id\":1,\"host_id\":2,\"size\":3}],"
		"\"uidmap\":[{\"container_id\":4,\"host_id\":5,\"size\":6}],\"flags\":{\"z\":1,\"a\":"
		"\"s\"},\"gidset\":[7],\"uidset\":[8,9],\"compression\":4,\"diff-size\":-1,\"toc-"
		"digest\":\"sha256:t\",\"diff-digest\":\"sha256:d\",\"compressed-size\":11,"
		"\"compressed-diff-digest\":\"sha256:c\",\"created\":\"2020-01-01T00:00:00Z\","
		"\"mountlabel\":\"ml\",\"metadata\":\"md\",\"parent\":\"p\",\"names\":[\"n1\",\"n2\"],"
		"\"id\":\"i\"}";
	static const char want[] =
		"{\"id\":\"i\",\"names\":[\"n1\",\"n2\"],\"parent\":\"p\",\"metadata\":\"md\","
		"\"mountlabel\":\"ml\",\"created\":\"2020-01-01T00:00:00Z\",\"compressed-diff-digest\":"
		"\"sha256:c\",\"compressed-size\":11,\"diff-digest\":\"sha256:d\",\"toc-digest\":"
		"\"sha256:t\",\"diff-size\":-1,\"compression\":4,\"uidset\":[8,9],\"gidset\":[7],"
		"\"flags\":{\"a\":\"s\",\"z\":1},\"uidmap\":[{\"container_id\":4,\"host_id\":5,\"size\":6}"
		"],\"gidmap\":[{\"container_id\":1,\"host_id\":2,\"size\":3}],\"big-data-names\":[\"k\"]}";
	struct cstor_layer_rec *r = NULL;
	CHECK_OK(parse_one(&r, in, NULL));
	_cleanup_free_ char *w = write_one(r);
	cstor_layer_rec_free(r);
	CHECK_STREQ(w, want);
	return TEST_PASS;
}

/* Empty strings, zero numbers, empty lists and objects are dropped;
 * `created` is always written (the zero time when unknown). */
static int test_omitempty(void)
{
	static const char in[] =
		"{\"id\":\"i\",\"names\":[],\"parent\":\"\",\"metadata\":\"\",\"mountlabel\":null,"
		"\"compressed-diff-digest\":\"\",\"compressed-size\":0,\"diff-digest\":\"\","
		"\"toc-digest\":\"\",\"diff-size\":0,\"compression\":0,\"uidset\":[],\"gidset\":null,"
		"\"flags\":{},\"uidmap\":[],\"gidmap\":null,\"big-data-names\":[]}";
	struct cstor_layer_rec *r = NULL;
	CHECK_OK(parse_one(&r, in, NULL));
	_cleanup_free_ char *w = write_one(r);
	cstor_layer_rec_free(r);
	CHECK_STREQ(w, "{\"id\":\"i\",\"created\":\"0001-01-01T00:00:00Z\"}");
	return TEST_PASS;
}

/* A newer writer's keys (and their values, whatever the type) are written
 * back after the known ones, in the order they were read. */
static int test_unknown_keys_kept(void)
{
	static const char in[] =
		"{\"id\":\"i\",\"future\":{\"b\":[1,2.5,null],\"a\":true},\"created\":\"2021-02-03T04:"
		"05:06.7Z\",\"zz-new\":\"x<y\",\"aa-new\":-3}";
	struct cstor_layer_rec *r = NULL;
	CHECK_OK(parse_one(&r, in, NULL));
	CHECK(r->h.extra && json_object_size(r->h.extra) == 3);
	_cleanup_free_ char *w = write_one(r);
	cstor_layer_rec_free(r);
	CHECK_STREQ(w, "{\"id\":\"i\",\"created\":\"2021-02-03T04:05:06.7Z\",\"future\":{\"a\":true,"
		       "\"b\":[1,2.5,null]},\"zz-new\":\"x\\u003cy\",\"aa-new\":-3}");
	return TEST_PASS;
}

/* `created` is kept as the text that was read (another offset, fewer
 * digits): rewriting a record never changes its time. */
static int test_created_text_kept(void)
{
	static const char *const times[] = {
		"2023-01-02T03:04:05.100+02:00",
		"2023-01-02T03:04:05Z",
		"1999-12-31T23:59:59.999999999-07:30",
		NULL,
	};
	for (size_t i = 0; times[i]; i++) {
		char in[256];
		snprintf(in, sizeof(in), "{\"id\":\"i\",\"created\":\"%s\"}", times[i]);
		struct cstor_layer_rec *r = NULL;
		CHECK_OK(parse_one(&r, in, NULL));
		CHECK_STREQ(r->h.created, times[i]);
		_cleanup_free_ char *w = write_one(r);
		cstor_layer_rec_free(r);
		CHECK_STREQ(w, in);
	}
	/* The normalisation used for new records trims as Go marshals. */
	_cleanup_free_ char *a = cstor_time_normalize("2023-01-02T03:04:05.100+00:00");
	_cleanup_free_ char *b = cstor_time_normalize("2023-01-02T03:04:05.000+02:00");
	_cleanup_free_ char *c = cstor_time_normalize("2023-01-02 03:04:05Z");
	CHECK_STREQ(a, "2023-01-02T03:04:05.1Z");
	CHECK_STREQ(b, "2023-01-02T03:04:05+02:00");
	CHECK(c == NULL);
	_cleanup_free_ char *now = cstor_time_now_json();
	_cleanup_free_ char *now2 = now ? cstor_time_normalize(now) : NULL;
	CHECK(now && now[strlen(now) - 1] == 'Z');
	CHECK_STREQ(now2, now);
	return TEST_PASS;
}

/* Flags: booleans read as such, set and deleted; cstor's own flags use
 * names Go ignores; an object written with sorted keys. */
static int test_flags(void)
{
	struct cstor_layer_rec *r = NULL;
	CHECK_OK(parse_one(&r, "{\"id\":\"i\",\"flags\":{\"incomplete\":true,\"s\":\"true\"}}",
			   NULL));
	CHECK(cstor_layer_rec_flag_bool(r, "incomplete"));
	CHECK(!cstor_layer_rec_flag_bool(r, "s")); /* a string is not true */
	CHECK(!cstor_layer_rec_flag_bool(r, "absent"));
	CHECK_OK(cstor_layer_rec_set_flag(r, CSTOR_FLAG_APPLY_INCOMPLETE, json_true()));
	cstor_layer_rec_del_flag(r, "incomplete");
	CHECK(!cstor_layer_rec_flag_bool(r, "incomplete"));
	CHECK(cstor_layer_rec_flag_bool(r, CSTOR_FLAG_APPLY_INCOMPLETE));
	_cleanup_free_ char *w = write_one(r);
	CHECK_STREQ(w, "{\"id\":\"i\",\"created\":\"0001-01-01T00:00:00Z\",\"flags\":{"
		       "\"cstor.apply-incomplete\":true,\"s\":\"true\"}}");
	/* Deleting every flag drops the key (omitempty). */
	cstor_layer_rec_del_flag(r, CSTOR_FLAG_APPLY_INCOMPLETE);
	cstor_layer_rec_del_flag(r, "s");
	_cleanup_free_ char *w2 = write_one(r);
	CHECK_STREQ(w2, "{\"id\":\"i\",\"created\":\"0001-01-01T00:00:00Z\"}");
	cstor_layer_rec_free(r);

	/* A record without flags gets an object on the first set. */
	CHECK_OK(parse_one(&r, "{\"id\":\"i\"}", NULL));
	CHECK(r->h.flags == NULL);
	CHECK_OK(cstor_layer_rec_set_flag(r, CSTOR_FLAG_CREATING, json_true()));
	CHECK(cstor_layer_rec_flag_bool(r, CSTOR_FLAG_CREATING));
	cstor_layer_rec_free(r);
	return TEST_PASS;
}

/* The volatile mark says which file the record lives in; it is not a field
 * of the record. */
static int test_volatile_not_written(void)
{
	struct cstor_layer_rec *r = NULL;
	CHECK_OK(parse_one(&r, go_layers[3], NULL));
	CHECK(!r->is_volatile);
	r->is_volatile = true;
	_cleanup_free_ char *w = write_one(r);
	cstor_layer_rec_free(r);
	CHECK_STREQ(w, go_layers[3]);
	CHECK(!strstr(w, "olatile"));
	/* ... and a "volatile" key in a record is just an unknown key. */
	CHECK_OK(parse_one(&r, "{\"id\":\"i\",\"volatile\":true}", NULL));
	CHECK(!r->is_volatile);
	_cleanup_free_ char *w2 = write_one(r);
	cstor_layer_rec_free(r);
	CHECK_STREQ(w2, "{\"id\":\"i\",\"created\":\"0001-01-01T00:00:00Z\",\"volatile\":true}");
	return TEST_PASS;
}

/* ID sets and maps at the edges of their types. */
static int test_id_ranges(void)
{
	static const char in[] =
		"{\"id\":\"i\",\"uidset\":[0,4294967295],\"gidset\":[65534],\"uidmap\":[{"
		"\"container_id\":0,\"host_id\":4294967294,\"size\":1},{\"container_id\":1,\"host_id\":"
		"100000,\"size\":65535}]}";
	struct cstor_layer_rec *r = NULL;
	CHECK_OK(parse_one(&r, in, NULL));
	CHECK(r->n_uidset == 2 && r->uidset[1] == UINT32_MAX);
	CHECK(r->n_uidmap == 2 && r->uidmap[0].host_id == 4294967294u);
	_cleanup_free_ char *w = write_one(r);
	cstor_layer_rec_free(r);
	CHECK_STREQ(w, "{\"id\":\"i\",\"created\":\"0001-01-01T00:00:00Z\",\"uidset\":[0,4294967295],"
		       "\"gidset\":[65534],\"uidmap\":[{\"container_id\":0,\"host_id\":4294967294,"
		       "\"size\":1},{\"container_id\":1,\"host_id\":100000,\"size\":65535}]}");
	return TEST_PASS;
}

/* Each hostile record is -EBADMSG with a message naming the record. */
static int test_hostile_records(void)
{
	static const char *const bad[] = {
		"[]",
		"\"layer\"",
		"{}",
		"{\"id\":null}",
		"{\"id\":\"\"}",
		"{\"id\":7}",
		"{\"id\":\"..\"}",
		"{\"id\":\".\"}",
		"{\"id\":\"a/b\"}",
		"{\"id\":\"../../etc\"}",
		"{\"id\":\"a\\u0000/../b\"}",
		"{\"id\":\"i\",\"names\":\"n\"}",
		"{\"id\":\"i\",\"names\":[1]}",
		"{\"id\":\"i\",\"names\":[\"a\\u0000b\"]}",
		"{\"id\":\"i\",\"parent\":{}}",
		"{\"id\":\"i\",\"metadata\":[\"m\"]}",
		"{\"id\":\"i\",\"metadata\":\"a\\u0000b\"}",
		"{\"id\":\"i\",\"created\":1}",
		"{\"id\":\"i\",\"compressed-size\":\"5\"}",
		"{\"id\":\"i\",\"compressed-size\":1e300}",
		"{\"id\":\"i\",\"diff-size\":1.5}",
		"{\"id\":\"i\",\"compression\":true}",
		"{\"id\":\"i\",\"compression\":4294967298}",
		"{\"id\":\"i\",\"uidset\":{}}",
		"{\"id\":\"i\",\"uidset\":[-1]}",
		"{\"id\":\"i\",\"uidset\":[4294967296]}",
		"{\"id\":\"i\",\"gidset\":[\"0\"]}",
		"{\"id\":\"i\",\"flags\":[]}",
		"{\"id\":\"i\",\"flags\":\"incomplete\"}",
		"{\"id\":\"i\",\"uidmap\":{}}",
		"{\"id\":\"i\",\"uidmap\":[1]}",
		"{\"id\":\"i\",\"uidmap\":[{\"container_id\":\"0\"}]}",
		"{\"id\":\"i\",\"uidmap\":[{\"container_id\":0,\"host_id\":-1,\"size\":1}]}",
		"{\"id\":\"i\",\"gidmap\":[{\"container_id\":0,\"host_id\":0,\"size\":4294967296}]}",
		"{\"id\":\"i\",\"big-data-names\":[null]}",
		NULL,
	};
	for (size_t i = 0; bad[i]; i++) {
		struct cstor_layer_rec *r = NULL;
		cstor_error err = CSTOR_ERROR_INIT;
		int k = parse_one(&r, bad[i], &err);
		CHECK_MSG(k == -EBADMSG, "%s: %d", bad[i], k);
		CHECK_MSG(err.code == EBADMSG, "%s", bad[i]);
		CHECK_MSG(strstr(cstor_error_message(&err), "/x/layers.json\": layer 3"), "%s: %s",
			  bad[i], cstor_error_message(&err));
		CHECK(r == NULL);
		cstor_error_clear(&err);
	}
	return TEST_PASS;
}

/* Go decodes a repeated key as its last value; so does cstor, and the
 * record is written once. */
static int test_duplicate_keys(void)
{
	struct cstor_layer_rec *r = NULL;
	CHECK_OK(parse_one(&r, "{\"id\":\"a\",\"names\":[\"x\"],\"id\":\"b\",\"names\":[\"y\"]}",
			   NULL));
	CHECK_STREQ(r->h.id, "b");
	CHECK_STREQ(r->h.names[0], "y");
	_cleanup_free_ char *w = write_one(r);
	cstor_layer_rec_free(r);
	CHECK_STREQ(w, "{\"id\":\"b\",\"names\":[\"y\"],\"created\":\"0001-01-01T00:00:00Z\"}");
	/* A later duplicate cannot smuggle in a bad ID. */
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK(parse_one(&r, "{\"id\":\"a\",\"id\":\"..\"}", &err) == -EBADMSG);
	cstor_error_clear(&err);
	return TEST_PASS;
}

/* Whole files: blank and null are an empty store, anything else that is
 * not a list of records is an error naming the file and the record. */
static int test_file_level(void)
{
	static const char *const empty[] = { "", "  \n\t", "null", " null\n", "[]", NULL };
	for (size_t i = 0; empty[i]; i++) {
		struct cstor_layer_rec **recs = (void *)1;
		size_t n = 9;
		CHECK_OK(parse_file(&recs, &n, empty[i], strlen(empty[i]), "/x/layers.json",
						NULL));
		CHECK(n == 0);
		if (recs)
			free(recs);
	}
#define S(x) { x, sizeof(x) - 1 }
	static const struct {
		const char *s;
		size_t len;
	} corrupt[] = {
		S("["),
		S("{}"),
		S("\"x\""),
		S("[{\"id\":\"a\"}]x"),
		S("[{\"id\":\"a\"},{\"id\":12345678901234567890123}]"),
		S("\0[]"),
		S("[1]"),
	};
#undef S
	for (size_t i = 0; i < sizeof(corrupt) / sizeof(corrupt[0]); i++) {
		struct cstor_layer_rec **recs = NULL;
		size_t n = 0;
		cstor_error err = CSTOR_ERROR_INIT;
		int k = parse_file(&recs, &n, corrupt[i].s, corrupt[i].len,
					       "/x/layers.json", &err);
		CHECK_MSG(k == -EBADMSG, "%zu: %d", i, k);
		CHECK_MSG(strstr(cstor_error_message(&err), "/x/layers.json"), "%s",
			  cstor_error_message(&err));
		CHECK(recs == NULL && n == 0);
		cstor_error_clear(&err);
	}
	/* The failing record is named by its index. */
	static const char two[] = "[{\"id\":\"a\"},{\"id\":\"a/b\"}]";
	struct cstor_layer_rec **recs = NULL;
	size_t n = 0;
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK(parse_file(&recs, &n, two, strlen(two), "/x/layers.json", &err) ==
	      -EBADMSG);
	CHECK_MSG(strstr(cstor_error_message(&err), "loading \"/x/layers.json\": layer 1"), "%s",
		  cstor_error_message(&err));
	CHECK(strstr(cstor_error_message(&err), "a/b"));
	cstor_error_clear(&err);
	return TEST_PASS;
}

/* The Go CLI's own layers.json of a fresh scratch store, read and written
 * back byte-identical. */
static int test_go_cli_layers_file(void)
{
	char dir[256];
	int k = go_store_make(dir, sizeof(dir));
	if (k == 77)
		return test_skip("the Go CLI containers-storage cannot make a store here");
	CHECK(k == 0);
	size_t len = 0;
	_cleanup_free_ char *data = go_store_read(dir, "g/vfs-layers/layers.json", &len);
	go_store_remove(dir);
	CHECK(data && len > 0);
	CHECK(strstr(data, "\"uidmap\"") && strstr(data, "\"big-data-names\""));
	_cleanup_free_ char *out = NULL;
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK_MSG(file_roundtrip(data, &out, &err) == 0, "%s", cstor_error_message(&err));
	CHECK_STREQ(out, data);
	return TEST_PASS;
}

TAP_MAIN(TEST(test_go_records_byte_identical), TEST(test_go_fields_read), TEST(test_string_escapes),
	 TEST(test_field_order),
	 TEST(test_omitempty), TEST(test_unknown_keys_kept), TEST(test_created_text_kept),
	 TEST(test_flags), TEST(test_volatile_not_written), TEST(test_id_ranges),
	 TEST(test_hostile_records), TEST(test_duplicate_keys), TEST(test_file_level),
	 TEST(test_go_cli_layers_file))
