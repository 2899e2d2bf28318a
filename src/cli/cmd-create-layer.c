/* SPDX-License-Identifier: Apache-2.0 */
/* create-layer [options] [parent] */
#include <stdlib.h>

#include <cstor/layer.h>

#include "cli.h"

static bool json, readonly;
static char *id, *label;
static char **names;
static struct cli_idmap_args idmap;

static const struct cli_flag flags[] = {
	CLI_JSON_FLAG(json),
	{ { "-id", "i" }, CLI_STRING, &id, "Layer ID" },
	{ { "-name", "n" }, CLI_LIST, &names, "Layer name" },
	{ { "-label", "l" }, CLI_STRING, &label, "Mount Label" },
	{ { "-readonly", "r" }, CLI_BOOL, &readonly, "Mark as read-only" },
	CLI_IDMAP_FLAGS(idmap),
	{ { NULL } },
};

int cli_print_new_layer(const cstor_layer *layer, bool as_json)
{
	if (as_json) {
		char *j = cstor_layer_to_json(layer);
		printf("%s\n", j ? j : "null");
		free(j);
		return EXIT_OK;
	}
	printf("%s\n", cstor_layer_id(layer));
	for (const char *const *n = cstor_layer_names(layer); *n; n++)
		printf("\t%s\n", *n);
	return EXIT_OK;
}

static int run(cstor_store *store, int argc, char **argv)
{
	struct cli_idmaps maps;
	if (cli_idmaps_from_args(&maps, &idmap, "create-layer") < 0)
		return EXIT_FAIL;
	cstor_layer_options o = CSTOR_LAYER_OPTIONS_INIT;
	o.uidmap = maps.uids, o.n_uidmap = maps.n_uids;
	o.gidmap = maps.gids, o.n_gidmap = maps.n_gids;
	o.host_uidmap = idmap.host_uid, o.host_gidmap = idmap.host_gid;
	o.id = id;
	o.parent = argc > 0 ? argv[0] : NULL;
	o.names = (const char *const *)names;
	o.mount_label = label;
	o.writeable = !readonly;
	cstor_error err = CSTOR_ERROR_INIT;
	cstor_layer *layer = NULL;
	int r = cstor_store_create_layer(&layer, store, &o, &err);
	cli_idmaps_free(&maps);
	if (r < 0) {
		cli_error("create-layer", &err);
		cstor_error_clear(&err);
		return EXIT_FAIL;
	}
	int rc = cli_print_new_layer(layer, json);
	cstor_layer_free(layer);
	return rc;
}

const struct cli_cmd cmd_create_layer = {
	.names = { "create-layer", "createlayer" },
	.args_help = "[parentLayerNameOrID]",
	.usage = "Create a new layer",
	.max_args = 1,
	.flags = flags,
	.examples = CLI_EXAMPLES("cstor create-layer -n base", "cstor create-layer -n top base", "cstor create-layer --json --readonly base", "cstor create-layer --uidmap 0:100000:65536 --gidmap 0:100000:65536 -n mapped"),
	.complete = CLI_OBJ_LAYER,
	.run = run,
};
