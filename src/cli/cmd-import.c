/* SPDX-License-Identifier: Apache-2.0 */
/* import: an image from an OCI layout, oci-archive or docker-archive. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static bool quiet, no_keep, json;
static char **names;

static const struct cli_flag flags[] = {
	{ { "-name", "n" }, CLI_LIST, &names, "Name to give the image (repeatable)" },
	{ { "-quiet", "q" }, CLI_BOOL, &quiet, "Do not show progress" },
	{ { "-no-keep-blobs" }, CLI_BOOL, &no_keep,
	  "Do not keep compressed layer blobs (export then recompresses them)" },
	CLI_JSON_FLAG(json),
	{ { NULL } },
};

static int run(cstor_store *store, int argc, char **argv)
{
	(void)argc;
	struct cli_progress p;
	cli_progress_init(&p, "Importing", quiet);
	p.done_verb = "Imported";
	char what[512];
	snprintf(what, sizeof(what), "import of %s", argv[0]);
	p.what = what;
	cstor_import_options o = CSTOR_IMPORT_OPTIONS_INIT;
	o.names = (const char *const *)names;
	o.flags = no_keep ? CSTOR_IMPORT_NO_KEEP_BLOBS : 0;
	o.progress = cli_progress_cb;
	o.progress_ctx = &p;
	cstor_error err = CSTOR_ERROR_INIT;
	char *id = NULL;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cli_progress_catch_interrupt(&p);
	int r = cstor_store_import_image(&id, store, argv[0], &o, &err);
	cli_progress_release_interrupt();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cli_progress_end(&p, r >= 0);
	if (r < 0) {
		cli_error("import", &err);
		cstor_error_clear(&err);
		cli_progress_free(&p);
		return EXIT_FAIL;
	}
	int rc = EXIT_OK;
	if (json)
		rc = cli_print_image_json(store, id, &p, "import",
				(double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	else
		printf("%s\n", id);
	free(id);
	cli_progress_free(&p);
	return rc;
}

const struct cli_cmd cmd_import = {
	.names = { "import" },
	.args_help = "[oci:|oci-archive:|docker-archive:]PATH[:REF]",
	.usage = "Import an image from an OCI layout, oci-archive or docker-archive",
	.description = "Stores the image and its layers; a layer already in the store is reused. Without "
		       "--name, the name comes from the archive (docker-archive RepoTags, the OCI "
		       "org.opencontainers.image.ref.name annotation as podman load reads it). Names are "
		       "normalised as podman stores them (busybox: docker.io/library/busybox:latest). "
		       "On a terminal, each layer's progress and a summary line go to stderr; Ctrl-C "
		       "stops the import and says what was kept (`cstor gc` removes it). --json prints "
		       "the image ID, names and each layer (reused or fetched) as one JSON document.",
	.min_args = 1,
	.max_args = 1,
	.flags = flags,
	.examples = CLI_EXAMPLES("cstor import oci-archive:busybox.tar --name busybox", "cstor import oci:/tmp/layout:busybox", "cstor import -q docker-archive:saved.tar -n myimage:v1", "cstor import --json oci:/tmp/layout:busybox | jq '.layers[] | select(.reused)'"),
	.complete = CLI_ARG_FILE,
	.run = run,
};
