/* SPDX-License-Identifier: Apache-2.0 */
/* layers [-t] [--json] */
#include <stdlib.h>
#include <string.h>

#include <cstor/layer.h>

#include "cli.h"

static bool json, tree;

static const struct cli_flag flags[] = {
	CLI_JSON_FLAG(json),
	{ { "-tree", "t" }, CLI_BOOL, &tree, "Use a tree" },
	{ { NULL } },
};

struct node {
	const char *left, *right;
	const cstor_layer *layer;
	bool printed;
};

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
		for (const char *const *nm = cstor_layer_names(nodes[i].layer); *nm; nm++)
			printf("%s%s name: %s\n", ind, nh, *nm);
		int *sub = malloc((ncont + 1) * sizeof(int));
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
		for (size_t i = 0; i < n; i++) {
			const char *p = cstor_layer_parent(layers[i]);
			nodes[i].left = p ? p : "(base)";
			nodes[i].right = cstor_layer_id(layers[i]);
			nodes[i].layer = layers[i];
		}
		for (;;) {
			const char *root = select_root(nodes, n);
			if (!root)
				break;
			printf("%s\n", root);
			print_subtree(root, nodes, n, 0, NULL, 0);
		}
		free(nodes);
	} else {
		for (size_t i = 0; i < n; i++) {
			printf("%s\n", cstor_layer_id(layers[i]));
			for (const char *const *nm = cstor_layer_names(layers[i]); *nm; nm++)
				printf("\tname: %s\n", *nm);
		}
	}
	cstor_layer_list_free(layers);
	return EXIT_OK;
}

const struct cli_cmd cmd_layers = {
	.names = { "layers" },
	.usage = "List layers",
	.max_args = -1,
	.flags = flags,
	.run = run,
};
