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
	/* The Debian Go CLI prints nothing here; the newest prints the
	 * pairs of store.Version(), one "Key: value" line each, or their
	 * JSON. It writes the lines to stderr; cstor keeps them on stdout,
	 * where `v=$(cstor version)` finds them. */
	if (json)
		printf("[[\"Version\",\"%s\"]]\n", cstor_version());
	else
		printf("Version: %s\n", cstor_version());
	return EXIT_OK;
}

const struct cli_cmd cmd_version = {
	.names = { "version" },
	.usage = "Return cstor version information",
	.max_args = 0,
	.flags = flags,
	.no_store = true,
	.examples = CLI_EXAMPLES("cstor version", "cstor version --json"),
	.run = run,
};
