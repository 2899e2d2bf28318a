/* SPDX-License-Identifier: Apache-2.0 */
/* layers [-t] [--json] */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cstor/container.h>
#include <cstor/image.h>
#include <cstor/layer.h>

#include "cli.h"
#include "util/cleanup.h"
#include "util/strv.h"

static bool json, tree, quiet;
/* Who uses the layers (Go ignores errors reading them). */
static cstor_image **images;
static cstor_container **containers;

static const struct cli_flag flags[] = {
	CLI_JSON_FLAG(json),
	{ { "-tree", "t" }, CLI_BOOL, &tree, "Use a tree" },
	{ { "-quiet", "q" }, CLI_BOOL, &quiet, "Print only the layers' IDs" },
	{ { NULL } },
};

struct node {
	const char *left, *right;
	char **notes; /* "name: N", "mount: P", ... in Go's order */
	bool printed;
};

/* cstor's note for an incomplete layer, by the reason: an interrupted
 * apply (cstor keeps such layers until the apply is redone or the layer
 * deleted), or a create, delete or import whose process died (removed by
 * the next command that opens the store and can write it, readers too, as
 * in containers/storage: seen only in read-only stores, or when the
 * removal could not run). */
static const char *incomplete_note(const cstor_layer *l)
{
	switch (cstor_layer_incomplete(l)) {
	case 0:
		return NULL;
	case CSTOR_LAYER_INCOMPLETE_REMOVING:
		return "incomplete: a create or delete was interrupted; "
		       "the next command that can write its store removes it";
	case CSTOR_LAYER_INCOMPLETE_CREATING:
		return "incomplete: being imported, or the import was interrupted "
		       "and the next command that can write its store removes it";
	default:
		return "incomplete: an apply was interrupted; apply again or delete";
	}
}

/* Who uses which layer, sorted by layer ID and then by the image's or
 * container's place in its list, so that each layer's users are found by a
 * binary search in list order: listing stays linear-logarithmic in the
 * store, not layers times images. */
struct use {
	const char *layer;
	size_t idx;
};
static struct use *image_users, *container_users;
static size_t n_image_users, n_container_users;

static int cmp_use(const void *a, const void *b)
{
	const struct use *x = a, *y = b;
	int c = strcmp(x->layer, y->layer);
	return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

static int add_use(struct use **v, size_t *n, size_t *cap, const char *layer, size_t idx)
{
	if (*n == *cap) {
		size_t nc = *cap ? 2 * *cap : 64;
		struct use *nv = realloc(*v, nc * sizeof(*nv));
		if (!nv)
			return -1;
		*v = nv;
		*cap = nc;
	}
	(*v)[(*n)++] = (struct use){ layer, idx };
	return 0;
}

static int index_users(void)
{
	size_t cap = 0;
	for (size_t i = 0; images && images[i]; i++) {
		const char *top = cstor_image_top_layer(images[i]);
		if (top && add_use(&image_users, &n_image_users, &cap, top, i) < 0)
			return -1;
		for (const char *const *m = cstor_image_mapped_top_layers(images[i]); *m; m++)
			if (add_use(&image_users, &n_image_users, &cap, *m, i) < 0)
				return -1;
	}
	if (n_image_users) /* qsort(NULL, 0) is undefined: UBSan stops there */
		qsort(image_users, n_image_users, sizeof(struct use), cmp_use);
	cap = 0;
	for (size_t i = 0; containers && containers[i]; i++)
		if (add_use(&container_users, &n_container_users, &cap,
			    cstor_container_layer(containers[i]), i) < 0)
			return -1;
	if (n_container_users)
		qsort(container_users, n_container_users, sizeof(struct use), cmp_use);
	return 0;
}

/* The first use of @layer in @v, or @n. */
static size_t first_use(const struct use *v, size_t n, const char *layer)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(v[mid].layer, layer) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The container whose layer it is (the last one, as Go's map keeps it). */
static const cstor_container *container_of(const char *layer)
{
	size_t i = first_use(container_users, n_container_users, layer);
	const cstor_container *c = NULL;
	for (; i < n_container_users && strcmp(container_users[i].layer, layer) == 0; i++)
		c = containers[container_users[i].idx];
	return c;
}

static int add_note(char ***notes, const char *prefix, const char *arg)
{
	char *s = NULL;
	return asprintf(&s, "%s%s", prefix, arg) < 0 || strv_consume(notes, s) < 0;
}

/* "image: ID", "image name: N", "container: ID", "container name: N" in
 * the tree; "\timage: ID", "\t\tname: N", ... in the plain list. */
static int user_notes(char ***notes, const char *layer, bool plain)
{
	int bad = 0;
	size_t prev = SIZE_MAX;
	for (size_t u = first_use(image_users, n_image_users, layer);
	     u < n_image_users && strcmp(image_users[u].layer, layer) == 0; u++) {
		size_t i = image_users[u].idx;
		if (i == prev) /* its top layer and a mapped one */
			continue;
		prev = i;
		bad |= add_note(notes, plain ? "\timage: " : "image: ", cstor_image_id(images[i]));
		for (const char *const *n = cstor_image_names(images[i]); *n; n++)
			bad |= add_note(notes, plain ? "\t\tname: " : "image name: ", *n);
	}
	const cstor_container *c = container_of(layer);
	if (c) {
		bad |= add_note(notes, plain ? "\tcontainer: " : "container: ",
				cstor_container_id(c));
		for (const char *const *n = cstor_container_names(c); *n; n++)
			bad |= add_note(notes, plain ? "\t\tname: " : "container name: ", *n);
	}
	return bad;
}

static char **layer_notes(const cstor_layer *l)
{
	char **notes = NULL;
	int bad = 0;
	for (const char *const *nm = cstor_layer_names(l); *nm; nm++) {
		char *s = NULL;
		bad |= asprintf(&s, "name: %s", *nm) < 0 || strv_consume(&notes, s) < 0;
	}
	if (cstor_layer_mount_point(l)) {
		char *s = NULL;
		bad |= asprintf(&s, "mount: %s", cstor_layer_mount_point(l)) < 0 ||
		       strv_consume(&notes, s) < 0;
	}
	bad |= user_notes(&notes, cstor_layer_id(l), false);
	if (incomplete_note(l))
		bad |= strv_append(&notes, incomplete_note(l)) < 0;
	if (bad || (!notes && !(notes = calloc(1, sizeof(char *))))) {
		strv_free(notes);
		return NULL;
	}
	return notes;
}

/* The root with the fewest children among parents that are not layers
 * themselves; first seen wins ties (Go picks one at random). */
static const char *select_root(struct node *nodes, size_t n)
{
	const char *fav = NULL;
	size_t fav_children = 0;
	for (size_t i = 0; i < n; i++) {
		if (nodes[i].printed)
			continue;
		const char *left = nodes[i].left;
		bool is_child = false, seen = false;
		for (size_t j = 0; j < n && !is_child; j++)
			is_child = !nodes[j].printed && strcmp(nodes[j].right, left) == 0;
		for (size_t j = 0; j < i && !seen; j++)
			seen = !nodes[j].printed && strcmp(nodes[j].left, left) == 0;
		if (is_child || seen)
			continue;
		size_t c = 0;
		for (size_t j = 0; j < n; j++)
			c += !nodes[j].printed && strcmp(nodes[j].left, left) == 0;
		if (!fav || c < fav_children) {
			fav = left;
			fav_children = c;
		}
	}
	return fav;
}

static void print_subtree(const char *root, struct node *nodes, size_t n, int indent,
			  const int *continued, size_t ncont)
{
	size_t nchildren = 0;
	for (size_t i = 0; i < n; i++)
		nchildren += !nodes[i].printed && strcmp(nodes[i].left, root) == 0;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (nodes[i].printed || strcmp(nodes[i].left, root) != 0)
			continue;
		nodes[i].printed = true;
		/* Indentation: spaces with a vertical bar in each column whose
		 * subtree continues below. */
		char *ind = malloc((size_t)indent * 3 + 1);
		if (!ind)
			return;
		size_t p = 0;
		for (int col = 0; col < indent; col++) {
			bool bar = false;
			for (size_t c = 0; c < ncont && !bar; c++)
				bar = continued[c] == col;
			if (bar) {
				memcpy(ind + p, "\u2502", 3);
				p += 3;
			} else
				ind[p++] = ' ';
		}
		ind[p] = 0;
		bool last = ++k == nchildren;
		printf("%s%s\u2500%s\n", ind, last ? "\u2514" : "\u251c", nodes[i].right);
		const char *nh = last ? " " : "\u2502";
		for (char **note = nodes[i].notes; *note; note++)
			printf("%s%s %s\n", ind, nh, *note);
		int *sub = malloc((ncont + 1) * sizeof(int));
		if (!sub) {
			free(ind);
			return;
		}
		if (ncont)
			memcpy(sub, continued, ncont * sizeof(int));
		size_t nsub = ncont;
		if (!last)
			sub[nsub++] = indent;
		print_subtree(nodes[i].right, nodes, n, indent + 2, sub, nsub);
		free(sub);
		free(ind);
	}
}

static int run(cstor_store *store, int argc, char **argv)
{
	cstor_error err = CSTOR_ERROR_INIT;
	cstor_layer **layers = NULL;
	if (cstor_store_layers(&layers, store, &err) < 0) {
		cli_error("layers", &err);
		cstor_error_clear(&err);
		return EXIT_FAIL;
	}
	size_t n = 0;
	while (layers[n])
		n++;
	if (quiet && !json && !tree) {
		/* The newest containers-storage's layers -q: IDs only, one a
		 * line (nothing else to look up). */
		for (size_t i = 0; i < n; i++)
			printf("%s\n", cstor_layer_id(layers[i]));
		cstor_layer_list_free(layers);
		return EXIT_OK;
	}
	if (!json) {
		if (cstor_store_images(&images, store, &err) < 0)
			cstor_error_clear(&err);
		if (cstor_store_containers(&containers, store, &err) < 0)
			cstor_error_clear(&err);
		if (index_users() < 0) {
			fprintf(stderr, "%s: layers: out of memory\n", cli_program);
			free(image_users);
			free(container_users);
			cstor_image_list_free(images);
			cstor_container_list_free(containers);
			cstor_layer_list_free(layers);
			return EXIT_FAIL;
		}
	}
	if (json) {
		putchar('[');
		for (size_t i = 0; i < n; i++) {
			char *j = cstor_layer_to_json(layers[i]);
			printf("%s%s", i ? "," : "", j ? j : "null");
			free(j);
		}
		puts("]");
	} else if (tree) {
		struct node *nodes = calloc(n ? n : 1, sizeof(*nodes));
		bool oom = !nodes;
		for (size_t i = 0; i < n && !oom; i++) {
			const char *p = cstor_layer_parent(layers[i]);
			nodes[i].left = p ? p : "(base)";
			nodes[i].right = cstor_layer_id(layers[i]);
			nodes[i].notes = layer_notes(layers[i]);
			oom = !nodes[i].notes;
		}
		for (;;) {
			const char *root = oom ? NULL : select_root(nodes, n);
			if (!root)
				break;
			printf("%s\n", root);
			print_subtree(root, nodes, n, 0, NULL, 0);
		}
		/* Left over: layers whose parents form a cycle (a corrupt
		 * store), which no root reaches. Shown under a member of the
		 * cycle, rather than hidden. */
		for (size_t i = 0; !oom && i < n; i++) {
			if (nodes[i].printed)
				continue;
			printf("%s (the parents form a cycle)\n", nodes[i].left);
			print_subtree(nodes[i].left, nodes, n, 0, NULL, 0);
		}
		for (size_t i = 0; nodes && i < n; i++)
			strv_free(nodes[i].notes);
		free(nodes);
		if (oom) {
			fprintf(stderr, "%s: layers: out of memory\n", cli_program);
			cstor_layer_list_free(layers);
			return EXIT_FAIL;
		}
	} else {
		for (size_t i = 0; i < n; i++) {
			printf("%s\n", cstor_layer_id(layers[i]));
			for (const char *const *nm = cstor_layer_names(layers[i]); *nm; nm++)
				printf("\tname: %s\n", *nm);
			if (incomplete_note(layers[i]))
				printf("\t%s\n", incomplete_note(layers[i]));
			char **lines = NULL;
			if (user_notes(&lines, cstor_layer_id(layers[i]), true)) {
				fprintf(stderr, "%s: layers: out of memory\n", cli_program);
				strv_free(lines);
				cstor_layer_list_free(layers);
				return EXIT_FAIL;
			}
			for (size_t k = 0; lines && lines[k]; k++)
				printf("%s\n", lines[k]);
			strv_free(lines);
		}
	}
	free(image_users);
	free(container_users);
	image_users = container_users = NULL;
	n_image_users = n_container_users = 0;
	cstor_image_list_free(images);
	cstor_container_list_free(containers);
	images = NULL;
	containers = NULL;
	cstor_layer_list_free(layers);
	return EXIT_OK;
}

const struct cli_cmd cmd_layers = {
	.names = { "layers" },
	.usage = "List layers",
	.max_args = -1,
	.flags = flags,
	.examples = CLI_EXAMPLES("cstor layers", "cstor layers -t", "cstor layers --json"),
	.read_only = true,
	.run = run,
};
