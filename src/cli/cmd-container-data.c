/* SPDX-License-Identifier: Apache-2.0 */
/* list-container-data, get-container-data, get-container-data-size,
 * get-container-data-digest, set-container-data: a container's named blobs
 * (data.c). */
#include <errno.h>

#include <cstor/container.h>

#include "cli.h"
#include "util/strv.h"

static int names(char ***out, cstor_store *store, const char *ref, cstor_error *err)
{
	cstor_container *c = NULL;
	int r = cstor_store_container(&c, store, ref, err);
	if (r < 0)
		return r;
	*out = strv_copy((char *const *)cstor_container_big_data_names(c));
	cstor_container_free(c);
	if (*out)
		return 0;
	err->code = ENOMEM; /* strerror() gives the message */
	return -ENOMEM;
}

static const struct cli_data_kind kind = {
	"container", names, cstor_container_get_big_data, cstor_container_big_data_size,
	cstor_container_big_data_digest, cstor_container_set_big_data,
};

static int list(cstor_store *store, int argc, char **argv)
{
	return cli_data_list(&kind, store, argv);
}

static int get(cstor_store *store, int argc, char **argv)
{
	return cli_data_get(&kind, store, argv);
}

static int size(cstor_store *store, int argc, char **argv)
{
	return cli_data_size(&kind, store, argv);
}

static int digest(cstor_store *store, int argc, char **argv)
{
	return cli_data_digest(&kind, store, argv);
}

static int put(cstor_store *store, int argc, char **argv)
{
	return cli_data_set(&kind, store, argv);
}

const struct cli_cmd cmd_list_container_data = {
	.names = { "list-container-data", "listcontainerdata" },
	.args_help = "containerNameOrID",
	.usage = "List data items that are attached to an container",
	.min_args = 1,
	.max_args = 1,
	.flags = cli_data_list_flags,
	.examples = CLI_EXAMPLES("cstor list-container-data web", "cstor list-container-data --json web"),
	.complete = CLI_OBJ_CONTAINER,
	.read_only = true,
	.run = list,
};

const struct cli_cmd cmd_get_container_data = {
	.names = { "get-container-data", "getcontainerdata" },
	.args_help = "containerNameOrID dataName",
	.usage = "Get data that is attached to an container",
	.min_args = 2,
	.max_args = 2,
	.flags = cli_data_get_flags,
	.examples = CLI_EXAMPLES("cstor get-container-data web config.json", "cstor get-container-data -f out.json web config.json"),
	.complete = CLI_OBJ_CONTAINER,
	.read_only = true,
	.run = get,
};

const struct cli_cmd cmd_get_container_data_size = {
	.names = { "get-container-data-size", "getcontainerdatasize" },
	.args_help = "containerNameOrID dataName",
	.usage = "Get size of data that is attached to an container",
	.min_args = 2,
	.max_args = 2,
	.examples = CLI_EXAMPLES("cstor get-container-data-size web config.json", "cstor get-container-data-size 3f2a1c config.json   # by ID prefix"),
	.complete = CLI_OBJ_CONTAINER,
	.read_only = true,
	.run = size,
};

const struct cli_cmd cmd_get_container_data_digest = {
	.names = { "get-container-data-digest", "getcontainerdatadigest" },
	.args_help = "containerNameOrID dataName",
	.usage = "Get digest of data that is attached to an container",
	.min_args = 2,
	.max_args = 2,
	.examples = CLI_EXAMPLES("cstor get-container-data-digest web config.json", "cstor get-container-data-digest 3f2a1c config.json   # by ID prefix"),
	.complete = CLI_OBJ_CONTAINER,
	.read_only = true,
	.run = digest,
};

const struct cli_cmd cmd_set_container_data = {
	.names = { "set-container-data", "setcontainerdata" },
	.args_help = "containerNameOrID dataName",
	.usage = "Set data that is attached to an container",
	.min_args = 2,
	.max_args = 2,
	.flags = cli_data_set_flags,
	.examples = CLI_EXAMPLES("cstor set-container-data -f config.json web config.json", "echo hi | cstor set-container-data web note"),
	.complete = CLI_OBJ_CONTAINER,
	.run = put,
};
