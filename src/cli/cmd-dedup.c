/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dedup [--hash-method crc|size|sha256] [-j]: identical files of the
 * images' layers share their extents (reflinks), as containers-storage's
 * `dedup`.
 */
#include <inttypes.h>
#include <string.h>

#include <cstor/check.h>

#include "cli.h"

static bool json;
static char *method;

static const struct cli_flag flags[] = {
	CLI_JSON_FLAG(json),
	{ { "-hash-method" }, CLI_STRING, &method,
	  "Specify the hash function to use to detect identical files (crc, size, sha256)", "crc",
	  "METHOD" },
	{ { NULL } },
};

static int run(cstor_store *store, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	int m;
	const char *name = method ? method : "crc";
	if (!strcmp(name, "crc"))
		m = CSTOR_DEDUP_HASH_CRC;
	else if (!strcmp(name, "size"))
		m = CSTOR_DEDUP_HASH_SIZE;
	else if (!strcmp(name, "sha256"))
		m = CSTOR_DEDUP_HASH_SHA256;
	else {
		fprintf(stderr, "%s: invalid hash method: %s (crc, size or sha256)\n", cli_program,
			name);
		return EXIT_FAIL;
	}
	cstor_error err = CSTOR_ERROR_INIT;
	uint64_t n = 0;
	if (cstor_store_dedup(&n, store, m, &err) < 0) {
		cli_error("dedup", &err);
		cstor_error_clear(&err);
		return EXIT_FAIL;
	}
	if (json)
		printf("{\"Deduped\":%" PRIu64 "}\n", n);
	else
		printf("Deduplicated %" PRIu64 " bytes\n", n);
	return EXIT_OK;
}

const struct cli_cmd cmd_dedup = {
	.names = { "dedup" },
	.usage = "Dedup all images",
	.description = "Makes identical files of the layers that images use share their disk "
		       "space (reflinks, through the kernel's FIDEDUPERANGE, which compares the "
		       "contents itself: every method is safe, they differ in speed). Prints the "
		       "bytes the kernel deduplicated; already shared files count again. On a "
		       "filesystem without reflinks it deduplicates nothing and says 0.",
	.examples = CLI_EXAMPLES("cstor dedup", "cstor dedup --hash-method size -j"),
	.max_args = 0,
	.flags = flags,
	.run = run,
};
