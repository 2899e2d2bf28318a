/* SPDX-License-Identifier: Apache-2.0 */
/* wipe [--json]: delete every container, image and layer of the store. */
#include <cstor/layer.h>

#include "cli.h"

static bool json;

static const struct cli_flag flags[] = {
	CLI_JSON_FLAG(json),
	{ { NULL } },
};

static int wipe(cstor_store *store, int argc, char **argv)
{
	cstor_error err = CSTOR_ERROR_INIT;
	int r = cstor_store_wipe(store, &err);
	/* Go encodes "" on success and the error value on failure, which has
	 * no exported fields: {}. The message goes to stderr either way. */
	if (json)
		puts(r == 0 ? "\"\"" : "{}");
	if (r < 0)
		cli_error("wipe", &err);
	cstor_error_clear(&err);
	return r < 0 ? EXIT_FAIL : EXIT_OK;
}

const struct cli_cmd cmd_wipe = {
	.names = { "wipe" },
	.usage = "Wipe all layers, images, and containers",
	.max_args = -1,
	.flags = flags,
	.examples = CLI_EXAMPLES("cstor -g /tmp/scratch-store wipe", "cstor -g /tmp/scratch-store -R /tmp/scratch-run wipe --json"),
	.run = wipe,
};
