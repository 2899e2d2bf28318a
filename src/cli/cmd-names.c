/* SPDX-License-Identifier: Apache-2.0 */
/* get-names, add-names, set-names */
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

static int change(cstor_store *store, const char *what, char **argv, bool add)
{
	cstor_error err = CSTOR_ERROR_INIT;
	const char *const *nv = (const char *const *)names;
	static const char *const none[] = { NULL };
	int r = add ? cstor_layer_add_names(store, argv[0], nv ? nv : none, &err)
		    : cstor_layer_set_names(store, argv[0], nv ? nv : none, &err);
	if (r < 0) {
		cli_error(what, &err);
		cstor_error_clear(&err);
		return EXIT_FAIL;
	}
	if (json) {
		cstor_layer *l = NULL;
		if (cstor_store_layer(&l, store, argv[0], &err) == 0) {
			print_names(l);
			cstor_layer_free(l);
		}
		cstor_error_clear(&err);
	}
	return EXIT_OK;
}

static int add_names(cstor_store *store, int argc, char **argv)
{
	return change(store, "add-names", argv, true);
}

static int set_names(cstor_store *store, int argc, char **argv)
{
	return change(store, "set-names", argv, false);
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
