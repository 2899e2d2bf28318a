/* SPDX-License-Identifier: Apache-2.0 */
/* export: an image to an OCI layout, oci-archive, docker-archive or dir:. */
#include <stdlib.h>

#include <cstor/image.h>
#include <cstor/transfer.h>

#include "cli.h"

static bool quiet, json;

static const struct cli_flag export_flags[] = {
	{ { "-quiet", "q" }, CLI_BOOL, &quiet, "Do not show progress" },
	CLI_JSON_FLAG(json),
	{ { NULL } },
};

static int run(cstor_store *store, int argc, char **argv)
{
	(void)argc;
	struct cli_progress p;
	cli_progress_init(&p, "Exporting", quiet);
	cstor_export_options opts = CSTOR_EXPORT_OPTIONS_INIT;
	opts.progress = cli_progress_cb;
	opts.progress_ctx = &p;
	cstor_export_result res = { 0 };
	cstor_error err = CSTOR_ERROR_INIT;
	int r = cstor_store_export_image(&res, store, argv[0], argv[1], &opts, &err);
	cli_progress_end(&p, false);
	if (r < 0) {
		cli_error("export", &err);
		cstor_error_clear(&err);
		cli_progress_free(&p);
		return EXIT_FAIL;
	}
	if (json) {
		/* {"image", "destination", "manifest_digest", "manifest_rewritten",
		 * "layers": [{"digest", "size", "reused"}]} */
		cstor_image *img = NULL;
		const char *id = argv[0];
		if (cstor_store_image(&img, store, argv[0], &err) == 0)
			id = cstor_image_id(img);
		cstor_error_clear(&err);
		printf("{\"image\":");
		cli_json_string(stdout, id);
		printf(",\"destination\":");
		cli_json_string(stdout, argv[1]);
		printf(",\"manifest_digest\":");
		cli_json_string(stdout, res.manifest_digest);
		printf(",\"manifest_rewritten\":%s,\"layers\":",
		       res.manifest_rewritten ? "true" : "false");
		cli_progress_layers_json(&p, stdout);
		printf("}\n");
		cstor_image_free(img);
	} else {
		printf("%s\n", res.manifest_digest);
	}
	/* The result does not say which of the two it was; both change the
	 * digest, which is what a user comparing digests needs to know. */
	if (res.manifest_rewritten)
		fprintf(stderr,
			"%s: export: %s: manifest digest changed: the manifest was rewritten "
			"for layers recompressed (their original blobs were not kept) and/or "
			"converted from Docker schema 2 to OCI\n",
			cli_program, argv[0]);
	cstor_export_result_clear(&res);
	cli_progress_free(&p);
	return EXIT_OK;
}

const struct cli_cmd cmd_export = {
	.names = { "export" },
	.args_help = "imageNameOrID oci:DIR[:REF]|oci-archive:FILE[:REF]|docker-archive:FILE[:NAME]|dir:DIR",
	.usage = "Export an image to an OCI layout, oci-archive, docker-archive or dir:",
	.description = "Writes the image as an OCI layout, oci-archive, docker-archive (uncompressed "
		       "layers, NAME in RepoTags) or dir: directory that skopeo and podman read. "
		       "The image is found by any spelling of its name or by its ID.",
	.min_args = 2,
	.max_args = 2,
	.flags = export_flags,
	.examples = CLI_EXAMPLES("cstor export busybox oci-archive:busybox.tar", "cstor export busybox oci:/tmp/layout:busybox", "cstor export busybox docker-archive:busybox.tar:busybox:latest", "cstor export --json busybox dir:/tmp/busybox | jq -r .manifest_digest"),
	.complete = CLI_OBJ_IMAGE,
	.read_only = true,
	.run = run,
};
