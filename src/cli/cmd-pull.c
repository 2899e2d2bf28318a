/* SPDX-License-Identifier: Apache-2.0 */
/* pull: an image from a registry (include/cstor/registry.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static bool quiet, no_keep, json, all_platforms, tls_verify = true;
static char **names, *creds, *authfile, *cert_dir, *platform, *parallel;

static const struct cli_flag flags[] = {
	{ { "-name", "n" }, CLI_LIST, &names,
	  "Name to give the image (repeatable; default: the reference)" },
	CLI_REGISTRY_FLAGS(creds, authfile, cert_dir, tls_verify),
	{ { "-platform" }, CLI_STRING, &platform,
	  "OS/ARCH[/VARIANT] to pick from a manifest list (default: this host's)" },
	{ { "-all-platforms" }, CLI_BOOL, &all_platforms,
	  "Store every image of a manifest list (the name goes to this host's)" },
	{ { "-parallel" }, CLI_STRING, &parallel, "Layers downloaded at once (default 3)" },
	{ { "-quiet", "q" }, CLI_BOOL, &quiet, "Do not show progress" },
	CLI_JSON_FLAG(json),
	{ { "-no-keep-blobs" }, CLI_BOOL, &no_keep,
	  "Do not keep compressed layer blobs (a push or export then recompresses them)" },
	{ { NULL } },
};

static int run(cstor_store *store, int argc, char **argv)
{
	(void)argc;
	cstor_pull_options o = CSTOR_PULL_OPTIONS_INIT;
	if (parallel) {
		char *end;
		unsigned long n = strtoul(parallel, &end, 10);
		if (*end || end == parallel || n == 0 || n > 64) {
			fprintf(stderr, "cstor: pull: --parallel \"%s\" is not a number from 1 to 64\n",
				parallel);
			return EXIT_FAIL;
		}
		o.parallel = (unsigned)n;
	}
	struct cli_progress p;
	cli_progress_init(&p, "Pulling", quiet);
	char what[512];
	snprintf(what, sizeof(what), "pull of %s", argv[0]);
	p.what = what;
	cstor_import_options io = CSTOR_IMPORT_OPTIONS_INIT;
	io.names = (const char *const *)names;
	io.flags = no_keep ? CSTOR_IMPORT_NO_KEEP_BLOBS : 0;
	io.progress = cli_progress_cb;
	io.progress_ctx = &p;
	o.import = &io;
	o.creds = creds;
	o.authfile = authfile;
	o.cert_dir = cert_dir;
	o.platform = platform;
	o.flags = (tls_verify ? 0 : CSTOR_REGISTRY_NO_TLS_VERIFY) |
		  (all_platforms ? CSTOR_PULL_ALL_PLATFORMS : 0);
	cstor_error err = CSTOR_ERROR_INIT;
	char *id = NULL;
	p.done_verb = "Pulled";
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* Ctrl-C cancels: the pull undoes what it made and says so, then
	 * the command dies of the signal (exit 130); a second Ctrl-C dies
	 * at once, as import does. */
	static volatile int cancel;
	o.cancel = &cancel;
	cli_progress_catch_cancel(&p, &cancel);
	int r = cstor_store_pull_image(&id, store, argv[0], &o, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cli_progress_end(&p, r >= 0);
	if (r < 0) {
		cli_error("pull", &err);
		if (r == -ECANCELED)
			cli_progress_die_of_cancel();
		cli_progress_release_interrupt();
		cstor_error_clear(&err);
		cli_progress_free(&p);
		return EXIT_FAIL;
	}
	cli_progress_release_interrupt();
	int rc = EXIT_OK;
	if (json)
		rc = cli_print_image_json(store, id, &p, "pull",
					  (double)(t1.tv_sec - t0.tv_sec) +
						  (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	else
		printf("%s\n", id);
	free(id);
	cli_progress_free(&p);
	return rc;
}

const struct cli_cmd cmd_pull = {
	.names = { "pull" },
	.args_help = "[docker://]REFERENCE",
	.usage = "Pull an image from a registry",
	.description = "Stores the image exactly as `skopeo copy docker://REFERENCE "
		       "containers-storage:...` would, layers downloaded several at once and each "
		       "digest checked before a layer becomes visible. Credentials come from --creds, "
		       "--authfile or podman's and docker's auth files; registries.conf gives mirrors, "
		       "aliases and search registries. See docs/registries.md.",
	.examples = CLI_EXAMPLES("cstor pull docker.io/library/busybox:latest",
				 "cstor pull --creds user:secret registry.example.com/team/app:v2",
				 "cstor pull --tls-verify=false -q localhost:5000/test:latest"),
	.min_args = 1,
	.max_args = 1,
	.flags = flags,
	.run = run,
};
