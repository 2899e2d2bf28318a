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
	cstor_error err = CSTOR_ERROR_INIT;
	char **pairs = NULL;
	if (cstor_store_status(&pairs, store, &err) < 0) {
		cli_error("status", &err);
		cstor_error_clear(&err);
		return EXIT_FAIL;
	}
	if (json) {
		/* Same shape as the Go CLI: [["key","value"],...] */
		putchar('[');
		for (size_t i = 0; pairs[i] && pairs[i + 1]; i += 2) {
			if (i)
				putchar(',');
			putchar('[');
			cli_json_string(stdout, pairs[i]);
			putchar(',');
			cli_json_string(stdout, pairs[i + 1]);
			putchar(']');
		}
		puts("]");
	} else {
		/* containers-storage prints this to stderr; it is the output
		 * the user asked for, so cstor prints it to stdout. */
		for (size_t i = 0; pairs[i] && pairs[i + 1]; i += 2)
			printf("%s: %s\n", pairs[i], pairs[i + 1]);
	}
	cstor_strv_free(pairs);
	return EXIT_OK;
}

const struct cli_cmd cmd_status = {
	.names = { "status" },
	.usage = "Check on graph driver status",
	.max_args = -1,
	.flags = flags,
	.examples = CLI_EXAMPLES("cstor status", "cstor status --json"),
	.run = run,
};
