/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config [FILE]: the store options storage.conf and the environment
 * resolve to, as JSON in the shape of containers-storage's `config`.
 */
#include <stdlib.h>

#include "cli.h"

static int run(cstor_store *store, int argc, char **argv)
{
	(void)store;
	cstor_store_options o = CSTOR_STORE_OPTIONS_INIT;
	/* As the Go CLI: what the configuration says, not the -g/-R/-s
	 * given to this command. */
	if (argc > 0)
		o.config_file = argv[0];
	cstor_error err = CSTOR_ERROR_INIT;
	char *json = NULL;
	if (cstor_store_options_json(&json, &o, &err) < 0) {
		cli_error("config", &err);
		cstor_error_clear(&err);
		return EXIT_FAIL;
	}
	fputs(json, stdout);
	free(json);
	return EXIT_OK;
}

const struct cli_cmd cmd_config = {
	.names = { "config" },
	.args_help = "[configurationFile]",
	.usage = "Print storage library configuration as JSON",
	.description = "Prints the store options that storage.conf (the default search, or FILE), "
		       "$STORAGE_DRIVER, $STORAGE_OPTS and $CONTAINERS_STORAGE_CONF resolve to, as one "
		       "line of JSON with containers-storage's keys (runroot, root, driver, "
		       "driver-options, PullOptions, ...). The global -g, -R, -s and --storage-opt "
		       "are not applied, as in containers-storage. With FILE, only FILE is read.",
	.examples = CLI_EXAMPLES("cstor config",
				 "cstor config /etc/containers/storage.conf\t# what this file says"),
	.max_args = 1,
	.no_store = true,
	.complete = CLI_ARG_FILE,
	.run = run,
};
