/* SPDX-License-Identifier: Apache-2.0 */
/* list-layer-data, get-layer-data, set-layer-data: a layer's named blobs. */
#include <stdlib.h>

#include <cstor/layer.h>

#include "cli.h"

static bool json;
static char *file;

static const struct cli_flag list_flags[] = {
	CLI_JSON_FLAG(json),
	{ { NULL } },
};

static const struct cli_flag get_flags[] = {
	{ { "-file", "f" }, CLI_STRING, &file, "Write data to file" },
	{ { NULL } },
};

static const struct cli_flag set_flags[] = {
	{ { "-file", "f" }, CLI_STRING, &file, "Read data from file" },
	{ { NULL } },
};

static int fail(const char *what, cstor_error *err)
{
	cli_error(what, err);
	cstor_error_clear(err);
	return EXIT_FAIL;
}

static int list_layer_data(cstor_store *store, int argc, char **argv)
{
	cstor_error err = CSTOR_ERROR_INIT;
	cstor_layer *l = NULL;
	if (cstor_store_layer(&l, store, argv[0], &err) < 0)
		return fail("list-layer-data", &err);
	cli_print_name_list(cstor_layer_big_data_names(l), json);
	cstor_layer_free(l);
	return EXIT_OK;
}

static int get_layer_data(cstor_store *store, int argc, char **argv)
{
	cstor_error err = CSTOR_ERROR_INIT;
	void *data = NULL;
	size_t len = 0;
	/* Read first: unlike Go, a missing item leaves no empty file behind. */
	if (cstor_layer_get_big_data(&data, &len, store, argv[0], argv[1], &err) < 0)
		return fail("get-layer-data", &err);
	int rc = cli_data_output("get-layer-data", file, data, len);
	free(data);
	return rc;
}

static int set_layer_data(cstor_store *store, int argc, char **argv)
{
	char *data = NULL;
	size_t len = 0;
	if (cli_data_input("set-layer-data", file, &data, &len) != 0)
		return EXIT_FAIL;
	cstor_error err = CSTOR_ERROR_INIT;
	int r = cstor_layer_set_big_data(store, argv[0], argv[1], data, len, &err);
	free(data);
	return r < 0 ? fail("set-layer-data", &err) : EXIT_OK;
}

const struct cli_cmd cmd_list_layer_data = {
	.names = { "list-layer-data", "listlayerdata" },
	.args_help = "[options [...]] layerNameOrID",
	.usage = "List data items that are attached to a layer",
	.min_args = 1,
	.max_args = 1,
	.flags = list_flags,
	.run = list_layer_data,
};

const struct cli_cmd cmd_get_layer_data = {
	.names = { "get-layer-data", "getlayerdata" },
	.args_help = "[options [...]] layerID dataName",
	.usage = "Get data that is attached to a layer",
	.min_args = 2,
	.max_args = 2,
	.flags = get_flags,
	.run = get_layer_data,
};

const struct cli_cmd cmd_set_layer_data = {
	.names = { "set-layer-data", "setlayerdata" },
	.args_help = "[options [...]] layerID dataName",
	.usage = "Set data that is attached to a layer",
	.min_args = 2,
	.max_args = 2,
	.flags = set_flags,
	.run = set_layer_data,
};
