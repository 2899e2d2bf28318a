/* SPDX-License-Identifier: Apache-2.0 */
/* get-names, add-names, set-names, remove-names */
#include <stdlib.h>
#include <string.h>

#include <cstor/layer.h>

#include "cli.h"

static bool json;
static char **names;

static const struct cli_flag get_flags[] = {
	CLI_JSON_FLAG(json),
	{ { NULL } },
};

static const struct cli_flag set_flags[] = {
	CLI_JSON_FLAG(json),
	{ { "-name", "n" }, CLI_LIST, &names, "New name" },
	{ { NULL } },
};

static void print_names(const cstor_layer *l)
{
	const char *const *n = cstor_layer_names(l);
	if (json) {
		putchar('[');
		for (size_t i = 0; n[i]; i++) {
			if (i)
				putchar(',');
			cli_json_string(stdout, n[i]);
		}
		puts("]");
		return;
	}
	for (size_t i = 0; n[i]; i++)
		printf("%s\n", n[i]);
}

static int get_names(cstor_store *store, int argc, char **argv)
{
	cstor_error err = CSTOR_ERROR_INIT;
	cstor_layer *l = NULL;
	if (cstor_store_layer(&l, store, argv[0], &err) < 0) {
		cli_error("get-names", &err);
		cstor_error_clear(&err);
		return EXIT_FAIL;
	}
	print_names(l);
	cstor_layer_free(l);
	return EXIT_OK;
}

enum change { ADD, SET, REMOVE };

static int change(cstor_store *store, const char *what, char **argv, enum change how)
{
	cstor_error err = CSTOR_ERROR_INIT;
	const char *const *nv = (const char *const *)names;
	static const char *const none[] = { NULL };
	/* Resolve the argument to an ID first, as Go does: the change may
	 * take away the very name the layer was given by. */
	cstor_layer *l = NULL;
	if (cstor_store_layer(&l, store, argv[0], &err) < 0) {
		cli_error(what, &err);
		cstor_error_clear(&err);
		return EXIT_FAIL;
	}
	char *id = strdup(cstor_layer_id(l));
	cstor_layer_free(l);
	l = NULL;
	if (!id) {
		fprintf(stderr, "%s: %s: out of memory\n", cli_program, what);
		return EXIT_FAIL;
	}
	int r = how == ADD ? cstor_layer_add_names(store, id, nv ? nv : none, &err)
		: how == SET ? cstor_layer_set_names(store, id, nv ? nv : none, &err)
			     : cstor_layer_remove_names(store, id, nv ? nv : none, &err);
	if (r == 0 && json && (r = cstor_store_layer(&l, store, id, &err)) == 0) {
		print_names(l);
		cstor_layer_free(l);
	}
	free(id);
	if (r < 0) {
		cli_error(what, &err);
		cstor_error_clear(&err);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static int add_names(cstor_store *store, int argc, char **argv)
{
	return change(store, "add-names", argv, ADD);
}

static int set_names(cstor_store *store, int argc, char **argv)
{
	return change(store, "set-names", argv, SET);
}

static int remove_names(cstor_store *store, int argc, char **argv)
{
	return change(store, "remove-names", argv, REMOVE);
}

const struct cli_cmd cmd_get_names = {
	.names = { "get-names", "getnames" },
	.args_help = "[options [...]] imageOrContainerNameOrID",
	.usage = "Get layer, image, or container name or names",
	.min_args = 1,
	.max_args = 1,
	.flags = get_flags,
	.run = get_names,
};

const struct cli_cmd cmd_add_names = {
	.names = { "add-names", "addnames" },
	.args_help = "[options [...]] imageOrContainerNameOrID",
	.usage = "Add layer, image, or container name or names",
	.min_args = 1,
	.max_args = 1,
	.flags = set_flags,
	.run = add_names,
};

const struct cli_cmd cmd_set_names = {
	.names = { "set-names", "setnames" },
	.args_help = "[options [...]] imageOrContainerNameOrID",
	.usage = "Set layer, image, or container name or names",
	.min_args = 1,
	.max_args = 1,
	.flags = set_flags,
	.run = set_names,
};

/* The newest Go CLI's command (containers/storage 1.44+; not in 1.43). */
const struct cli_cmd cmd_remove_names = {
	.names = { "remove-names", "removenames" },
	.args_help = "[options [...]] imageOrContainerNameOrID",
	.usage = "Remove layer, image, or container name or names",
	.min_args = 1,
	.max_args = 1,
	.flags = set_flags,
	.run = remove_names,
};
