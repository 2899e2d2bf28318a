/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The in-process benchmark, C side: the operations of bench/golib/main.go
 * over libcstor's public API (run both with bench/inprocess.sh). Bench
 * only: never part of the build or the tests.
 *
 *   clib meta GRAPHROOT RUNROOT DRIVER NIMAGES ITERS
 *   clib mount GRAPHROOT RUNROOT DRIVER DEPTH ITERS
 *   clib pairs GRAPHROOT RUNROOT DRIVER LAYER ITERS
 *       (ITERS mount+unmount pairs of LAYER, for bench/parallel-mounts-layers.sh;
 *       prints "pairs SECONDS")
 *
 * Each line of output is "OP MEDIAN_US".
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstor/cstor.h>

static cstor_error err = CSTOR_ERROR_INIT;

static void die(const char *what)
{
	fprintf(stderr, "clib: %s: %s\n", what, cstor_error_message(&err));
	exit(1);
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void report(const char *op, double *t, int n)
{
	qsort(t, (size_t)n, sizeof(*t), cmp_double);
	printf("%s %.2f\n", op, t[n / 2]);
}

/* The same IDs as bench/gen-store.py: sha256("image-I"). */
static void ident(char out[65], const char *kind, int i)
{
	char buf[64], cmd[128];
	snprintf(buf, sizeof(buf), "%s-%d", kind, i);
	snprintf(cmd, sizeof(cmd), "printf %%s '%s' | sha256sum", buf);
	FILE *p = popen(cmd, "r");
	if (!p || fread(out, 1, 64, p) != 64)
		exit(1);
	out[64] = 0;
	pclose(p);
}

static cstor_store *open_store(const char *graph, const char *run, const char *driver)
{
	cstor_store_options o = CSTOR_STORE_OPTIONS_INIT;
	o.graph_root = graph;
	o.run_root = run;
	o.driver = driver;
	o.config_file = "";
	cstor_store *s = NULL;
	if (cstor_store_open(&s, &o, &err) < 0)
		die("open");
	return s;
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: clib meta|mount GRAPHROOT RUNROOT DRIVER N ITERS\n");
		return 2;
	}
	const char *mode = argv[1], *graph = argv[2], *run = argv[3], *driver = argv[4];
	int n = atoi(argv[5]), iters = atoi(argv[6]);
	double *t = calloc((size_t)iters, sizeof(double)), *td = calloc((size_t)iters, sizeof(double));
	if (!t || !td)
		return 1;
	if (strcmp(mode, "pairs") == 0) {
		cstor_store *s = open_store(graph, run, driver);
		cstor_mount_options mo = CSTOR_MOUNT_OPTIONS_INIT;
		double t0 = now_us();
		for (int i = 0; i < iters; i++) {
			char *mp = NULL;
			int still = 0;
			if (cstor_store_mount(&mp, s, argv[5], &mo, &err) < 0)
				die("mount");
			if (cstor_store_unmount(&still, s, argv[5], 0, &err) < 0)
				die("unmount");
			free(mp);
		}
		printf("pairs %.6f\n", (now_us() - t0) / 1e6);
		cstor_store_free(s);
		return 0;
	}
	if (strcmp(mode, "mount") == 0) {
		cstor_store *s = open_store(graph, run, driver);
		char *parent = NULL;
		for (int i = 0; i < n; i++) {
			cstor_layer_options lo = CSTOR_LAYER_OPTIONS_INIT;
			lo.parent = parent;
			cstor_layer *l = NULL;
			if (cstor_store_create_layer(&l, s, &lo, &err) < 0)
				die("create layer");
			free(parent);
			parent = strdup(cstor_layer_id(l));
			cstor_layer_free(l);
		}
		cstor_mount_options mo = CSTOR_MOUNT_OPTIONS_INIT;
		for (int i = 0; i < iters; i++) {
			double t0 = now_us();
			char *mp = NULL;
			int still = 0;
			if (cstor_store_mount(&mp, s, parent, &mo, &err) < 0)
				die("mount");
			if (cstor_store_unmount(&still, s, parent, 0, &err) < 0)
				die("unmount");
			t[i] = now_us() - t0;
			free(mp);
		}
		char op[64];
		snprintf(op, sizeof(op), "mount+unmount-%s-%d", driver, n);
		report(op, t, iters);
		free(parent);
		cstor_store_free(s);
		return 0;
	}

	/* Open and close, through paths of their own as the Go side must. */
	char links[4096];
	snprintf(links, sizeof(links), "%s/../clinks", graph);
	mkdir(run, 0700);
	mkdir(links, 0700);
	for (int i = 0; i < iters; i++) {
		char g[4200], r[4200];
		snprintf(g, sizeof(g), "%s/g%d", links, i);
		snprintf(r, sizeof(r), "%s/r%d", links, i);
		if (symlink(graph, g) < 0 || symlink(run, r) < 0)
			return 1;
		double t0 = now_us();
		cstor_store *s = open_store(g, r, driver);
		cstor_store_free(s);
		t[i] = now_us() - t0;
	}
	report("open+close", t, iters);

	cstor_store *s = open_store(graph, run, driver);
	/* A write first, as on the Go side (bench/golib/main.go). */
	char id0[65], lid0[65];
	ident(id0, "image", 0);
	ident(lid0, "layer", 0);
	const char *in0[] = { "example.com/bench/img-0:latest", NULL }, *ln0[] = { "layer-0", NULL };
	if (cstor_image_set_names(s, id0, in0, &err) < 0 || cstor_layer_set_names(s, lid0, ln0, &err) < 0)
		die("set names");
	cstor_image **imgs = NULL;
	cstor_layer **lays = NULL;
	if (cstor_store_images(&imgs, s, &err) < 0)
		die("images");
	cstor_image_list_free(imgs);
	if (cstor_store_layers(&lays, s, &err) < 0)
		die("layers");
	cstor_layer_list_free(lays);
	for (int i = 0; i < iters; i++) {
		double t0 = now_us();
		if (cstor_store_layers(&lays, s, &err) < 0)
			die("layers");
		cstor_layer_list_free(lays);
		t[i] = now_us() - t0;
	}
	report("list-layers", t, iters);
	for (int i = 0; i < iters; i++) {
		double t0 = now_us();
		if (cstor_store_images(&imgs, s, &err) < 0)
			die("images");
		cstor_image_list_free(imgs);
		t[i] = now_us() - t0;
	}
	report("list-images", t, iters);
	/* The IDs first: making them is not what is measured. */
	char (*ids)[65] = calloc((size_t)iters, 65);
	if (!ids)
		return 1;
	for (int i = 0; i < iters; i++)
		ident(ids[i], "image", (int)(((long)i * 7919) % n));
	for (int i = 0; i < iters; i++) {
		char name[128];
		snprintf(name, sizeof(name), "example.com/bench/img-%d:latest",
			 (int)(((long)i * 7919) % n));
		cstor_image *img = NULL;
		double t0 = now_us();
		if (cstor_store_image(&img, s, name, &err) < 0)
			die("image by name");
		cstor_image_free(img);
		t[i] = now_us() - t0;
	}
	report("image-by-name", t, iters);
	for (int i = 0; i < iters; i++) {
		cstor_image *img = NULL;
		double t0 = now_us();
		if (cstor_store_image(&img, s, ids[i], &err) < 0)
			die("image by ID");
		cstor_image_free(img);
		t[i] = now_us() - t0;
	}
	report("image-by-id", t, iters);
	for (int i = 0; i < iters; i++) {
		cstor_layer_options lo = CSTOR_LAYER_OPTIONS_INIT;
		cstor_layer *l = NULL;
		double t0 = now_us();
		if (cstor_store_create_layer(&l, s, &lo, &err) < 0)
			die("create layer");
		t[i] = now_us() - t0;
		t0 = now_us();
		if (cstor_store_delete_layer(s, cstor_layer_id(l), &err) < 0)
			die("delete layer");
		td[i] = now_us() - t0;
		cstor_layer_free(l);
	}
	report("create-layer", t, iters);
	report("delete-layer", td, iters);
	for (int i = 0; i < iters; i++) {
		cstor_image_options io = CSTOR_IMAGE_OPTIONS_INIT;
		cstor_image *img = NULL;
		double t0 = now_us();
		if (cstor_store_create_image(&img, s, &io, &err) < 0)
			die("create image");
		t[i] = now_us() - t0;
		char **deleted = NULL;
		if (cstor_store_delete_image(&deleted, s, cstor_image_id(img), 0, &err) < 0)
			die("delete image");
		cstor_strv_free(deleted);
		cstor_image_free(img);
	}
	report("create-image", t, iters);
	for (int i = 0; i < iters; i++) {
		char n1[128], n2[64];
		int k = (int)(((long)i * 7919) % n);
		snprintf(n1, sizeof(n1), "example.com/bench/img-%d:latest", k);
		snprintf(n2, sizeof(n2), "extra:%d", i);
		const char *names[] = { n1, n2, NULL };
		double t0 = now_us();
		if (cstor_image_set_names(s, ids[i], names, &err) < 0)
			die("set names");
		t[i] = now_us() - t0;
	}
	report("set-names", t, iters);
	/* What a daemon sees: a listing right after a change of one image. */
	for (int i = 0; i < iters; i++) {
		char n1[128], n2[64];
		int k = (int)(((long)i * 7919) % n);
		snprintf(n1, sizeof(n1), "example.com/bench/img-%d:latest", k);
		snprintf(n2, sizeof(n2), "again:%d", i);
		const char *names[] = { n1, n2, NULL };
		if (cstor_image_set_names(s, ids[i], names, &err) < 0)
			die("set names");
		double t0 = now_us();
		if (cstor_store_images(&imgs, s, &err) < 0)
			die("images");
		cstor_image_list_free(imgs);
		t[i] = now_us() - t0;
	}
	report("list-images-after-write", t, iters);
	cstor_store_free(s);
	free(ids);
	free(t);
	free(td);
	return 0;
}
