/* SPDX-License-Identifier: Apache-2.0 */
#include "cli.h"

static int run(cstor_store *store, int argc, char **argv)
{
	(void)store, (void)argc, (void)argv;
	fprintf(stderr, "%s: import: not implemented yet\n", cli_program);
	return EXIT_FAIL;
}

const struct cli_cmd cmd_import = {
	.names = { "import" },
	.args_help = "",
	.usage = "import (not implemented yet)",
	.min_args = 0,
	.max_args = -1,
	.run = run,
};
