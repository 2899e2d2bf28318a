/* SPDX-License-Identifier: Apache-2.0 */
/* exists [-q] [-l] [-i] [-c] [--json] LayerOrImageOrContainerNameOrID [...] */
#include <stdlib.h>

#include "cli.h"

static bool json, quiet, layer, image, container;

static const struct cli_flag flags[] = {
	{ { "-quiet", "q" }, CLI_BOOL, &quiet, "Don't print names" },
	{ { "-layer", "l" }, CLI_BOOL, &layer, "Only succeed if the match is a layer" },
	{ { "-image", "i" }, CLI_BOOL, &image, "Only succeed if the match is an image" },
	{ { "-container", "c" }, CLI_BOOL, &container, "Only succeed if the match is a container" },
	CLI_JSON_FLAG(json),
	{ { NULL } },
};

static int run(cstor_store *store, int argc, char **argv)
{
	struct cli_argmap found;
	if (cli_argmap_init(&found, argc) < 0) {
		fprintf(stderr, "%s: exists: out of memory\n", cli_program);
		return EXIT_FAIL;
	}
	int rc = EXIT_OK;
	for (int i = 0; i < argc; i++) {
		cstor_error err = CSTOR_ERROR_INIT;
		unsigned kinds = 0;
		if (cli_object_kinds(&kinds, store, argv[i], &err) < 0) {
			cli_error("exists", &err);
			cstor_error_clear(&err);
			rc = EXIT_FAIL;
		}
		/* As in Go: the printed answer is whether anything has that
		 * name; -l/-i/-c only decide the exit code. */
		cli_argmap_set(&found, argv[i], kinds ? "true" : "false");
		bool ok = kinds != 0;
		if ((layer && !(kinds & CLI_OBJ_LAYER)) || (image && !(kinds & CLI_OBJ_IMAGE)) ||
		    (container && !(kinds & CLI_OBJ_CONTAINER)))
			ok = false;
		if (!ok)
			rc = EXIT_FAIL;
	}
	if (json)
		cli_argmap_print_json(&found, true);
	else if (!quiet)
		for (size_t i = 0; i < found.n; i++)
			printf("%s: %s\n", found.keys[i], found.vals[i]);
	cli_argmap_free(&found);
	return rc;
}

const struct cli_cmd cmd_exists = {
	.names = { "exists" },
	.args_help = "[LayerOrImageOrContainerNameOrID [...]]",
	.usage = "Check if a layer or image or container exists",
	.min_args = 1,
	.max_args = -1,
	.flags = flags,
	.examples = CLI_EXAMPLES("cstor exists busybox", "cstor exists -q -i busybox && echo an image", "cstor exists --json web mylayer"),
	.complete = CLI_OBJ_LAYER | CLI_OBJ_IMAGE | CLI_OBJ_CONTAINER,
	.read_only = true,
	.run = run,
};
