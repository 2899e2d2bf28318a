/* SPDX-License-Identifier: Apache-2.0 */
/* delete-layer and delete [--json] NameOrID [...] */
#include <stdlib.h>

#include <cstor/layer.h>

#include "cli.h"

static bool json;

static const struct cli_flag flags[] = {
	CLI_JSON_FLAG(json),
	{ { NULL } },
};

/* Delete each argument in order; report as Go does: a JSON map of argument
 * to error ("" for success), or "arg: error" lines on stderr. */
static int delete_each(cstor_store *store, int argc, char **argv, const char *what,
		       int (*del)(cstor_store *, const char *, cstor_error *))
{
	struct cli_argmap res;
	if (cli_argmap_init(&res, argc) < 0) {
		fprintf(stderr, "%s: %s: out of memory\n", cli_program, what);
		return EXIT_FAIL;
	}
	for (int i = 0; i < argc; i++) {
		cstor_error err = CSTOR_ERROR_INIT;
		if (del(store, argv[i], &err) < 0)
			cli_argmap_set(&res, argv[i], cstor_error_message(&err));
		else
			cli_argmap_set(&res, argv[i], "");
		cstor_error_clear(&err);
	}
	int rc = EXIT_OK;
	for (size_t i = 0; i < res.n; i++)
		if (res.vals[i][0])
			rc = EXIT_FAIL;
	if (json)
		cli_argmap_print_json(&res, false);
	else
		for (size_t i = 0; i < res.n; i++)
			if (res.vals[i][0])
				fprintf(stderr, "%s: %s\n", res.keys[i], res.vals[i]);
	cli_argmap_free(&res);
	return rc;
}

static int delete_layer(cstor_store *store, int argc, char **argv)
{
	return delete_each(store, argc, argv, "delete-layer", cstor_store_delete_layer);
}

static int delete_thing(cstor_store *store, int argc, char **argv)
{
	return delete_each(store, argc, argv, "delete", cli_object_delete);
}

const struct cli_cmd cmd_delete_layer = {
	.names = { "delete-layer", "deletelayer" },
	.args_help = "[LayerNameOrID [...]]",
	.usage = "Delete a layer, with safety checks",
	.min_args = 1,
	.max_args = -1,
	.flags = flags,
	.examples = CLI_EXAMPLES("cstor delete-layer mylayer", "cstor delete-layer --json top base"),
	.complete = CLI_OBJ_LAYER,
	.run = delete_layer,
};

const struct cli_cmd cmd_delete = {
	.names = { "delete" },
	.args_help = "[LayerOrImageOrContainerNameOrID [...]]",
	/* Go says "with no safety checks"; cstor keeps them (README). */
	.usage = "Delete a layer or image or container, with safety checks",
	.min_args = 1,
	.max_args = -1,
	.flags = flags,
	.examples = CLI_EXAMPLES("cstor delete web", "cstor delete --json myimage mylayer"),
	.complete = CLI_OBJ_LAYER | CLI_OBJ_IMAGE | CLI_OBJ_CONTAINER,
	.run = delete_thing,
};
