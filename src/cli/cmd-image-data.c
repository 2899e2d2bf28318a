/* SPDX-License-Identifier: Apache-2.0 */
/* list-image-data, get-image-data, get-image-data-size,
 * get-image-data-digest, set-image-data: an image's named blobs. */
#include <stdlib.h>

#include <cstor/image.h>

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

static int list_image_data(cstor_store *store, int argc, char **argv)
{
	cstor_error err = CSTOR_ERROR_INIT;
	cstor_image *img = NULL;
	if (cstor_store_image(&img, store, argv[0], &err) < 0)
		return fail("list-image-data", &err);
	cli_print_name_list(cstor_image_big_data_names(img), json);
	cstor_image_free(img);
	return EXIT_OK;
}

static int get_image_data(cstor_store *store, int argc, char **argv)
{
	cstor_error err = CSTOR_ERROR_INIT;
	void *data = NULL;
	size_t len = 0;
	/* Read first: unlike Go, a missing item leaves no empty file behind. */
	if (cstor_image_get_big_data(&data, &len, store, argv[0], argv[1], &err) < 0)
		return fail("get-image-data", &err);
	int rc = cli_data_output("get-image-data", file, data, len);
	free(data);
	return rc;
}

static int get_image_data_size(cstor_store *store, int argc, char **argv)
{
	cstor_error err = CSTOR_ERROR_INIT;
	int64_t size = 0;
	if (cstor_image_big_data_size(&size, store, argv[0], argv[1], &err) < 0)
		return fail("get-image-data-size", &err);
	printf("%lld\n", (long long)size);
	return EXIT_OK;
}

static int get_image_data_digest(cstor_store *store, int argc, char **argv)
{
	cstor_error err = CSTOR_ERROR_INIT;
	char *d = NULL;
	if (cstor_image_big_data_digest(&d, store, argv[0], argv[1], &err) < 0)
		return fail("get-image-data-digest", &err);
	printf("%s\n", d);
	free(d);
	return EXIT_OK;
}

static int set_image_data(cstor_store *store, int argc, char **argv)
{
	char *data = NULL;
	size_t len = 0;
	if (cli_data_input("set-image-data", file, &data, &len) != 0)
		return EXIT_FAIL;
	cstor_error err = CSTOR_ERROR_INIT;
	/* As the Go CLI: a manifest's digest is the sha256 of its bytes. */
	int r = cstor_image_set_big_data(store, argv[0], argv[1], data, len, NULL, &err);
	free(data);
	return r < 0 ? fail("set-image-data", &err) : EXIT_OK;
}

const struct cli_cmd cmd_list_image_data = {
	.names = { "list-image-data", "listimagedata" },
	.args_help = "[options [...]] imageNameOrID",
	.usage = "List data items that are attached to an image",
	.min_args = 1,
	.max_args = 1,
	.flags = list_flags,
	.run = list_image_data,
};

const struct cli_cmd cmd_get_image_data = {
	.names = { "get-image-data", "getimagedata" },
	.args_help = "[options [...]] imageNameOrID dataName",
	.usage = "Get data that is attached to an image",
	.min_args = 2,
	.max_args = 2,
	.flags = get_flags,
	.run = get_image_data,
};

const struct cli_cmd cmd_get_image_data_size = {
	.names = { "get-image-data-size", "getimagedatasize" },
	.args_help = "[options [...]] imageNameOrID dataName",
	.usage = "Get size of data that is attached to an image",
	.min_args = 2,
	.max_args = 2,
	.run = get_image_data_size,
};

const struct cli_cmd cmd_get_image_data_digest = {
	.names = { "get-image-data-digest", "getimagedatadigest" },
	.args_help = "[options [...]] imageNameOrID dataName",
	.usage = "Get digest of data that is attached to an image",
	.min_args = 2,
	.max_args = 2,
	.run = get_image_data_digest,
};

const struct cli_cmd cmd_set_image_data = {
	.names = { "set-image-data", "setimagedata" },
	.args_help = "[options [...]] imageNameOrID dataName",
	.usage = "Set data that is attached to an image (with sometimes wrong digest)",
	.min_args = 2,
	.max_args = 2,
	.flags = set_flags,
	.run = set_image_data,
};
