/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store engine (store/engine.h) on real record files: lookup by ID,
 * name, second key and prefix through its indexes (and that they follow
 * every change), names unique across records, another process's write
 * seen by the next reader, load-time repair of duplicate names, read-only
 * stores, the aside file of the layer kind, deleting in the order a kind
 * asks for, and the copies snapshots share; a store spread over several
 * directories (a split image store's second layers.json under its own
 * lock, a transient store's lock and volatile file elsewhere), and a save
 * that leaves an unchanged file alone. Runs unprivileged.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "records/container-rec.h"
#include "records/image-rec.h"
#include "store/engine.h"
#include "store/layer-store.h"
#include "store/objects-internal.h"
#include "util/fileutil.h"
#include "util/macro.h"
#include "util/rm.h"
#include "util/strv.h"
#include "tap.h"

/* The tests hold stores across CHECKs that return early (the process is
 * about to report and exit). */
#ifdef __clang__
#pragma clang diagnostic ignored "-Wthread-safety-analysis"
#endif

static char top[] = "/tmp/cstor-engine-test.XXXXXX";

static void remove_top(void)
{
	cstor_rm_rf_at(AT_FDCWD, top, NULL);
}

static const char *new_dir(void)
{
	static int n;
	static char d[4200];
	if (n == 0) {
		if (!mkdtemp(top))
			return NULL;
		atexit(remove_top);
	}
	snprintf(d, sizeof(d), "%s/s%d", top, n++);
	return d;
}

static int write_file(const char *dir, const char *name, const char *text)
{
	char p[4400];
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	if (!f)
		return -errno;
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -errno;
}

static struct cstor_image_rec *new_image(const char *id, const char *name)
{
	struct cstor_image_rec *r = calloc(1, sizeof(*r));
	if (!r || !(r->h.id = strdup(id)) || !(r->h.names = calloc(1, sizeof(char *))))
		abort();
	if (name && strv_append(&r->h.names, name) < 0)
		abort();
	return r;
}

static void hex_id(char out[65], unsigned i)
{
	/* Distinct IDs with long shared prefixes: prefix lookups must look
	 * past the first match. */
	snprintf(out, 65, "%08x%056x", i % 16, i);
}

static int test_lookup_by_id_name_prefix(void)
{
	const char *d = new_dir();
	struct cstor_objstore *os = NULL;
	CHECK_OK(cstor_objstore_open(&os, &cstor_image_store_ops, d, false, NULL));
	CHECK(cstor_objstore_start_writing(os, NULL) == 0);
	char id[65], name[64];
	for (unsigned i = 0; i < 3000; i++) {
		hex_id(id, i);
		snprintf(name, sizeof(name), "img-%u", i);
		CHECK_OK(cstor_objstore_add(os, &new_image(id, name)->h));
	}
	CHECK_OK(cstor_objstore_save(os, NULL));
	for (unsigned i = 0; i < 3000; i += 7) {
		hex_id(id, i);
		snprintf(name, sizeof(name), "img-%u", i);
		struct cstor_obj_head *h = cstor_objstore_by_id(os, id);
		CHECK(h && streq(h->id, id));
		CHECK(cstor_objstore_by_name(os, name) == h);
		CHECK(cstor_objstore_lookup(os, name, NULL) == h);
		/* The whole ID less its last digit is still unique. */
		char pre[65];
		snprintf(pre, sizeof(pre), "%.63s", id);
		bool amb = true;
		CHECK(cstor_objstore_lookup(os, pre, &amb) == h && !amb);
	}
	bool amb = false;
	CHECK(cstor_objstore_lookup(os, "0000000", &amb) == NULL && amb);
	amb = true;
	CHECK(cstor_objstore_lookup(os, "img-3000", &amb) == NULL && !amb);
	CHECK(cstor_objstore_lookup(os, "", NULL) == NULL);
	CHECK(cstor_objstore_lookup(os, "f", &amb) == NULL && !amb);
	cstor_objstore_done(os);
	cstor_objstore_free(os);
	return TEST_PASS;
}

static int test_index_follows_changes(void)
{
	const char *d = new_dir();
	struct cstor_objstore *os = NULL;
	CHECK_OK(cstor_objstore_open(&os, &cstor_image_store_ops, d, false, NULL));
	CHECK(cstor_objstore_start_writing(os, NULL) == 0);
	struct cstor_image_rec *a = new_image("aaaa", "one"), *b = new_image("bbbb", "two");
	CHECK_OK(cstor_objstore_add(os, &a->h));
	CHECK_OK(cstor_objstore_add(os, &b->h));
	CHECK(cstor_objstore_by_name(os, "one") == &a->h); /* index built */
	/* b takes "one": a loses it, the index says so at once. */
	char *names[] = { "one", "three", "one", NULL };
	CHECK_OK(cstor_objstore_set_names(os, &b->h, names));
	CHECK(cstor_objstore_by_name(os, "one") == &b->h);
	CHECK(cstor_objstore_by_name(os, "three") == &b->h);
	CHECK(cstor_objstore_by_name(os, "two") == NULL);
	CHECK(strv_length(a->h.names) == 0);
	CHECK(strv_length(b->h.names) == 2); /* deduplicated */
	cstor_objstore_remove(os, &b->h);
	CHECK(cstor_objstore_by_name(os, "one") == NULL);
	CHECK(cstor_objstore_by_id(os, "bbbb") == NULL);
	CHECK(cstor_objstore_lookup(os, "b", NULL) == NULL);
	CHECK(cstor_objstore_lookup(os, "a", NULL) == &a->h);
	cstor_objstore_done(os);
	cstor_objstore_free(os);
	return TEST_PASS;
}

/* What a lookup must find, by a scan of the records (the first record
 * with the key, as the index keeps it). */
static struct cstor_obj_head *scan_name(struct cstor_objstore *os, const char *name)
{
	for (size_t i = 0; i < os->n; i++)
		if (strv_contains(os->recs[i]->names, name))
			return os->recs[i];
	return NULL;
}

/* Adds, removes and name changes update the index in place (no rebuild):
 * after each of many, chosen by a fixed pseudo-random sequence, every ID,
 * name and prefix is found as a scan of the records finds it, across the
 * index's own rebuilds when it fills with removed keys. */
static int test_index_updated_in_place(void)
{
	const char *d = new_dir();
	struct cstor_objstore *os = NULL;
	CHECK_OK(cstor_objstore_open(&os, &cstor_image_store_ops, d, false, NULL));
	CHECK(cstor_objstore_start_writing(os, NULL) == 0);
	char id[65], name[64], name2[64];
	unsigned next = 0, seed = 12345;
	for (; next < 200; next++) {
		hex_id(id, next);
		snprintf(name, sizeof(name), "n%u", next % 150);
		CHECK_OK(cstor_objstore_add(os, &new_image(id, scan_name(os, name) ? NULL : name)->h));
		if (next == 10)
			CHECK(cstor_objstore_by_id(os, id) != NULL); /* build the index early */
	}
	for (unsigned step = 0; step < 3000; step++) {
		seed = seed * 1103515245 + 12345;
		unsigned op = (seed >> 16) % 4, k = (seed >> 4) % 300;
		if (op == 0 && os->n > 0) {
			char gone[65];
			snprintf(gone, sizeof(gone), "%.63s", os->recs[k % os->n]->id);
			cstor_objstore_remove(os, os->recs[k % os->n]);
			CHECK(cstor_objstore_lookup(os, gone, NULL) == NULL);
		} else if (op == 1) {
			hex_id(id, next++);
			snprintf(name, sizeof(name), "n%u", k);
			/* Names are not taken at creation: add it only when free. */
			CHECK_OK(cstor_objstore_add(
				os, &new_image(id, scan_name(os, name) ? NULL : name)->h));
		} else if (os->n > 0) {
			snprintf(name, sizeof(name), "n%u", k);
			snprintf(name2, sizeof(name2), "n%u", (k * 7) % 300);
			char *names[] = { name, name2, NULL };
			CHECK_OK(cstor_objstore_set_names(os, os->recs[(k * 13) % os->n],
							  op == 2 ? names : names + 1));
		}
		for (unsigned j = 0; j < 300; j++) {
			snprintf(name, sizeof(name), "n%u", j);
			CHECK_MSG(cstor_objstore_by_name(os, name) == scan_name(os, name),
				  "# step %u: name %s", step, name);
		}
		for (size_t i = 0; i < os->n; i++) {
			struct cstor_obj_head *h = os->recs[i];
			CHECK(cstor_objstore_by_id(os, h->id) == h);
			CHECK(cstor_objstore_lookup(os, h->id, NULL) == h);
			char pre[65];
			snprintf(pre, sizeof(pre), "%.63s", h->id);
			bool amb = true;
			CHECK(cstor_objstore_lookup(os, pre, &amb) == h && !amb);
		}
	}
	cstor_objstore_done(os);
	cstor_objstore_free(os);
	return TEST_PASS;
}

static int test_second_key(void)
{
	const char *d = new_dir();
	CHECK_OK(write_file(d, "containers.json",
			    "[{\"id\":\"c1\",\"names\":[\"web\"],\"image\":\"\",\"layer\":\"l1\","
			    "\"created\":\"2024-01-01T00:00:00Z\"}]"));
	struct cstor_objstore *os = NULL;
	CHECK_OK(cstor_objstore_open(&os, &cstor_container_store_ops, d, false, NULL));
	CHECK(cstor_objstore_start_reading(os, NULL) == 0);
	struct cstor_obj_head *h = cstor_objstore_lookup(os, "l1", NULL);
	CHECK(h && streq(h->id, "c1"));
	CHECK(cstor_objstore_lookup(os, "web", NULL) == h);
	cstor_objstore_done(os);
	cstor_objstore_free(os);
	return TEST_PASS;
}

static int test_other_writer_seen(void)
{
	const char *d = new_dir();
	struct cstor_objstore *w = NULL, *r = NULL;
	CHECK_OK(cstor_objstore_open(&w, &cstor_image_store_ops, d, false, NULL));
	CHECK_OK(cstor_objstore_open(&r, &cstor_image_store_ops, d, false, NULL));
	CHECK(cstor_objstore_start_reading(r, NULL) == 0);
	CHECK(r->n == 0 && cstor_objstore_by_id(r, "x1") == NULL);
	cstor_objstore_done(r);
	CHECK(cstor_objstore_start_writing(w, NULL) == 0);
	CHECK_OK(cstor_objstore_add(w, &new_image("x1", "n1")->h));
	CHECK_OK(cstor_objstore_save(w, NULL));
	cstor_objstore_done(w);
	/* The reader's index was built on the old records: the reload must
	 * drop it. */
	CHECK(cstor_objstore_start_reading(r, NULL) == 0);
	struct cstor_obj_head *h = cstor_objstore_lookup(r, "n1", NULL);
	CHECK(h && streq(h->id, "x1"));
	cstor_objstore_done(r);
	cstor_objstore_free(w);
	cstor_objstore_free(r);
	return TEST_PASS;
}

static const char dup_images[] =
	"[{\"id\":\"i1\",\"names\":[\"n\",\"m\"],\"created\":\"2024-01-01T00:00:00Z\"},"
	"{\"id\":\"i2\",\"names\":[\"n\"],\"created\":\"2024-01-01T00:00:00Z\"}]";

static int test_duplicate_names_repaired(void)
{
	const char *d = new_dir();
	CHECK_OK(write_file(d, "images.json", dup_images));
	struct cstor_objstore *os = NULL;
	CHECK_OK(cstor_objstore_open(&os, &cstor_image_store_ops, d, false, NULL));
	CHECK(cstor_objstore_start_reading(os, NULL) == 0);
	struct cstor_obj_head *h = cstor_objstore_by_name(os, "n");
	CHECK(h && streq(h->id, "i2")); /* the later record keeps it, as in Go */
	cstor_objstore_done(os);
	/* The next writer saves the repair. */
	CHECK(cstor_objstore_start_writing(os, NULL) == 0);
	cstor_objstore_done(os);
	char p[4400], *text = NULL;
	size_t len = 0;
	snprintf(p, sizeof(p), "%s/images.json", d);
	CHECK_OK(cstor_read_file_at(AT_FDCWD, p, &text, &len, p, NULL));
	CHECK_MSG(strstr(text, "\"names\":[\"m\"]") != NULL, "# saved: %s", text);
	free(text);
	cstor_objstore_free(os);
	return TEST_PASS;
}

/* The last record to name a name keeps it, whatever lies between; a
 * record that lists one name twice keeps it. */
static int test_duplicate_names_three_ways(void)
{
	const char *d = new_dir();
	CHECK_OK(write_file(d, "images.json",
			    "[{\"id\":\"i1\",\"names\":[\"a\",\"b\",\"c\"]},"
			    "{\"id\":\"i2\",\"names\":[\"b\",\"x\",\"x\"]},"
			    "{\"id\":\"i3\",\"names\":[\"c\",\"b\"]}]"));
	struct cstor_objstore *os = NULL;
	CHECK_OK(cstor_objstore_open(&os, &cstor_image_store_ops, d, false, NULL));
	CHECK(cstor_objstore_start_reading(os, NULL) == 0);
	struct cstor_obj_head *i1 = cstor_objstore_by_id(os, "i1"), *i2 = cstor_objstore_by_id(os, "i2"),
			      *i3 = cstor_objstore_by_id(os, "i3");
	CHECK(i1 && i2 && i3);
	CHECK(strv_length(i1->names) == 1 && streq(i1->names[0], "a"));
	CHECK(strv_length(i2->names) == 2 && streq(i2->names[0], "x") && streq(i2->names[1], "x"));
	CHECK(strv_length(i3->names) == 2 && streq(i3->names[0], "c") && streq(i3->names[1], "b"));
	CHECK(cstor_objstore_by_name(os, "b") == i3 && cstor_objstore_by_name(os, "x") == i2);
	cstor_objstore_done(os);
	cstor_objstore_free(os);
	return TEST_PASS;
}

/* A record that repeats one of its names: Go's image load keeps it there
 * (it checks names against earlier records only), its layer and container
 * loads take it away, every copy (each name is recorded as it is seen, so
 * the repeat finds the record itself holding it). The name then belongs to
 * nobody, and a later record naming it still takes it without complaint. */
static int test_repeated_name_in_one_record(void)
{
	static const char *const kinds[] = { "layers.json", "containers.json" };
	for (size_t t = 0; t < 2; t++) {
		const char *d = new_dir();
		CHECK_OK(write_file(d, kinds[t],
				    "[{\"id\":\"r1\",\"names\":[\"x\",\"a\"],\"layer\":\"l1\"},"
				    "{\"id\":\"r2\",\"names\":[\"x\",\"b\",\"x\",\"y\",\"y\"],\"layer\":\"l2\"},"
				    "{\"id\":\"r3\",\"names\":[\"c\",\"y\"],\"layer\":\"l3\"},"
				    "{\"id\":\"r4\",\"names\":[\"d\",\"d\",\"d\"],\"layer\":\"l4\"}]"));
		struct cstor_objstore *os = NULL;
		if (t == 0)
			CHECK_OK(cstor_layer_store_open(&os, d, false, NULL));
		else
			CHECK_OK(cstor_objstore_open(&os, &cstor_container_store_ops, d, false, NULL));
		CHECK(cstor_objstore_start_writing(os, NULL) == 0);
		struct cstor_obj_head *r1 = cstor_objstore_by_id(os, "r1"),
				      *r2 = cstor_objstore_by_id(os, "r2"),
				      *r3 = cstor_objstore_by_id(os, "r3"),
				      *r4 = cstor_objstore_by_id(os, "r4");
		CHECK(r1 && r2 && r3 && r4);
		CHECK(strv_length(r1->names) == 1 && streq(r1->names[0], "a"));
		CHECK_MSG(strv_length(r2->names) == 1 && streq(r2->names[0], "b"), "# %s: %zu names %s %s",
			  kinds[t], strv_length(r2->names), r2->names[0], r2->names[1]);
		CHECK(strv_length(r3->names) == 2 && streq(r3->names[0], "c") &&
		      streq(r3->names[1], "y"));
		CHECK(strv_length(r4->names) == 0);
		CHECK(!cstor_objstore_by_name(os, "x") && !cstor_objstore_by_name(os, "d"));
		CHECK(cstor_objstore_by_name(os, "y") == r3);
		/* The writer saved the repair. */
		cstor_objstore_done(os);
		char p[4400], *text = NULL;
		size_t len = 0;
		snprintf(p, sizeof(p), "%s/%s", d, kinds[t]);
		CHECK_OK(cstor_read_file_at(AT_FDCWD, p, &text, &len, p, NULL));
		CHECK_MSG(strstr(text, "\"x\"") == NULL && strstr(text, "\"d\"") == NULL, "# saved: %s",
			  text);
		free(text);
		cstor_objstore_free(os);
	}
	return TEST_PASS;
}

static int test_read_only(void)
{
	const char *d = new_dir();
	struct cstor_objstore *os = NULL;
	cstor_error err = CSTOR_ERROR_INIT;
	/* A missing directory is an empty read-only store, and stays missing. */
	CHECK_OK(cstor_objstore_open(&os, &cstor_image_store_ops, d, true, NULL));
	CHECK(cstor_objstore_start_reading(os, NULL) == 0 && os->n == 0);
	cstor_objstore_done(os);
	CHECK(cstor_objstore_start_writing(os, &err) == -EROFS);
	CHECK(strstr(cstor_error_message(&err), "read-only") != NULL);
	cstor_error_clear(&err);
	struct stat st;
	CHECK(stat(d, &st) < 0 && errno == ENOENT);
	cstor_objstore_free(os);
	/* One that gives a name to two images cannot be repaired: an error. */
	CHECK_OK(write_file(d, "images.json", dup_images));
	CHECK_OK(cstor_objstore_open(&os, &cstor_image_store_ops, d, true, NULL));
	CHECK(cstor_objstore_start_reading(os, &err) == -EBADMSG);
	CHECK(strstr(cstor_error_message(&err), "same name") != NULL);
	cstor_error_clear(&err);
	cstor_objstore_free(os);
	return TEST_PASS;
}

static int test_corrupt_file_is_an_error(void)
{
	const char *d = new_dir();
	CHECK_OK(write_file(d, "images.json", "[{\"id\":\"i1\""));
	struct cstor_objstore *os = NULL;
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK_OK(cstor_objstore_open(&os, &cstor_image_store_ops, d, false, NULL));
	CHECK(cstor_objstore_start_writing(os, &err) == -EBADMSG);
	CHECK(strstr(cstor_error_message(&err), "images.json") != NULL);
	cstor_error_clear(&err);
	cstor_objstore_free(os);
	return TEST_PASS;
}

static int test_layer_aside_file(void)
{
	const char *d = new_dir();
	CHECK_OK(write_file(d, "layers.json",
			    "[{\"id\":\"l1\",\"created\":\"2024-01-01T00:00:00Z\"}]"));
	CHECK_OK(write_file(d, "volatile-layers.json",
			    "[{\"id\":\"l1\",\"names\":[\"dup\"],\"created\":\"2024-01-01T00:00:00Z\"},"
			    "{\"id\":\"v1\",\"created\":\"2024-01-01T00:00:00Z\"}]"));
	struct cstor_objstore *ls = NULL;
	/* No ctx: the hooks that need a driver are not run. */
	CHECK_OK(cstor_layer_store_open(&ls, d, false, NULL));
	CHECK(cstor_objstore_start_writing(ls, NULL) == 0);
	CHECK(ls->n == 2);
	struct cstor_layer_rec *l1 = cstor_layer_store_by_id(ls, "l1");
	struct cstor_layer_rec *v1 = cstor_layer_store_by_id(ls, "v1");
	CHECK(l1 && !l1->is_volatile && !l1->h.names); /* the main file's wins */
	CHECK(v1 && v1->is_volatile);
	CHECK_OK(cstor_objstore_save(ls, NULL));
	cstor_objstore_done(ls);
	char p[4400], *text = NULL;
	size_t len = 0;
	snprintf(p, sizeof(p), "%s/volatile-layers.json", d);
	CHECK_OK(cstor_read_file_at(AT_FDCWD, p, &text, &len, p, NULL));
	CHECK_MSG(strstr(text, "\"v1\"") && !strstr(text, "\"l1\""), "# volatile: %s", text);
	free(text);
	snprintf(p, sizeof(p), "%s/layers.json", d);
	CHECK_OK(cstor_read_file_at(AT_FDCWD, p, &text, &len, p, NULL));
	CHECK_MSG(strstr(text, "\"l1\"") && !strstr(text, "\"v1\""), "# main: %s", text);
	free(text);
	cstor_objstore_free(ls);
	return TEST_PASS;
}

static int read_text(const char *dir, const char *name, char **text)
{
	char p[4400];
	size_t len = 0;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return cstor_read_file_at(AT_FDCWD, p, text, &len, p, NULL);
}

/* A split image store: records marked in_image_store go to the second
 * layers.json (with its own lock file), in Go's load order; another
 * handle reads them back marked, and notices a write to either file. */
static int test_layer_split_file(void)
{
	char g[4200], is[4200], run[4200];
	snprintf(g, sizeof(g), "%s", new_dir());
	snprintf(is, sizeof(is), "%s", new_dir());
	snprintf(run, sizeof(run), "%s", new_dir());
	CHECK_OK(write_file(is, "layers.json",
			    "[{\"id\":\"i1\",\"created\":\"2024-01-01T00:00:00Z\"},"
			    "{\"id\":\"s1\",\"names\":[\"from-is\"],\"created\":\"2024-01-01T00:00:00Z\"}]"));
	CHECK_OK(write_file(g, "layers.json",
			    "[{\"id\":\"s1\",\"created\":\"2024-01-01T00:00:00Z\"}]"));
	struct cstor_objstore_where w = { .dir = g, .aside_dir = run, .split_dir = is };
	struct cstor_objstore *a = NULL, *b = NULL;
	CHECK_OK(cstor_objstore_open_at(&a, &cstor_layer_store_ops, &w, false, NULL));
	CHECK_OK(cstor_objstore_open_at(&b, &cstor_layer_store_ops, &w, false, NULL));
	CHECK(cstor_objstore_start_writing(a, NULL) == 0);
	CHECK(a->n == 2);
	struct cstor_layer_rec *s1 = cstor_layer_store_by_id(a, "s1");
	struct cstor_layer_rec *i1 = cstor_layer_store_by_id(a, "i1");
	CHECK(s1 && !s1->in_image_store && !s1->h.names); /* the graph root's wins */
	CHECK(i1 && i1->in_image_store);
	struct cstor_layer_rec *n1 = calloc(1, sizeof(*n1));
	CHECK(n1 && (n1->h.id = strdup("n1")) && (n1->h.created = strdup("2024-01-01T00:00:00Z")));
	n1->in_image_store = true;
	CHECK_OK(cstor_layer_store_add(a, n1));
	struct cstor_layer_rec *v1 = calloc(1, sizeof(*v1));
	CHECK(v1 && (v1->h.id = strdup("v1")) && (v1->h.created = strdup("2024-01-01T00:00:00Z")));
	v1->is_volatile = true;
	CHECK_OK(cstor_layer_store_add(a, v1));
	CHECK_OK(cstor_objstore_save(a, NULL));
	cstor_objstore_done(a);
	char *text = NULL;
	CHECK_OK(read_text(is, "layers.json", &text));
	CHECK_MSG(strstr(text, "\"i1\"") && strstr(text, "\"n1\"") && !strstr(text, "\"s1\"") &&
			  !strstr(text, "\"v1\""),
		  "# image store: %s", text);
	free(text);
	CHECK_OK(read_text(g, "layers.json", &text));
	CHECK_MSG(strstr(text, "\"s1\"") && !strstr(text, "\"n1\"") && !strstr(text, "\"v1\""),
		  "# graph root: %s", text);
	free(text);
	CHECK_OK(read_text(run, "volatile-layers.json", &text));
	CHECK_MSG(strstr(text, "\"v1\"") && !strstr(text, "\"n1\""), "# volatile: %s", text);
	free(text);
	char lk[4400];
	snprintf(lk, sizeof(lk), "%s/layers.lock", is);
	CHECK(access(lk, F_OK) == 0);
	/* The other handle sees all four, each marked where it came from. */
	CHECK(cstor_objstore_start_reading(b, NULL) == 0);
	CHECK(b->n == 4);
	CHECK(cstor_layer_store_by_id(b, "n1")->in_image_store);
	CHECK(cstor_layer_store_by_id(b, "v1")->is_volatile);
	CHECK(!cstor_layer_store_by_id(b, "s1")->in_image_store);
	cstor_objstore_done(b);
	/* A hand edit of the image store's file alone is noticed. */
	CHECK_OK(write_file(is, "layers.json",
			    "[{\"id\":\"i2\",\"created\":\"2024-01-01T00:00:00Z\"}]"));
	struct timespec ts[2] = { { 0, UTIME_OMIT }, { 12345, 0 } };
	char jp[4400];
	snprintf(jp, sizeof(jp), "%s/layers.json", is);
	CHECK(utimensat(AT_FDCWD, jp, ts, 0) == 0);
	CHECK(cstor_objstore_start_reading(b, NULL) == 0);
	CHECK(b->n == 3 && cstor_layer_store_by_id(b, "i2") && !cstor_layer_store_by_id(b, "n1"));
	cstor_objstore_done(b);
	cstor_objstore_free(a);
	cstor_objstore_free(b);
	return TEST_PASS;
}

/* A transient store's container store: the lock and the volatile file on
 * the run root, containers.json where it was; a save that would not change
 * containers.json leaves it alone (same inode) but renews the token. */
static int test_container_store_spread(void)
{
	char g[4200], run[4200];
	snprintf(g, sizeof(g), "%s", new_dir());
	snprintf(run, sizeof(run), "%s", new_dir());
	struct cstor_objstore_where w = { .dir = g, .lock_dir = run, .aside_dir = run };
	struct cstor_objstore *cs = NULL;
	CHECK_OK(cstor_objstore_open_at(&cs, &cstor_container_store_ops, &w, false, NULL));
	char p[4400];
	snprintf(p, sizeof(p), "%s/containers.lock", run);
	CHECK(access(p, F_OK) == 0);
	snprintf(p, sizeof(p), "%s/containers.lock", g);
	CHECK(access(p, F_OK) < 0);
	CHECK(cstor_objstore_start_writing(cs, NULL) == 0);
	struct cstor_container_rec *c = calloc(1, sizeof(*c));
	CHECK(c && (c->h.id = strdup("c1")) && (c->h.created = strdup("2024-01-01T00:00:00Z")) &&
	      (c->image = strdup("")) && (c->layer = strdup("l1")));
	CHECK_OK(cstor_objstore_add(cs, &c->h));
	CHECK_OK(cstor_objstore_save(cs, NULL));
	struct stat st1, st2;
	snprintf(p, sizeof(p), "%s/containers.json", g);
	CHECK(stat(p, &st1) == 0);
	cstor_lock_token t1 = cs->seen.token;
	struct cstor_container_rec *v = calloc(1, sizeof(*v));
	CHECK(v && (v->h.id = strdup("v1")) && (v->h.created = strdup("2024-01-01T00:00:00Z")) &&
	      (v->image = strdup("")) && (v->layer = strdup("l2")));
	v->is_volatile = true;
	CHECK_OK(cstor_objstore_add(cs, &v->h));
	CHECK_OK(cstor_objstore_save(cs, NULL));
	CHECK(stat(p, &st2) == 0);
	CHECK(st1.st_ino == st2.st_ino); /* not rewritten */
	CHECK(!cstor_lock_token_equal(&t1, &cs->seen.token)); /* but the token is new */
	cstor_objstore_done(cs);
	char *text = NULL;
	CHECK_OK(read_text(run, "volatile-containers.json", &text));
	CHECK_MSG(strstr(text, "\"v1\"") && !strstr(text, "\"c1\""), "# volatile: %s", text);
	free(text);
	CHECK_OK(read_text(g, "containers.json", &text));
	CHECK_MSG(strstr(text, "\"c1\"") && !strstr(text, "\"v1\""), "# main: %s", text);
	free(text);
	cstor_objstore_free(cs);
	return TEST_PASS;
}

static int test_delete_removes_data(void)
{
	const char *d = new_dir();
	struct cstor_objstore *os = NULL;
	CHECK_OK(cstor_objstore_open(&os, &cstor_image_store_ops, d, false, NULL));
	CHECK(cstor_objstore_start_writing(os, NULL) == 0);
	struct cstor_image_rec *a = new_image("del1", NULL);
	CHECK_OK(cstor_objstore_add(os, &a->h));
	bool changed = false;
	CHECK_OK(cstor_objstore_write_big_data(os, &a->h, "manifest", "{}", 2, "sha256:x", &changed,
					       NULL));
	CHECK(changed && cstor_bigdata_index_size(&a->h.bd, "manifest") == 2);
	char p[4400];
	snprintf(p, sizeof(p), "%s/del1/manifest", d);
	CHECK(access(p, F_OK) == 0);
	CHECK_OK(cstor_objstore_delete(os, &a->h, NULL));
	CHECK(access(p, F_OK) < 0 && cstor_objstore_by_id(os, "del1") == NULL);
	cstor_objstore_done(os);
	cstor_objstore_free(os);
	return TEST_PASS;
}

static int test_layer_big_data_by_name_only(void)
{
	const char *d = new_dir();
	struct cstor_objstore *ls = NULL;
	CHECK_OK(cstor_layer_store_open(&ls, d, false, NULL));
	CHECK(cstor_objstore_start_writing(ls, NULL) == 0);
	struct cstor_layer_rec *l = calloc(1, sizeof(*l));
	CHECK(l && (l->h.id = strdup("lay1")));
	CHECK_OK(cstor_layer_store_add(ls, l));
	bool changed = false;
	CHECK_OK(cstor_objstore_write_big_data(ls, &l->h, "k", "v", 1, "sha256:y", &changed, NULL));
	CHECK(changed && strv_contains(l->h.bd.names, "k"));
	CHECK(!l->h.bd.sizes && !l->h.bd.digests);
	cstor_objstore_done(ls);
	cstor_objstore_free(ls);
	return TEST_PASS;
}

static int test_shared_copies(void)
{
	const char *d = new_dir();
	struct cstor_objstore *os = NULL;
	CHECK_OK(cstor_objstore_open(&os, &cstor_image_store_ops, d, false, NULL));
	CHECK(cstor_objstore_start_writing(os, NULL) == 0);
	struct cstor_image_rec *a = new_image("cp1", "old");
	CHECK_OK(cstor_objstore_add(os, &a->h));
	CHECK_OK(cstor_objstore_add(os, &new_image("cp2", "other")->h));
	/* A writer's copies are its own: records may still change. */
	struct cstor_obj_head *w1 = NULL, *w2 = NULL;
	CHECK_OK(cstor_objstore_copy(os, &a->h, &w1));
	CHECK_OK(cstor_objstore_copy(os, &a->h, &w2));
	CHECK(w1 != w2 && w1 != &a->h);
	CHECK_OK(cstor_objstore_save(os, NULL));
	cstor_objstore_done(os);
	/* Readers share one copy until the store changes. */
	struct cstor_obj_head *r1 = NULL, *r2 = NULL, *r3 = NULL;
	CHECK(cstor_objstore_start_reading(os, NULL) == 0);
	struct cstor_obj_head *h = cstor_objstore_by_id(os, "cp1");
	CHECK(h);
	CHECK_OK(cstor_objstore_copy(os, h, &r1));
	CHECK_OK(cstor_objstore_copy(os, h, &r2));
	cstor_objstore_done(os);
	CHECK(r1 == r2 && r1->refs == 3); /* the store's and two snapshots' */
	struct cstor_obj_head *u1 = NULL, *u2 = NULL;
	CHECK(cstor_objstore_start_reading(os, NULL) == 0);
	CHECK_OK(cstor_objstore_copy(os, cstor_objstore_by_id(os, "cp2"), &u1));
	cstor_objstore_done(os);
	/* A change: the next copy is new, the old ones are unchanged. */
	CHECK(cstor_objstore_start_writing(os, NULL) == 0);
	h = cstor_objstore_by_id(os, "cp1");
	char *names[] = { "new", NULL };
	CHECK_OK(cstor_objstore_set_names(os, h, names));
	CHECK_OK(cstor_objstore_save(os, NULL));
	cstor_objstore_done(os);
	CHECK(r1->refs == 3); /* set aside until the next copy */
	CHECK(cstor_objstore_start_reading(os, NULL) == 0);
	CHECK_OK(cstor_objstore_copy(os, cstor_objstore_by_id(os, "cp1"), &r3));
	/* The record that did not change shares its copy from before. */
	CHECK_OK(cstor_objstore_copy(os, cstor_objstore_by_id(os, "cp2"), &u2));
	cstor_objstore_done(os);
	CHECK(r3 != r1 && r1->refs == 2);
	CHECK(streq(r3->names[0], "new") && streq(r1->names[0], "old"));
	CHECK(u1 == u2 && u1->refs == 3);
	/* One whose record changed back is shared again too. */
	CHECK(cstor_objstore_start_writing(os, NULL) == 0);
	h = cstor_objstore_by_id(os, "cp2");
	char *other2[] = { "other2", NULL }, *other[] = { "other", NULL };
	CHECK_OK(cstor_objstore_set_names(os, h, other2));
	CHECK_OK(cstor_objstore_set_names(os, h, other));
	CHECK_OK(cstor_objstore_save(os, NULL));
	cstor_objstore_done(os);
	struct cstor_obj_head *u3 = NULL;
	CHECK(cstor_objstore_start_reading(os, NULL) == 0);
	CHECK_OK(cstor_objstore_copy(os, cstor_objstore_by_id(os, "cp2"), &u3));
	cstor_objstore_done(os);
	CHECK(u3 == u1);
	cstor_rec_unref(&cstor_image_rec_codec, u1);
	cstor_rec_unref(&cstor_image_rec_codec, u2);
	cstor_rec_unref(&cstor_image_rec_codec, u3);
	const struct cstor_rec_codec *c = &cstor_image_rec_codec;
	cstor_rec_unref(c, w1);
	cstor_rec_unref(c, w2);
	cstor_rec_unref(c, r1);
	cstor_rec_unref(c, r2);
	cstor_rec_unref(c, r3);
	/* The store's own copy goes with the store. */
	cstor_objstore_free(os);
	return TEST_PASS;
}

TAP_MAIN(TEST(test_lookup_by_id_name_prefix), TEST(test_index_follows_changes),
	 TEST(test_index_updated_in_place),
	 TEST(test_second_key), TEST(test_other_writer_seen), TEST(test_duplicate_names_repaired),
	 TEST(test_duplicate_names_three_ways), TEST(test_repeated_name_in_one_record),
	 TEST(test_read_only), TEST(test_corrupt_file_is_an_error), TEST(test_layer_aside_file),
	 TEST(test_layer_split_file), TEST(test_container_store_spread),
	 TEST(test_delete_removes_data), TEST(test_layer_big_data_by_name_only),
	 TEST(test_shared_copies))
