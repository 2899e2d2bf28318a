/* SPDX-License-Identifier: Apache-2.0 */
/* list-image-data, get-image-data, get-image-data-size,
 * get-image-data-digest, set-image-data: an image's named blobs (data.c). */
#include <errno.h>

#include <cstor/image.h>

#include "cli.h"
#include "util/strv.h"

static int names(char ***out, cstor_store *store, const char *ref, cstor_error *err)
{
	cstor_image *img = NULL;
	int r = cstor_store_image(&img, store, ref, err);
	if (r < 0)
		return r;
	*out = strv_copy((char *const *)cstor_image_big_data_names(img));
	cstor_image_free(img);
	if (*out)
		return 0;
	err->code = ENOMEM; /* strerror() gives the message */
	return -ENOMEM;
}

static int set(cstor_store *store, const char *ref, const char *key, const void *data,
	       size_t len, cstor_error *err)
{
	/* As the Go CLI: a manifest's digest is the sha256 of its bytes. */
	return cstor_image_set_big_data(store, ref, key, data, len, NULL, err);
}

static const struct cli_data_kind kind = {
	"image", names, cstor_image_get_big_data, cstor_image_big_data_size,
	cstor_image_big_data_digest, set,
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

const struct cli_cmd cmd_list_image_data = {
	.names = { "list-image-data", "listimagedata" },
	.args_help = "imageNameOrID",
	.usage = "List data items that are attached to an image",
	.min_args = 1,
	.max_args = 1,
	.flags = cli_data_list_flags,
	.examples = CLI_EXAMPLES("cstor list-image-data busybox", "cstor list-image-data --json busybox"),
	.complete = CLI_OBJ_IMAGE,
	.read_only = true,
	.run = list,
};

const struct cli_cmd cmd_get_image_data = {
	.names = { "get-image-data", "getimagedata" },
	.args_help = "imageNameOrID dataName",
	.usage = "Get data that is attached to an image",
	.min_args = 2,
	.max_args = 2,
	.flags = cli_data_get_flags,
	.examples = CLI_EXAMPLES("cstor get-image-data busybox manifest", "cstor get-image-data -f manifest.json busybox manifest"),
	.complete = CLI_OBJ_IMAGE,
	.read_only = true,
	.run = get,
};

const struct cli_cmd cmd_get_image_data_size = {
	.names = { "get-image-data-size", "getimagedatasize" },
	.args_help = "imageNameOrID dataName",
	.usage = "Get size of data that is attached to an image",
	.min_args = 2,
	.max_args = 2,
	.examples = CLI_EXAMPLES("cstor get-image-data-size busybox manifest", "cstor get-image-data-size docker.io/library/busybox manifest"),
	.complete = CLI_OBJ_IMAGE,
	.read_only = true,
	.run = size,
};

const struct cli_cmd cmd_get_image_data_digest = {
	.names = { "get-image-data-digest", "getimagedatadigest" },
	.args_help = "imageNameOrID dataName",
	.usage = "Get digest of data that is attached to an image",
	.min_args = 2,
	.max_args = 2,
	.examples = CLI_EXAMPLES("cstor get-image-data-digest busybox manifest", "cstor get-image-data-digest busybox:latest sha256:0123..."),
	.complete = CLI_OBJ_IMAGE,
	.read_only = true,
	.run = digest,
};

const struct cli_cmd cmd_set_image_data = {
	.names = { "set-image-data", "setimagedata" },
	.args_help = "imageNameOrID dataName",
	.usage = "Set data that is attached to an image (with sometimes wrong digest)",
	.min_args = 2,
	.max_args = 2,
	.flags = cli_data_set_flags,
	.examples = CLI_EXAMPLES("cstor set-image-data -f notes.txt busybox notes", "echo note | cstor set-image-data busybox notes"),
	.complete = CLI_OBJ_IMAGE,
	.run = put,
};
