/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage-layers, create-storage-layer [parent]: the storage driver's own
 * layers, with or without records, as the newest containers-storage has
 * them (its tests make unaccounted layers this way for `check`).
 */
#include <stdlib.h>

#include <cstor/layer.h>

#include "cli.h"

static bool json;
static char *id;

static const struct cli_flag list_flags[] = {
	CLI_JSON_FLAG(json),
	{ { NULL } },
};

static const struct cli_flag create_flags[] = {
	{ { "-id", "i" }, CLI_STRING, &id, "Layer ID (default: a random one)", NULL, "ID" },
	{ { NULL } },
};

static int list(cstor_store *store, int argc, char **argv)
{
	cstor_error err = CSTOR_ERROR_INIT;
	char **ids = NULL;
	if (cstor_store_driver_layers(&ids, store, &err) < 0) {
		cli_error("storage-layers", &err);
		cstor_error_clear(&err);
		return EXIT_FAIL;
	}
	if (json) {
		putchar('[');
		for (size_t i = 0; ids[i]; i++) {
			printf("%s", i ? "," : "");
			cli_json_string(stdout, ids[i]);
		}
		puts("]");
	} else {
		for (size_t i = 0; ids[i]; i++)
			printf("%s\n", ids[i]);
	}
	cstor_strv_free(ids);
	return EXIT_OK;
}

static int create(cstor_store *store, int argc, char **argv)
{
	cstor_error err = CSTOR_ERROR_INIT;
	char *made = NULL;
	if (cstor_store_create_driver_layer(&made, store, id, argc > 0 ? argv[0] : NULL, &err) < 0) {
		cli_error("create-storage-layer", &err);
		cstor_error_clear(&err);
		return EXIT_FAIL;
	}
	printf("%s\n", made);
	free(made);
	return EXIT_OK;
}

const struct cli_cmd cmd_storage_layers = {
	.names = { "storage-layers" },
	.usage = "List layers in the storage driver",
	.description = "Lists the layer directories the storage driver has, whether or not a "
		       "layer record owns them (`check` reports those no record owns).",
	.max_args = 0,
	.flags = list_flags,
	.read_only = true,
	.examples = CLI_EXAMPLES("cstor storage-layers", "cstor storage-layers --json"),
	.run = list,
};

const struct cli_cmd cmd_create_storage_layer = {
	.names = { "create-storage-layer" },
	.args_help = "[parentStorageLayerID]",
	.usage = "Create a layer in the storage driver, without a record",
	.description = "Makes a layer directory in the storage driver and no layer record: what "
		       "a crash between the two leaves, and what `check -r` and `gc` remove. For "
		       "tests.",
	.max_args = 1,
	.flags = create_flags,
	.examples = CLI_EXAMPLES("cstor create-storage-layer",
				 "cstor create-storage-layer -i 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
	.run = create,
};
