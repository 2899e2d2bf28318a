/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gc [-j]: remove what no record owns and the layers that an interrupted
 * import or image delete left unused (docs/check.md). Prints what went.
 */
#include <cstor/check.h>

#include "cli.h"

static bool json;

static const struct cli_flag flags[] = {
	CLI_JSON_FLAG(json),
	{ { NULL } },
};

static int gc(cstor_store *store, int argc, char **argv)
{
	cstor_error err = CSTOR_ERROR_INIT;
	char **removed = NULL;
	int r = cstor_store_gc(&removed, store, &err);
	if (json) {
		printf("[");
		for (size_t i = 0; removed && removed[i]; i++) {
			printf("%s", i ? "," : "");
			cli_json_string(stdout, removed[i]);
		}
		printf("]\n");
	} else {
		for (size_t i = 0; removed && removed[i]; i++)
			printf("%s\n", removed[i]);
	}
	if (r < 0)
		cli_error("gc", &err);
	cstor_strv_free(removed);
	cstor_error_clear(&err);
	return r < 0 ? EXIT_FAIL : EXIT_OK;
}

const struct cli_cmd cmd_gc = {
	.names = { "gc" },
	.usage = "Garbage collect leftovers of deleted objects and interrupted imports",
	.description = "Removes the layers an interrupted import or image delete left that nothing "
		       "uses, and the driver directories, data directories and temporary files that no "
		       "record owns. Prints what went, one line each. See docs/check.md.",
	.examples = CLI_EXAMPLES("cstor gc", "cstor gc --json"),
	.max_args = 0,
	.flags = flags,
	.run = gc,
};
