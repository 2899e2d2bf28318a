/* SPDX-License-Identifier: Apache-2.0 */
/* list-layer-data, get-layer-data, set-layer-data: a layer's named blobs
 * (data.c). */
#include <errno.h>

#include <cstor/layer.h>

#include "cli.h"
#include "util/strv.h"

static int names(char ***out, cstor_store *store, const char *ref, cstor_error *err)
{
	cstor_layer *l = NULL;
	int r = cstor_store_layer(&l, store, ref, err);
	if (r < 0)
		return r;
	*out = strv_copy((char *const *)cstor_layer_big_data_names(l));
	cstor_layer_free(l);
	if (*out)
		return 0;
	err->code = ENOMEM; /* strerror() gives the message */
	return -ENOMEM;
}

/* No size or digest commands for layers (the Go CLI has none). */
static const struct cli_data_kind kind = {
	"layer", names, cstor_layer_get_big_data, NULL, NULL, cstor_layer_set_big_data,
};

static int list(cstor_store *store, int argc, char **argv)
{
	return cli_data_list(&kind, store, argv);
}

static int get(cstor_store *store, int argc, char **argv)
{
	return cli_data_get(&kind, store, argv);
}

static int put(cstor_store *store, int argc, char **argv)
{
	return cli_data_set(&kind, store, argv);
}

const struct cli_cmd cmd_list_layer_data = {
	.names = { "list-layer-data", "listlayerdata" },
	.args_help = "layerNameOrID",
	.usage = "List data items that are attached to a layer",
	.min_args = 1,
	.max_args = 1,
	.flags = cli_data_list_flags,
	.examples = CLI_EXAMPLES("cstor list-layer-data mylayer", "cstor list-layer-data --json mylayer"),
	.complete = CLI_OBJ_LAYER,
	.read_only = true,
	.run = list,
};

const struct cli_cmd cmd_get_layer_data = {
	.names = { "get-layer-data", "getlayerdata" },
	.args_help = "layerID dataName",
	.usage = "Get data that is attached to a layer",
	.min_args = 2,
	.max_args = 2,
	.flags = cli_data_get_flags,
	.examples = CLI_EXAMPLES("cstor get-layer-data mylayer notes", "cstor get-layer-data -f notes.txt mylayer notes"),
	.complete = CLI_OBJ_LAYER,
	.read_only = true,
	.run = get,
};

const struct cli_cmd cmd_set_layer_data = {
	.names = { "set-layer-data", "setlayerdata" },
	.args_help = "layerID dataName",
	.usage = "Set data that is attached to a layer",
	.min_args = 2,
	.max_args = 2,
	.flags = cli_data_set_flags,
	.examples = CLI_EXAMPLES("cstor set-layer-data -f notes.txt mylayer notes", "echo note | cstor set-layer-data mylayer notes"),
	.complete = CLI_OBJ_LAYER,
	.run = put,
};
