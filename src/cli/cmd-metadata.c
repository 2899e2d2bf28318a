/* SPDX-License-Identifier: Apache-2.0 */
/* metadata [-q] [--json] NameOrID [...]; set-metadata -m TEXT | -f FILE NameOrID */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static bool json, quiet;
static char *metadata_text, *metadata_file;

static const struct cli_flag get_flags[] = {
	{ { "-quiet", "q" }, CLI_BOOL, &quiet, "Omit names and IDs" },
	CLI_JSON_FLAG(json),
	{ { NULL } },
};

static const struct cli_flag set_flags[] = {
	{ { "-metadata", "m" }, CLI_STRING, &metadata_text, "Metadata" },
	{ { "-metadata-file", "f" }, CLI_STRING, &metadata_file, "Metadata File" },
	{ { NULL } },
};

static int metadata(cstor_store *store, int argc, char **argv)
{
	struct cli_argmap found;
	if (cli_argmap_init(&found, argc) < 0) {
		fprintf(stderr, "%s: metadata: out of memory\n", cli_program);
		return EXIT_FAIL;
	}
	int rc = EXIT_OK;
	for (int i = 0; i < argc; i++) {
		cstor_error err = CSTOR_ERROR_INIT;
		char *m = NULL;
		if (cli_object_metadata(&m, store, argv[i], &err) < 0) {
			/* Go prints "arg: " and exits 1; cstor also says why. */
			cli_error("metadata", &err);
			cstor_error_clear(&err);
			rc = EXIT_FAIL;
			continue;
		}
		size_t l = strlen(m);
		if (l && m[l - 1] == '\n')
			m[l - 1] = 0;
		cli_argmap_set(&found, argv[i], m);
		free(m);
	}
	if (json)
		cli_argmap_print_json(&found, false);
	else
		for (int i = 0; i < argc; i++) {
			const char *m = cli_argmap_get(&found, argv[i]);
			if (quiet)
				printf("%s\n", m ? m : "");
			else
				printf("%s: %s\n", argv[i], m ? m : "");
		}
	cli_argmap_free(&found);
	return rc;
}

static int set_metadata(cstor_store *store, int argc, char **argv)
{
	if ((!metadata_file || !metadata_file[0]) && (!metadata_text || !metadata_text[0])) {
		fprintf(stderr, "%s: set-metadata: no new metadata provided\n", cli_program);
		return EXIT_FAIL;
	}
	char *text = NULL;
	if (metadata_file && metadata_file[0]) {
		/* The file wins over -m, as in Go. */
		FILE *f = fopen(metadata_file, "rb");
		size_t len = 0;
		if (!f || cli_read_all(f, &text, &len) < 0) {
			fprintf(stderr, "%s: set-metadata: read %s: %s\n", cli_program, metadata_file,
				strerror(errno));
			if (f)
				fclose(f);
			return EXIT_FAIL;
		}
		fclose(f);
		if (strlen(text) != len) {
			fprintf(stderr, "%s: set-metadata: %s: metadata cannot contain NUL bytes\n",
				cli_program, metadata_file);
			free(text);
			return EXIT_FAIL;
		}
	}
	cstor_error err = CSTOR_ERROR_INIT;
	int rc = EXIT_OK;
	if (cli_object_set_metadata(store, argv[0], text ? text : metadata_text, &err) < 0) {
		cli_error("set-metadata", &err);
		cstor_error_clear(&err);
		rc = EXIT_FAIL;
	}
	free(text);
	return rc;
}

const struct cli_cmd cmd_metadata = {
	.names = { "metadata" },
	.args_help = "[LayerOrImageOrContainerNameOrID [...]]",
	.usage = "Retrieve layer, image, or container metadata",
	.min_args = 1,
	.max_args = -1,
	.flags = get_flags,
	.examples = CLI_EXAMPLES("cstor metadata busybox", "cstor metadata -q web"),
	.complete = CLI_OBJ_LAYER | CLI_OBJ_IMAGE | CLI_OBJ_CONTAINER,
	.read_only = true,
	.run = metadata,
};

const struct cli_cmd cmd_set_metadata = {
	.names = { "set-metadata", "setmetadata" },
	.args_help = "layerOrImageOrContainerNameOrID",
	.usage = "Set layer, image, or container metadata",
	.min_args = 1,
	.max_args = 1,
	.flags = set_flags,
	.examples = CLI_EXAMPLES("cstor set-metadata -m '{\"a\":1}' busybox", "cstor set-metadata -f meta.json web"),
	.complete = CLI_OBJ_LAYER | CLI_OBJ_IMAGE | CLI_OBJ_CONTAINER,
	.run = set_metadata,
};
