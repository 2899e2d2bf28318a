/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One store handle shared by threads, as a daemon (CRI-O, the podman
 * service) shares it: readers list and look up layers and images while a
 * writer creates, renames and deletes, and another thread mounts and
 * unmounts. Nothing may crash or be seen half-made, and afterwards the
 * store holds exactly what the writer left. Run under ThreadSanitizer in CI
 * (tests/run-all.sh, group tsan), where any data race fails it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cstor/cstor.h>

#include <fcntl.h>

#include "util/rm.h"
#include "tap.h"

#define ROUNDS 60

static char root[64], graph[128], run[128];
static atomic_int failures;
static atomic_bool writer_done;

static void fail(const char *what, const cstor_error *err)
{
	printf("# %s: %s\n", what, cstor_error_message(err));
	atomic_fetch_add(&failures, 1);
}

static void *reader(void *arg)
{
	cstor_store *s = arg;
	while (!atomic_load(&writer_done)) {
		cstor_error err = CSTOR_ERROR_INIT;
		cstor_layer **layers = NULL;
		if (cstor_store_layers(&layers, s, &err) < 0) {
			fail("list layers", &err);
			break;
		}
		/* Every layer listed is whole: an ID, found again by it or
		 * deleted meanwhile. */
		for (size_t i = 0; layers[i]; i++) {
			const char *id = cstor_layer_id(layers[i]);
			if (!id || strlen(id) != 64) {
				printf("# a layer without its ID\n");
				atomic_fetch_add(&failures, 1);
			}
			cstor_layer *again = NULL;
			int r = cstor_store_layer(&again, s, id, &err);
			if (r == 0)
				cstor_layer_free(again);
			else if (r != -ENOENT)
				fail("look a layer up", &err);
			cstor_error_clear(&err);
		}
		cstor_layer_list_free(layers);
		cstor_image **images = NULL;
		if (cstor_store_images(&images, s, &err) < 0) {
			fail("list images", &err);
			break;
		}
		for (size_t i = 0; images[i]; i++) {
			const char *const *names = cstor_image_names(images[i]);
			cstor_image *again = NULL;
			if (names && names[0] && cstor_store_image(&again, s, names[0], &err) == 0)
				cstor_image_free(again);
			cstor_error_clear(&err);
		}
		cstor_image_list_free(images);
	}
	return NULL;
}

static void *writer(void *arg)
{
	cstor_store *s = arg;
	for (int i = 0; i < ROUNDS; i++) {
		cstor_error err = CSTOR_ERROR_INIT;
		cstor_layer *l = NULL;
		cstor_layer_options lo = CSTOR_LAYER_OPTIONS_INIT;
		char name[64];
		snprintf(name, sizeof(name), "layer-%d", i);
		const char *names[] = { name, NULL };
		lo.names = names;
		if (cstor_store_create_layer(&l, s, &lo, &err) < 0) {
			fail("create a layer", &err);
			break;
		}
		char id[65];
		snprintf(id, sizeof(id), "%s", cstor_layer_id(l));
		cstor_layer_free(l);
		cstor_image_options io = CSTOR_IMAGE_OPTIONS_INIT;
		char iname[64];
		snprintf(iname, sizeof(iname), "example.com/t/img-%d:latest", i);
		const char *inames[] = { iname, NULL };
		io.top_layer = id;
		io.names = inames;
		cstor_image *img = NULL;
		if (cstor_store_create_image(&img, s, &io, &err) < 0) {
			fail("create an image", &err);
			break;
		}
		char renamed[64];
		snprintf(renamed, sizeof(renamed), "example.com/t/renamed-%d:v1", i);
		const char *rn[] = { renamed, NULL };
		if (cstor_image_set_names(s, cstor_image_id(img), rn, &err) < 0)
			fail("rename an image", &err);
		/* Every other round is deleted again, image and layer. */
		if (i % 2 && cstor_store_delete_image(NULL, s, cstor_image_id(img), 0, &err) < 0)
			fail("delete an image", &err);
		cstor_image_free(img);
		cstor_error_clear(&err);
	}
	atomic_store(&writer_done, true);
	return NULL;
}

static void *mounter(void *arg)
{
	cstor_store *s = arg;
	cstor_error err = CSTOR_ERROR_INIT;
	cstor_layer *l = NULL;
	cstor_layer_options lo = CSTOR_LAYER_OPTIONS_INIT;
	const char *names[] = { "mounted", NULL };
	lo.names = names;
	if (cstor_store_create_layer(&l, s, &lo, &err) < 0) {
		fail("create the mounted layer", &err);
		return NULL;
	}
	cstor_layer_free(l);
	while (!atomic_load(&writer_done)) {
		char *mp = NULL;
		cstor_mount_hold *h = NULL;
		if (cstor_store_mount_hold(&h, &mp, s, "mounted", NULL, &err) < 0) {
			fail("mount", &err);
			break;
		}
		free(mp);
		if (cstor_mount_hold_release(h, s, &err) < 0) {
			fail("unmount", &err);
			break;
		}
	}
	return NULL;
}

static int test_threads_share_a_store(void)
{
	snprintf(root, sizeof(root), "/tmp/cstor-threads-XXXXXX");
	CHECK(mkdtemp(root) != NULL);
	snprintf(graph, sizeof(graph), "%s/g", root);
	snprintf(run, sizeof(run), "%s/r", root);
	cstor_store_options o = CSTOR_STORE_OPTIONS_INIT;
	o.graph_root = graph;
	o.run_root = run;
	o.driver = "vfs";
	o.config_file = "";
	cstor_store *s = NULL;
	cstor_error err = CSTOR_ERROR_INIT;
	CHECK(cstor_store_open(&s, &o, &err) == 0);
	pthread_t t[4];
	CHECK(pthread_create(&t[0], NULL, writer, s) == 0);
	CHECK(pthread_create(&t[1], NULL, reader, s) == 0);
	CHECK(pthread_create(&t[2], NULL, reader, s) == 0);
	CHECK(pthread_create(&t[3], NULL, mounter, s) == 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	CHECK(atomic_load(&failures) == 0);
	/* What the writer left: every even round's image, renamed. */
	cstor_image **images = NULL;
	CHECK(cstor_store_images(&images, s, &err) == 0);
	size_t n = 0;
	for (; images[n]; n++)
		CHECK(strncmp(cstor_image_names(images[n])[0], "example.com/t/renamed-", 22) == 0);
	cstor_image_list_free(images);
	CHECK(n == ROUNDS / 2);
	cstor_layer **layers = NULL;
	CHECK(cstor_store_layers(&layers, s, &err) == 0);
	size_t nl = 0;
	while (layers[nl])
		nl++;
	cstor_layer_list_free(layers);
	CHECK(nl == ROUNDS / 2 + 1);
	int64_t count = -1;
	CHECK(cstor_store_mounted(&count, s, "mounted", &err) == 0 && count == 0);
	cstor_store_shutdown(s, 1, NULL);
	cstor_store_free(s);
	cstor_rm_rf_at_quiet(AT_FDCWD, root);
	return TEST_PASS;
}

TAP_MAIN(TEST(test_threads_share_a_store))
