/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include "cli.h"

static bool json;

static const struct cli_flag flags[] = {
	CLI_JSON_FLAG(json),
	{ { NULL } },
};

static int run(cstor_store *store, int argc, char **argv)
{
	/* The Debian Go CLI prints nothing here; newer ones print
	 * "Version: X" pairs, which is what we follow. */
	if (json)
		printf("[[\"Version\",\"%s\"]]\n", cstor_version());
	else
		printf("Version: %s\n", cstor_version());
	return EXIT_OK;
}

const struct cli_cmd cmd_version = {
	.names = { "version" },
	.usage = "Return cstor version information",
	.max_args = -1,
	.flags = flags,
	.no_store = true,
	.examples = CLI_EXAMPLES("cstor version", "cstor version --json"),
	.run = run,
};
