/* SPDX-License-Identifier: Apache-2.0 */
/* list-container-data, get-container-data, get-container-data-size,
 * get-container-data-digest, set-container-data: a container's named blobs. */
#include <stdlib.h>

#include <cstor/container.h>

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

static int list_container_data(cstor_store *store, int argc, char **argv)
{
	cstor_error err = CSTOR_ERROR_INIT;
	cstor_container *c = NULL;
	if (cstor_store_container(&c, store, argv[0], &err) < 0)
		return fail("list-container-data", &err);
	cli_print_name_list(cstor_container_big_data_names(c), json);
	cstor_container_free(c);
	return EXIT_OK;
}

static int get_container_data(cstor_store *store, int argc, char **argv)
{
	cstor_error err = CSTOR_ERROR_INIT;
	void *data = NULL;
	size_t len = 0;
	/* Read first: unlike Go, a missing item leaves no empty file behind. */
	if (cstor_container_get_big_data(&data, &len, store, argv[0], argv[1], &err) < 0)
		return fail("get-container-data", &err);
	int rc = cli_data_output("get-container-data", file, data, len);
	free(data);
	return rc;
}

static int get_container_data_size(cstor_store *store, int argc, char **argv)
{
	cstor_error err = CSTOR_ERROR_INIT;
	int64_t size = 0;
	if (cstor_container_big_data_size(&size, store, argv[0], argv[1], &err) < 0)
		return fail("get-container-data-size", &err);
	printf("%lld\n", (long long)size);
	return EXIT_OK;
}

static int get_container_data_digest(cstor_store *store, int argc, char **argv)
{
	cstor_error err = CSTOR_ERROR_INIT;
	char *d = NULL;
	if (cstor_container_big_data_digest(&d, store, argv[0], argv[1], &err) < 0)
		return fail("get-container-data-digest", &err);
	printf("%s\n", d);
	free(d);
	return EXIT_OK;
}

static int set_container_data(cstor_store *store, int argc, char **argv)
{
	char *data = NULL;
	size_t len = 0;
	if (cli_data_input("set-container-data", file, &data, &len) != 0)
		return EXIT_FAIL;
	cstor_error err = CSTOR_ERROR_INIT;
	int r = cstor_container_set_big_data(store, argv[0], argv[1], data, len, &err);
	free(data);
	return r < 0 ? fail("set-container-data", &err) : EXIT_OK;
}

const struct cli_cmd cmd_list_container_data = {
	.names = { "list-container-data", "listcontainerdata" },
	.args_help = "[options [...]] containerNameOrID",
	.usage = "List data items that are attached to an container",
	.min_args = 1,
	.max_args = 1,
	.flags = list_flags,
	.run = list_container_data,
};

const struct cli_cmd cmd_get_container_data = {
	.names = { "get-container-data", "getcontainerdata" },
	.args_help = "[options [...]] containerNameOrID dataName",
	.usage = "Get data that is attached to an container",
	.min_args = 2,
	.max_args = 2,
	.flags = get_flags,
	.run = get_container_data,
};

const struct cli_cmd cmd_get_container_data_size = {
	.names = { "get-container-data-size", "getcontainerdatasize" },
	.args_help = "[options [...]] containerNameOrID dataName",
	.usage = "Get size of data that is attached to an container",
	.min_args = 2,
	.max_args = 2,
	.run = get_container_data_size,
};

const struct cli_cmd cmd_get_container_data_digest = {
	.names = { "get-container-data-digest", "getcontainerdatadigest" },
	.args_help = "[options [...]] containerNameOrID dataName",
	.usage = "Get digest of data that is attached to an container",
	.min_args = 2,
	.max_args = 2,
	.run = get_container_data_digest,
};

const struct cli_cmd cmd_set_container_data = {
	.names = { "set-container-data", "setcontainerdata" },
	.args_help = "[options [...]] containerNameOrID dataName",
	.usage = "Set data that is attached to an container",
	.min_args = 2,
	.max_args = 2,
	.flags = set_flags,
	.run = set_container_data,
};
