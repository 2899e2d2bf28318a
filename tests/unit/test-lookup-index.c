/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The lookup index in process (store/recindex.h, docs/formats.md §3.8):
 * a store handle that has not loaded the records answers lookups from the
 * index, from several threads at once, with the same images a full load
 * gives; a change written through another handle (another process would
 * do the same: it changes the token and the file) is seen by the next
 * lookup; and a lookup that must see every record (a digest) loads them.
 * Run under ThreadSanitizer in CI (tests/run-all.sh, group tsan).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstor/cstor.h>

#include "util/rm.h"
#include "tap.h"

#define IMAGES 12
#define THREADS 4

static char root[64], graph[128], run[128];
static char ids[IMAGES][65];
static atomic_int failures;

static cstor_store *open_store(void)
{
	cstor_store_options o = CSTOR_STORE_OPTIONS_INIT;
	o.graph_root = graph;
	o.run_root = run;
	o.driver = "vfs";
	o.config_file = "";
	cstor_store *s = NULL;
	cstor_error err = CSTOR_ERROR_INIT;
	if (cstor_store_open(&s, &o, &err) < 0) {
		printf("# open: %s\n", cstor_error_message(&err));
		cstor_error_clear(&err);
		return NULL;
	}
	return s;
}

/* Each thread looks every image up by name, ID and ID prefix, many times. */
static void *looker(void *arg)
{
	cstor_store *s = arg;
	for (int round = 0; round < 30; round++)
		for (int i = 0; i < IMAGES; i++) {
			char name[64], prefix[16];
			snprintf(name, sizeof(name), "example.com/ix/img-%d:latest", i);
			snprintf(prefix, sizeof(prefix), "%.12s", ids[i]);
			const char *refs[] = { name, ids[i], prefix };
			for (size_t k = 0; k < 3; k++) {
				cstor_image *img = NULL;
				cstor_error err = CSTOR_ERROR_INIT;
				if (cstor_store_image(&img, s, refs[k], &err) < 0 ||
				    strcmp(cstor_image_id(img), ids[i]) != 0 ||
				    strcmp(cstor_image_names(img)[0], name) != 0) {
					printf("# lookup of %s: %s\n", refs[k],
					       img ? cstor_image_id(img) : cstor_error_message(&err));
					atomic_fetch_add(&failures, 1);
				}
				cstor_image_free(img);
				cstor_error_clear(&err);
			}
		}
	return NULL;
}

static int test_lookups_from_the_index(void)
{
	snprintf(root, sizeof(root), "/tmp/cstor-lookup-index-XXXXXX");
	CHECK(mkdtemp(root) != NULL);
	snprintf(graph, sizeof(graph), "%s/g", root);
	snprintf(run, sizeof(run), "%s/r", root);
	cstor_error err = CSTOR_ERROR_INIT;

	/* The store, made through one handle (a writer writes no index). */
	cstor_store *s = open_store();
	CHECK(s != NULL);
	cstor_layer *l = NULL;
	cstor_layer_options lo = CSTOR_LAYER_OPTIONS_INIT;
	CHECK(cstor_store_create_layer(&l, s, &lo, &err) == 0);
	char layer[65];
	snprintf(layer, sizeof(layer), "%s", cstor_layer_id(l));
	cstor_layer_free(l);
	for (int i = 0; i < IMAGES; i++) {
		char name[64];
		snprintf(name, sizeof(name), "example.com/ix/img-%d:latest", i);
		const char *names[] = { name, NULL };
		cstor_image_options io = CSTOR_IMAGE_OPTIONS_INIT;
		io.top_layer = layer;
		io.names = names;
		cstor_image *img = NULL;
		CHECK(cstor_store_create_image(&img, s, &io, &err) == 0);
		snprintf(ids[i], sizeof(ids[i]), "%s", cstor_image_id(img));
		cstor_image_free(img);
	}
	cstor_store_free(s);
	char index[200];
	snprintf(index, sizeof(index), "%s/vfs-images/cstor-images.index", graph);
	struct stat st;
	CHECK(stat(index, &st) < 0);

	/* A reader's full load writes it. */
	CHECK((s = open_store()) != NULL);
	cstor_image **all = NULL;
	CHECK(cstor_store_images(&all, s, &err) == 0);
	cstor_image_list_free(all);
	cstor_store_free(s);
	CHECK(stat(index, &st) == 0 && st.st_size > 0);

	/* A fresh handle: threads look up from the index. */
	CHECK((s = open_store()) != NULL);
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, looker, s) == 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	CHECK(atomic_load(&failures) == 0);

	/* A change through another handle: seen by the next lookup. */
	cstor_store *w = open_store();
	CHECK(w != NULL);
	const char *renamed[] = { "example.com/ix/renamed:1", NULL };
	CHECK(cstor_image_set_names(w, ids[3], renamed, &err) == 0);
	cstor_store_free(w);
	cstor_image *img = NULL;
	CHECK(cstor_store_image(&img, s, "example.com/ix/renamed:1", &err) == 0);
	CHECK_STREQ(cstor_image_id(img), ids[3]);
	cstor_image_free(img);
	CHECK(cstor_store_image(&img, s, "example.com/ix/img-3:latest", &err) == -ENOENT);
	cstor_error_clear(&err);

	/* A short name is found by scanning every record: a full load. */
	CHECK(cstor_store_image(&img, s, "img-5", &err) == 0);
	CHECK_STREQ(cstor_image_id(img), ids[5]);
	cstor_image_free(img);
	cstor_store_free(s);
	cstor_rm_rf_at_quiet(AT_FDCWD, root);
	return TEST_PASS;
}

TAP_MAIN(TEST(test_lookups_from_the_index))
