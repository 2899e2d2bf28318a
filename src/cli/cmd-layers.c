/* SPDX-License-Identifier: Apache-2.0 */
/* layers [-t] [--json] */
#include <stdlib.h>
#include <string.h>

#include <cstor/container.h>
#include <cstor/image.h>
#include <cstor/layer.h>

#include "cli.h"
#include "util/cleanup.h"
#include "util/strv.h"

static bool json, tree;
/* Who uses the layers (Go ignores errors reading them). */
static cstor_image **images;
static cstor_container **containers;

static const struct cli_flag flags[] = {
	CLI_JSON_FLAG(json),
	{ { "-tree", "t" }, CLI_BOOL, &tree, "Use a tree" },
	{ { NULL } },
};

struct node {
	const char *left, *right;
	char **notes; /* "name: N", "mount: P", ... in Go's order */
	bool printed;
};

/* cstor's note for an incomplete layer, by the reason: an interrupted
 * apply (Go deletes such layers when it next writes the store; cstor keeps
 * them until the apply is redone or the layer deleted), or a create, delete
 * or import whose process died (the next writer removes the layer). */
static const char *incomplete_note(const cstor_layer *l)
{
	switch (cstor_layer_incomplete(l)) {
	case 0:
		return NULL;
	case CSTOR_LAYER_INCOMPLETE_REMOVING:
		return "incomplete: a create or delete was interrupted; "
		       "the next change to the store removes it";
	case CSTOR_LAYER_INCOMPLETE_CREATING:
		return "incomplete: being imported, or the import was interrupted "
		       "and the next change to the store removes it";
	default:
		return "incomplete: an apply was interrupted; apply again or delete";
	}
}

static bool image_uses(const cstor_image *img, const char *layer)
{
	const char *top = cstor_image_top_layer(img);
	if (top && strcmp(top, layer) == 0)
		return true;
	for (const char *const *m = cstor_image_mapped_top_layers(img); *m; m++)
		if (strcmp(*m, layer) == 0)
			return true;
	return false;
}

/* The container whose layer it is (the last one, as Go's map keeps it). */
static const cstor_container *container_of(const char *layer)
{
	const cstor_container *c = NULL;
	for (size_t i = 0; containers && containers[i]; i++)
		if (strcmp(cstor_container_layer(containers[i]), layer) == 0)
			c = containers[i];
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
	for (size_t i = 0; images && images[i]; i++) {
		if (!image_uses(images[i], layer))
			continue;
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
	if (!json) {
		if (cstor_store_images(&images, store, &err) < 0)
			cstor_error_clear(&err);
		if (cstor_store_containers(&containers, store, &err) < 0)
			cstor_error_clear(&err);
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
