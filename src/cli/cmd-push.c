/* SPDX-License-Identifier: Apache-2.0 */
/* push: an image to a registry (include/cstor/registry.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static bool quiet, tls_verify = true;
static char *creds, *authfile, *cert_dir, *chunk, *format, *level, *parallel;

static const struct cli_flag flags[] = {
	CLI_REGISTRY_FLAGS(creds, authfile, cert_dir, tls_verify),
	{ { "-chunk-size" }, CLI_STRING, &chunk,
	  "Upload blobs in chunks of this many bytes (default: each in one request)" },
	{ { "-compression-format" }, CLI_STRING, &format,
	  "gzip or zstd: every layer sent in it (default: kept blobs as they are, others gzip)" },
	{ { "-compression-level" }, CLI_STRING, &level,
	  "Level of the layers compressed (gzip 1-9, zstd 1-20; default 6, 3)" },
	{ { "-parallel" }, CLI_STRING, &parallel, "Layers compressed at once (default 3)" },
	{ { "-quiet", "q" }, CLI_BOOL, &quiet, "Do not show progress" },
	{ { NULL } },
};

static int run(cstor_store *store, int argc, char **argv)
{
	(void)argc;
	cstor_push_options o = CSTOR_PUSH_OPTIONS_INIT;
	if (chunk) {
		char *end;
		unsigned long long n = strtoull(chunk, &end, 10);
		if (*end || end == chunk || n == 0) {
			fprintf(stderr, "cstor: push: --chunk-size \"%s\" is not a positive number\n",
				chunk);
			return EXIT_FAIL;
		}
		o.chunk_size = (size_t)n;
	}
	if (format) {
		if (strcmp(format, "gzip") == 0)
			o.compression = CSTOR_DIFF_GZIP;
		else if (strcmp(format, "zstd") == 0)
			o.compression = CSTOR_DIFF_ZSTD;
		else {
			fprintf(stderr,
				"cstor: push: --compression-format \"%s\" is not gzip or zstd\n",
				format);
			return EXIT_FAIL;
		}
	}
	if (level) {
		char *end;
		long n = strtol(level, &end, 10);
		if (*end || end == level || n < 1 || n > 20) {
			fprintf(stderr, "cstor: push: --compression-level \"%s\" is not a number from "
					"1 to 20\n",
				level);
			return EXIT_FAIL;
		}
		o.compression_level = (int)n;
	}
	if (parallel) {
		char *end;
		unsigned long n = strtoul(parallel, &end, 10);
		if (*end || end == parallel || n == 0 || n > 64) {
			fprintf(stderr, "cstor: push: --parallel \"%s\" is not a number from 1 to 64\n",
				parallel);
			return EXIT_FAIL;
		}
		o.parallel = (unsigned)n;
	}
	struct cli_progress p;
	cli_progress_init(&p, "Pushing", quiet);
	o.creds = creds;
	o.authfile = authfile;
	o.cert_dir = cert_dir;
	o.flags = tls_verify ? 0 : CSTOR_REGISTRY_NO_TLS_VERIFY;
	o.progress = cli_progress_cb;
	o.progress_ctx = &p;
	cstor_error err = CSTOR_ERROR_INIT;
	cstor_export_result res = { 0 };
	p.done_verb = "Pushed";
	/* Ctrl-C cancels between chunks and layers; then the command dies of
	 * the signal (exit 130). */
	static volatile int cancel;
	o.cancel = &cancel;
	char what[512];
	snprintf(what, sizeof(what), "push of %s", argv[0]);
	p.what = what;
	cli_progress_catch_cancel(&p, &cancel);
	int r = cstor_store_push_image(&res, store, argv[0], argv[1], &o, &err);
	cli_progress_end(&p, r >= 0);
	cli_progress_free(&p);
	if (r < 0) {
		cli_error("push", &err);
		if (r == -ECANCELED)
			cli_progress_die_of_cancel();
		cli_progress_release_interrupt();
		cstor_error_clear(&err);
		return EXIT_FAIL;
	}
	cli_progress_release_interrupt();
	printf("%s\n", res.manifest_digest);
	if (res.manifest_rewritten)
		fprintf(stderr, "cstor: push: the manifest was rewritten (layers recompressed or "
				"converted to OCI): its digest is new\n");
	cstor_export_result_clear(&res);
	return EXIT_OK;
}

const struct cli_cmd cmd_push = {
	.names = { "push" },
	.args_help = "IMAGE [docker://]REFERENCE",
	.usage = "Push an image to a registry",
	.description = "Uploads the image's blobs the registry does not have (checked with HEAD, "
		       "mounted from another repository where it can) and its manifest. Kept "
		       "original blobs are sent as they are, so an image pulled and pushed back keeps "
		       "its manifest digest. Prints that digest. See docs/registries.md.",
	.examples = CLI_EXAMPLES("cstor push busybox docker://registry.example.com/team/busybox:v1",
				 "cstor push --creds user:secret app localhost:5000/app:latest",
				 "cstor push --tls-verify=false --chunk-size 1048576 app localhost:5000/app:v2",
				 "cstor push --compression-format zstd app registry.example.com/team/app:zstd"),
	.min_args = 2,
	.max_args = 2,
	.flags = flags,
	.run = run,
};
