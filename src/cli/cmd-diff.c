/* SPDX-License-Identifier: Apache-2.0 */
/* diff, changes, diffsize: LAYER [FROM] */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cstor/layer.h>

#include "cli.h"

static bool json, uncompressed, gzip_flag, bzip2_flag, xz_flag;
static char *file;

static int fd_write(void *ctx, const void *buf, size_t len)
{
	int fd = *(int *)ctx;
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static const struct cli_flag diff_flags[] = {
	{ { "-file", "f" }, CLI_STRING, &file, "Write to file instead of stdout" },
	{ { "-uncompressed", "u" }, CLI_BOOL, &uncompressed, "Use no compression" },
	{ { "-gzip", "c" }, CLI_BOOL, &gzip_flag, "Compress using gzip" },
	{ { "-bzip2", "-bz2", "b" }, CLI_BOOL, &bzip2_flag,
	  "Compress using bzip2 (not currently supported)" },
	{ { "-xz", "x" }, CLI_BOOL, &xz_flag, "Compress using xz (not currently supported)" },
	{ { NULL } },
};

static int diff(cstor_store *store, int argc, char **argv)
{
	/* Go's order: the last of -c, -b, -x wins over -u. */
	int comp = CSTOR_DIFF_DEFAULT;
	if (uncompressed || gzip_flag || bzip2_flag || xz_flag) {
		comp = CSTOR_DIFF_UNCOMPRESSED;
		if (gzip_flag)
			comp = CSTOR_DIFF_GZIP;
		if (bzip2_flag)
			comp = 1;
		if (xz_flag)
			comp = 3;
	}
	int fd = 1;
	if (file && file[0]) {
		fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
		if (fd < 0) {
			fprintf(stderr, "%s: diff: create %s: %m\n", cli_program, file);
			return EXIT_FAIL;
		}
	}
	cstor_error err = CSTOR_ERROR_INIT;
	int r = cstor_store_diff(store, argc > 1 ? argv[1] : NULL, argv[0], comp, fd_write, &fd,
				 &err);
	if (fd != 1 && close(fd) < 0 && r == 0) {
		fprintf(stderr, "%s: diff: write %s: %m\n", cli_program, file);
		return EXIT_FAIL;
	}
	if (r < 0) {
		cli_error("diff", &err);
		cstor_error_clear(&err);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

const struct cli_cmd cmd_diff = {
	.names = { "diff" },
	.args_help = "layerNameOrID [referenceLayerNameOrID]",
	.usage = "Compare two layers",
	.min_args = 1,
	.max_args = 2,
	.flags = diff_flags,
	.examples = CLI_EXAMPLES("cstor diff -f layer.tar mylayer", "cstor diff --gzip mylayer > layer.tar.gz", "cstor diff mylayer itsparent | tar tv"),
	.complete = CLI_OBJ_LAYER,
	.read_only = true,
	.run = diff,
};

static const struct cli_flag changes_flags[] = {
	CLI_JSON_FLAG(json),
	{ { NULL } },
};

static int changes(cstor_store *store, int argc, char **argv)
{
	cstor_error err = CSTOR_ERROR_INIT;
	cstor_change *c = NULL;
	size_t n = 0;
	if (cstor_store_changes(&c, &n, store, argc > 1 ? argv[1] : NULL, argv[0], &err) < 0) {
		cli_error("changes", &err);
		cstor_error_clear(&err);
		return EXIT_FAIL;
	}
	static const char *const kinds[] = { "Modify", "Add", "Delete" };
	if (json) {
		putchar('[');
		for (size_t i = 0; i < n; i++) {
			printf("%s{\"Path\":", i ? "," : "");
			cli_json_string(stdout, c[i].path);
			printf(",\"Kind\":%d}", (int)c[i].kind);
		}
		puts("]");
	} else {
		for (size_t i = 0; i < n; i++) {
			unsigned k = (unsigned)c[i].kind;
			printf("%s ", k < 3 ? kinds[k] : "?");
			cli_go_quote(stdout, c[i].path);
			putchar('\n');
		}
	}
	cstor_changes_free(c, n);
	return EXIT_OK;
}

const struct cli_cmd cmd_changes = {
	.names = { "changes" },
	.args_help = "layerNameOrID [referenceLayerNameOrID]",
	.usage = "Compare two layers",
	.min_args = 1,
	.max_args = 2,
	.flags = changes_flags,
	.examples = CLI_EXAMPLES("cstor changes mylayer", "cstor changes --json mylayer", "cstor changes mylayer itsparent"),
	.complete = CLI_OBJ_LAYER,
	.read_only = true,
	.run = changes,
};

static int diffsize(cstor_store *store, int argc, char **argv)
{
	cstor_error err = CSTOR_ERROR_INIT;
	int64_t size = 0;
	if (cstor_store_diff_size(&size, store, argc > 1 ? argv[1] : NULL, argv[0], &err) < 0) {
		cli_error("diffsize", &err);
		cstor_error_clear(&err);
		return EXIT_FAIL;
	}
	printf("%" PRId64 "\n", size);
	return EXIT_OK;
}

const struct cli_cmd cmd_diffsize = {
	.names = { "diffsize", "diff-size" },
	.args_help = "layerNameOrID [referenceLayerNameOrID]",
	.usage = "Compare two layers",
	.min_args = 1,
	.max_args = 2,
	.examples = CLI_EXAMPLES("cstor diffsize mylayer", "cstor diffsize mylayer itsparent"),
	.complete = CLI_OBJ_LAYER,
	.read_only = true,
	.run = diffsize,
};
