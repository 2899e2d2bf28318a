/* SPDX-License-Identifier: Apache-2.0 */
/* shutdown [-f] [-j] */
#include <cstor/mount.h>

#include "cli.h"

static bool json, force;

static const struct cli_flag flags[] = {
	{ { "-force", "f" }, CLI_BOOL, &force, "Unmount mounted layers first" },
	CLI_JSON_FLAG(json),
	{ { NULL } },
};

static int run(cstor_store *store, int argc, char **argv)
{
	cstor_error err = CSTOR_ERROR_INIT;
	int r = cstor_store_shutdown(store, force, &err);
	if (json) {
		/* Go encodes "" on success and its error value otherwise. */
		cli_json_string(stdout, r < 0 ? cstor_error_message(&err) : "");
		putchar('\n');
	} else if (r < 0)
		fprintf(stderr, "shutdown: %s\n", cstor_error_message(&err));
	cstor_error_clear(&err);
	return r < 0 ? EXIT_FAIL : EXIT_OK;
}

const struct cli_cmd cmd_shutdown = {
	.names = { "shutdown" },
	.usage = "Shut down layer storage",
	.max_args = -1,
	.flags = flags,
	.examples = CLI_EXAMPLES("cstor shutdown", "cstor shutdown --force"),
	.run = run,
};
