/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layer-parent-owners, container-parent-owners: the owners of the
 * directories above a mounted layer that its ID mappings cannot map (what a
 * user namespace would see as "nobody"), as containers/storage's
 * ParentOwners computes them. A layer without ID mappings has none.
 */
#include <jansson.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cstor/container.h>
#include <cstor/layer.h>

#include "cli.h"

static bool json;

static const struct cli_flag flags[] = {
	CLI_JSON_FLAG(json),
	{ { NULL } },
};

struct idmap {
	long long c, h, n;
};

struct maps {
	struct idmap *v;
	size_t n;
	bool present; /* Go: a nil map maps every ID to itself */
};

/* The public API has no ID-map getter; the record's JSON has the maps. */
static void read_map(struct maps *m, json_t *rec, const char *key)
{
	json_t *arr = json_object_get(rec, key);
	m->n = json_array_size(arr);
	m->present = m->n > 0;
	m->v = calloc(m->n ? m->n : 1, sizeof(*m->v));
	for (size_t i = 0; m->v && i < m->n; i++) {
		json_t *e = json_array_get(arr, i);
		m->v[i].c = json_integer_value(json_object_get(e, "container_id"));
		m->v[i].h = json_integer_value(json_object_get(e, "host_id"));
		m->v[i].n = json_integer_value(json_object_get(e, "size"));
	}
}

static bool to_container(const struct maps *m, long long id)
{
	if (!m->present)
		return true;
	for (size_t i = 0; i < m->n; i++)
		if (id >= m->v[i].h && id <= m->v[i].h + m->v[i].n - 1)
			return true;
	return false;
}

static bool to_host(long long *out, const struct maps *m, long long id)
{
	if (!m->present) {
		*out = id;
		return true;
	}
	if (m->n == 1 && m->v[0].n == 1) {
		*out = m->v[0].h;
		return true;
	}
	for (size_t i = 0; i < m->n; i++)
		if (id >= m->v[i].c && id <= m->v[i].c + m->v[i].n - 1) {
			*out = m->v[i].h + (id - m->v[i].c);
			return true;
		}
	return false;
}

struct ids {
	long long v[64];
	size_t n;
};

static void add_id(struct ids *s, long long id)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i] == id)
			return;
	if (s->n < 64)
		s->v[s->n++] = id;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

/* 0, or a message (malloc'd) in *error. */
static int parent_owners(struct ids *uids, struct ids *gids, const cstor_layer *l, char **error)
{
	char *j = cstor_layer_to_json(l);
	json_t *rec = j ? json_loads(j, JSON_ALLOW_NUL, NULL) : NULL;
	free(j);
	if (!rec)
		return (*error = strdup("out of memory")), -1;
	struct maps um = { 0 }, gm = { 0 };
	read_map(&um, rec, "uidmap");
	read_map(&gm, rec, "gidmap");
	json_decref(rec);
	int r = 0;
	long long ru, rg;
	if (!um.present && !gm.present)
		goto out;
	if (!cstor_layer_mount_point(l)) {
		r = -1;
		*error = strdup("layer is not mounted");
		goto out;
	}
	if (!to_host(&ru, &um, 0) || !to_host(&rg, &gm, 0)) {
		r = -1;
		if (asprintf(error, "reading root ID values for layer %s: container ID 0 cannot be "
				    "mapped to a host ID",
			     cstor_layer_id(l)) < 0)
			*error = NULL;
		goto out;
	}
	char *path = strdup(cstor_layer_mount_point(l));
	for (char *dir = path ? dirname(path) : NULL; dir && strcmp(dir, "/") && strcmp(dir, ".");
	     dir = dirname(dir)) {
		struct stat st[2];
		if (stat(dir, &st[0]) < 0 || lstat(dir, &st[1]) < 0) {
			r = -1;
			if (asprintf(error, "read directory ownership: %s: %m", dir) < 0)
				*error = NULL;
			break;
		}
		for (int k = 0; k < 2; k++) {
			if (!to_container(&um, st[k].st_uid) || !to_container(&gm, rg))
				add_id(uids, st[k].st_uid);
			if (!to_container(&um, ru) || !to_container(&gm, st[k].st_gid))
				add_id(gids, st[k].st_gid);
		}
	}
	free(path);
	qsort(uids->v, uids->n, sizeof(long long), cmp_ll);
	qsort(gids->v, gids->n, sizeof(long long), cmp_ll);
out:
	free(um.v);
	free(gm.v);
	return r;
}

/* Go's %v of an []int: "[1 2 3]". */
static void print_ids(const char *label, const struct ids *s, bool always)
{
	if (!always && s->n == 0)
		return;
	printf("%s: [", label);
	for (size_t i = 0; i < s->n; i++)
		printf("%s%lld", i ? " " : "", s->v[i]);
	puts("]");
}

static void json_ids(const struct ids *s)
{
	if (s->n == 0) {
		fputs("null", stdout);
		return;
	}
	putchar('[');
	for (size_t i = 0; i < s->n; i++)
		printf("%s%lld", i ? "," : "", s->v[i]);
	putchar(']');
}

static int run(cstor_store *store, int argc, char **argv, bool containers)
{
	const char *what = containers ? "container-parent-owners" : "layer-parent-owners";
	int rc = EXIT_OK;
	for (int i = 0; i < argc; i++) {
		cstor_error err = CSTOR_ERROR_INIT;
		cstor_container *c = NULL;
		cstor_layer *l = NULL;
		const char *id = NULL;
		if (containers) {
			if (cstor_store_container(&c, store, argv[i], &err) < 0) {
				cli_error(what, &err);
				cstor_error_clear(&err);
				rc = EXIT_FAIL;
				continue;
			}
			id = cstor_container_id(c);
		}
		/* Go looks the layer up in every store, then computes the
		 * owners in the primary one only. */
		int r = cstor_store_layer(&l, store, containers ? cstor_container_layer(c) : argv[i], &err);
		if (r < 0 && !containers) {
			cli_error(what, &err);
			cstor_error_clear(&err);
			rc = EXIT_FAIL;
			continue;
		}
		if (!containers)
			id = cstor_layer_id(l);
		struct ids uids = { .n = 0 }, gids = { .n = 0 };
		char *error = NULL;
		if (r < 0 || cstor_layer_read_only(l))
			error = strdup("layer not known");
		else if (parent_owners(&uids, &gids, l, &error) == 0)
			error = NULL;
		cstor_error_clear(&err);
		if (error || r < 0) {
			fprintf(stderr, "%s: %s\n", containers ? "ContainerParentOwner" : "LayerParentOwner",
				error ? error : "out of memory");
			free(error);
			cstor_layer_free(l);
			cstor_container_free(c);
			return EXIT_FAIL;
		}
		if (json) {
			fputs("{\"ID\":", stdout);
			cli_json_string(stdout, id);
			fputs(",\"UIDs\":", stdout);
			json_ids(&uids);
			fputs(",\"GIDs\":", stdout);
			json_ids(&gids);
			puts("}");
		} else {
			printf("ID: %s\n", id);
			print_ids("UIDs", &uids, containers);
			print_ids("GIDs", &gids, containers);
		}
		cstor_layer_free(l);
		cstor_container_free(c);
	}
	return rc;
}

static int layer_parent_owners(cstor_store *store, int argc, char **argv)
{
	return run(store, argc, argv, false);
}

static int container_parent_owners(cstor_store *store, int argc, char **argv)
{
	return run(store, argc, argv, true);
}

const struct cli_cmd cmd_layer_parent_owners = {
	.names = { "layer-parent-owners" },
	.args_help = "layerNameOrID [...]",
	.usage = "Compute the set of unmapped parent UIDs and GIDs of the layer",
	.min_args = 1,
	.max_args = -1,
	.flags = flags,
	.examples = CLI_EXAMPLES("cstor layer-parent-owners mylayer", "cstor layer-parent-owners --json mylayer"),
	.complete = CLI_OBJ_LAYER,
	.read_only = true,
	.run = layer_parent_owners,
};

const struct cli_cmd cmd_container_parent_owners = {
	.names = { "container-parent-owners" },
	.args_help = "containerNameOrID [...]",
	.usage = "Compute the set of unmapped parent UIDs and GIDs of the container",
	.min_args = 1,
	.max_args = -1,
	.flags = flags,
	.examples = CLI_EXAMPLES("cstor container-parent-owners web", "cstor container-parent-owners --json web"),
	.complete = CLI_OBJ_CONTAINER,
	.read_only = true,
	.run = container_parent_owners,
};
