/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What image and container records share (records/fields.c): typed field
 * readers whose errors name the record and the key, the big-data index,
 * names deduplication, ID validity and random IDs.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "records/fields.h"
#include "util/cleanup.h"
#include "util/strv.h"
#include "tap.h"

static json_t *load(const char *text)
{
	return json_loads(text, JSON_ALLOW_NUL, NULL);
}

/* @msg names the record and the key. */
static bool names(const cstor_error *err, const char *key)
{
	const char *m = cstor_error_message(err);
	char q[128];
	snprintf(q, sizeof(q), "\"%s\"", key);
	return err->code == EBADMSG && strstr(m, "image 7") && strstr(m, q);
}

static int test_typed_readers(void)
{
	json_t *o = load("{\"s\":\"v\",\"n\":null,\"i\":1,\"nul\":\"a\\u0000b\",\"v\":[\"a\",\"b\"],"
			 "\"vbad\":[\"a\",1],\"m\":{\"x\":1},\"mbad\":{\"x\":\"1\"},\"mstr\":{\"x\":"
			 "\"s\"},\"me\":{},\"o\":{\"k\":[]},\"arr\":[]}");
	CHECK(o);
	cstor_error err = CSTOR_ERROR_INIT;
	_cleanup_free_ char *s = NULL;
	CHECK_OK(cstor_rec_get_str(&s, o, "s", "image 7", &err));
	CHECK_STREQ(s, "v");
	char *none = (char *)1;
	CHECK_OK(cstor_rec_get_str(&none, o, "n", "image 7", &err));
	CHECK(none == NULL);
	CHECK_OK(cstor_rec_get_str(&none, o, "absent", "image 7", &err));
	CHECK(none == NULL);
	CHECK(cstor_rec_get_str(&none, o, "i", "image 7", &err) == -EBADMSG && names(&err, "i"));
	cstor_error_clear(&err);
	CHECK(cstor_rec_get_str(&none, o, "nul", "image 7", &err) == -EBADMSG &&
	      names(&err, "nul"));
	cstor_error_clear(&err);

	char **v = NULL;
	CHECK_OK(cstor_rec_get_strv(&v, o, "v", "image 7", &err));
	CHECK(strv_length(v) == 2);
	strv_free(v);
	CHECK(cstor_rec_get_strv(&v, o, "vbad", "image 7", &err) == -EBADMSG &&
	      names(&err, "vbad"));
	cstor_error_clear(&err);
	CHECK(cstor_rec_get_strv(&v, o, "s", "image 7", &err) == -EBADMSG && names(&err, "s"));
	cstor_error_clear(&err);

	json_t *m = NULL;
	CHECK_OK(cstor_rec_get_map(&m, o, "m", JSON_INTEGER, "image 7", &err));
	CHECK(json_integer_value(json_object_get(m, "x")) == 1);
	json_decref(m);
	CHECK_OK(cstor_rec_get_map(&m, o, "mstr", JSON_STRING, "image 7", &err));
	json_decref(m);
	CHECK_OK(cstor_rec_get_map(&m, o, "me", JSON_INTEGER, "image 7", &err));
	CHECK(m == NULL); /* empty is none */
	CHECK(cstor_rec_get_map(&m, o, "mbad", JSON_INTEGER, "image 7", &err) == -EBADMSG &&
	      names(&err, "mbad"));
	cstor_error_clear(&err);
	CHECK(cstor_rec_get_map(&m, o, "arr", JSON_INTEGER, "image 7", &err) == -EBADMSG &&
	      names(&err, "arr"));
	cstor_error_clear(&err);

	CHECK_OK(cstor_rec_get_object(&m, o, "o", "image 7", &err));
	CHECK(json_is_array(json_object_get(m, "k")));
	json_decref(m);
	CHECK(cstor_rec_get_object(&m, o, "v", "image 7", &err) == -EBADMSG && names(&err, "v"));
	cstor_error_clear(&err);

	static const char *const known[] = { "s", "n", "i", "nul", "v", "vbad", "m", "mbad",
					     "mstr", NULL };
	CHECK_OK(cstor_rec_get_extra(&m, o, known));
	CHECK(json_object_size(m) == 3 && json_object_get(m, "me") && json_object_get(m, "o") &&
	      json_object_get(m, "arr"));
	json_decref(m);
	json_decref(o);
	return TEST_PASS;
}

static int test_bigdata_index(void)
{
	struct cstor_bigdata_index bi = { 0 };
	bool changed = false;
	CHECK_OK(cstor_bigdata_index_set(&bi, "zeta", 3, "sha256:z", &changed));
	CHECK(changed);
	CHECK_OK(cstor_bigdata_index_set(&bi, "Alpha", 1, "sha256:a", &changed));
	CHECK(changed);
	/* The same item again: nothing to save. */
	CHECK_OK(cstor_bigdata_index_set(&bi, "zeta", 3, "sha256:z", &changed));
	CHECK(!changed);
	/* New content: changed, the name keeps its place. */
	CHECK_OK(cstor_bigdata_index_set(&bi, "zeta", 4, "sha256:z", &changed));
	CHECK(changed);
	CHECK_OK(cstor_bigdata_index_set(&bi, "zeta", 4, "sha256:y", &changed));
	CHECK(changed);
	CHECK(strv_length(bi.names) == 2);
	CHECK_STREQ(bi.names[0], "zeta");
	CHECK(cstor_bigdata_index_size(&bi, "zeta") == 4);
	CHECK_STREQ(cstor_bigdata_index_digest(&bi, "zeta"), "sha256:y");

	cstor_buf b = { 0 };
	bool first = true;
	cstor_buf_putc(&b, '{');
	cstor_bigdata_index_write(&b, &first, &bi);
	cstor_buf_putc(&b, '}');
	_cleanup_free_ char *w = cstor_buf_steal(&b, NULL);
	/* Names in insertion order, maps with sorted keys. */
	CHECK_STREQ(w, "{\"big-data-names\":[\"zeta\",\"Alpha\"],\"big-data-sizes\":{\"Alpha\":1,"
		       "\"zeta\":4},\"big-data-digests\":{\"Alpha\":\"sha256:a\",\"zeta\":"
		       "\"sha256:y\"}}");

	/* Parsing it back gives the same index. */
	json_t *o = load(w);
	struct cstor_bigdata_index b2;
	CHECK_OK(cstor_bigdata_index_parse(&b2, o, "image 7", NULL));
	CHECK(strv_length(b2.names) == 2 && cstor_bigdata_index_size(&b2, "Alpha") == 1);
	cstor_bigdata_index_done(&b2);
	json_decref(o);
	cstor_bigdata_index_done(&bi);
	CHECK(bi.names == NULL && bi.sizes == NULL);

	/* An empty index writes nothing. */
	cstor_buf e = { 0 };
	first = true;
	cstor_bigdata_index_write(&e, &first, &bi);
	CHECK(first && e.len == 0);
	cstor_buf_free(&e);

	/* A bad part fails the whole parse, naming the key. */
	o = load("{\"big-data-names\":[\"a\"],\"big-data-sizes\":{\"a\":1},\"big-data-digests\":"
		 "{\"a\":false}}");
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK(cstor_bigdata_index_parse(&b2, o, "image 7", &err) == -EBADMSG);
	CHECK(names(&err, "big-data-digests"));
	CHECK(b2.names == NULL && b2.sizes == NULL);
	cstor_error_clear(&err);
	json_decref(o);
	return TEST_PASS;
}

static int test_obj_head(void)
{
	static const char *const known[] = { "id",	   "names",	      "metadata",
					     "big-data-names", "big-data-sizes", "big-data-digests",
					     "created",	   "flags",	      NULL };
	json_t *o = load("{\"id\":\"x\",\"names\":[\"a\"],\"other\":1,\"created\":\"c\"}");
	struct cstor_obj_head h;
	CHECK_OK(cstor_obj_head_parse(&h, o, known, "image", "image 7", NULL));
	CHECK_STREQ(h.id, "x");
	CHECK_STREQ(h.created, "c");
	CHECK(json_object_size(h.extra) == 1);
	cstor_obj_head_done(&h);
	CHECK(h.id == NULL);
	json_decref(o);

	static const char *const bad[] = { "{}", "{\"id\":\"\"}", "{\"id\":\"/\"}",
					   "{\"id\":\"..\"}", NULL };
	for (size_t i = 0; bad[i]; i++) {
		o = load(bad[i]);
		cstor_error err = CSTOR_ERROR_INIT;
		CHECK_MSG(cstor_obj_head_parse(&h, o, known, "image", "image 7", &err) == -EBADMSG,
			  "%s", bad[i]);
		CHECK_MSG(strstr(cstor_error_message(&err), "image 7: invalid image id"), "%s",
			  cstor_error_message(&err));
		CHECK(h.id == NULL && h.names == NULL);
		cstor_error_clear(&err);
		json_decref(o);
	}
	return TEST_PASS;
}

static int test_names_dedup(void)
{
	char *in[] = { "b", "a", "b", "c", "a", NULL };
	_cleanup_strv_free_ char **d = cstor_names_dedup(in);
	CHECK(strv_length(d) == 3);
	CHECK_STREQ(d[0], "b");
	CHECK_STREQ(d[1], "a");
	CHECK_STREQ(d[2], "c");
	_cleanup_strv_free_ char **e = cstor_names_dedup(NULL);
	CHECK(e && e[0] == NULL);
	return TEST_PASS;
}

static int test_id_valid(void)
{
	CHECK(cstor_rec_id_valid("abc"));
	CHECK(cstor_rec_id_valid("0123456789012345678901234567890123456789012345678901234567890123"));
	CHECK(cstor_rec_id_valid("..."));  /* a name like any other */
	CHECK(cstor_rec_id_valid("a b")); /* Go refuses spaces at creation, not at load */
	CHECK(!cstor_rec_id_valid(NULL));
	CHECK(!cstor_rec_id_valid(""));
	CHECK(!cstor_rec_id_valid("."));
	CHECK(!cstor_rec_id_valid(".."));
	CHECK(!cstor_rec_id_valid("a/b"));
	CHECK(!cstor_rec_id_valid("/abs"));
	CHECK(!cstor_rec_id_valid("trailing/"));
	return TEST_PASS;
}

/* 64 lowercase hex digits, never 12 leading decimal digits. Drawing enough
 * IDs makes a draw with 12 leading digits (p = (10/16)^12, about 1 in 280)
 * all but certain, so a generator that forgot to re-draw would fail here. */
static int test_random_id(void)
{
	char prev[65] = "";
	for (int n = 0; n < 20000; n++) {
		char id[65];
		memset(id, 'x', sizeof(id));
		CHECK_OK(cstor_random_id(id));
		CHECK(id[64] == 0 && strlen(id) == 64);
		for (int i = 0; i < 64; i++)
			CHECK_MSG((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'), "%s",
				  id);
		int digits = 0;
		while (digits < 12 && id[digits] >= '0' && id[digits] <= '9')
			digits++;
		CHECK_MSG(digits < 12, "%s", id);
		CHECK(strcmp(id, prev) != 0);
		memcpy(prev, id, sizeof(prev));
	}
	return TEST_PASS;
}

TAP_MAIN(TEST(test_typed_readers), TEST(test_bigdata_index), TEST(test_obj_head),
	 TEST(test_names_dedup), TEST(test_id_valid), TEST(test_random_id))
