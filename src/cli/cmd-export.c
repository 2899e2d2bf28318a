/* SPDX-License-Identifier: Apache-2.0 */
#include "cli.h"

static int run(cstor_store *store, int argc, char **argv)
{
	(void)store, (void)argc, (void)argv;
	fprintf(stderr, "%s: export: not implemented yet\n", cli_program);
	return EXIT_FAIL;
}

const struct cli_cmd cmd_export = {
	.names = { "export" },
	.args_help = "",
	.usage = "export (not implemented yet)",
	.min_args = 0,
	.max_args = -1,
	.run = run,
};
